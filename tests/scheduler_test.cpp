// Scheduler state machine contract, driven with a fake clock: ordering (priority, FIFO),
// delays, leases and timeouts, retries with backoff, dead-lettering, cancel, retry, waiters,
// idempotency, limits, retention, recovery. Checks the effects (writes, replies, dispatches)
// that the actor would carry out.
#include <gtest/gtest.h>

#include "core/scheduler_core.hpp"

namespace jobnet::sched {
namespace {

using protocol::JobSpec;

class SchedulerTest : public ::testing::Test {
 protected:
  void Make(uint32_t workers = 2, SchedulerOptions o = {}) {
    o.workers = workers;
    o.node_id = "n1";
    s_ = std::make_unique<Scheduler>(o);
  }
  void SetUp() override { Make(); }

  static JobSpec Spec(const std::string& type = "echo", uint32_t priority = 0) {
    JobSpec s;
    s.type = type;
    s.priority = priority;
    return s;
  }
  // Submits and returns the new job's id (asserting it was accepted).
  std::string Submit(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    fx_ = s_->TakeEffects();
    for (auto& r : fx_.replies)
      if (r.token == token_) {
        auto* a = std::get_if<protocol::AcceptedReply>(&r.body);
        EXPECT_NE(a, nullptr);
        return a ? a->id : "";
      }
    ADD_FAILURE() << "no reply";
    return "";
  }
  Status SubmitError(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    fx_ = s_->TakeEffects();
    auto* e = std::get_if<protocol::ErrorReply>(&fx_.replies.at(0).body);
    return e ? Status(e->code, e->message) : Status::OK();
  }
  void Tick(uint64_t advance_ms) {
    now_ += advance_ms;
    s_->Tick(now_);
    fx_ = s_->TakeEffects();
  }
  void Finish(const Dispatch& d, bool ok, const std::string& error = "") {
    Outcome o{d.slot, d.lease, d.seq, ok, ok ? std::string("\xa2ok", 3) : "", error};
    s_->Complete(o, now_);
    fx_ = s_->TakeEffects();
  }
  protocol::JobInfo Info(const std::string& id) {
    s_->StatusOf(++token_, id);
    auto fx = s_->TakeEffects();
    return std::get<protocol::JobReply>(fx.replies.at(0).body).job;
  }

  std::unique_ptr<Scheduler> s_;
  Effects fx_;
  uint64_t now_ = 1'000'000;
  ReplyToken token_ = 0;
};

TEST_F(SchedulerTest, SubmitJournalsBeforeDispatch) {
  std::string id = Submit(Spec());
  EXPECT_EQ(id, "n1-1");
  ASSERT_EQ(fx_.writes.size(), 1u);
  // One write carrying both events (submitted, started): the job is durable with its run.
  EXPECT_EQ(fx_.writes[0].events.size(), 2u);
  EXPECT_EQ(fx_.writes[0].job.state, protocol::JobState::kRunning);
  EXPECT_EQ(fx_.next_seq, 2u);
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].attempt, 1u);
}

TEST_F(SchedulerTest, HigherPriorityFirstThenFifo) {
  Make(1);
  std::string busy = Submit(Spec("a"));
  Dispatch first = fx_.dispatches.at(0);
  std::string low1 = Submit(Spec("low", 1));
  std::string low2 = Submit(Spec("low", 1));
  std::string high = Submit(Spec("high", 9));
  std::string low3 = Submit(Spec("low", 1));
  EXPECT_TRUE(fx_.dispatches.empty());
  std::vector<std::string> order;
  Dispatch cur = first;
  for (int i = 0; i < 4; ++i) {
    Finish(cur, true);
    ASSERT_EQ(fx_.dispatches.size(), 1u);
    cur = fx_.dispatches[0];
    order.push_back(cur.id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{high, low1, low2, low3}));
}

TEST_F(SchedulerTest, DelayedJobRunsWhenDue) {
  JobSpec s = Spec();
  s.delay_ms = 5000;
  std::string id = Submit(s);
  EXPECT_EQ(Info(id).state, protocol::JobState::kDelayed);
  EXPECT_TRUE(fx_.dispatches.empty());
  Tick(4999);
  EXPECT_TRUE(fx_.dispatches.empty());
  Tick(1);
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].id, id);
}

