// Black-box tests against real `jobnet node` processes on loopback ports: 1000 jobs with
// checked results; SIGKILL with jobs queued, delayed and running, then restart on the same
// journal; malformed frames; SIGTERM drain; the CLI's output contract and exit codes; the
// offline journal tool (verify after SIGKILL, refusal while locked). Storage faults and crashing
// jobs: node_fault_test.cpp.
#include <gtest/gtest.h>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>


#include <algorithm>
#include <map>
#include <set>
#include <fstream>
#include <sstream>

#include "node_harness.hpp"
#include "pipelined_client.hpp"
#include "protocol/codec.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using testing::RunCli;
using testing::RunCommand;

using testing::Pack;

msgpack::object_handle Unpack(const std::string& s) { return msgpack::unpack(s.data(), s.size()); }

using testing::Spec;
using testing::SubmitAll;
using testing::WaitAll;

class IntegrationTest : public testing::DirTest {};

TEST_F(IntegrationTest, ThousandJobsAllSucceedWithCorrectResults) {
  NodeProcess node("n1", dir_ + "/n1", 4);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  std::vector<JobSpec> specs;
  for (int i = 0; i < 1000; ++i) {
    if (i % 2 == 0) {
      specs.push_back(Spec("echo", Pack(i)));
    } else {
      specs.push_back(Spec("stats", Pack(std::vector<int>{i, i + 1, i + 2})));
    }
  }
  auto ids = SubmitAll(*c, specs);
  std::set<std::string> unique(ids.begin(), ids.end());
  ASSERT_EQ(unique.size(), 1000u);
  auto done = WaitAll(*c, ids);
  ASSERT_EQ(done.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    const JobInfo& j = done[ids[i]];
    ASSERT_EQ(j.state, protocol::JobState::kSucceeded) << j.id << " " << j.error;
    EXPECT_EQ(j.attempts, 1u);
    auto oh = Unpack(j.result);
    if (i % 2 == 0) {
      EXPECT_EQ(oh.get().as<int>(), i);
    } else {
      auto m = oh.get().as<std::map<std::string, double>>();
      EXPECT_DOUBLE_EQ(m["mean"], i + 1.0);
      EXPECT_DOUBLE_EQ(m["count"], 3.0);
    }
  }
  auto stats = c->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats.value().jobs["succeeded"], 1000u);
  // Group commit: far fewer fsyncs than journal records.
  EXPECT_LT(stats.value().counters["journal_batches"], stats.value().counters["journal_records"]);
}

TEST_F(IntegrationTest, SigkillThenRestartFinishesEveryAcknowledgedJob) {
  std::string data = dir_ + "/n1";
  auto node = std::make_unique<NodeProcess>("n1", data, 2);
  ASSERT_TRUE(node->Start());
  auto c = node->Connect();
  ASSERT_TRUE(c);

  JobSpec last_try = Spec("sleep", Pack(5000));
  last_try.max_attempts = 1;  // its only attempt is interrupted: it must end dead
  JobSpec retried = Spec("sleep", Pack(5000));
  retried.max_attempts = 3;  // interrupted attempt counted, then runs again
  std::vector<JobSpec> specs{last_try, retried};
  for (int i = 0; i < 20; ++i) specs.push_back(Spec("echo", Pack("queued-" + std::to_string(i))));
  for (int i = 0; i < 5; ++i) {
    JobSpec d = Spec("echo", Pack("delayed-" + std::to_string(i)));
    d.delay_ms = 1500;
    specs.push_back(d);
  }
  auto ids = SubmitAll(*c, specs);
  ASSERT_EQ(ids.size(), specs.size());
  // Both sleepers running (2 workers), the rest queued or delayed.
  ASSERT_TRUE(Eventually([&] {
    auto a = c->GetStatus(ids[0]);
    auto b = c->GetStatus(ids[1]);
    return a.ok() && b.ok() && a.value().state == protocol::JobState::kRunning &&
           b.value().state == protocol::JobState::kRunning;
  }));
  EXPECT_EQ(c->GetStatus(ids[2]).value().state, protocol::JobState::kQueued);
  EXPECT_EQ(c->GetStatus(ids.back()).value().state, protocol::JobState::kDelayed);

  int status = node->Signal(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status));
  c.reset();

  // The journal a SIGKILL left behind verifies clean.
  auto verify = RunCli("journal " + data + " verify --json");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  auto before = RunCli("journal " + data + " stats --json");
  ASSERT_EQ(before.exit_code, 0);
  auto bj = nlohmann::json::parse(before.out);
  EXPECT_EQ(bj["jobs"], specs.size());
  EXPECT_EQ(bj["states"]["running"], 2);

  node = std::make_unique<NodeProcess>("n1", data, 2);
  ASSERT_TRUE(node->Start());
  c = node->Connect();
  ASSERT_TRUE(c);
  auto done = WaitAll(*c, ids);
  ASSERT_EQ(done.size(), specs.size());
  EXPECT_EQ(done[ids[0]].state, protocol::JobState::kDead);
  EXPECT_NE(done[ids[0]].error.find("interrupted"), std::string::npos);
  EXPECT_EQ(done[ids[1]].state, protocol::JobState::kSucceeded);
  EXPECT_EQ(done[ids[1]].attempts, 2u);  // the interrupted attempt is recorded
  for (size_t i = 2; i < ids.size(); ++i) {
    EXPECT_EQ(done[ids[i]].state, protocol::JobState::kSucceeded) << ids[i];
    EXPECT_EQ(done[ids[i]].attempts, 1u) << ids[i];
    EXPECT_EQ(Unpack(done[ids[i]].result).get().as<std::string>(),
              Unpack(specs[i].payload).get().as<std::string>());
  }
  auto stats = c->Stats();
  EXPECT_EQ(stats.value().incarnation, 2u);
  // New ids never reuse old ones.
  auto fresh = c->Submit(Spec("echo", Pack(1)));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).count(fresh.value().id), 0u);

  // Clean stop, then the journal verifies and shows the recorded history.
  EXPECT_EQ(node->Signal(SIGTERM), 0);
  verify = RunCli("journal " + data + " verify");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  auto show = RunCli("journal " + data + " show " + ids[1] + " --json");
  ASSERT_EQ(show.exit_code, 0);
  auto sj = nlohmann::json::parse(show.out);
  EXPECT_EQ(sj["state"], "succeeded");
  bool saw_interrupt = false;
  for (auto& ev : sj["history"])
    if (ev["message"].get<std::string>().find("interrupted") != std::string::npos) saw_interrupt = true;
  EXPECT_TRUE(saw_interrupt) << show.out;
}

