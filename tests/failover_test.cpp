// Failover with two copies of a journal (docs/failover.md §6-7), against real etcd and node
// processes: n1 ships every journal batch to n2 before it answers. SIGKILL n1 and delete its
// data directory: n2 takes shard n1 over and every job n1 acknowledged succeeds, answered by
// n2. Freeze n1 past its lease: n2 takes the shard, and n1, thawed, never acknowledges again.
// Kill the backup: n1's writes wait for it, and go on once it is back (a new snapshot). No
// assertion depends on speed: each state is awaited.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/exit_codes.hpp"
#include "coord/etcd_client.hpp"
#include "etcd_harness.hpp"
#include "jobnet/limits.h"
#include "node_harness.hpp"
#include "pipelined_client.hpp"
#include "protocol/messages.hpp"

namespace jobnet {
namespace {

using testing::Eventually;
using testing::NodeProcess;
using testing::Pack;
using testing::Spec;

class FailoverTest : public testing::EtcdTest {
 protected:
  FailoverTest() : EtcdTest("fo") {}
  void SetUp() override {
    StartEtcd();
    if (HasFatalFailure()) return;
    repl1_ = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
    repl2_ = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
    n1_ = std::make_unique<NodeProcess>("n1", dir_ + "/n1", 2);
    n2_ = std::make_unique<NodeProcess>("n2", dir_ + "/n2", 2);
    n1_->AddArgs(EtcdArgs());
    n2_->AddArgs(EtcdArgs());
    n1_->AddArgs({"--peer", n2_->endpoint(), "--replication-listen", repl1_, "--backup", repl2_});
    n2_->AddArgs({"--peer", n1_->endpoint(), "--replication-listen", repl2_});
    ASSERT_TRUE(n2_->Start());
    ASSERT_TRUE(n1_->Start());
  }
  // The shard's in-sync set in etcd; {"(none)"} when none was written.
  std::vector<std::string> InSync(const std::string& shard) {
    auto r = kv_->Range("/jobnet/" + cluster_ + "/insync/" + shard);
    if (!r.ok() || r.value().kvs.empty()) return {"(none)"};
    return nlohmann::json::parse(r.value().kvs[0].value)["backups"].get<std::vector<std::string>>();
  }
  // Submits `n` sleep jobs of `ms` to `c`; their ids.
  static std::vector<std::string> SubmitSleeps(Client& c, int n, int ms) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto r = c.Submit(Spec("sleep", Pack(ms)));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) ids.push_back(r.value().id);
    }
    return ids;
  }
  // Calls `call` until it succeeds or `limit` passes; its last result.
  static Result<JobInfo> UntilOk(const std::function<Result<JobInfo>()>& call,
                                 std::chrono::seconds limit) {
    Result<JobInfo> r = Status::Unavailable("not asked");
    Eventually(
        [&] {
          r = call();
          return r.ok();
        },
        limit);
    return r;
  }
  // Waits for each job through `c`; how many succeeded.
  static int Succeeded(Client& c, const std::vector<std::string>& ids) {
    int ok = 0;
    for (const auto& id : ids) {
      Result<JobInfo> r = Status::Unavailable("not asked");
      // A request that meets the takeover under way is answered `unavailable`: ask again.
      Eventually(
          [&] {
            r = c.Wait(id, 20000);
            return r.ok() || !r.status().IsUnavailable();
          },
          std::chrono::seconds(60));
      const bool good = r.ok() && r.value().state == protocol::JobState::kSucceeded;
      if (!good)
        ADD_FAILURE() << id << ": "
                      << (r.ok() ? protocol::JobStateName(r.value().state) : r.status().ToString());
      ok += good;
    }
    return ok;
  }

  std::string repl1_, repl2_;
  std::unique_ptr<NodeProcess> n1_, n2_;
};