TEST_F(SchedulerTest, FailureRetriesWithBackoffThenDead) {
  JobSpec s = Spec("fail");
  s.max_attempts = 3;
  s.backoff_ms = 1000;
  std::string id = Submit(s);
  Dispatch d = fx_.dispatches.at(0);
  Finish(d, false, "boom");
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kDelayed);
  EXPECT_EQ(info.error, "boom");
  // First retry after 1000 ms +-10%.
  EXPECT_GE(info.run_at_ms, now_ + 900);
  EXPECT_LE(info.run_at_ms, now_ + 1100);
  Tick(1100);
  d = fx_.dispatches.at(0);
  EXPECT_EQ(d.attempt, 2u);
  Finish(d, false, "boom2");
  info = Info(id);
  // Second retry doubles: 2000 ms +-10%.
  EXPECT_GE(info.run_at_ms, now_ + 1800);
  EXPECT_LE(info.run_at_ms, now_ + 2200);
  Tick(2200);
  d = fx_.dispatches.at(0);
  EXPECT_EQ(d.attempt, 3u);
  Finish(d, false, "final");
  info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kDead);
  EXPECT_EQ(info.attempts, 3u);
  EXPECT_EQ(info.error, "final");
  EXPECT_EQ(info.finished_at_ms, now_);
}

TEST_F(SchedulerTest, LeaseExpiryFailsTheAttemptAndCancelsTheRun) {
  Make(1);
  JobSpec s = Spec("sleep");
  s.timeout_ms = 500;
  s.backoff_ms = 0;
  std::string id = Submit(s);
  Dispatch d = fx_.dispatches.at(0);
  Tick(499);
  EXPECT_TRUE(fx_.cancels.empty());
  Tick(1);
  ASSERT_EQ(fx_.cancels.size(), 1u);
  EXPECT_EQ(fx_.cancels[0], d.lease);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kQueued);  // backoff 0: straight back to the queue
  EXPECT_NE(info.error.find("timed out"), std::string::npos);
  // The slot is busy until the hung run returns; its late result is ignored.
  EXPECT_EQ(s_->busy_slots(), 1u);
  Finish(d, true);
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);  // re-dispatched, attempt 2
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].attempt, 2u);
}

TEST_F(SchedulerTest, WaitersAreAnsweredOnFinishOrTimeout) {
  std::string id = Submit(Spec());
  Dispatch d = fx_.dispatches.at(0);
  s_->Wait(100, id, 10000, now_);
  s_->Wait(101, id, 50, now_);
  EXPECT_TRUE(s_->TakeEffects().replies.empty());
  Tick(50);
  ASSERT_EQ(fx_.replies.size(), 1u);
  EXPECT_EQ(fx_.replies[0].token, 101u);
  EXPECT_EQ(std::get<protocol::ErrorReply>(fx_.replies[0].body).code, Code::kTimeout);
  Finish(d, true);
  ASSERT_EQ(fx_.replies.size(), 1u);
  EXPECT_EQ(fx_.replies[0].token, 100u);
  EXPECT_EQ(std::get<protocol::JobReply>(fx_.replies[0].body).job.state,
            protocol::JobState::kSucceeded);
  EXPECT_EQ(s_->waiter_count(), 0u);
  // Waiting on a finished job answers at once.
  s_->Wait(102, id, 1000, now_);
  EXPECT_EQ(s_->TakeEffects().replies.size(), 1u);
}

TEST_F(SchedulerTest, WaiterLimitsGiveOverloaded) {
  SchedulerOptions o;
  o.waiters_max = 3;
  o.waiters_per_job_max = 2;
  Make(1, o);
  std::string a = Submit(Spec());
  std::string b = Submit(Spec());
  s_->Wait(100, a, 1000, now_);
  s_->Wait(101, a, 1000, now_);
  s_->Wait(102, a, 1000, now_);  // per-job limit
  s_->Wait(103, b, 1000, now_);
  s_->Wait(104, b, 1000, now_);  // node limit
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.replies.size(), 2u);
  EXPECT_EQ(fx.replies[0].token, 102u);
  EXPECT_EQ(std::get<protocol::ErrorReply>(fx.replies[0].body).code, Code::kOverloaded);
  EXPECT_EQ(fx.replies[1].token, 104u);
}

TEST_F(SchedulerTest, IdempotencyKeyReturnsTheFirstJob) {
  JobSpec s = Spec();
  s.key = "order-7";
  std::string id = Submit(s);
  s_->Submit(++token_, s, now_);
  auto fx = s_->TakeEffects();
  auto a = std::get<protocol::AcceptedReply>(fx.replies.at(0).body);
  EXPECT_EQ(a.id, id);
  EXPECT_TRUE(a.duplicate);
  EXPECT_TRUE(fx.writes.empty());
}