class RawSocket {
 public:
  explicit RawSocket(const std::string& ep, zmq::socket_type type = zmq::socket_type::dealer)
      : sock_(ctx_, type) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.connect(ep);
  }
  void Send(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i)
      sock_.send(zmq::buffer(frames[i]),
                 i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  // Returns the reply's frames (empty on timeout).
  std::vector<std::string> Recv(int timeout_ms = 5000) {
    std::vector<std::string> out;
    zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) return out;
    zmq::message_t m;
    do {
      (void)sock_.recv(m, zmq::recv_flags::none);
      out.push_back(m.to_string());
    } while (m.more());
    return out;
  }
  static protocol::ErrorReply ErrorOf(const std::string& frame, uint64_t* corr) {
    auto env = protocol::Decode(frame.data(), frame.size(), corr);
    EXPECT_TRUE(env.ok());
    auto* e = env.ok() ? std::get_if<protocol::ErrorReply>(&env.value().body) : nullptr;
    EXPECT_NE(e, nullptr);
    return e ? *e : protocol::ErrorReply{};
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t sock_;
};

TEST_F(IntegrationTest, MalformedFramesGetErrorRepliesAndNodeKeepsServing) {
  NodeProcess node("n1", dir_ + "/n1", 1);
  ASSERT_TRUE(node.Start());
  RawSocket s(node.endpoint());
  uint64_t corr = 0;

  s.Send({"definitely not msgpack \xc1"});
  auto r = s.Recv();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(RawSocket::ErrorOf(r[0], &corr).code, Code::kCorruption);

  // Wrong version: typed error carrying the corr id.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(4);
  pk.pack(99);
  pk.pack(7);
  pk.pack(4242);
  pk.pack_map(0);
  s.Send({std::string(buf.data(), buf.size())});
  r = s.Recv();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(RawSocket::ErrorOf(r[0], &corr).code, Code::kUnsupportedVersion);
  EXPECT_EQ(corr, 4242u);

  // Submit with a wrong-typed field.
  std::string stats = protocol::Encode({1, 5, protocol::StatsRequest{}});
  s.Send({stats, stats, stats});  // three frames: not a request
  r = s.Recv();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(RawSocket::ErrorOf(r[0], &corr).code, Code::kCorruption);

  // Four and five frames (a client that sends multipart messages): an error, then on we go.
  s.Send({stats, stats, stats, stats});
  r = s.Recv();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(RawSocket::ErrorOf(r[0], &corr).code, Code::kCorruption);
  s.Send({stats, stats, stats, stats, stats});
  r = s.Recv();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(RawSocket::ErrorOf(r[0], &corr).code, Code::kCorruption);
  s.Send({stats});
  r = s.Recv();
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(protocol::Decode(r[0].data(), r[0].size(), &corr).ok());

  // Oversized frame: a typed kTooLarge, not a dropped connection.
  s.Send({std::string(limits::kFrameBytesMax + 10, '\xc0')});
  r = s.Recv();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(RawSocket::ErrorOf(r[0], &corr).code, Code::kTooLarge);

  // A request from a client that answers every frame it gets: a storm of garbage.
  for (int i = 0; i < 500; ++i) s.Send({std::string(1 + i % 13, static_cast<char>(0xc1 + i % 3))});
  for (int i = 0; i < 500; ++i) ASSERT_EQ(s.Recv().size(), 1u) << i;

  // REQ-style delimiter frame is accepted and mirrored.
  s.Send({"", stats});
  r = s.Recv();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].empty());
  auto env = protocol::Decode(r[1].data(), r[1].size(), &corr);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(std::holds_alternative<protocol::StatsReply>(env.value().body));

  // A real REQ socket works too.
  RawSocket req(node.endpoint(), zmq::socket_type::req);
  req.Send({stats});
  r = req.Recv();
  ASSERT_EQ(r.size(), 1u);

  // Still serving, and it counted what it refused.
  auto c = node.Connect();
  ASSERT_TRUE(c);
  EXPECT_GE(c->Stats().value().counters["transport_bad_frames"], 504u);
  auto a = c->Submit(Spec("echo", Pack("still alive")));
  ASSERT_TRUE(a.ok());
  auto j = c->Wait(a.value().id, 10000);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j.value().state, protocol::JobState::kSucceeded);
  EXPECT_TRUE(node.Running());
}

