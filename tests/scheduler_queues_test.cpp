// Queues in the scheduler core (docs/architecture.md §14), driven with a fake clock: LIFO order,
// weights, priority aging, concurrency and rate limits (runs on peers count), pause, bad
// settings, and settings journaled, synced with peers (newest wins) and recovered.
#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/scheduler_core.hpp"
#include "scheduler_fixture.hpp"

namespace jobnet::sched {
namespace {

TEST_F(QueueSchedulerTest, LifoQueueRunsTheNewestJobFirst) {
  Set({"stack", QueueOrder::kLifo, {}, {}, {}, {}});
  std::string busy = Submit(In("stack"));
  Dispatch cur = fx_.dispatches.at(0);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Submit(In("stack")));
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    Finish(cur, true);
    ASSERT_EQ(fx_.dispatches.size(), 1u);
    cur = fx_.dispatches[0];
    order.push_back(cur.id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{ids[3], ids[2], ids[1], ids[0]}));
}

TEST_F(QueueSchedulerTest, WeightsShareTheWorkersBetweenQueues) {
  Set({"big", {}, {}, {}, 3, {}});
  std::string busy = Submit(In("other"));
  Dispatch cur = fx_.dispatches.at(0);
  std::map<std::string, std::string> queue_of;
  for (int i = 0; i < 2000; ++i) queue_of[Submit(In("big"))] = "big";  // the flood comes first
  for (int i = 0; i < 100; ++i) queue_of[Submit(In("small"))] = "small";
  std::map<std::string, int> ran;
  for (int i = 0; i < 200; ++i) {
    Finish(cur, true);
    ASSERT_EQ(fx_.dispatches.size(), 1u);
    cur = fx_.dispatches[0];
    ran[queue_of.at(cur.id)]++;
  }
  EXPECT_NEAR(ran["big"], 150, 1);  // 3:1, although every big job is older
  EXPECT_NEAR(ran["small"], 50, 1);
}

TEST_F(QueueSchedulerTest, PriorityAgingBoundsTheWaitUnderAHighPriorityFlood) {
  // One worker, two priority-255 jobs submitted per 100 ms and one run finished per 100 ms: the
  // high-priority backlog only grows, so without aging the priority-0 job would never run.
  std::string busy = Submit(In("q", 255));
  Dispatch cur = fx_.dispatches.at(0);
  const uint64_t t0 = now_;
  std::string low = Submit(In("q", 0));
  std::map<std::string, uint64_t> submitted_at;
  const uint64_t window_ms = 255 * limits::kPriorityAgingMsPerLevel;  // (255 - 0) levels
  bool low_ran = false;
  for (int step = 0; step < 2000 && !low_ran; ++step) {
    for (int k = 0; k < 2; ++k) submitted_at[Submit(In("q", 255))] = now_;
    now_ += 100;
    s_->Tick(now_);
    fx_ = s_->TakeEffects();
    Finish(cur, true);
    ASSERT_EQ(fx_.dispatches.size(), 1u);
    cur = fx_.dispatches[0];
    if (cur.id == low) {
      low_ran = true;
    } else {
      // The bound: no job that became ready `window_ms` or more after it overtakes it.
      ASSERT_LT(submitted_at.at(cur.id), t0 + window_ms) << "overtaken by " << cur.id;
    }
  }
  ASSERT_TRUE(low_ran);
  // It waited for what arrived within the window (2 per 100 ms), run at 1 per 100 ms.
  EXPECT_LE(now_ - t0, 2 * window_ms + 200);
}

TEST_F(QueueSchedulerTest, ConcurrencyLimitCountsRunsLeasedToPeers) {
  Set({"c", {}, 2, {}, {}, {}});
  Beat("n2", "tcp://p2", 8);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit(In("c")));
  // One run on the local slot, one on the peer, then the limit: nothing more anywhere.
  EXPECT_EQ(s_->running_jobs(), 2u);
  EXPECT_EQ(Set({"c", {}, {}, {}, {}, {}}).running, 2u);
  std::string other = Submit(In("other"));
  EXPECT_EQ(RunsSent().size(), 1u);  // another queue's job still goes to the peer
  EXPECT_EQ(s_->running_jobs(), 3u);
  Set({"c", {}, 4, {}, {}, {}});  // raising the limit starts more at once
  EXPECT_EQ(s_->running_jobs(), 5u);
}

TEST_F(QueueSchedulerTest, RateLimitSpacesTheStarts) {
  Make(8);
  Set({"r", {}, {}, 2, {}, {}});  // 2 per second
  for (int i = 0; i < 6; ++i) Submit(In("r"));
  EXPECT_EQ(s_->running_jobs(), 2u);  // a second's worth at once
  EXPECT_EQ(s_->NextDeadlineMs(), now_ + 500);
  Tick(499);
  EXPECT_EQ(s_->running_jobs(), 2u);
  Tick(1);
  EXPECT_EQ(s_->running_jobs(), 3u);
  Tick(500);
  EXPECT_EQ(s_->running_jobs(), 4u);
}