TEST_F(SchedulerTest, CancelQueuedAndRunningAndConflictWhenFinal) {
  Make(1);
  std::string running = Submit(Spec());
  Dispatch d = fx_.dispatches.at(0);
  std::string queued = Submit(Spec());
  s_->Cancel(++token_, queued, now_);
  auto fx = s_->TakeEffects();
  EXPECT_EQ(std::get<protocol::JobReply>(fx.replies.at(0).body).job.state,
            protocol::JobState::kCancelled);
  s_->Cancel(++token_, running, now_);
  fx = s_->TakeEffects();
  EXPECT_EQ(fx.cancels, std::vector<uint64_t>{d.lease});
  s_->Cancel(++token_, running, now_);
  fx = s_->TakeEffects();
  EXPECT_EQ(std::get<protocol::ErrorReply>(fx.replies.at(0).body).code, Code::kConflict);
  Finish(d, true);  // late result of the cancelled run
  EXPECT_EQ(Info(running).state, protocol::JobState::kCancelled);
  EXPECT_EQ(s_->busy_slots(), 0u);
}

TEST_F(SchedulerTest, RetryMovesDeadBackToQueued) {
  JobSpec s = Spec("fail");
  s.max_attempts = 1;
  std::string id = Submit(s);
  Finish(fx_.dispatches.at(0), false, "x");
  EXPECT_EQ(Info(id).state, protocol::JobState::kDead);
  s_->Retry(++token_, id, now_);
  auto fx = s_->TakeEffects();
  EXPECT_EQ(fx.dispatches.size(), 1u);
  EXPECT_EQ(fx.dispatches[0].attempt, 1u);
  std::string other = Submit(Spec());
  s_->Retry(++token_, other, now_);
  fx = s_->TakeEffects();
  EXPECT_EQ(std::get<protocol::ErrorReply>(fx.replies.at(0).body).code, Code::kConflict);
}

TEST_F(SchedulerTest, UnknownAndForeignIdsAreNotFound) {
  for (const char* id : {"n1-999", "n2-1", "18446744073709551615", "n1-18446744073709551615"}) {
    s_->StatusOf(++token_, id);
    auto fx = s_->TakeEffects();
    auto* e = std::get_if<protocol::ErrorReply>(&fx.replies.at(0).body);
    ASSERT_NE(e, nullptr) << id;
    EXPECT_TRUE(e->code == Code::kNotFound || e->code == Code::kInvalidArgument) << id;
  }
}

TEST_F(SchedulerTest, LiveJobLimitGivesOverloaded) {
  SchedulerOptions o;
  o.jobs_live_max = 3;
  Make(1, o);
  Submit(Spec());
  Submit(Spec());
  Submit(Spec());
  EXPECT_EQ(SubmitError(Spec()).code(), Code::kOverloaded);
}

TEST_F(SchedulerTest, HeldBytesAreBoundedAndSucceededJobsReleaseTheirPayloads) {
  SchedulerOptions o;
  o.held_bytes_max = 3000;
  Make(1, o);
  JobSpec big = Spec();
  big.payload = std::string("\xc5\x03\xe8", 3) + std::string(1000, 'x');  // bin16 of 1000 bytes
  Submit(big);
  Dispatch d = fx_.dispatches.at(0);
  Submit(big);
  EXPECT_EQ(SubmitError(big).code(), Code::kOverloaded);  // 3 x 1003 > 3000
  uint64_t before = s_->held_bytes();
  Finish(d, true);  // its payload is no longer needed
  EXPECT_LT(s_->held_bytes(), before - 900);
  EXPECT_EQ(s_->Find(d.seq)->spec.payload, protocol::MsgpackNil());
  Submit(big);  // room again
}

TEST_F(SchedulerTest, OverHeldBytesTheOldestFinalJobsArePurged) {
  SchedulerOptions o;
  o.held_bytes_max = 3000;
  Make(1, o);
  JobSpec s = Spec();
  std::string big_result = std::string("\xc5\x03\xe8", 3) + std::string(1000, 'r');
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Submit(s));
    Dispatch d = fx_.dispatches.at(0);
    s_->Complete(Outcome{d.slot, d.lease, d.seq, true, big_result, ""}, now_);
    fx_ = s_->TakeEffects();
  }
  // Three results of 1003 bytes are over 3000: the oldest final job goes, the newest stay.
  Tick(1);
  EXPECT_EQ(fx_.deletes, std::vector<uint64_t>{1});
  EXPECT_LE(s_->held_bytes(), 3000u);
  EXPECT_EQ(Info(ids[2]).result, big_result);
}