// ReceiveFor waits to the microsecond (the open-loop bench waits for replies until its next send
// is due): a wait shorter than a millisecond still waits its time out, and a reply that arrives
// is read by a series of such short waits.
TEST_F(IntegrationTest, ReceiveForWaitsUnderAMillisecondAndReadsTheReply) {
  NodeProcess node("n1", dir_ + "/n1", 1);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  const auto t0 = std::chrono::steady_clock::now();
  auto none = c->ReceiveFor(std::chrono::microseconds(400));
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsTimeout()) << none.status().ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(400));
  EXPECT_NE(none.status().message().find("400 us"), std::string::npos) << none.status().ToString();

  auto corr = c->SendSubmit(Spec("echo", Pack(7)));
  ASSERT_TRUE(corr.ok());
  Result<Reply> got = Status::Timeout("not yet");
  for (int i = 0; i < 100000 && !got.ok(); ++i) {  // at most 100000 x 300 us = 30 s
    got = c->ReceiveFor(std::chrono::microseconds(300));
    if (!got.ok()) ASSERT_TRUE(got.status().IsTimeout()) << got.status().ToString();
  }
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got.value().corr_id, corr.value());
  EXPECT_TRUE(got.value().status.ok()) << got.value().status.ToString();
  EXPECT_FALSE(got.value().submitted.id.empty());
}

// With a wildcard port the OS picks one; stats reports the endpoint as bound, so a client that
// reached the node can learn it (not the configured text with its "*").
TEST_F(IntegrationTest, StatsReportsTheBoundEndpointOfAWildcardListen) {
  NodeProcess node("n1", dir_ + "/n1", 1);
  node.SetListen("tcp://127.0.0.1:*");
  ASSERT_TRUE(node.Start());
  const std::string logged = node.endpoint();  // from the node's "listening on" log line
  ASSERT_EQ(logged.find('*'), std::string::npos) << logged;
  ASSERT_EQ(logged.rfind("tcp://127.0.0.1:", 0), 0u) << logged;
  auto st = node.Connect()->Stats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st.value().endpoint, logged);
  auto r = RunCli("nodes --json --to " + logged);  // shows the node's own report
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find(logged), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('*'), std::string::npos) << r.out;
}

TEST_F(IntegrationTest, SigtermLetsRunningJobsFinishAndExitsZero) {
  std::string data = dir_ + "/n1";
  NodeProcess node("n1", data, 1);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  auto a = c->Submit(Spec("sleep", Pack(400)));
  ASSERT_TRUE(a.ok());
  auto queued = c->Submit(Spec("echo", Pack(1)));
  ASSERT_TRUE(Eventually([&] {
    return c->GetStatus(a.value().id).value().state == protocol::JobState::kRunning;
  }));
  EXPECT_EQ(node.Signal(SIGTERM), 0);
  auto show = RunCli("journal " + data + " show " + a.value().id + " --json");
  ASSERT_EQ(show.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(show.out)["state"], "succeeded");
  // A queued job is not started during the drain; it stays queued for the next start.
  show = RunCli("journal " + data + " show " + queued.value().id + " --json");
  EXPECT_EQ(nlohmann::json::parse(show.out)["state"], "queued");
}

