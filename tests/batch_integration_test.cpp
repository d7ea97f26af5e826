// Issue 9 against real `jobnet node` processes: a submit_batch with one bad spec is journaled
// with one fsync (the node's journal_batches counter); a payload its handler cannot accept is
// refused at submit; `jobnet types` lists every handler; retry --all from the CLI reports its
// count and repeats as a no-op; the attempt history survives a restart (derived from the
// journal's events); a spec nested past the payload bound fails alone in the client library and
// in `submit --batch`; the CLI gives a JSON line per spec when it cannot connect, and says the
// jobs may exist when a batch's answer is lost.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <atomic>
#include <sstream>
#include <thread>

#include "handlers/registry.hpp"
#include "jobnet/limits.h"
#include "node_harness.hpp"
#include "pipelined_client.hpp"
#include "protocol/codec.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using testing::Pack;
using testing::RunCli;
using testing::Spec;

class BatchIntegrationTest : public testing::DirTest {};

TEST_F(BatchIntegrationTest, BatchWithOneBadSpecTakesOneFsync) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  // Delayed an hour: no run writes anything while the batch is measured.
  std::vector<JobSpec> specs;
  for (int i = 0; i < 500; ++i) specs.push_back(Spec("echo", Pack(i), 3'600'000));
  specs[250] = Spec("sleep", Pack(std::string("not a number")), 3'600'000);
  auto before = c->Stats();
  ASSERT_TRUE(before.ok());
  auto r = c->SubmitBatch(specs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r.value().size(), 500u);
  std::set<std::string> ids;
  for (size_t i = 0; i < 500; ++i) {
    if (i == 250) {
      EXPECT_TRUE(r.value()[i].status.IsInvalidArgument()) << r.value()[i].status.ToString();
    } else {
      ASSERT_TRUE(r.value()[i].status.ok()) << i << ": " << r.value()[i].status.ToString();
      ids.insert(r.value()[i].submitted.id);
    }
  }
  EXPECT_EQ(ids.size(), 499u);
  auto after = c->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value().counters["journal_batches"] - before.value().counters["journal_batches"],
            1u);
  EXPECT_EQ(after.value().jobs["delayed"], 499u);
}

TEST_F(BatchIntegrationTest, PayloadTheHandlerCannotAcceptIsRefusedAtOnce) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  for (const auto& spec : {Spec("sleep", Pack(std::string("x"))), Spec("word_count", Pack(3)),
                           Spec("stats", Pack(std::vector<int>{})),
                           Spec("exec", Pack(std::map<std::string, int>{{"command", 1}}))}) {
    auto r = c->Submit(spec);
    ASSERT_FALSE(r.ok()) << spec.type;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
    EXPECT_NE(r.status().message().find(spec.type), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(c->Submit(Spec("sleep", Pack(5))).ok());
  auto types = c->Types();
  ASSERT_TRUE(types.ok());
  std::set<std::string> names;
  for (const auto& h : types.value()) {
    names.insert(h.type);
    EXPECT_FALSE(h.payload.empty()) << h.type;
    EXPECT_FALSE(h.result.empty()) << h.type;
  }
  // Every handler linked into the node, as the registry lists them (the node binary links the
  // same handlers/ files as this test).
  std::vector<std::string> registered = handlers::Registry::Global().Types();
  EXPECT_EQ(names, std::set<std::string>(registered.begin(), registered.end()));
  EXPECT_GE(names.size(), 14u);  // the registry itself is not empty or cut short
}

TEST_F(BatchIntegrationTest, RetryAllCountsAndHistorySurvivesRestart) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  std::string to = " --to " + node.endpoint();
  std::vector<std::string> ids;
  {
    auto c = node.Connect();
    ASSERT_TRUE(c);
    for (int i = 0; i < 3; ++i) {
      JobSpec s = Spec("fail", Pack(std::string("boom")));
      s.queue = "q";
      s.max_attempts = 2;
      s.backoff_ms = 0;
      auto r = c->Submit(s);
      ASSERT_TRUE(r.ok());
      ids.push_back(r.value().id);
    }
    ASSERT_TRUE(Eventually([&] {
      auto st = c->Stats();
      return st.ok() && st.value().jobs["dead"] == 3;
    }));
    auto h = c->GetStatus(ids[0], /*history=*/true);
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h.value().history.size(), 2u);
    EXPECT_EQ(h.value().history[1].error, "boom");
  }
  // Only cancelled jobs of the queue: none yet, so the first run touches nothing.
  auto none = RunCli("retry --all --queue q --state cancelled --json" + to);
  ASSERT_EQ(none.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(none.out)["touched"], 0);
  // The status --history JSON after a restart: the attempts come back from the journal.
  ASSERT_EQ(node.Signal(SIGTERM), 0);
  ASSERT_TRUE(node.Start());
  auto st = RunCli("status " + ids[0] + " --history --json" + to);
  ASSERT_EQ(st.exit_code, 0);
  auto j = nlohmann::json::parse(st.out);
  ASSERT_EQ(j["attempts"].size(), 2u);
  EXPECT_EQ(j["attempts"][0]["node"], "n1");
  EXPECT_EQ(j["attempts"][0]["error"], "boom");
  EXPECT_EQ(j["attempt_count"], 2);
  auto all = RunCli("retry --all --queue q --json" + to);
  ASSERT_EQ(all.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(all.out)["touched"], 3);
}