// Three nodes; node i ships its journal to the nodes in backups_of[i].
class ThreeNodes : public FailoverTest {
 protected:
  void SetUp() override {}  // each test's fixture starts its own nodes
  void StartThree(const std::vector<std::vector<int>>& backups_of) {
    StartEtcd();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 3; ++i)
      repl_.push_back("tcp://127.0.0.1:" + std::to_string(testing::FreePort()));
    for (int i = 0; i < 3; ++i)
      nodes_.push_back(std::make_unique<NodeProcess>("n" + std::to_string(i + 1),
                                                     dir_ + "/n" + std::to_string(i + 1), 2));
    for (int i = 0; i < 3; ++i) {
      nodes_[i]->AddArgs(EtcdArgs());
      nodes_[i]->AddArgs({"--replication-listen", repl_[i]});
      for (int k = 0; k < 3; ++k)
        if (k != i) nodes_[i]->AddArgs({"--peer", nodes_[k]->endpoint()});
      for (int b : backups_of[i]) nodes_[i]->AddArgs({"--backup", repl_[b]});
    }
    for (int i = 2; i >= 0; --i) ASSERT_TRUE(nodes_[i]->Start());
  }
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::vector<std::string> repl_;
};

// n1 with two backups, n2 and n3.
class InSyncTest : public ThreeNodes {
 protected:
  void SetUp() override { StartThree({{1, 2}, {}, {}}); }
};

// The --replicas 2 ring: n1 -> n2 -> n3 -> n1.
class RingTest : public ThreeNodes {
 protected:
  void SetUp() override { StartThree({{1}, {2}, {0}}); }
};

TEST_F(RingTest, ATakenOverShardIsReplicatedAgainAndSurvivesASecondLoss) {
  auto c1 = nodes_[0]->Connect(10000);
  ASSERT_TRUE(c1);
  const std::vector<std::string> ids = SubmitSleeps(*c1, 20, 20);
  ASSERT_EQ(ids.size(), 20u);
  nodes_[0]->Kill();
  std::filesystem::remove_all(nodes_[0]->data());
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n2"; }, std::chrono::seconds(30)));
  auto c2 = nodes_[1]->Connect(5000);
  ASSERT_TRUE(c2);
  EXPECT_EQ(Succeeded(*c2, ids), 20);
  // n2 ships shard n1 to its own backup, n3, which joins the shard's in-sync set. (n3's own
  // backup, n1, is gone: it is dropped from n3's set, and n3's writes go on.)
  auto c3 = nodes_[2]->Connect(30000);
  ASSERT_TRUE(c3);
  ASSERT_TRUE(Eventually([&] { return InSync("n1") == std::vector<std::string>{repl_[2]}; },
                         std::chrono::seconds(30)));
  // n2 dies with its disk too: n3, in shard n1's set, takes it over. (n2's own shard, which
  // never acknowledged a job, has no copy anywhere and no holder.)
  nodes_[1]->Kill();
  std::filesystem::remove_all(nodes_[1]->data());
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n3"; }, std::chrono::seconds(30)));
  EXPECT_EQ(Succeeded(*c3, ids), 20);
}