// Progress of a long local run: `jobnet status` shows the running job's percent and message,
// and `jobnet submit --wait` whose stdout is not a terminal writes plain progress lines to
// stderr while it waits, and only the job row to stdout.
TEST_F(IntegrationTest, ProgressShowsInStatusAndAsLinesWhileWaiting) {
  std::string data = dir_ + "/n1";
  NodeProcess node("n1", data, 2);
  ASSERT_TRUE(node.Start());
  std::string to = " --to " + node.endpoint();
  auto r = RunCli("submit simulate_backup '{\"bytes\": 104857600, \"chunk_ms\": 50}' --json" + to);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::string id = nlohmann::json::parse(r.out)["id"];
  // Awaited: the run reports after its first chunk.
  nlohmann::json status;
  for (int i = 0; i < 200; ++i) {
    status = nlohmann::json::parse(RunCli("status " + id + " --json" + to).out);
    if (status["progress"].get<int>() > 0 && status["state"] == "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(status["state"], "running");
  EXPECT_GT(status["progress"].get<int>(), 0);
  EXPECT_NE(status["progress_message"].get<std::string>().find("of 100.0 MiB"), std::string::npos);
  auto table = RunCli("status " + id + to);
  EXPECT_NE(table.out.find("running "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("% "), std::string::npos) << table.out;
  // The event stream has the run's progress too, between its running and its final event.
  nlohmann::json report;
  ASSERT_TRUE(Eventually([&] {
    auto ev = RunCli("events --job " + id + " --no-follow --json" + to);
    std::istringstream lines(ev.out);
    for (std::string line; std::getline(lines, line);) {
      auto e = nlohmann::json::parse(line);
      if (e["event"] == "progress" && e["progress"].get<int>() > 0) report = e;
    }
    return !report.is_null();
  }));
  EXPECT_EQ(report["state"], "running");
  EXPECT_NE(report["progress_message"].get<std::string>().find("of 100.0 MiB"), std::string::npos);
  ASSERT_EQ(RunCli("cancel " + id + to).exit_code, 0);

  auto out = RunCli("submit simulate_backup '{\"bytes\": 31457280, \"chunk_ms\": 100}' --wait" + to +
                    " 2>/dev/null");
  auto err = RunCli("submit simulate_backup '{\"bytes\": 31457280, \"chunk_ms\": 100}' --wait" + to +
                    " 2>&1 >/dev/null");
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_NE(out.out.find("succeeded"), std::string::npos) << out.out;
  EXPECT_EQ(out.out.find("progress:"), std::string::npos) << out.out;
  EXPECT_NE(err.out.find("progress: 0/1 done"), std::string::npos) << err.out;
  EXPECT_NE(err.out.find("running "), std::string::npos) << err.out;
}

// `jobnet node` runs the node binary beside `jobnet` (same pid: the harness's nodes are all
// started that way); a `jobnet` without it says where it looked and exits 2, while the client
// commands, which do not need it, still work.
TEST_F(IntegrationTest, JobnetNodeRunsTheNodeBinaryBesideItOrSaysItIsMissing) {
  std::string data = dir_ + "/n1";
  NodeProcess node("n1", data, 1);
  ASSERT_TRUE(node.Start());
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(node.pid()) + "/exe");
  EXPECT_EQ(exe.filename(), "jobnet-node") << exe;

  std::filesystem::create_directories(dir_ + "/alone");
  const std::string alone = dir_ + "/alone/jobnet";
  std::filesystem::copy_file(JOBNET_BIN, alone);
  auto missing = RunCommand("PATH=/nonexistent " + alone + " node --id n2 --data " + dir_ +
                            "/n2 --listen tcp://127.0.0.1:1 2>&1");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_NE(missing.out.find(dir_ + "/alone/jobnet-node"), std::string::npos) << missing.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/n2"));
  auto stats = RunCommand(alone + " stats --json --to " + node.endpoint());
  EXPECT_EQ(stats.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(stats.out)["node"], "n1");
}

// The thin `jobnet` finds `node` with the same parser as every other command (not by looking at
// its first argument), so it takes and refuses the same command lines as jobnet-node, global
// flags before `node` included.
TEST_F(IntegrationTest, JobnetAndJobnetNodeTakeTheSameNodeCommandLines) {
  const std::string full = (std::filesystem::path(JOBNET_BIN).parent_path() / "jobnet-node").string();
  for (const std::string args : {"--help node", "-h node", "node --help", "node --bogus", "--bogus node",
                                 "node --workers many"}) {
    auto thin_run = RunCommand(std::string(JOBNET_BIN) + " " + args + " 2>&1");
    auto full_run = RunCommand(full + " " + args + " 2>&1");
    EXPECT_EQ(thin_run.exit_code, full_run.exit_code) << args << "\n" << thin_run.out << full_run.out;
    if (args.find("-h") != std::string::npos) {
      EXPECT_NE(thin_run.out.find("run a node"), std::string::npos) << args << "\n" << thin_run.out;
    }
  }
}

// Elastic workers on a real node: configured autoscaling grows the pool under a burst of sleep
// jobs (a sleeping slot leaves the CPU idle), shrinks it back once they are done, and shows it in
// `jobnet workers`; `workers autoscale` changes it live and `workers set` turns it off.
TEST_F(IntegrationTest, AutoscaledPoolFollowsABurstAndWorkersSetTurnsItOff) {
  std::string conf = dir_ + "/autoscale.toml";
  std::ofstream(conf) << "autoscale_min = 1\nautoscale_max = 4\nautoscale_target_wait = \"200ms\"\n"
                         "autoscale_quiet = \"500ms\"\n"
                         "autoscale_cpu_idle_pct = 0\n";  // the suite may keep both cores busy
  NodeProcess node("n1", dir_ + "/n1", 1, {"--config", conf});
  ASSERT_TRUE(node.Start());
  const std::string to = " --to " + node.endpoint();
  auto pool = [&] {
    auto r = RunCli("workers --json" + to);
    if (r.exit_code != 0 || r.out.empty()) return -2;
    nlohmann::json first = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')), nullptr, false);
    return first.is_object() && first.value("kind", "") == "autoscale" ? first["workers"].get<int>() : -1;
  };
  EXPECT_EQ(pool(), 1);
  auto c = node.Connect();
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(c->Submit(Spec("sleep", Pack(300))).value().id);
  EXPECT_TRUE(Eventually([&] { return pool() == 4; }, std::chrono::seconds(30)));
  for (const auto& id : ids) {
    auto done = c->Wait(id, 30000);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_EQ(done.value().state, protocol::JobState::kSucceeded);
  }
  EXPECT_TRUE(Eventually([&] { return pool() == 1; }, std::chrono::seconds(30)));
  auto st = c->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st.value().counters["autoscale_grown"], 2u);  // 1 -> 2 -> 3 -> 4
  EXPECT_GE(st.value().counters["autoscale_shrunk"], 1u);
  // Live: new bounds bring the pool inside them at once; a bad pair is a usage error.
  auto r = RunCli("workers autoscale --min 2 --max 3 --json" + to);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["workers"], 2);
  EXPECT_EQ(RunCli("workers autoscale --min 3 --max 2" + to).exit_code, 2);
  EXPECT_EQ(RunCli("workers autoscale off --min 1" + to).exit_code, 2);
  ASSERT_EQ(RunCli("workers set 3" + to).exit_code, 0);
  r = RunCli("workers --json" + to);
  EXPECT_EQ(r.out.find("autoscale"), std::string::npos) << r.out;  // off: slot lines only
}

