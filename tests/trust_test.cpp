// Time and trust, against real node processes (issue 16): a node's wall clock stepped an hour
// forward and back (Debian's libfaketime, monotonic not faked) changes no duration; an owner
// frozen with SIGSTOP past the failure timeout spends no attempt of the jobs its peers ran; and
// frames forged on a plain client socket change nothing and are counted.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "node_harness.hpp"
#include "protocol/codec.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using Clock = std::chrono::steady_clock;

constexpr char kFaketimeLib[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

JobSpec Sleep(uint64_t ms, uint32_t max_attempts) {
  JobSpec s;
  s.type = "sleep";
  s.payload = testing::Pack(ms);
  s.max_attempts = max_attempts;
  s.timeout_ms = 60000;
  s.backoff_ms = 10;
  return s;
}

JobSpec Echo() {
  JobSpec s;
  s.type = "echo";
  s.payload = testing::Pack(std::string("hi"));
  return s;
}

class TrustTest : public testing::DirTest {
 protected:
  static uint64_t Counter(NodeProcess& n, const std::string& name) {
    return testing::CounterOf(n, name);
  }
  static std::string PeerState(NodeProcess& n, const std::string& peer) {
    auto c = n.Connect(1000);
    auto st = c ? c->Stats() : Result<NodeStats>(Status::Unavailable("no connection"));
    if (!st.ok()) return "";
    for (const auto& p : st.value().peers)
      if (p.node == peer) return p.state;
    return "";
  }
  static uint64_t Incarnation(NodeProcess& n) {
    auto c = n.Connect(1000);
    auto st = c->Stats();
    return st.ok() ? st.value().incarnation : 0;
  }
  static JobInfo Status(NodeProcess& n, const std::string& id) {
    auto c = n.Connect(2000);
    auto r = c->GetStatus(id);
    return r.ok() ? r.value() : JobInfo{};
  }
  // Two nodes that are each other's peer; n1's extra environment first.
  void MakePair(int w1, int w2, const std::vector<std::pair<std::string, std::string>>& env1 = {}) {
    n1_ = std::make_unique<NodeProcess>("n1", dir_ + "/n1", w1);
    n2_ = std::make_unique<NodeProcess>("n2", dir_ + "/n2", w2);
    for (const auto& [k, v] : env1) n1_->SetEnv(k, v);
    n1_->AddArgs({"--peer", n2_->endpoint(), "--failure-timeout", "1000ms"});
    n2_->AddArgs({"--peer", n1_->endpoint(), "--failure-timeout", "1000ms"});
    ASSERT_TRUE(n1_->Start());
    ASSERT_TRUE(n2_->Start());
    ASSERT_TRUE(Eventually([&] { return PeerState(*n1_, "n2") == "alive"; }));
    ASSERT_TRUE(Eventually([&] { return PeerState(*n2_, "n1") == "alive"; }));
  }
  // Sends one frame on a fresh DEALER socket, as any client could.
  static void SendRaw(const std::string& endpoint, protocol::Body body) {
    zmq::context_t ctx;
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 2000);
    s.connect(endpoint);
    std::string frame = protocol::Encode(protocol::Envelope{limits::kProtocolVersion, 0, std::move(body)});
    s.send(zmq::buffer(frame), zmq::send_flags::none);
    s.close();  // linger: the frame is out before the context ends
  }

  std::unique_ptr<NodeProcess> n1_, n2_, n3_;
};

// The faketime file holds the offset libfaketime applies to n1's wall clock, re-read on every
// call (FAKETIME_NO_CACHE); written whole, then renamed, so no read sees half of it.
class ClockStepTest : public TrustTest {
 protected:
  void SetOffset(const std::string& offset) {
    std::string tmp = offset_file_ + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << offset << "\n";
    }
    std::filesystem::rename(tmp, offset_file_);
  }
  std::string offset_file_ = dir_ + "/faketime.rc";
};

