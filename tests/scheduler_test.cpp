// Scheduler state machine contract, driven with a fake clock: ordering (priority, FIFO),
// delays, leases and timeouts, retries with backoff, dead-lettering, cancel, retry, waiters,
// idempotency, limits, retention, recovery. Checks the effects (writes, replies, dispatches)
// that the actor would carry out. The cluster side is in peer_leases_test.cpp, queue settings in
// scheduler_queues_test.cpp, external workers in external_workers_test.cpp; the fixtures in
// scheduler_fixture.hpp.
#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "core/scheduler_core.hpp"
#include "scheduler_fixture.hpp"

namespace jobnet::sched {

// Reaches into the scheduler to make a transition no public call can make (the friend named in
// scheduler_core.hpp; outside the anonymous namespace so the names match).
class SchedulerTestPeer {
 public:
  static void ForceState(Scheduler& s, uint64_t seq, protocol::JobState to) {
    s.SetState(s.jobs_.At(seq), to, 0, "forced by test");
  }
};

namespace {

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

// /metrics reads these: submitted and ended jobs by queue, and the run and queue-wait times.
TEST_F(SchedulerTest, CountsByQueueAndTimesRunsAndWaits) {
  Make(1);
  JobSpec a = Spec();
  a.queue = "mail";
  Submit(a);  // runs at once: waited 0 ms
  Dispatch first = fx_.dispatches.at(0);
  Submit(Spec());  // "default": waits for the slot
  std::string cancelled = Submit(Spec());
  now_ += 1500;
  Finish(first, true);  // ran 1.5 s; the next one starts after waiting 1.5 s
  s_->Cancel(++token_, cancelled, now_);
  s_->TakeEffects();
  auto st = s_->Stats();
  EXPECT_EQ(st.queue_totals["mail"]["submitted"], 1u);
  EXPECT_EQ(st.queue_totals["mail"]["succeeded"], 1u);
  EXPECT_EQ(st.queue_totals["default"]["submitted"], 2u);
  EXPECT_EQ(st.queue_totals["default"]["cancelled"], 1u);
  EXPECT_EQ(st.queue_totals["default"].count("succeeded"), 0u);
  const auto& run = st.histograms.at(protocol::kRunSeconds);
  EXPECT_EQ(run.count, 1u);
  EXPECT_DOUBLE_EQ(run.sum, 1.5);
  ASSERT_EQ(run.counts.size(), run.bounds.size() + 1);
  size_t bucket = std::lower_bound(run.bounds.begin(), run.bounds.end(), 1.5) - run.bounds.begin();
  EXPECT_EQ(run.counts[bucket], 1u) << "1.5 s is counted under the first bound >= 1.5";
  const auto& wait = st.histograms.at(protocol::kQueueWaitSeconds);
  EXPECT_EQ(wait.count, 2u);  // the first job (0 s) and the second (1.5 s)
  EXPECT_DOUBLE_EQ(wait.sum, 1.5);
  EXPECT_EQ(wait.counts[0], 1u);
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

// A timeout is one outcome however it is noticed: by a tick (above), by a failure reported at or
// past the lease deadline before any tick, or by the worker saying its handler hit its deadline.
TEST_F(SchedulerTest, RunEndingAtItsLeaseDeadlineIsATimeoutWithoutATick) {
  std::string id = SubmitSleep(/*max_attempts=*/1);
  Dispatch d = fx_.dispatches.at(0);
  now_ += 100;  // no tick in between
  Finish(d, false, "sleep stopped: cancelled or timed out");
  ExpectDeadByTimeout(id, 100);
  EXPECT_EQ(s_->busy_slots(), 0u);
}

TEST_F(SchedulerTest, ResultArrivingPastTheLeaseDeadlineIsATimeoutEvenIfOk) {
  std::string id = SubmitSleep(/*max_attempts=*/3);
  now_ += 150;
  Finish(fx_.dispatches.at(0), true);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kRunning);  // attempt 2: the first timed out
  EXPECT_EQ(info.attempts, 2u);
  EXPECT_EQ(info.error, "timed out after 100 ms");
  EXPECT_EQ(s_->Stats().counters["timeouts"], 1u);
}

TEST_F(SchedulerTest, WorkerReportedTimeoutCountsBeforeTheLeaseDeadline) {
  // The worker's deadline runs on the steady clock, the lease on the wall clock: if they
  // disagree, the worker's word that its handler hit the deadline still makes it a timeout.
  std::string id = SubmitSleep(/*max_attempts=*/1);
  Dispatch d = fx_.dispatches.at(0);
  now_ += 90;
  Outcome o{d.slot, d.lease, d.seq, false, "", "sleep stopped: cancelled or timed out"};
  o.timed_out = true;
  s_->Complete(o, now_);
  s_->TakeEffects();
  EXPECT_EQ(Info(id).error, "timed out after 100 ms");
  EXPECT_EQ(s_->Stats().counters["timeouts"], 1u);
  // An ordinary failure before the deadline stays a failed attempt.
  std::string other = Submit(Spec("fail"));
  Finish(fx_.dispatches.at(0), false, "boom");
  EXPECT_EQ(Info(other).error, "boom");
  EXPECT_EQ(s_->Stats().counters["failed_attempts"], 1u);
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

TEST_F(SchedulerTest, RetryStartsANewLifeWithNoStartOrFinishTime) {
  Make(1);
  JobSpec s = Spec("fail");
  s.max_attempts = 1;
  std::string id = Submit(s);
  Finish(fx_.dispatches.at(0), false, "x");
  ASSERT_NE(Info(id).started_at_ms, 0u);
  Submit(Spec());  // holds the only slot, so the retried job waits
  Dispatch busy = fx_.dispatches.at(0);
  now_ += 1000;
  s_->Retry(++token_, id, now_);
  s_->TakeEffects();
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kQueued);
  EXPECT_EQ(info.attempts, 0u);
  EXPECT_EQ(info.started_at_ms, 0u);
  EXPECT_EQ(info.finished_at_ms, 0u);
  EXPECT_EQ(info.run_at_ms, 0u);
  now_ += 1000;
  Finish(busy, true);  // the slot frees: the retried job starts now
  EXPECT_EQ(Info(id).started_at_ms, now_);
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

TEST_F(SchedulerTest, StreamedRecoveryRequeuesInterruptedRunsBehindWaitingJobs) {
  // The node streams jobs out of the journal one at a time (seq order), so running jobs are
  // only interrupted once every job is in: their new order is behind every waiting job.
  Make(1);
  std::string ran = Submit(Spec());  // seq 1, order 1: dispatched on the only slot
  std::string waited = Submit(Spec());  // seq 2, order 2: queued behind it
  std::vector<protocol::Job> journal{*s_->Find(1), *s_->Find(2)};
  ASSERT_EQ(journal[0].state, protocol::JobState::kRunning);
  ASSERT_EQ(journal[1].state, protocol::JobState::kQueued);
  Make(1);
  for (auto& j : journal) s_->RecoverJob(std::move(j), now_);
  EXPECT_TRUE(s_->TakeEffects().empty());  // nothing happens before FinishRecovery
  s_->FinishRecovery(3, now_);
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.dispatches.size(), 1u);
  EXPECT_EQ(fx.dispatches[0].id, waited);
  auto r = Info(ran);
  EXPECT_EQ(r.state, protocol::JobState::kQueued);
  EXPECT_EQ(r.attempts, 1u);  // the interrupted attempt stays counted
  EXPECT_EQ(s_->Stats().counters["recovered_jobs"], 2u);
  EXPECT_EQ(s_->Stats().counters["recovered_running"], 1u);
  EXPECT_EQ(Submit(Spec()), "n1-3");
}

TEST_F(SchedulerTest, BrokenInvariantStopsTheProcessInsteadOfCorruptingState) {
  // An outcome for a slot that runs nothing can only come from a bug: JOBNET_CHECK fail-stops
  // (exit 70), in release builds too.
  EXPECT_EXIT(s_->Complete(Outcome{0, 12345, 1, true, "", ""}, now_), ::testing::ExitedWithCode(70),
              "invariant broken at .*scheduler_runs.cpp");
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

TEST_F(SchedulerTest, StatsCountersUseTheirWireNamesAndHideZeros) {
  Make(1);
  std::string a = Submit(Spec());
  Submit(Spec());
  s_->Cancel(++token_, a, now_);
  s_->TakeEffects();
  // Counted events appear once non-zero; the gauges and recovered_jobs are always there.
  auto counters = s_->Stats().counters;
  std::map<std::string, uint64_t> expected = {
      {"submitted", 2}, {"cancelled", 1}, {"recovered_jobs", 0}, {"waiters", 0},
      {"held_bytes", counters["held_bytes"]}, {"callbacks_pending", 0}};
  EXPECT_EQ(counters, expected);
  EXPECT_GT(counters["held_bytes"], 0u);
  EXPECT_STREQ(protocol::CounterName(Counter::kFailedAttempts), "failed_attempts");
  EXPECT_STREQ(protocol::CounterName(Counter::kTransportPeerSendsDropped),
               "transport_peer_sends_dropped");
}

// Walks the transition table: drives every legal transition through the public API, reads the
// transitions actually made from the journaled events, and requires the two sets to be equal.
class TransitionTest : public SchedulerTest {
 protected:
  using Edge = std::pair<JobState, JobState>;
  void Fresh(uint32_t workers = 1) {
    Make(workers);
    last_.clear();
  }
  // Takes the effects of the last call and records each job's state changes.
  Effects Observe() {
    Effects fx = s_->TakeEffects();
    for (const auto& w : fx.writes)
      for (const auto& [n, ev] : w.events) {
        if (n == 0) {
          initial_.insert(ev.state);
        } else {
          EXPECT_EQ(last_.count(w.job.seq), 1u) << "event " << n << " of an unseen job";
          seen_.insert({last_[w.job.seq], ev.state});
        }
        last_[w.job.seq] = ev.state;
      }
    return fx;
  }
  Dispatch SubmitAndRun(JobSpec spec) {
    s_->Submit(++token_, std::move(spec), now_);
    return Observe().dispatches.at(0);
  }
  void End(const Dispatch& d, bool ok) {
    s_->Complete(Outcome{d.slot, d.lease, d.seq, ok, ok ? "\xc0" : "", ok ? "" : "no"}, now_);
    Observe();
  }
  // A job the journal holds as running on n2 with lease (incarnation 6, run 5).
  static protocol::Job RunningOnPeer(uint64_t seq) {
    protocol::Job j;
    j.seq = seq;
    j.id = "n1-" + std::to_string(seq);
    j.spec = Spec();
    j.state = JobState::kRunning;
    j.attempts = 1;
    j.events = 2;
    j.order = seq;
    j.lease = (uint64_t{6} << 40) | 5;
    j.rare.mut().history.push_back(AttemptInfo{1, "n2", 1, 0, ""});
    return j;
  }
  void LateSuccess(uint64_t seq) {  // the result of that run, sent before this node restarted
    protocol::RemoteResult r;
    r.owner = "n1";
    r.owner_incarnation = 6;
    r.worker_node = "n2";
    r.lease = (uint64_t{6} << 40) | 5;
    r.seq = seq;
    r.ok = true;
    s_->OnRemoteResult(r, now_);
    Observe();
  }
  std::map<uint64_t, JobState> last_;
  std::set<Edge> seen_;
  std::set<JobState> initial_;
};

TEST_F(TransitionTest, EveryLegalTransitionIsMadeAndNoOther) {
  using S = JobState;
  JobSpec once = Spec();
  once.max_attempts = 1;
  JobSpec backoff = Spec();
  backoff.max_attempts = 3;
  backoff.backoff_ms = 100;
  JobSpec no_backoff = backoff;
  no_backoff.backoff_ms = 0;
  JobSpec later = Spec();
  later.delay_ms = 50;

  Fresh();
  End(SubmitAndRun(Spec()), true);         // queued -> running -> succeeded
  End(SubmitAndRun(backoff), false);       // running -> delayed
  now_ += 110;                             // the top of its backoff: 100 ms + 10 % jitter
  s_->Tick(now_);                          // delayed -> queued -> running
  Observe();

  Fresh();
  End(SubmitAndRun(no_backoff), false);    // running -> queued (-> running)

  Fresh();
  End(SubmitAndRun(once), false);          // running -> dead
  s_->Retry(++token_, "n1-1", now_);       // dead -> queued (-> running)
  Observe();
  s_->Cancel(++token_, "n1-1", now_);      // running -> cancelled; its slot stays busy
  Observe();
  s_->Retry(++token_, "n1-1", now_);       // cancelled -> queued
  Observe();
  s_->Cancel(++token_, "n1-1", now_);      // queued -> cancelled
  s_->Submit(++token_, later, now_);       // n1-2, delayed from the start
  Observe();
  s_->Cancel(++token_, "n1-2", now_);      // delayed -> cancelled
  Observe();

  Fresh();  // restarted: n1-1 waits for the one slot, n1-2 ran on n2 (journaled lease)
  protocol::Job waiting;
  waiting.seq = 1;
  waiting.id = "n1-1";
  waiting.spec = Spec();
  waiting.events = 1;
  waiting.order = 1;
  last_[1] = S::kQueued;
  last_[2] = S::kRunning;
  s_->Recover({waiting, RunningOnPeer(2)}, 3, now_);  // n1-2: running -> queued (interrupted)
  Observe();
  LateSuccess(2);                          // queued -> succeeded

  Fresh();  // failed is only ever read from a journal (reserved state): retry revives it
  protocol::Job failed;
  failed.seq = 1;
  failed.id = "n1-1";
  failed.spec = Spec();
  failed.state = S::kFailed;
  failed.events = 2;
  last_[1] = S::kFailed;
  s_->Recover({failed}, 2, now_);
  Observe();
  s_->Retry(++token_, "n1-1", now_);       // failed -> queued
  Observe();

  Fresh();  // dependencies (docs/architecture.md §20)
  Dispatch parent = SubmitAndRun(Spec());  // n1-1 runs
  JobSpec after = Spec();
  after.depends_on = {"n1-1"};
  JobSpec after_later = after;
  after_later.delay_ms = 1000;
  s_->Submit(++token_, after, now_);        // n1-2 starts waiting
  s_->Submit(++token_, after_later, now_);  // n1-3 too
  s_->Submit(++token_, after, now_);        // n1-4 too
  Observe();
  s_->Cancel(++token_, "n1-4", now_);      // waiting -> cancelled
  Observe();
  End(parent, true);                       // n1-2 waiting -> queued (-> running); n1-3 waiting
                                           // -> delayed (its delay is still ahead)

  std::set<Edge> legal;
  for (int from = 0; from < protocol::kJobStateCount; ++from)
    for (int to = 0; to < protocol::kJobStateCount; ++to)
      if (kLegalTransitions[from][to]) legal.insert({S(from), S(to)});
  EXPECT_EQ(seen_, legal);
  EXPECT_EQ(initial_, (std::set<S>{S::kQueued, S::kDelayed, S::kWaiting}));
}

TEST_F(TransitionTest, IllegalTransitionStopsTheProcess) {
  std::string id = Submit(Spec());
  Finish(fx_.dispatches.at(0), true);
  ASSERT_EQ(Info(id).state, JobState::kSucceeded);
  EXPECT_EXIT(SchedulerTestPeer::ForceState(*s_, 1, JobState::kRunning),
              ::testing::ExitedWithCode(70), "illegal job state transition");
  EXPECT_EXIT(SchedulerTestPeer::ForceState(*s_, 1, JobState::kQueued),
              ::testing::ExitedWithCode(70), "illegal job state transition");
}


// ---- live workers: the slot pool grows and shrinks while jobs run ----

TEST(SlotPoolTest, ShrinkRetiresBusySlotsWhenTheirRunsEndAndGrowReusesThem) {
  SlotPool p(4);
  EXPECT_EQ(p.Take(), 0u);  // lowest first
  EXPECT_EQ(p.Take(), 1u);
  EXPECT_EQ(p.Take(), 2u);
  EXPECT_EQ(p.Take(), 3u);
  p.Resize(1);
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(p.count(), 4u);  // slots 1..3 retire when their runs end
  EXPECT_EQ(p.free(), 0u);
  EXPECT_TRUE(p.IsListed(3));
  p.Release(3);
  EXPECT_EQ(p.count(), 3u);  // gone
  EXPECT_EQ(p.free(), 0u);   // and never offered
  EXPECT_FALSE(p.IsListed(3));
  p.Release(1);
  EXPECT_EQ(p.count(), 3u);  // slot 2 still runs: slot 1 is gone but its number stays below it
  EXPECT_FALSE(p.IsListed(1));
  EXPECT_EQ(p.free(), 0u);
  p.Resize(3);  // slot 1 comes back idle, slot 2 keeps running and stays
  EXPECT_EQ(p.free(), 1u);
  EXPECT_EQ(p.Take(), 1u);
  p.Release(2);
  EXPECT_EQ(p.free(), 1u);  // within the size again: it takes work
  EXPECT_EQ(p.Take(), 2u);
  EXPECT_EQ(p.busy(), 3u);
}

TEST(SlotPoolTest, StartingSizeIsTheLastOperatorAction) {
  EXPECT_EQ(StartingWorkers(4, 0, 0), 4u);    // never set: the configuration
  EXPECT_EQ(StartingWorkers(4, 9, 4), 9u);    // set since the configuration: the set size
  EXPECT_EQ(StartingWorkers(6, 9, 4), 6u);    // configuration changed after the set: it wins
}

TEST_F(SchedulerTest, ShrinkWhileBusyDispatchesNothingToRetiringSlotsThatVanishWhenDone) {
  Make(3);
  std::vector<Dispatch> running;
  for (int i = 0; i < 3; ++i) {
    Submit(Spec());
    running.push_back(fx_.dispatches.at(0));
  }
  std::string waiting = Submit(Spec());
  EXPECT_TRUE(fx_.dispatches.empty());
  s_->SetWorkers(++token_, 1, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(fx_.workers, 1u);  // journaled, with the configured size
  EXPECT_EQ(fx_.configured_workers, 3u);
  ASSERT_EQ(fx_.replies.size(), 1u);
  auto list = std::get<protocol::WorkerListReply>(fx_.replies[0].body);
  EXPECT_EQ(list.workers, 1u);
  ASSERT_EQ(list.slots.size(), 3u);  // all still running
  EXPECT_FALSE(list.slots[0].retiring);
  EXPECT_TRUE(list.slots[2].retiring);
  EXPECT_EQ(list.slots[2].job, "n1-3");
  EXPECT_EQ(s_->MakeHeartbeat("tcp://x").workers, 1u);
  EXPECT_EQ(s_->Stats().workers, 1u);
  // Runs on slots past the new size end: nothing new goes there, and they are gone.
  Finish(running[2], true);
  EXPECT_TRUE(fx_.dispatches.empty());
  Finish(running[1], true);
  EXPECT_TRUE(fx_.dispatches.empty());
  EXPECT_EQ(s_->slot_count(), 1u);
  EXPECT_EQ(s_->WorkerList().slots.size(), 1u);
  EXPECT_EQ(Info(waiting).state, JobState::kQueued);
  // The one slot left takes the waiting job when its run ends.
  Finish(running[0], true);
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  EXPECT_EQ(fx_.dispatches[0].slot, 0u);
  EXPECT_EQ(Info(waiting).state, JobState::kRunning);
}

TEST_F(SchedulerTest, GrowStartsWaitingJobsOnTheNewSlotsAtOnce) {
  Make(1);
  Submit(Spec());
  std::string a = Submit(Spec());
  std::string b = Submit(Spec());
  EXPECT_TRUE(fx_.dispatches.empty());
  now_ += 5;
  s_->SetWorkers(++token_, 3, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.dispatches.size(), 2u);
  std::set<uint32_t> slots{fx_.dispatches[0].slot, fx_.dispatches[1].slot};
  EXPECT_EQ(slots, (std::set<uint32_t>{1, 2}));
  EXPECT_EQ(s_->slot_count(), 3u);
  EXPECT_EQ(Info(a).state, JobState::kRunning);
  EXPECT_EQ(Info(b).state, JobState::kRunning);
  auto list = std::get<protocol::WorkerListReply>(fx_.replies.at(0).body);
  ASSERT_EQ(list.slots.size(), 3u);
  for (const auto& w : list.slots) {
    EXPECT_TRUE(w.busy);
    EXPECT_EQ(w.type, "echo");
    EXPECT_EQ(w.queue, "default");
  }
  EXPECT_EQ(list.slots[1].since_ms, now_);
}

TEST_F(SchedulerTest, WorkersSetOutsideItsBoundsIsRefused) {
  for (uint32_t n : {0u, limits::kWorkersMax + 1}) {
    s_->SetWorkers(++token_, n, now_);
    auto fx = s_->TakeEffects();
    EXPECT_EQ(fx.workers, 0u);  // nothing journaled
    auto* e = std::get_if<protocol::ErrorReply>(&fx.replies.at(0).body);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, Code::kInvalidArgument);
    EXPECT_NE(e->message.find("1.." + std::to_string(limits::kWorkersMax)), std::string::npos);
  }
  s_->SetWorkers(++token_, limits::kWorkersMax, now_);
  EXPECT_EQ(s_->TakeEffects().workers, limits::kWorkersMax);
}


// ---- blobs: references follow the jobs; a job that names a blob stays on this node ----

namespace {
const std::string kBlobA(64, 'a');
const std::string kBlobB(64, 'b');
// A payload or result map {key: hash}, as msgpack.
std::string BlobMap(const std::string& key, const std::string& hash) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(1);
  pk.pack(key);
  pk.pack(hash);
  return std::string(buf.data(), buf.size());
}
}  // namespace

TEST_F(SchedulerTest, BlobRefsFollowAJobFromSubmitThroughSuccessToPurge) {
  auto refs = std::make_shared<BlobRefs>();
  SchedulerOptions o;
  o.retention_ms = 1000;
  o.blob_refs = refs;
  Make(1, o);
  JobSpec spec = Spec("image_resize");
  spec.payload = BlobMap("image", kBlobA);
  Submit(spec);
  EXPECT_TRUE(refs->Referenced(kBlobA));
  Dispatch d = fx_.dispatches.at(0);
  s_->Complete(Outcome{d.slot, d.lease, d.seq, true, BlobMap("blob", kBlobB), ""}, now_);
  fx_ = s_->TakeEffects();
  EXPECT_TRUE(refs->Referenced(kBlobA));  // kept with its job, not only while it may run
  EXPECT_TRUE(refs->Referenced(kBlobB));
  Tick(1000);  // retention purges the job: its blobs are free to go
  EXPECT_EQ(fx_.deletes.size(), 1u);
  EXPECT_FALSE(refs->Referenced(kBlobA));
  EXPECT_FALSE(refs->Referenced(kBlobB));
}

TEST_F(SchedulerTest, BlobRefsAreRebuiltFromRecoveredJobs) {
  SchedulerOptions o;
  o.blob_refs = std::make_shared<BlobRefs>();
  Make(1, o);
  JobSpec spec = Spec("image_resize");
  spec.payload = BlobMap("image", kBlobA);
  Submit(spec);  // runs, and succeeds with a result blob
  Dispatch d = fx_.dispatches.at(0);
  s_->Complete(Outcome{d.slot, d.lease, d.seq, true, BlobMap("blob", kBlobB), ""}, now_);
  fx_ = s_->TakeEffects();
  spec.payload = BlobMap("image", std::string(64, 'c'));
  Submit(spec);  // queued behind it
  std::vector<protocol::Job> journal{*s_->Find(1), *s_->Find(2)};
  journal[0].spec.payload = BlobMap("image", kBlobA);  // the journal keeps a payload ("p:")
  // Restart: the counts come from the recovered jobs alone.
  auto refs = std::make_shared<BlobRefs>();
  o.blob_refs = refs;
  Make(1, o);
  s_->Recover(journal, 3, now_);
  EXPECT_TRUE(refs->Referenced(kBlobA));
  EXPECT_TRUE(refs->Referenced(kBlobB));
  EXPECT_TRUE(refs->Referenced(std::string(64, 'c')));
  EXPECT_FALSE(refs->Referenced(std::string(64, 'd')));
}

TEST(BlobRefsTest, OnlyImageAndBlobKeysWithHashValuesName) {
  EXPECT_EQ(BlobRefs::Named(BlobMap("image", kBlobA)), std::vector<std::string>{kBlobA});
  EXPECT_EQ(BlobRefs::Named(BlobMap("blob", kBlobB)), std::vector<std::string>{kBlobB});
  EXPECT_TRUE(BlobRefs::Named(BlobMap("other", kBlobA)).empty());
  EXPECT_TRUE(BlobRefs::Named(BlobMap("image", "not-a-hash")).empty());
  EXPECT_TRUE(BlobRefs::Named(BlobMap("image", std::string(64, 'A'))).empty());  // upper case
  EXPECT_TRUE(BlobRefs::Named(protocol::MsgpackNil()).empty());
  EXPECT_TRUE(BlobRefs::Named(std::string("\xa5image", 6)).empty());  // a string, not a map
}

TEST_F(ClusterSchedulerTest, JobNamingABlobLeasesToAPeerLikeAnyJob) {
  auto refs = std::make_shared<BlobRefs>();
  SchedulerOptions o;
  o.incarnation = 7;
  o.peers = {"tcp://p2", "tcp://p3"};
  o.failure_timeout_ms = 1000;
  o.blob_refs = refs;
  Make(1, o);
  Beat("n2", "tcp://p2", 4);
  Submit(Spec());  // takes the only local slot
  JobSpec spec = Spec("image_resize");
  spec.payload = BlobMap("image", kBlobA);
  std::string id = Submit(spec);
  // The host fetches the blob from this node (node/hosted_blobs.hpp): leased at once.
  auto runs = RunsSent();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, id);
  EXPECT_EQ(runs[0].payload, spec.payload);
  EXPECT_EQ(Info(id).state, JobState::kRunning);
  EXPECT_TRUE(refs->Referenced(kBlobA));  // still this node's input while it runs there
}


// A handler's result nested past the one payload bound is not kept (it could not be listed or
// replicated): the attempt fails with the reason, as an oversized one does.
TEST_F(SchedulerTest, AResultNestedPastTheBoundFailsTheAttempt) {
  Make(1);
  JobSpec s = Spec();
  s.max_attempts = 1;
  std::string id = Submit(s);
  const Dispatch d = fx_.dispatches.at(0);
  std::string deep(limits::kPayloadDepthMax + 1, '\x91');  // [[[...nil...]]]
  deep += '\xc0';
  s_->Complete(Outcome{d.slot, d.lease, d.seq, true, deep, ""}, now_);
  fx_ = s_->TakeEffects();
  auto info = Info(id);
  EXPECT_EQ(info.state, JobState::kDead);
  EXPECT_NE(info.error.find("nests deeper"), std::string::npos) << info.error;
  // At the bound it is kept.
  std::string ok_id = Submit(Spec());
  const Dispatch d2 = fx_.dispatches.at(0);
  std::string at_bound(limits::kPayloadDepthMax, '\x91');
  at_bound += '\xc0';
  s_->Complete(Outcome{d2.slot, d2.lease, d2.seq, true, at_bound, ""}, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(Info(ok_id).state, JobState::kSucceeded);
}

// ---- time: durations on the steady clock, instants on the wall clock (issue 16) ----

// The wall clock steps (NTP, a VM resume) while the steady clock runs on: only what a user
// named as an instant moves.
class ClockStepTest : public ClusterSchedulerTest {
 protected:
  static constexpr uint64_t kHourMs = 3600ull * 1000;
  // Advances the steady clock by `ms` and sets the wall clock `step_ms` away from it.
  sched::Now At(uint64_t ms, int64_t step_ms) {
    mono_ += ms;
    return sched::Now{static_cast<uint64_t>(static_cast<int64_t>(mono_) + step_ms), mono_};
  }
  void TickAt(uint64_t ms, int64_t step_ms) {
    s_->Tick(At(ms, step_ms));
    fx_ = s_->TakeEffects();
  }
  void SetUp() override {
    ClusterSchedulerTest::SetUp();
    now_ = mono_;  // the fixture's calls (Submit, Finish, Info) use one clock for both
  }
  uint64_t mono_ = 10 * kHourMs;  // far enough from 0 to step an hour back
};

TEST_F(ClockStepTest, AWallStepForwardTimesOutNoRunAndKillsNoPeer) {
  Beat("n2", "tcp://p2", 1);
  JobSpec long_run = Spec("sleep");
  long_run.timeout_ms = 60000;
  long_run.max_attempts = 2;
  std::string local = Submit(long_run);
  std::string remote = Submit(long_run);
  RunSentTo(0);
  TickAt(10, +kHourMs);
  EXPECT_TRUE(fx_.liveness.empty());
  EXPECT_TRUE(fx_.dispatches.empty());  // not re-run while the first run goes on
  EXPECT_EQ(Info(local).state, JobState::kRunning);
  EXPECT_EQ(Info(remote).state, JobState::kRunning);
  EXPECT_EQ(Info(local).attempts, 1u);
  // Steady time decides: 60 s later the local run times out.
  TickAt(60000, +kHourMs);
  EXPECT_EQ(Info(local).attempts, 1u);
  EXPECT_NE(Info(local).error.find("timed out"), std::string::npos);
}

TEST_F(ClockStepTest, AWallStepBackStrandsNoWaitAndHoldsNoBackoff) {
  JobSpec flaky = Spec("fail");
  flaky.backoff_ms = 1000;
  flaky.max_attempts = 3;
  flaky.timeout_ms = 60000;
  std::string id = Submit(flaky);
  s_->Wait(++token_, id, 2000, now_);
  const ReplyToken waiter = token_;
  Finish(fx_.dispatches.at(0), false, "boom");  // backoff ~1 s
  ASSERT_EQ(Info(id).state, JobState::kDelayed);
  TickAt(1200, -kHourMs);  // an hour back on the wall, 1.2 s on the steady clock
  EXPECT_EQ(Info(id).state, JobState::kRunning);
  TickAt(1000, -kHourMs);
  bool answered = false;
  for (auto& r : fx_.replies)
    if (r.token == waiter) answered = std::holds_alternative<protocol::ErrorReply>(r.body);
  EXPECT_TRUE(answered) << "the wait timed out after 2 s of steady time";
}

TEST_F(ClockStepTest, ADelayAUserNamedMovesWithTheWallClock) {
  JobSpec later = Spec();
  later.delay_ms = 30 * 60 * 1000;  // half an hour
  std::string id = Submit(later);
  ASSERT_EQ(Info(id).state, JobState::kDelayed);
  TickAt(10, -kHourMs);
  EXPECT_EQ(Info(id).state, JobState::kDelayed);
  TickAt(10, +kHourMs);  // the wall clock is past its run_at now
  EXPECT_EQ(Info(id).state, JobState::kRunning);
}

TEST_F(ClockStepTest, ABackoffRecoveredAcrossAStepWaitsAtMostOneBackoff) {
  protocol::Job j;
  j.seq = 1;
  j.id = "n1-1";
  j.spec = Spec();
  j.state = JobState::kDelayed;
  j.attempts = 1;  // a backoff, not a user's delay
  j.events = 3;
  j.run_at_ms = now_ + 100 * kHourMs;  // journaled before the wall clock stepped back
  s_->Recover({j}, 2, sched::Now{now_, mono_});
  fx_ = s_->TakeEffects();
  ASSERT_EQ(Info("n1-1").state, JobState::kDelayed);
  TickAt(limits::kBackoffMsMax, 0);
  EXPECT_EQ(Info("n1-1").state, JobState::kRunning);
}

TEST(ScheduleClockTest, AnIntervalRunsOnTheSteadyClockAndCronOnTheWall) {
  ScheduleTable t;
  protocol::ScheduleSpec every;
  every.name = "every";
  every.every_ms = 5000;
  every.job.type = "echo";
  protocol::ScheduleSpec cron = every;
  cron.name = "cron";
  cron.every_ms = 0;
  cron.cron = "0 * * * *";  // on the hour
  const uint64_t hour = 3600ull * 1000;
  const uint64_t wall0 = 1767225600000ull + hour / 2;  // 2026-01-01 00:30 UTC
  uint64_t mono = 1000;
  ASSERT_TRUE(t.Add(every, sched::Now{wall0, mono}).ok());
  ASSERT_TRUE(t.Add(cron, sched::Now{wall0, mono}).ok());
  // The wall clock goes back an hour: the interval still fires every 5 s of steady time.
  int fires = 0;
  for (int i = 0; i < 7; ++i) {
    mono += 5000;
    sched::Now now{wall0 - hour + (mono - 1000), mono};
    for (const auto& name : t.Due(now)) {
      EXPECT_EQ(name, "every");
      t.Fired(name, now, "n1-" + std::to_string(++fires));
    }
  }
  EXPECT_EQ(fires, 7);
  // Forward an hour: the cron tick of 01:00 is due at once.
  sched::Now fwd{wall0 + hour, mono + 10};
  auto due = t.Due(fwd);
  EXPECT_NE(std::find(due.begin(), due.end(), "cron"), due.end());
}
}  // namespace
}  // namespace jobnet::sched