TEST_F(IntegrationTest, CliOutputContractAndExitCodes) {
  std::string data = dir_ + "/n1";
  NodeProcess node("n1", data, 2);
  ASSERT_TRUE(node.Start());
  std::string to = " --to " + node.endpoint();

  auto r = RunCli("submit echo '\"hi\"' --json" + to);
  ASSERT_EQ(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("id"));
  EXPECT_EQ(j["state"], "queued");
  std::string id = j["id"];

  r = RunCli("wait " + id + " --json" + to);
  ASSERT_EQ(r.exit_code, 0);
  j = nlohmann::json::parse(r.out);
  for (const char* k : {"id", "type", "queue", "state", "result", "error", "attempts", "created_at",
                        "started_at", "finished_at"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["result"], "hi");
  EXPECT_EQ(j["state"], "succeeded");
  EXPECT_GT(j["finished_at"].get<uint64_t>(), 0u);

  r = RunCli("submit sleep 50 --wait --json --key k1" + to);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["result"], 50);
  r = RunCli("submit sleep 50 --json --key k1" + to);
  EXPECT_EQ(nlohmann::json::parse(r.out)["duplicate"], true);

  r = RunCli("submit fail '\"nope\"' --max-attempts 1 --wait --json" + to);
  ASSERT_EQ(r.exit_code, 0);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["state"], "dead");
  EXPECT_EQ(j["error"], "nope");
  std::string dead = j["id"];
  r = RunCli("retry " + dead + " --json" + to);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["state"], "queued");

  r = RunCli("submit echo 1 --delay 1h --json" + to);
  std::string delayed = nlohmann::json::parse(r.out)["id"];
  r = RunCli("cancel " + delayed + " --json" + to);
  EXPECT_EQ(nlohmann::json::parse(r.out)["state"], "cancelled");
  r = RunCli("cancel " + delayed + to);
  EXPECT_EQ(r.exit_code, 1);  // conflict: already final

  r = RunCli("list --state cancelled --json" + to);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find(delayed), std::string::npos);
  // A created-at range: the last hour holds the job, one that starts in an hour does not.
  r = RunCli("list --state cancelled --since 1h --json" + to);
  EXPECT_NE(r.out.find(delayed), std::string::npos) << r.out;
  const uint64_t created = nlohmann::json::parse(RunCli("status " + delayed + " --json" + to).out)["created_at"];
  r = RunCli("list --state cancelled --since " + std::to_string(created + 3600000) + " --json" + to);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.find(delayed), std::string::npos) << r.out;
  r = RunCli("list --until " + std::to_string(created - 1) + " --state cancelled --json" + to);
  EXPECT_EQ(r.out.find(delayed), std::string::npos) << r.out;
  EXPECT_EQ(RunCli("list --since yesterday" + to).exit_code, 2);
  EXPECT_EQ(RunCli("list --since 20 --until 10" + to).exit_code, 2);

  EXPECT_EQ(RunCli("status n1-999999" + to).exit_code, 4);
  EXPECT_EQ(RunCli("submit echo '{bad json' " + to).exit_code, 2);
  EXPECT_EQ(RunCli("submit echo 1 --delay 5parsecs" + to).exit_code, 2);
  EXPECT_EQ(RunCli("submit no_such_type" + to).exit_code, 2);
  EXPECT_EQ(RunCli("frobnicate").exit_code, 2);
  // Nobody listens here: a clear error and exit 3, not a hang.
  // (A hang would run into the test's ctest timeout; no clock is read here.)
  int dead_port = testing::FreePort();
  EXPECT_EQ(RunCli("status n1-1 --request-timeout 300ms --to tcp://127.0.0.1:" +
                   std::to_string(dead_port)).exit_code,
            3);

  // The journal tool refuses a journal held by a running node.
  EXPECT_EQ(RunCli("journal " + data + " stats").exit_code, 5);
  r = RunCli("stats --json" + to);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["node"], "n1");
}