// Nested `depth` arrays around 1, as JSON text and as msgpack.
std::string NestedJson(uint32_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }
std::string NestedMsgpack(uint32_t depth) { return std::string(depth, '\x91') + '\x01'; }

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST_F(BatchIntegrationTest, ASpecNestedPastTheBoundFailsAloneAtEveryDoor) {
  NodeProcess node("n1", dir_ + "/n1", 2);
  ASSERT_TRUE(node.Start());
  auto c = node.Connect();
  ASSERT_TRUE(c);
  // The library: checked before sending, so the frame stays within the decoder's bound.
  auto r = c->SubmitBatch({Spec("echo", Pack(1)), Spec("echo", NestedMsgpack(limits::kPayloadDepthMax + 1)),
                           Spec("echo", NestedMsgpack(100000)), Spec("echo", NestedMsgpack(limits::kPayloadDepthMax))});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r.value().size(), 4u);
  EXPECT_TRUE(r.value()[0].status.ok());
  EXPECT_TRUE(r.value()[1].status.IsInvalidArgument()) << r.value()[1].status.ToString();
  EXPECT_TRUE(r.value()[2].status.IsInvalidArgument());
  ASSERT_TRUE(r.value()[3].status.ok()) << r.value()[3].status.ToString();
  // The deepest accepted job is listed like any other (its result is its payload).
  auto done = c->Wait(r.value()[3].submitted.id, 20000);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done.value().result, NestedMsgpack(limits::kPayloadDepthMax));
  auto listed = RunCli("list --json --to " + node.endpoint());
  ASSERT_EQ(listed.exit_code, 0);
  EXPECT_NE(listed.out.find(r.value()[3].submitted.id), std::string::npos) << listed.out;
  // The CLI: one JSON line per spec, the deep ones with their own error.
  std::ofstream(dir_ + "/specs.jsonl")
      << R"({"type":"echo","payload":1})" << "\n"
      << R"({"type":"echo","payload":)" << NestedJson(limits::kPayloadDepthMax + 1) << "}\n"
      << R"({"type":"echo","payload":)" << NestedJson(1000000) << "}\n"
      << R"({"type":"echo","payload":2})" << "\n";
  auto cli = RunCli("submit --batch " + dir_ + "/specs.jsonl --json --to " + node.endpoint());
  EXPECT_EQ(cli.exit_code, 2);  // the highest of its specs': a usage error
  std::istringstream lines(cli.out);
  std::string line;
  std::vector<nlohmann::json> got;
  while (std::getline(lines, line)) got.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(got.size(), 4u) << cli.out;
  EXPECT_TRUE(got[0].contains("id"));
  EXPECT_EQ(got[1]["error"]["code"], "invalid_argument");
  EXPECT_EQ(got[2]["error"]["code"], "invalid_argument");
  EXPECT_TRUE(got[3].contains("id"));
}