TEST_F(InSyncTest, ASilentBackupIsDroppedAndCannotTakeTheShardOver) {
  auto c1 = nodes_[0]->Connect(60000);
  ASSERT_TRUE(c1);
  std::vector<std::string> ids = SubmitSleeps(*c1, 5, 10);
  ::kill(nodes_[2]->pid(), SIGSTOP);  // n3 goes silent: n1 waits for it, then drops it
  const auto more = SubmitSleeps(*c1, 5, 10);
  ASSERT_EQ(more.size(), 5u);
  ids.insert(ids.end(), more.begin(), more.end());
  EXPECT_EQ(InSync("n1"), std::vector<std::string>{repl_[1]});
  EXPECT_TRUE(LogHas(*nodes_[0], "dropped from shard n1's in-sync set"));
  EXPECT_EQ(Counter(*c1, "replication_backups_dropped"), 1u);
  EXPECT_EQ(Counter(*c1, "replication_in_sync"), 1u);
  EXPECT_GE(Counter(*c1, "replication_batches"), 10u);

  // n1 dies with its disk while n3, thawed, holds a complete but stale copy: only n2, in the
  // set, may take the shard over.
  nodes_[0]->Kill();
  std::filesystem::remove_all(nodes_[0]->data());
  ::kill(nodes_[2]->pid(), SIGCONT);
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n2"; }, std::chrono::seconds(30)));
  auto c2 = nodes_[1]->Connect(5000);
  ASSERT_TRUE(c2);
  EXPECT_EQ(Succeeded(*c2, ids), 10);
  // (n3 may see the shard go and come back at once, or check the set and stand down: either
  // way it never holds it.)
  EXPECT_EQ(Shard("n1").first, "n2");
  EXPECT_FALSE(LogHas(*nodes_[2], "took shard n1 over"));
  EXPECT_EQ(InSync("n1"), std::vector<std::string>{});  // served on one copy now
}