TEST_F(SchedulerTest, DrainRefusesSubmitsAndStopsDispatch) {
  Make(1);
  std::string a = Submit(Spec());
  Dispatch d = fx_.dispatches.at(0);
  std::string b = Submit(Spec());
  s_->Drain();
  EXPECT_EQ(SubmitError(Spec()).code(), Code::kDraining);
  Finish(d, true);
  EXPECT_TRUE(fx_.dispatches.empty());
  EXPECT_EQ(Info(b).state, protocol::JobState::kQueued);
}

TEST_F(SchedulerTest, RetentionPurgesOldFinalJobs) {
  SchedulerOptions o;
  o.retention_ms = 1000;
  o.final_jobs_max = 2;
  Make(1, o);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Submit(Spec()));
    Finish(fx_.dispatches.at(0), true);
  }
  Tick(1);  // over final_jobs_max: the oldest goes
  EXPECT_EQ(fx_.deletes, std::vector<uint64_t>{1});
  Tick(1000);  // past retention: the rest go
  EXPECT_EQ(fx_.deletes.size(), 2u);
  s_->StatusOf(++token_, ids[2]);
  EXPECT_EQ(std::get<protocol::ErrorReply>(s_->TakeEffects().replies.at(0).body).code,
            Code::kNotFound);
}

TEST_F(SchedulerTest, RecoveryResumesQueuedDelayedAndRequeuesRunning) {
  Make(4);
  std::string q = Submit(Spec());
  JobSpec ds = Spec();
  ds.delay_ms = 60000;
  std::string dl = Submit(ds);
  JobSpec last = Spec();
  last.max_attempts = 1;
  std::string fin = Submit(last);  // running on its only attempt
  std::vector<protocol::Job> journal;
  for (uint64_t seq = 1; seq <= 3; ++seq) journal.push_back(*s_->Find(seq));
  journal[0].state = protocol::JobState::kQueued;  // as if its run was never journaled
  journal[0].attempts = 0;
  // Restart.
  Make(4);
  s_->Recover(journal, 4, now_);
  auto fx = s_->TakeEffects();
  // The queued one dispatches, the delayed one waits, the interrupted last attempt is dead.
  ASSERT_EQ(fx.dispatches.size(), 1u);
  EXPECT_EQ(fx.dispatches[0].id, q);
  EXPECT_EQ(Info(dl).state, protocol::JobState::kDelayed);
  auto f = Info(fin);
  EXPECT_EQ(f.state, protocol::JobState::kDead);
  EXPECT_NE(f.error.find("interrupted"), std::string::npos);
  // New ids continue after the journaled ones.
  EXPECT_EQ(Submit(Spec()), "n1-4");
}

TEST_F(SchedulerTest, RecoveryRequeuesRunningJobWithAttemptsLeft) {
  std::string id = Submit(Spec());
  std::vector<protocol::Job> journal{*s_->Find(1)};
  ASSERT_EQ(journal[0].state, protocol::JobState::kRunning);
  Make(2);
  s_->Recover(journal, 2, now_);
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.dispatches.size(), 1u);
  EXPECT_EQ(fx.dispatches[0].attempt, 2u);  // the interrupted attempt stays counted
  ASSERT_FALSE(fx.writes.empty());          // and the re-queue is journaled
}

TEST_F(SchedulerTest, BrokenInvariantStopsTheProcessInsteadOfCorruptingState) {
  // An outcome for a slot that runs nothing can only come from a bug: JOBNET_CHECK fail-stops
  // (exit 70), in release builds too.
  EXPECT_EXIT(s_->Complete(Outcome{0, 12345, 1, true, "", ""}, now_), ::testing::ExitedWithCode(70),
              "invariant broken at .*scheduler_core.cpp");
  EXPECT_EXIT(s_->Complete(Outcome{99, 1, 1, true, "", ""}, now_), ::testing::ExitedWithCode(70),
              "invariant broken");
}

TEST_F(SchedulerTest, StatsCountStatesAndQueues) {
  Make(1);
  Submit(Spec());
  JobSpec s = Spec();
  s.queue = "other";
  Submit(s);
  auto st = s_->Stats();
  EXPECT_EQ(st.jobs["running"], 1u);
  EXPECT_EQ(st.jobs["queued"], 1u);
  EXPECT_EQ(st.queues["other"], 1u);
  EXPECT_EQ(st.queues.count("default"), 0u);
  EXPECT_EQ(st.busy, 1u);
}