TEST_F(BatchIntegrationTest, AFailedConnectGivesAJsonLinePerSpec) {
  std::ofstream(dir_ + "/specs.jsonl") << R"({"type":"echo"})" << "\n\n"
                                       << R"({"type":"echo","payload":2})" << "\n";
  std::string nobody = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  auto cli = RunCli("submit --batch " + dir_ + "/specs.jsonl --json --request-timeout 500ms --to " +
                    nobody + " 2>" + dir_ + "/err");
  EXPECT_EQ(cli.exit_code, 3);
  std::istringstream lines(cli.out);
  std::string line;
  std::vector<nlohmann::json> got;
  while (std::getline(lines, line)) got.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(got.size(), 2u) << cli.out;
  EXPECT_EQ(got[0]["line"], 1);
  EXPECT_EQ(got[1]["line"], 3);  // the blank line keeps its number
  for (const auto& j : got) EXPECT_EQ(j["error"]["code"], "unavailable") << j.dump();
  EXPECT_NE(ReadFile(dir_ + "/err").find("no job was submitted"), std::string::npos);
}

// A node that answers stats (so the client connects) and never a submit_batch: its answer is
// lost as far as the client can tell.
class SilentNode {
 public:
  SilentNode() : endpoint_("tcp://127.0.0.1:" + std::to_string(testing::FreePort())) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.bind(endpoint_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~SilentNode() {
    stop_.store(true);
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  void Serve() {
    while (!stop_.load()) {
      zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t id, frame;
      (void)sock_.recv(id);
      (void)sock_.recv(frame);
      uint64_t corr = 0;
      auto env = protocol::Decode(static_cast<const char*>(frame.data()), frame.size(), &corr);
      if (!env.ok() || !std::holds_alternative<protocol::StatsRequest>(env.value().body)) continue;
      protocol::StatsReply stats;
      stats.node = "silent";
      std::string reply = protocol::Encode({limits::kProtocolVersion, corr, stats});
      sock_.send(id, zmq::send_flags::sndmore);
      sock_.send(zmq::buffer(reply));
    }
  }
  std::string endpoint_;
  zmq::context_t ctx_{1};
  zmq::socket_t sock_{ctx_, zmq::socket_type::router};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(BatchIntegrationTest, ALostBatchAnswerSaysTheJobsMayExist) {
  SilentNode silent;
  std::ofstream(dir_ + "/specs.jsonl") << R"({"type":"echo","key":"k1"})" << "\n"
                                       << R"({"type":"echo","key":"k2"})" << "\n";
  auto cli = RunCli("submit --batch " + dir_ + "/specs.jsonl --json --request-timeout 300ms --to " +
                    silent.endpoint() + " 2>" + dir_ + "/err");
  EXPECT_EQ(cli.exit_code, 3);
  EXPECT_EQ(std::count(cli.out.begin(), cli.out.end(), '\n'), 2) << cli.out;
  EXPECT_NE(cli.out.find("\"timeout\""), std::string::npos) << cli.out;
  std::string err = ReadFile(dir_ + "/err");
  EXPECT_NE(err.find("lines 1..2"), std::string::npos) << err;
  EXPECT_NE(err.find("may exist"), std::string::npos) << err;
  EXPECT_NE(err.find("\"key\""), std::string::npos) << err;
}

}  // namespace
}  // namespace jobnet