TEST_F(IntegrationTest, HandlerStoppedAtItsDeadlineIsATimeoutEvenBeforeTheTick) {
  // With 1 s ticks the sleep handler stops at its 100 ms deadline and reports long before any
  // tick expires the lease: that must still be a timeout, counted and worded as one.
  NodeProcess node("n1", dir_ + "/n1", 1, {"--tick-ms", "1000"});
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  JobSpec s = Spec("sleep", Pack(500));
  s.timeout_ms = 100;
  s.max_attempts = 1;
  auto j = c->Wait(c->Submit(s).value().id, 10000);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j.value().state, protocol::JobState::kDead);
  EXPECT_EQ(j.value().error, "timed out after 100 ms");
  auto st = c->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().counters["timeouts"], 1u);
  EXPECT_EQ(st.value().counters.count("failed_attempts"), 0u);
}

TEST_F(IntegrationTest, ExecRunsOnlyAllowListedCommandsAndKillsAtTimeout) {
  std::string cfg = dir_ + "/node.toml";
  {
    std::ofstream f(cfg);
    f << "workers = 2\n[exec.allow]\nupper = [\"tr\", \"a-z\", \"A-Z\"]\nhang = [\"sleep\", \"30\"]\n"
      << "quiet_hang = [\"sh\", \"-c\", \"exec >&- 2>&-; sleep 30\"]\n"
      << "latin1 = [\"printf\", \"caf\\\\351\"]\n";
  }
  NodeProcess node("n1", dir_ + "/n1", 2, {"--config", cfg});
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  std::map<std::string, std::string> m{{"command", "upper"}, {"stdin", "shout"}};
  auto a = c->Submit(Spec("exec", Pack(m)));
  auto j = c->Wait(a.value().id, 10000);
  ASSERT_EQ(j.value().state, protocol::JobState::kSucceeded) << j.value().error;
  EXPECT_EQ(Unpack(j.value().result).get().as<std::string>(), "SHOUT");

  JobSpec bad = Spec("exec", Pack(std::string("rm")));
  bad.max_attempts = 1;
  j = c->Wait(c->Submit(bad).value().id, 10000);
  EXPECT_EQ(j.value().state, protocol::JobState::kDead);
  EXPECT_NE(j.value().error.find("allow-list"), std::string::npos);

  JobSpec hang = Spec("exec", Pack(std::string("hang")));
  hang.max_attempts = 1;
  hang.timeout_ms = 300;
  j = c->Wait(c->Submit(hang).value().id, 10000);
  EXPECT_EQ(j.value().state, protocol::JobState::kDead);
  EXPECT_NE(j.value().error.find("timed out"), std::string::npos);
  // Output that is not UTF-8 is kept as it is, and the CLI still prints it as JSON.
  auto l1 = c->Wait(c->Submit(Spec("exec", Pack(std::string("latin1")))).value().id, 10000);
  ASSERT_EQ(l1.value().state, protocol::JobState::kSucceeded) << l1.value().error;
  EXPECT_EQ(Unpack(l1.value().result).get().as<std::string>(), "caf\xe9");
  auto r = RunCli("status " + l1.value().id + " --json --to " + node.endpoint());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("caf\xef\xbf\xbd"), std::string::npos) << r.out;  // U+FFFD
  EXPECT_EQ(RunCli("status " + l1.value().id + " --to " + node.endpoint()).exit_code, 0);
  // A process that closes its output and lives on is killed at the timeout too.
  hang.payload = Pack(std::string("quiet_hang"));
  j = c->Wait(c->Submit(hang).value().id, 10000);
  EXPECT_EQ(j.value().state, protocol::JobState::kDead);
  EXPECT_NE(j.value().error.find("timed out"), std::string::npos) << j.value().error;
  // The killed process frees its worker: another job runs at once.
  auto e = c->Wait(c->Submit(Spec("echo", Pack(1))).value().id, 10000);
  EXPECT_EQ(e.value().state, protocol::JobState::kSucceeded);
}
// finish and gives nothing new to the slots past the new size; the set size survives a restart
// until the configured size changes.
TEST_F(IntegrationTest, WorkersResizeLiveAndTheSetSizeSurvivesARestart) {
  const std::string data = dir_ + "/n1";
  auto node = std::make_unique<NodeProcess>("n1", data, 2);
  ASSERT_TRUE(node->Start());
  const std::string to = " --to " + node->endpoint();
  auto c = node->Connect();
  auto grown = c->SetWorkers(4);
  ASSERT_TRUE(grown.ok()) << grown.status().ToString();
  EXPECT_EQ(grown.value().workers, 4u);
  EXPECT_EQ(grown.value().slots.size(), 4u);
  EXPECT_EQ(c->Stats().value().workers, 4u);
  std::vector<std::string> sleeps;
  for (int i = 0; i < 4; ++i) sleeps.push_back(c->Submit(Spec("sleep", Pack(1500))).value().id);
  auto busy = [&] {
    auto w = c->Workers();
    uint32_t n = 0;
    if (w.ok())
      for (const auto& s : w.value().slots) n += s.busy;
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return busy() == 4; }));  // the new slots took work

  auto shrunk = c->SetWorkers(1);
  ASSERT_TRUE(shrunk.ok());
  EXPECT_EQ(shrunk.value().workers, 1u);
  ASSERT_EQ(shrunk.value().slots.size(), 4u);  // the running jobs keep their slots
  EXPECT_TRUE(shrunk.value().slots[3].retiring);
  // More busy slots than the pool size for now: nothing free, and no wrap-around.
  auto nodes = RunCli("nodes --json" + to);
  ASSERT_EQ(nodes.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(nodes.out.substr(0, nodes.out.find('\n')))["free"], 0);
  EXPECT_EQ(nlohmann::json::parse(nodes.out.substr(0, nodes.out.find('\n')))["idle"], 0);
  std::string next = c->Submit(Spec("sleep", Pack(300))).value().id;
  // It waits for slot 0, the only one left: the retiring slots finish and go.
  ASSERT_TRUE(Eventually([&] {
    auto w = c->Workers();
    if (!w.ok()) return false;
    for (const auto& s : w.value().slots)
      if (s.job == next) {
        EXPECT_EQ(s.id, 0u) << next << " went to a retiring slot";
        return true;
      }
    return c->GetStatus(next).value().state == JobState::kSucceeded;
  }));
  for (const auto& id : sleeps) EXPECT_EQ(c->Wait(id, 20000).value().state, JobState::kSucceeded);
  EXPECT_EQ(c->Wait(next, 20000).value().state, JobState::kSucceeded);
  ASSERT_TRUE(Eventually([&] { return c->Workers().value().slots.size() == 1; }));
  auto r = RunCli("workers --json" + to);
  ASSERT_EQ(r.exit_code, 0);
  auto row = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  EXPECT_EQ(row["id"], 0);
  EXPECT_EQ(row["state"], "idle");
  for (const char* key : {"job", "queue", "type", "since"}) EXPECT_TRUE(row.contains(key)) << key;
  // Bounds, from the CLI and from the node itself.
  EXPECT_EQ(RunCli("workers set 0" + to).exit_code, 2);
  EXPECT_EQ(RunCli("workers set " + std::to_string(limits::kWorkersMax + 1) + to).exit_code, 2);
  EXPECT_TRUE(c->SetWorkers(limits::kWorkersMax + 1).status().IsInvalidArgument());
  EXPECT_EQ(RunCli("workers set 3" + to).exit_code, 0);

  // A restart with the same configured size (--workers 2) keeps the set size.
  c.reset();
  ASSERT_EQ(node->Signal(SIGTERM), 0);
  ASSERT_TRUE(node->Start());
  c = node->Connect();
  EXPECT_EQ(c->Workers().value().workers, 3u);
  EXPECT_EQ(c->Stats().value().workers, 3u);
  // A changed configured size is the later operator action: it wins, and keeps winning.
  c.reset();
  ASSERT_EQ(node->Signal(SIGTERM), 0);
  node = std::make_unique<NodeProcess>("n1", data, 5);
  ASSERT_TRUE(node->Start());
  EXPECT_EQ(node->Connect()->Workers().value().workers, 5u);
  ASSERT_EQ(node->Signal(SIGTERM), 0);
  ASSERT_TRUE(node->Start());
  EXPECT_EQ(node->Connect()->Workers().value().workers, 5u);
}