// ---- cluster: peers, remote runs, hosted runs ----

class ClusterSchedulerTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerOptions o;
    o.incarnation = 7;
    o.peers = {"tcp://p2", "tcp://p3"};
    o.failure_timeout_ms = 1000;
    o.remote_lease_slack_ms = 100;
    Make(1, o);
  }
  void Beat(const std::string& node, const std::string& ep, uint32_t free, uint64_t inc = 1) {
    protocol::Heartbeat hb;
    hb.node = node;
    hb.endpoint = ep;
    hb.incarnation = inc;
    hb.workers = 4;
    hb.free = free;
    s_->OnHeartbeat(hb, now_);
    fx_ = s_->TakeEffects();
  }
  protocol::RemoteRun RunSentTo(uint32_t link) {
    for (auto& p : fx_.peer_sends)
      if (p.link == link)
        if (auto* r = std::get_if<protocol::RemoteRun>(&p.body)) return *r;
    ADD_FAILURE() << "no RemoteRun to link " << link;
    return {};
  }
  void Result(const protocol::RemoteRun& run, bool ok, bool rejected = false, uint64_t inc = 7) {
    protocol::RemoteResult r;
    r.owner = "n1";
    r.owner_incarnation = inc;
    r.worker_node = "n2";
    r.lease = run.lease;
    r.seq = run.seq;
    r.ok = ok;
    r.rejected = rejected;
    r.result = ok ? testing_result_ : protocol::MsgpackNil();
    r.error = ok ? "" : "remote failure";
    s_->OnRemoteResult(r, now_);
    fx_ = s_->TakeEffects();
  }
  std::string testing_result_ = std::string("\xa2ok", 3);
};

TEST_F(ClusterSchedulerTest, HeartbeatsMakePeersAliveAndSilenceMakesThemDead) {
  EXPECT_EQ(s_->Peers()[0].state, "unknown");
  Beat("n2", "tcp://p2", 2);
  ASSERT_EQ(fx_.notes.size(), 1u);  // logged by the actor
  EXPECT_NE(fx_.notes[0].find("n2"), std::string::npos);
  auto peers = s_->Peers();
  EXPECT_EQ(peers[0].state, "alive");
  EXPECT_EQ(peers[0].node, "n2");
  EXPECT_EQ(peers[0].free, 2u);
  EXPECT_EQ(peers[1].state, "unknown");
  Tick(999);
  EXPECT_EQ(s_->Peers()[0].state, "alive");
  Tick(1);
  EXPECT_EQ(s_->Peers()[0].state, "dead");
  ASSERT_EQ(fx_.notes.size(), 1u);
  EXPECT_NE(fx_.notes[0].find("declared dead"), std::string::npos);
  Beat("n2", "tcp://p2", 2);
  EXPECT_EQ(s_->Peers()[0].state, "alive");
}

// The transport follows these decisions instead of keeping its own clock (docs/cluster.md §2).
TEST_F(ClusterSchedulerTest, EachLivenessChangeIsOneEffectForTheTransport) {
  Beat("n2", "tcp://p2", 2);
  ASSERT_EQ(fx_.liveness.size(), 1u);
  EXPECT_EQ(fx_.liveness[0].link, 0u);
  EXPECT_EQ(fx_.liveness[0].node, "n2");
  EXPECT_TRUE(fx_.liveness[0].alive);
  Beat("n2", "tcp://p2", 2);
  EXPECT_TRUE(fx_.liveness.empty());  // no change, nothing to tell
  Tick(1000);
  ASSERT_EQ(fx_.liveness.size(), 1u);
  EXPECT_EQ(fx_.liveness[0].node, "n2");
  EXPECT_FALSE(fx_.liveness[0].alive);
  Tick(1000);
  EXPECT_TRUE(fx_.liveness.empty());
  Beat("n2", "tcp://p2", 2, /*inc=*/2);
  ASSERT_EQ(fx_.liveness.size(), 1u);
  EXPECT_TRUE(fx_.liveness[0].alive);
}