TEST_F(InSyncTest, ADroppedBackupRejoinsOnceItAnswers) {
  auto c1 = nodes_[0]->Connect(60000);
  ASSERT_TRUE(c1);
  ::kill(nodes_[2]->pid(), SIGSTOP);
  std::vector<std::string> ids = SubmitSleeps(*c1, 2, 10);
  EXPECT_EQ(InSync("n1"), std::vector<std::string>{repl_[1]});
  ::kill(nodes_[2]->pid(), SIGCONT);
  // Writes go on; one of them finds n3 answering, sends it a snapshot and puts it back.
  ASSERT_TRUE(Eventually(
      [&] {
        auto more = SubmitSleeps(*c1, 1, 1);
        ids.insert(ids.end(), more.begin(), more.end());
        return InSync("n1").size() == 2;
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(LogHas(*nodes_[0], "has caught up: back in shard n1's in-sync set"));
  EXPECT_EQ(Succeeded(*c1, ids), static_cast<int>(ids.size()));
}

TEST_F(FailoverTest, KilledPrimaryWithItsDiskLostIsTakenOverAndNoAcknowledgedJobIsLost) {
  auto c1 = n1_->Connect(10000);
  ASSERT_TRUE(c1);
  const auto [primary, epoch] = Shard("n1");
  ASSERT_EQ(primary, "n1");
  const std::vector<std::string> ids = SubmitSleeps(*c1, 40, 150);
  ASSERT_EQ(ids.size(), 40u);

  n1_->Kill();
  std::filesystem::remove_all(n1_->data());
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n2"; }, std::chrono::seconds(30)));
  EXPECT_GT(Shard("n1").second, epoch);
  auto c2 = n2_->Connect(5000);
  ASSERT_TRUE(c2);
  EXPECT_EQ(Succeeded(*c2, ids), 40);
  EXPECT_TRUE(LogHas(*n2_, "serving shard n1 from its copy"));
  EXPECT_EQ(Counter(*c2, "shards_taken_over"), 1u);
  EXPECT_GE(Counter(*c2, "replica_snapshots_applied"), 1u);
  // n2 goes on serving its own shard beside n1's.
  auto own = c2->Submit(Spec("echo", Pack(7)));
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own.value().id.rfind("n2-", 0), 0u);
  EXPECT_EQ(Succeeded(*c2, {own.value().id}), 1);
}

// A job's input blob, put on n1 before the job was submitted, is on n2 before the put was
// answered: with n1's disk gone, n2 answers the blob for the job, and signs n1's callbacks with
// the secret n1 made.
TEST_F(FailoverTest, ATakenOverShardsBlobsAndCallbackSecretSurviveItsPrimarysDisk) {
  auto c1 = n1_->Connect(10000);
  ASSERT_TRUE(c1);
  std::string data(2 * limits::kBlobChunkBytesMax + 4321, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 31) >> 3);
  auto put = c1->PutBlob(data);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const std::string hash = put.value();
  EXPECT_EQ(Counter(*c1, "replication_blobs"), 1u);
  // {"blob": hash}: the job holds the blob (the sweep keeps it while the job is kept).
  const std::string payload = std::string("\x81\xa4" "blob\xd9\x40", 8) + hash;
  auto job = c1->Submit(Spec("echo", payload));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_EQ(Succeeded(*c1, {job.value().id}), 1);
  std::string secret;
  std::getline(std::ifstream(n1_->data() + "/callback.secret"), secret);
  ASSERT_EQ(secret.size(), 64u);

  n1_->Kill();
  std::filesystem::remove_all(n1_->data());
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n2"; }, std::chrono::seconds(30)));
  auto c2 = n2_->Connect(5000);
  ASSERT_TRUE(c2);
  Result<std::string> got = Status::Unavailable("not asked");
  Eventually(
      [&] {
        got = c2->GetBlob(hash, job.value().id);
        return got.ok() || !got.status().IsUnavailable();
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got.value() == data);
  EXPECT_EQ(Counter(*c2, "replica_blobs_stored"), 1u);
  std::string kept;
  std::getline(std::ifstream(n2_->data() + "/replicas/n1/callback.secret"), kept);
  EXPECT_EQ(kept, secret);
  EXPECT_TRUE(LogHas(*n2_, "signed with the secret from " + n2_->data() + "/replicas/n1/"));
}

TEST_F(FailoverTest, ATakenOverShardStaysWithItsNewHolderAcrossRestarts) {
  auto c1 = n1_->Connect(10000);
  ASSERT_TRUE(c1);
  const std::vector<std::string> ids = SubmitSleeps(*c1, 6, 10);
  n1_->Kill();
  std::filesystem::remove_all(n1_->data());
  ASSERT_TRUE(Eventually([&] { return LogHas(*n2_, "serving shard n1 from its copy"); },
                         std::chrono::seconds(30)));
  // The new holder restarts: the shard is still its own (the copy is now the shard's journal).
  n2_->Kill();
  ASSERT_TRUE(n2_->Start());
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n2"; }, std::chrono::seconds(30)));
  auto c2 = n2_->Connect(5000);
  ASSERT_TRUE(c2);
  EXPECT_EQ(Succeeded(*c2, ids), 6);
  // The old primary comes back with an empty disk: it must not start a new, empty shard n1
  // (its ids would clash) nor overwrite n2's journal of it. It runs as a backup only: its
  // shard stays n2's, a submit to it is refused, and a status of an n1 job is n2's answer.
  ASSERT_TRUE(n1_->Start());
  EXPECT_TRUE(LogHas(*n1_, "has been taken over by node n2"));
  EXPECT_TRUE(LogHas(*n1_, "This node does not serve its shard"));
  auto c1b = n1_->Connect(3000);
  ASSERT_TRUE(c1b);
  auto refused = c1b->Submit(Spec("echo", Pack(1)));
  EXPECT_FALSE(refused.ok()) << "a node whose shard was taken over acknowledged "
                             << refused.value().id;
  EXPECT_EQ(Succeeded(*c1b, ids), 6);
  EXPECT_EQ(Shard("n1").first, "n2");
  EXPECT_EQ(Succeeded(*c2, ids), 6);
}

TEST_F(FailoverTest, FrozenPrimaryIsDeposedAndNeverAcknowledgesAgain) {
  auto c1 = n1_->Connect(3000);
  ASSERT_TRUE(c1);
  const std::vector<std::string> ids = SubmitSleeps(*c1, 10, 100);
  ASSERT_EQ(ids.size(), 10u);

  ::kill(n1_->pid(), SIGSTOP);  // past its lease: n2 takes the shard over
  ASSERT_TRUE(Eventually([&] { return LogHas(*n2_, "serving shard n1 from its copy"); },
                         std::chrono::seconds(30)));
  ::kill(n1_->pid(), SIGCONT);
  // The thawed primary holds no lease that etcd knows: it is fenced, and its next journal
  // batch is refused by n2 (which holds the shard now), so it stops. A submit to it is never
  // acknowledged.
  for (int i = 0; i < 3; ++i) {
    auto r = c1->Submit(Spec("echo", Pack(i)));
    EXPECT_FALSE(r.ok()) << "a deposed primary acknowledged " << r.value().id;
  }
  auto c2 = n2_->Connect(5000);
  ASSERT_TRUE(c2);
  EXPECT_EQ(Succeeded(*c2, ids), 10);
  EXPECT_EQ(Shard("n1").first, "n2");
}

TEST_F(FailoverTest, APrimaryWhoseShardWasTakenOverNeverWinsItBackEvenOnceTheTakerIsGone) {
  auto c1 = n1_->Connect(3000);
  ASSERT_TRUE(c1);
  JobSpec later = Spec("echo", Pack(1));
  later.delay_ms = 120000;
  auto job = c1->Submit(later);
  ASSERT_TRUE(job.ok()) << job.status().ToString();

  ::kill(n1_->pid(), SIGSTOP);  // past its lease: n2 takes the shard over
  ASSERT_TRUE(Eventually([&] { return LogHas(*n2_, "serving shard n1 from its copy"); },
                         std::chrono::seconds(30)));
  // n2 acknowledges a change to one of n1's jobs that n1 never sees.
  auto c2 = n2_->Connect(5000);
  ASSERT_TRUE(c2);
  auto cancelled = UntilOk([&] { return c2->Cancel(job.value().id); }, std::chrono::seconds(10));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ(cancelled.value().state, protocol::JobState::kCancelled);

  // The taker dies, and its key with its lease; then the old primary runs again. The shard key
  // is free, but the last win is n2's: n1 (whose state has the job delayed) must not take it.
  n2_->Kill();
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first.empty(); }, std::chrono::seconds(10)));
  ::kill(n1_->pid(), SIGCONT);
  ASSERT_TRUE(Eventually([&] { return LogHas(*n1_, "This node no longer serves it"); },
                         std::chrono::seconds(15)));
  EXPECT_TRUE(LogHas(*n1_, "has been taken over by node n2"));
  EXPECT_NE(Shard("n1").first, "n1");
  auto refused = c1->Submit(Spec("echo", Pack(2)));
  EXPECT_FALSE(refused.ok()) << "a node whose shard was taken over acknowledged "
                             << refused.value().id;
  if (!refused.ok()) {
    EXPECT_TRUE(refused.status().IsUnavailable()) << refused.status().ToString();
    EXPECT_NE(refused.status().message().find("has been taken over"), std::string::npos)
        << refused.status().message();
  }

  // n2 comes back and holds the shard again, with the job as it acknowledged it.
  ASSERT_TRUE(n2_->Start());
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n2"; }, std::chrono::seconds(30)));
  c2 = n2_->Connect(5000);
  ASSERT_TRUE(c2);
  auto after = UntilOk([&] { return c2->GetStatus(job.value().id); }, std::chrono::seconds(10));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after.value().state, protocol::JobState::kCancelled);
}