// A cancelled or timed-out exec job gets SIGTERM first, and SIGKILL only when it ignores that
// past the grace period.
TEST_F(IntegrationTest, ExecGetsSigtermThenSigkillAfterTheGrace) {
  std::string cfg = dir_ + "/node.toml";
  std::string mark = dir_ + "/termed";
  {
    std::ofstream f(cfg);
    f << "workers = 1\n[exec.allow]\nstubborn = [\"sh\", \"-c\", \"trap 'echo term >> " << mark
      << "' TERM; while :; do sleep 0.05; done\"]\n";
  }
  NodeProcess node("n1", dir_ + "/n1", 1, {"--config", cfg});
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  JobSpec s = Spec("exec", Pack(std::string("stubborn")));
  s.timeout_ms = 300;
  s.max_attempts = 1;
  auto j = c->Wait(c->Submit(s).value().id, 10000);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j.value().state, JobState::kDead);
  EXPECT_NE(j.value().error.find("timed out"), std::string::npos) << j.value().error;
  // The command saw SIGTERM (its trap ran) and lived on; the SIGKILL then freed the worker.
  ASSERT_TRUE(Eventually([&] { return c->Stats().value().busy == 0; }));
  std::ifstream in(mark);
  std::string line;
  EXPECT_TRUE(std::getline(in, line)) << "the command never got SIGTERM";
  EXPECT_EQ(line, "term");
  auto e = c->Wait(c->Submit(Spec("echo", Pack(1))).value().id, 10000);
  EXPECT_EQ(e.value().state, JobState::kSucceeded);
}