TEST_F(ClusterSchedulerTest, BusyOwnerLeasesToThePeerWithMostFreeSlots) {
  Beat("n2", "tcp://p2", 1);
  Beat("n3", "tcp://p3", 3);
  Submit(Spec());  // takes the only local slot
  EXPECT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_TRUE(fx_.peer_sends.empty());
  std::string id = Submit(Spec());
  auto run = RunSentTo(1);  // n3 advertised more
  EXPECT_EQ(run.id, id);
  EXPECT_EQ(run.owner, "n1");
  EXPECT_EQ(run.owner_incarnation, 7u);
  EXPECT_EQ(run.attempt, 1u);
  ASSERT_EQ(fx_.writes.size(), 1u);  // journaled as running before it is sent
  EXPECT_EQ(fx_.writes[0].job.state, protocol::JobState::kRunning);
  Result(run, true);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kSucceeded);
  EXPECT_EQ(info.result, testing_result_);
  EXPECT_EQ(s_->Peers()[1].leases, 0u);
}

TEST_F(ClusterSchedulerTest, RejectedRunIsRequeuedWithoutCountingTheAttempt) {
  Beat("n2", "tcp://p2", 1);
  Submit(Spec());
  std::string id = Submit(Spec());
  auto run = RunSentTo(0);
  Result(run, false, /*rejected=*/true);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kQueued);
  EXPECT_EQ(info.attempts, 0u);
}

TEST_F(ClusterSchedulerTest, DeadPeerLosesItsLeasesAtOnceAndLateResultsAreStale) {
  Beat("n2", "tcp://p2", 2);
  Submit(Spec());
  std::string id = Submit(Spec());
  auto run = RunSentTo(0);
  Tick(1000);  // n2 silent for the failure timeout
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kQueued);
  EXPECT_EQ(info.attempts, 1u);  // the lost attempt is recorded
  EXPECT_NE(info.error.find("silent"), std::string::npos);
  Result(run, true);  // n2 was only slow: its result is stale now
  EXPECT_EQ(Info(id).state, protocol::JobState::kQueued);
}

TEST_F(ClusterSchedulerTest, PeerRestartLosesItsLeases) {
  Beat("n2", "tcp://p2", 2, /*inc=*/1);
  Submit(Spec());
  std::string id = Submit(Spec());
  RunSentTo(0);
  Beat("n2", "tcp://p2", 2, /*inc=*/2);  // a new incarnation: its runs died with it
  // ...so the job is leased again at once, to the restarted peer, as attempt 2.
  EXPECT_EQ(RunSentTo(0).attempt, 2u);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kRunning);
  EXPECT_NE(info.error.find("restarted"), std::string::npos);
}

TEST_F(ClusterSchedulerTest, ResultForAnEarlierIncarnationIsDeliveredIfStillNeeded) {
  Beat("n2", "tcp://p2", 0);
  Submit(Spec());
  std::string id = Submit(Spec());  // queued: no free slot anywhere
  protocol::RemoteRun old_run;
  old_run.seq = 2;
  old_run.lease = 99;
  Result(old_run, true, false, /*inc=*/6);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kSucceeded);
  // A second late copy changes nothing.
  Result(old_run, true, false, 6);
  EXPECT_TRUE(fx_.writes.empty());
}

TEST_F(ClusterSchedulerTest, HostedRunsUseFreeSlotsAndReportToTheOwner) {
  Beat("n2", "tcp://p2", 0);
  protocol::RemoteRun run;
  run.owner = "n2";
  run.owner_incarnation = 3;
  run.lease = 41;
  run.seq = 5;
  run.id = "n2-5";
  run.type = "echo";
  run.timeout_ms = 500;
  s_->AcceptRemoteRun(run, now_);
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.dispatches.size(), 1u);
  EXPECT_TRUE(fx.writes.empty());  // the owner journals, not the host
  Dispatch d = fx.dispatches[0];
  // No slot left: the next one is rejected at once.
  s_->AcceptRemoteRun(run, now_);
  fx = s_->TakeEffects();
  ASSERT_EQ(fx.peer_sends.size(), 1u);
  EXPECT_TRUE(std::get<protocol::RemoteResult>(fx.peer_sends[0].body).rejected);
  // The run overruns its timeout: the host stops it.
  Tick(500);
  EXPECT_EQ(fx_.cancels, std::vector<uint64_t>{d.lease});
  Finish(d, false, std::string(10000, 'x'));
  ASSERT_EQ(fx_.peer_sends.size(), 1u);
  auto res = std::get<protocol::RemoteResult>(fx_.peer_sends[0].body);
  EXPECT_EQ(res.lease, 41u);
  EXPECT_EQ(res.owner_incarnation, 3u);
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error.size(), limits::kErrorMessageBytesMax);  // fits the wire limit
  EXPECT_EQ(s_->busy_slots(), 0u);
}

}  // namespace
}  // namespace jobnet::sched