// A deposed primary that comes back becomes its successor's backup for its own shard: it is
// filled from the successor's journal (with what only the successor acknowledged), can take
// the shard over from that copy, and from then on never serves its own stale journal of it,
// across restarts.
TEST_F(FailoverTest, ADeposedPrimaryRejoinsAsItsSuccessorsBackupAndCanTakeItsShardBack) {
  auto c1 = n1_->Connect(3000);
  ASSERT_TRUE(c1);
  std::vector<std::string> delayed;
  for (int i = 0; i < 30; ++i) {
    JobSpec later = Spec("echo", Pack(i));
    later.delay_ms = 300000;
    auto r = c1->Submit(later);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    delayed.push_back(r.value().id);
  }
  ::kill(n1_->pid(), SIGSTOP);  // past its lease: n2 takes the shard over
  ASSERT_TRUE(Eventually([&] { return LogHas(*n2_, "serving shard n1 from its copy"); },
                         std::chrono::seconds(30)));
  auto c2 = n2_->Connect(5000);
  ASSERT_TRUE(c2);
  // Acknowledged by n2 alone: n1's journal never hears of it.
  auto first = UntilOk([&] { return c2->Cancel(delayed[0]); }, std::chrono::seconds(10));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ::kill(n1_->pid(), SIGCONT);
  n1_->Kill();
  ASSERT_TRUE(n1_->Start());  // deposed: it runs as a backup, and registers its endpoint
  // n2 adds n1 as a backup of shard n1 once it sees it registered, and fills it at once (the
  // shard does not write meanwhile): n1 joins the in-sync set.
  ASSERT_TRUE(Eventually(
      [&] {
        auto set = InSync("n1");
        return std::find(set.begin(), set.end(), repl1_) != set.end();
      },
      std::chrono::seconds(30)))
      << "n1 never joined shard n1's in-sync set";
  EXPECT_TRUE(LogHas(*n2_, repl1_ + " added as a backup of shard n1"));
  // A write now waits for n1 too.
  auto second = UntilOk([&] { return c2->Cancel(delayed[1]); }, std::chrono::seconds(10));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const size_t cancelled = 2;  // delayed[0..1] are cancelled on n2

  // n2 dies: n1 takes its own shard over from its copy, with what only n2 acknowledged.
  n2_->Kill();
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n1"; }, std::chrono::seconds(30)));
  ASSERT_TRUE(Eventually([&] { return LogHas(*n1_, "serving shard n1 from its copy"); },
                         std::chrono::seconds(30)));
  auto check = [&](Client& c) {
    for (size_t i = 0; i < delayed.size(); ++i) {
      auto st = UntilOk([&] { return c.GetStatus(delayed[i]); }, std::chrono::seconds(10));
      ASSERT_TRUE(st.ok()) << delayed[i] << ": " << st.status().ToString();
      EXPECT_EQ(st.value().state,
                i < cancelled ? protocol::JobState::kCancelled : protocol::JobState::kDelayed)
          << delayed[i];
    }
  };
  c1 = n1_->Connect(5000);
  ASSERT_TRUE(c1);
  check(*c1);
  // Restarted, it holds the shard with the copy again, never with its own stale journal.
  n1_->Kill();
  ASSERT_TRUE(n1_->Start());
  ASSERT_TRUE(Eventually([&] { return Shard("n1").first == "n1"; }, std::chrono::seconds(30)));
  EXPECT_TRUE(LogHas(*n1_, "with its copy of it"));
  c1 = n1_->Connect(5000);
  ASSERT_TRUE(c1);
  check(*c1);
}

TEST_F(FailoverTest, WritesWaitForABackupThatIsDownAndItCatchesUpWhenItIsBack) {
  auto c1 = n1_->Connect(60000);
  ASSERT_TRUE(c1);
  std::vector<std::string> all = SubmitSleeps(*c1, 3, 10);
  n2_->Kill();
  // Not acknowledged at once while the only backup is down (it is waited for, up to 3 s, before
  // it is dropped from the in-sync set)...
  auto pending = std::async(std::launch::async, [&] { return c1->Submit(Spec("echo", Pack(1))); });
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(1500)), std::future_status::timeout);
  ASSERT_TRUE(n2_->Start());
  auto r = pending.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  all.push_back(r.value().id);
  // ... and once it is back it holds the journal again and is in the set, whether it came back
  // before it was dropped or rejoined after.
  ASSERT_TRUE(Eventually(
      [&] {
        auto more = SubmitSleeps(*c1, 1, 1);
        all.insert(all.end(), more.begin(), more.end());
        return InSync("n1") == std::vector<std::string>{repl2_};
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(Succeeded(*c1, all), static_cast<int>(all.size()));
}

}  // namespace
}  // namespace jobnet