// A paused LIFO queue: submits are accepted and nothing starts; the settings survive a SIGKILL
// and restart (they are journaled); resume starts the jobs, newest first.
TEST_F(IntegrationTest, QueueSettingsSurviveSigkillAndPauseHoldsJobsUntilResume) {
  auto node = std::make_unique<NodeProcess>("n1", dir_ + "/n1", 1);
  ASSERT_TRUE(node->Start());
  std::vector<std::string> ids;
  {
    auto c = node->Connect();
    ASSERT_TRUE(c);
    auto set = c->SetQueue({"stack", QueueOrder::kLifo, 1, {}, 2, true});
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    EXPECT_TRUE(set.value().settings.paused);
    auto bad = c->SetQueue({"stack", {}, {}, {}, limits::kQueueWeightMax + 1, {}});
    EXPECT_TRUE(bad.status().IsInvalidArgument());
    for (int i = 0; i < 3; ++i) {
      JobSpec s = Spec("echo", Pack(i));
      s.queue = "stack";
      auto r = c->Submit(s);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ids.push_back(r.value().id);
    }
    // Nothing starts while paused (a wait that times out is the evidence, not a sleep).
    auto w = c->Wait(ids[0], 300);
    EXPECT_TRUE(w.status().IsTimeout()) << w.status().ToString();
  }
  ASSERT_EQ(node->Signal(SIGKILL), SIGKILL);
  ASSERT_TRUE(node->Start());  // same data dir
  auto c = node->Connect();
  ASSERT_TRUE(c);
  auto qs = c->Queues();
  ASSERT_TRUE(qs.ok()) << qs.status().ToString();
  ASSERT_EQ(qs.value().size(), 1u);
  const QueueInfo& q = qs.value()[0];
  EXPECT_EQ(q.node, "n1");
  EXPECT_EQ(q.settings.order, QueueOrder::kLifo);
  EXPECT_EQ(q.settings.concurrency, 1u);
  EXPECT_EQ(q.settings.weight, 2u);
  EXPECT_TRUE(q.settings.paused);
  EXPECT_EQ(q.queued, 3u);
  EXPECT_TRUE(c->Wait(ids[0], 300).status().IsTimeout());
  ASSERT_TRUE(c->SetQueue({"stack", {}, {}, {}, {}, false}).ok());
  auto done = WaitAll(*c, ids);
  ASSERT_EQ(done.size(), 3u);
  // Newest first: the last job started first.
  EXPECT_LE(done[ids[2]].started_at_ms, done[ids[1]].started_at_ms);
  EXPECT_LE(done[ids[1]].started_at_ms, done[ids[0]].started_at_ms);
  for (const auto& id : ids) EXPECT_EQ(done[id].state, protocol::JobState::kSucceeded);
}

// --log-format json --log-level debug: every line is a JSON object, and a job's state changes
// can be followed by its id, in order, with their attempts.
TEST_F(IntegrationTest, JsonLogsFollowAJobByItsId) {
  NodeProcess node("n1", dir_ + "/n1", 1, {"--log-format", "json", "--log-level", "debug"});
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_NE(c, nullptr);
  JobSpec spec = Spec("fail", Pack(std::string("boom")));
  spec.max_attempts = 2;
  spec.backoff_ms = 50;
  auto sub = c->Submit(spec);
  ASSERT_TRUE(sub.ok());
  auto done = c->Wait(sub.value().id, 10000);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(node.Signal(SIGTERM), 0);
  std::ifstream log(node.log_path());
  std::string line;
  std::vector<std::string> states;
  int lines = 0;
  while (std::getline(log, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    ++lines;
    for (const char* k : {"time", "level", "node", "msg"}) EXPECT_TRUE(j.contains(k)) << line;
    if (j.value("job", "") == sub.value().id)
      states.push_back(j["state"].get<std::string>() + "/" + std::to_string(j["attempt"].get<int>()));
  }
  EXPECT_GT(lines, 3);
  EXPECT_EQ(states, (std::vector<std::string>{"queued/0", "running/1", "delayed/1", "queued/1",
                                              "running/2", "dead/2"}));
}

// [http_request] in the node's config reaches the handler: with loopback off and nothing
// allowed, a request to 127.0.0.1 is refused before any connection; a bad allow is exit 2.
TEST_F(IntegrationTest, HttpRequestAllowListComesFromTheConfig) {
  std::string cfg = dir_ + "/node.toml";
  std::ofstream(cfg) << "workers = 1\n[http_request]\nloopback = false\nallow = [\"api.example\"]\n";
  NodeProcess node("n1", dir_ + "/n1", 1, {"--config", cfg});
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  JobSpec s = Spec("http_request", Pack(std::map<std::string, std::string>{{"url", "http://127.0.0.1:9/"}}));
  s.max_attempts = 1;
  auto j = c->Wait(c->Submit(s).value().id, 10000);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j.value().state, protocol::JobState::kDead);
  EXPECT_NE(j.value().error.find("host '127.0.0.1' is not allowed"), std::string::npos)
      << j.value().error;
  node.Kill();
  std::ofstream(cfg) << "[http_request]\nallow = \"api.example\"\n";
  NodeProcess bad("n2", dir_ + "/n2", 1, {"--config", cfg});
  EXPECT_FALSE(bad.Start());
  EXPECT_EQ(WEXITSTATUS(bad.Signal(0)), 2);
}

}  // namespace
}  // namespace jobnet