TEST_F(ClockStepTest, AWallStepMovesOnlyWhatAUserNamed) {
  ASSERT_TRUE(std::filesystem::exists(kFaketimeLib))
      << "Debian's faketime package is missing (cluster/deps.sh installs it)";
  SetOffset("+0");
  MakePair(1, 1,
           {{"LD_PRELOAD", kFaketimeLib},
            {"FAKETIME_TIMESTAMP_FILE", offset_file_},
            {"FAKETIME_NO_CACHE", "1"},
            {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}});
  auto c = n1_->Connect(5000);
  ASSERT_NE(c, nullptr);
  // Running here and on the peer, with a timeout of a minute and a second attempt to spare.
  auto local = c->Submit(Sleep(3000, 2));
  ASSERT_TRUE(local.ok());
  ASSERT_TRUE(Eventually([&] { return Status(*n1_, local.value().id).state == JobState::kRunning; }));
  auto remote = c->Submit(Sleep(3000, 2));
  ASSERT_TRUE(remote.ok());
  ASSERT_TRUE(Eventually([&] { return Status(*n1_, remote.value().id).state == JobState::kRunning; }));
  // Delayed half an hour: an instant on the wall clock.
  JobSpec later = Echo();
  later.delay_ms = 30 * 60 * 1000;
  auto delayed = c->Submit(later);
  ASSERT_TRUE(delayed.ok());
  ScheduleSpec every;
  every.name = "every-second";
  every.every_ms = 1000;
  every.job = Echo();
  ASSERT_TRUE(c->AddSchedule(every).ok());

  SetOffset("+1h");
  // The delay a user named follows the wall clock: due at once.
  ASSERT_TRUE(Eventually([&] { return Status(*n1_, delayed.value().id).state == JobState::kSucceeded; },
                         std::chrono::seconds(10)));
  // Durations do not: both runs end in their first attempt, neither timed out nor run twice.
  for (const auto& id : {local.value().id, remote.value().id}) {
    auto done = c->Wait(id, 20000);
    ASSERT_TRUE(done.ok()) << id << ": " << done.status().ToString();
    EXPECT_EQ(done.value().state, JobState::kSucceeded) << id << ": " << done.value().error;
    EXPECT_EQ(done.value().attempts, 1u) << id;
  }
  // The live peer stayed alive on both sides.
  EXPECT_EQ(PeerState(*n1_, "n2"), "alive");
  EXPECT_EQ(PeerState(*n2_, "n1"), "alive");
  EXPECT_EQ(Counter(*n1_, "peers_down"), 0u);
  EXPECT_EQ(Counter(*n2_, "peers_down"), 0u);

  SetOffset("-1h");
  // A parked wait still ends at its timeout (2 s of steady time), not an hour later.
  JobSpec much_later = Echo();
  much_later.delay_ms = 2 * 3600 * 1000;
  auto parked = c->Submit(much_later);
  ASSERT_TRUE(parked.ok());
  auto t0 = Clock::now();
  auto waited = n1_->Connect(30000)->Wait(parked.value().id, 2000);
  EXPECT_FALSE(waited.ok());
  EXPECT_TRUE(waited.status().IsTimeout()) << waited.status().ToString();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  // An interval schedule keeps firing every second of steady time.
  auto fires = [&] {
    std::vector<std::string> unreachable;
    auto list = n1_->Connect(2000)->ListSchedules(&unreachable);
    if (!list.ok()) return uint64_t{0};
    for (const auto& s : list.value())
      if (s.name == "every-second") return s.fires;
    return uint64_t{0};
  };
  uint64_t before = fires();
  EXPECT_TRUE(Eventually([&] { return fires() >= before + 3; }, std::chrono::seconds(8)))
      << "fires: " << before << " -> " << fires();
  EXPECT_EQ(PeerState(*n1_, "n2"), "alive");
  EXPECT_EQ(Counter(*n2_, "peers_down"), 0u);
  EXPECT_EQ(Counter(*n1_, "peers_down"), 0u);
}

// An owner stopped for longer than the failure timeout, while peers run its jobs with a single
// attempt each: when it wakes it reads what they sent meanwhile before it judges anyone.
TEST_F(TrustTest, AFrozenOwnerSpendsNoAttemptOfItsHealthyPeers) {
  n1_ = std::make_unique<NodeProcess>("n1", dir_ + "/n1", 1);
  n2_ = std::make_unique<NodeProcess>("n2", dir_ + "/n2", 4);
  n3_ = std::make_unique<NodeProcess>("n3", dir_ + "/n3", 4);
  std::vector<NodeProcess*> all = {n1_.get(), n2_.get(), n3_.get()};
  for (auto* n : all) {
    for (auto* p : all)
      if (p != n) n->AddArgs({"--peer", p->endpoint()});
    n->AddArgs({"--failure-timeout", "1000ms"});
    ASSERT_TRUE(n->Start());
  }
  ASSERT_TRUE(Eventually([&] {
    return PeerState(*n1_, "n2") == "alive" && PeerState(*n1_, "n3") == "alive";
  }));
  auto c = n1_->Connect(10000);
  std::vector<JobSpec> specs(120, Sleep(400, 1));
  auto batch = c->SubmitBatch(specs);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  std::vector<std::string> ids;
  for (const auto& item : batch.value()) {
    ASSERT_TRUE(item.status.ok()) << item.status.ToString();
    ids.push_back(item.submitted.id);
  }
  // Runs are out on the peers.
  ASSERT_TRUE(Eventually([&] { return Counter(*n2_, "hosted_runs") + Counter(*n3_, "hosted_runs") > 0; }));
  ASSERT_EQ(::kill(n1_->pid(), SIGSTOP), 0);
  // The freeze itself is what is tested: it must outlast the failure timeout by far.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  ASSERT_EQ(::kill(n1_->pid(), SIGCONT), 0);
  for (const auto& id : ids) {
    auto done = c->Wait(id, 60000);
    ASSERT_TRUE(done.ok()) << id << ": " << done.status().ToString();
    EXPECT_EQ(done.value().state, JobState::kSucceeded) << id << ": " << done.value().error;
    EXPECT_EQ(done.value().attempts, 1u) << id;
  }
  EXPECT_GE(Counter(*n1_, "loop_stalls"), 1u);
  EXPECT_EQ(Counter(*n1_, "peers_down"), 0u);
  EXPECT_EQ(Counter(*n1_, "interrupted_runs"), 0u);
}