TEST_F(QueueSchedulerTest, PausedQueueAcceptsSubmitsAndStartsNothingUntilResumed) {
  Make(4);
  Set({"p", {}, {}, {}, {}, true});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Submit(In("p")));
  EXPECT_TRUE(fx_.dispatches.empty());
  Tick(60'000);
  EXPECT_EQ(s_->running_jobs(), 0u);
  EXPECT_EQ(Info(ids[0]).state, JobState::kQueued);
  // The slots it leaves idle are offered to other owners.
  EXPECT_EQ(s_->MakeHeartbeat("tcp://me").free, 4u + 4u * limits::kHostedQueuedPerWorker);
  protocol::QueueInfo q = Set({"p", {}, {}, {}, {}, false});
  EXPECT_FALSE(q.settings.paused);
  EXPECT_EQ(fx_.dispatches.size(), 3u);
}

TEST_F(QueueSchedulerTest, BadSettingsAreRefusedWithTheirBounds) {
  EXPECT_TRUE(SetError({"q", {}, {}, {}, 0, {}}).IsInvalidArgument());
  Status s = SetError({"q", {}, {}, {}, limits::kQueueWeightMax + 1, {}});
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("weight must be 1..1000"), std::string::npos) << s.ToString();
  EXPECT_TRUE(SetError({"q", {}, limits::kQueueConcurrencyMax + 1, {}, {}, {}}).IsInvalidArgument());
  EXPECT_TRUE(SetError({"q", {}, {}, limits::kQueueRateMax + 1, {}, {}}).IsInvalidArgument());
  EXPECT_TRUE(SetError({"bad name", {}, {}, {}, {}, {}}).IsInvalidArgument());
  EXPECT_TRUE(s_->Queues(now_).empty());  // nothing was created
}

TEST_F(QueueSchedulerTest, SettingsAreJournaledAndSentToAlivePeers) {
  Beat("n2", "tcp://p2", 0);
  fx_ = {};
  s_->SetQueue(++token_, {"q", QueueOrder::kLifo, 3, {}, {}, {}}, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.queue_writes.size(), 1u);
  EXPECT_EQ(fx_.queue_writes[0].concurrency, 3u);
  EXPECT_EQ(fx_.queue_writes[0].origin, "n1");
  EXPECT_EQ(fx_.queue_writes[0].updated_at_ms, now_);
  ASSERT_EQ(fx_.peer_sends.size(), 1u);  // n2 only: p3 has never been heard from
  EXPECT_EQ(fx_.peer_sends[0].link, 0u);
  auto& sync = std::get<protocol::QueueSync>(fx_.peer_sends[0].body);
  EXPECT_EQ(sync.queues.at(0).order, QueueOrder::kLifo);
  // A partial change keeps the other fields.
  protocol::QueueInfo q = Set({"q", {}, {}, {}, 5, {}});
  EXPECT_EQ(q.settings.order, QueueOrder::kLifo);
  EXPECT_EQ(q.settings.concurrency, 3u);
  EXPECT_EQ(q.settings.weight, 5u);
}

TEST_F(QueueSchedulerTest, PeerSettingsNewestWinsAndAPeerComingBackGetsThemAll) {
  Set({"q", {}, 3, {}, {}, {}});
  protocol::QueueSettings older = s_->Queues(now_).at(0).settings;
  older.concurrency = 9;
  older.updated_at_ms -= 1;
  older.origin = "n2";
  s_->OnQueueSync({"n2", {older}}, now_);
  EXPECT_EQ(s_->Queues(now_).at(0).settings.concurrency, 3u);
  protocol::QueueSettings newer = older;
  newer.updated_at_ms += 2;
  s_->OnQueueSync({"n2", {newer}}, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(s_->Queues(now_).at(0).settings.concurrency, 9u);
  EXPECT_EQ(fx_.queue_writes.size(), 1u);  // journaled here too
  // p3 turns alive: it is sent every setting; so is n2 when it restarts.
  Beat("n3", "tcp://p3", 0);
  ASSERT_EQ(fx_.peer_sends.size(), 1u);
  EXPECT_EQ(std::get<protocol::QueueSync>(fx_.peer_sends[0].body).queues.at(0).concurrency, 9u);
  Beat("n2", "tcp://p2", 0, 1);
  Beat("n2", "tcp://p2", 0, 1);
  EXPECT_TRUE(fx_.peer_sends.empty());
  Tick(1000);  // n2 restarts: its old incarnation falls silent first
  Beat("n2", "tcp://p2", 0, 2);
  EXPECT_EQ(fx_.peer_sends.size(), 1u);
}

TEST_F(QueueSchedulerTest, RecoveredSettingsApplyBeforeTheJobs) {
  protocol::QueueSettings lifo;
  lifo.name = "stack";
  lifo.order = QueueOrder::kLifo;
  lifo.updated_at_ms = 5;
  lifo.origin = "n1";
  Make(1);
  std::vector<protocol::Job> jobs;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    protocol::Job j;
    j.seq = seq;
    j.id = protocol::MakeJobId("n1", seq);
    j.spec = In("stack");
    j.order = seq;
    j.events = 1;
    jobs.push_back(j);
  }
  s_->RecoverQueue(lifo, now_);
  s_->Recover(jobs, 4, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].id, "n1-3");
  EXPECT_TRUE(fx_.queue_writes.empty());  // recovered, not changed
}

}  // namespace
}  // namespace jobnet::sched