// Frames from a plain client socket that name no state of the node: the forged remote_result
// of issue 16 (an earlier incarnation and the job's seq), a lease never made, a queue_sync from
// the far future, a heartbeat of another incarnation, and guessed remote_cancels. Nothing
// changes; each is counted.
TEST_F(TrustTest, ForgedFramesChangeNothingAndAreCounted) {
  MakePair(1, 1);
  auto c = n1_->Connect(5000);
  const uint64_t inc1 = Incarnation(*n1_);
  JobSpec later = Echo();
  later.delay_ms = 3600 * 1000;
  auto delayed = c->Submit(later);
  ASSERT_TRUE(delayed.ok());
  const uint64_t seq = protocol::ParseJobId(delayed.value().id).value().seq;
  // One run on n1's slot, one on n2 (single attempts: a lost lease would make it dead).
  auto local = c->Submit(Sleep(3000, 1));
  auto remote = c->Submit(Sleep(3000, 1));
  ASSERT_TRUE(local.ok() && remote.ok());
  ASSERT_TRUE(Eventually([&] { return Status(*n1_, remote.value().id).state == JobState::kRunning; }));
  const uint64_t remote_seq = protocol::ParseJobId(remote.value().id).value().seq;
  const uint64_t refused0 = Counter(*n1_, "results_refused");
  const uint64_t stale0 = Counter(*n1_, "stale_results");

  auto result = [&](uint64_t incarnation, uint64_t lease, uint64_t s, const std::string& from) {
    protocol::RemoteResult r;
    r.owner = "n1";
    r.owner_incarnation = incarnation;
    r.worker_node = from;
    r.lease = lease;
    r.seq = s;
    r.ok = true;
    r.result = testing::Pack(std::string("FORGED"));
    SendRaw(n1_->endpoint(), r);
  };
  result(0, 1, seq, "n2");                                   // earlier incarnation (issue 16)
  result(inc1 + 1, (inc1 + 1) << 40 | 1, seq, "n2");         // a later one
  result(inc1, (inc1 << 40) | 999999, remote_seq, "n2");    // a lease never made
  result(inc1, (inc1 << 40) | 1, remote_seq, "n2");         // a guessed lease of this start
  protocol::QueueSettings q;
  q.name = "default";
  q.paused = true;
  q.origin = "zz";
  q.updated_at_ms = std::numeric_limits<uint64_t>::max();
  SendRaw(n1_->endpoint(), protocol::QueueSync{"n2", {q}});
  protocol::Heartbeat hb;  // n2 "restarted": would fail the run it hosts
  hb.node = "n2";
  hb.endpoint = n2_->endpoint();
  hb.incarnation = Incarnation(*n2_) + 1;
  hb.workers = 1;
  hb.acks = true;
  SendRaw(n1_->endpoint(), hb);
  for (uint64_t guess = 1; guess <= 3; ++guess)  // stop the run on n2 by a guessed lease
    SendRaw(n2_->endpoint(), protocol::RemoteCancel{"n1", inc1, guess, remote_seq});

  ASSERT_TRUE(Eventually([&] {
    return Counter(*n1_, "results_refused") + Counter(*n1_, "stale_results") >= refused0 + stale0 + 4 &&
           Counter(*n1_, "queue_sync_future") >= 1 && Counter(*n1_, "heartbeats_refused") >= 1 &&
           Counter(*n2_, "remote_cancels_unmatched") >= 3;
  })) << "results_refused " << Counter(*n1_, "results_refused") << ", stale_results "
      << Counter(*n1_, "stale_results");
  EXPECT_GE(Counter(*n1_, "results_refused"), refused0 + 3);
  EXPECT_EQ(Status(*n1_, delayed.value().id).state, JobState::kDelayed);
  auto queues = c->Queues();
  ASSERT_TRUE(queues.ok());
  for (const auto& qi : queues.value()) EXPECT_FALSE(qi.settings.paused) << qi.settings.name;
  // Both real runs end well, in their one attempt.
  for (const auto& id : {local.value().id, remote.value().id}) {
    auto done = c->Wait(id, 20000);
    ASSERT_TRUE(done.ok()) << id;
    EXPECT_EQ(done.value().state, JobState::kSucceeded) << id << ": " << done.value().error;
    EXPECT_EQ(done.value().attempts, 1u);
  }
  EXPECT_EQ(Status(*n1_, delayed.value().id).state, JobState::kDelayed);
  EXPECT_EQ(Counter(*n1_, "peers_down"), 0u);
}

}  // namespace
}  // namespace jobnet
