// The scheduler core's cluster side, driven with a fake clock: peers turning alive and dead,
// runs leased to peers (credit, acks, suspension, take-back, loss), the fencing of their results
// (leases carry the incarnation; forged, stale and late results), and runs hosted for other
// owners (queueing, deadlines, cancels, drain). Through the Scheduler's public calls
// (ClusterSchedulerTest, scheduler_fixture.hpp) and, at the end, PeerLeases on its own.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/peer_leases.hpp"
#include "core/scheduler_core.hpp"
#include "scheduler_fixture.hpp"

namespace jobnet::sched {
namespace {

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
  Result(run, true, false, 7, 0, "n3");
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

TEST_F(ClusterSchedulerTest, PeerRestartLosesItsLeasesOnceTheOldIncarnationIsSilent) {
  Beat("n2", "tcp://p2", 2, /*inc=*/1);
  Submit(Spec());
  std::string id = Submit(Spec());
  RunSentTo(0);
  // A heartbeat of another incarnation while incarnation 1 is alive (a forged frame looks just
  // like a restart): refused, counted, the run on n2 goes on.
  Tick(500);
  Beat("n2", "tcp://p2", 2, /*inc=*/2);
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);
  EXPECT_EQ(s_->Stats().counters["heartbeats_refused"], 1u);
  // A real restart: incarnation 1 stays silent and is declared dead for it...
  Tick(500);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kQueued);
  EXPECT_NE(info.error.find("silent"), std::string::npos);
  // ...and the new incarnation is taken: the job is leased again, as attempt 2.
  Beat("n2", "tcp://p2", 2, /*inc=*/2);
  EXPECT_EQ(RunSentTo(0).attempt, 2u);
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);
}

TEST_F(ClusterSchedulerTest, ResultForAnEarlierIncarnationIsDeliveredOnlyForTheJournaledRun) {
  Beat("n2", "tcp://p2", 0);
  protocol::Job busy;  // holds the one slot after the restart
  busy.seq = 1;
  busy.id = "n1-1";
  busy.spec = Spec();
  busy.events = 1;
  busy.order = 1;
  protocol::Job ran = busy;  // ran on n2 in incarnation 6, as the journal says
  ran.seq = 2;
  ran.id = "n1-2";
  ran.order = 2;
  ran.state = protocol::JobState::kRunning;
  ran.attempts = 1;
  ran.events = 2;
  ran.lease = (uint64_t{6} << 40) | 9;
  ran.rare.mut().history.push_back(AttemptInfo{1, "n2", now_, 0, ""});
  s_->Recover({busy, ran}, 3, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(Info("n1-2").state, protocol::JobState::kQueued);
  protocol::RemoteRun old_run;
  old_run.seq = 2;
  // Not the journaled run: another lease, another incarnation, or another node.
  for (uint64_t lease : {(uint64_t{6} << 40) | 8, (uint64_t{5} << 40) | 9, uint64_t{9}}) {
    old_run.lease = lease;
    Result(old_run, true, false, /*inc=*/6);
    EXPECT_TRUE(fx_.writes.empty());
  }
  old_run.lease = (uint64_t{6} << 40) | 9;
  Result(old_run, true, false, /*inc=*/5);
  EXPECT_TRUE(fx_.writes.empty());
  EXPECT_EQ(Info("n1-2").state, protocol::JobState::kQueued);
  EXPECT_EQ(s_->Stats().counters["results_refused"], 4u);
  // The journaled run's result ends it.
  Result(old_run, true, false, /*inc=*/6);
  EXPECT_EQ(Info("n1-2").state, protocol::JobState::kSucceeded);
  // A second late copy changes nothing.
  Result(old_run, true, false, 6);
  EXPECT_TRUE(fx_.writes.empty());
  EXPECT_EQ(s_->Stats().counters["results_refused"], 5u);
}

// Frames that name no state of this node change nothing, whatever incarnation they claim:
// the forged remote_result of issue 16 (earlier incarnation, any seq) and guessed leases.
TEST_F(ClusterSchedulerTest, ForgedResultsChangeNothingAndAreCounted) {
  Beat("n2", "tcp://p2", 1);
  Submit(Spec());  // on the local slot
  std::string id = Submit(Spec());
  auto run = RunSentTo(0);  // n2 runs n1-2
  JobSpec later = Spec();
  later.delay_ms = 3600 * 1000;
  std::string delayed = Submit(later);  // n1-3, never ran
  auto forge = [&](uint64_t inc, uint64_t lease, uint64_t seq, const std::string& from) {
    protocol::RemoteRun named;  // the run the frame names
    named.lease = lease;
    named.seq = seq;
    Result(named, true, false, inc, 0, from);
    EXPECT_TRUE(fx_.writes.empty());
  };
  forge(0, 1, 3, "n2");                       // earlier incarnation, the job's seq (issue 16)
  forge(7, run.lease, 3, "n2");               // the lease of another job
  forge(7, run.lease, 2, "n3");               // from a node the run did not go to
  forge(7, run.lease + 1000, 2, "n2");        // a lease not made yet
  forge(7, (uint64_t{3} << 40) | 1, 2, "n2");  // a lease of another start
  EXPECT_EQ(s_->Stats().counters["results_refused"], 5u);
  EXPECT_EQ(Info(delayed).state, protocol::JobState::kDelayed);
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);
  Result(run, true);  // the real one still lands
  EXPECT_EQ(Info(id).state, protocol::JobState::kSucceeded);
}

TEST_F(ClusterSchedulerTest, LeasesAreUniqueAcrossIncarnations) {
  Beat("n2", "tcp://p2", 1);
  Submit(Spec());
  EXPECT_EQ(fx_.dispatches.at(0).lease >> 40, 7u);
  Submit(Spec());
  EXPECT_EQ(RunSentTo(0).lease >> 40, 7u);
}

TEST_F(ClusterSchedulerTest, GuessedRemoteCancelStopsNothing) {
  Beat("n2", "tcp://p2", 0);
  protocol::RemoteRun run = HostedRun();
  s_->AcceptRemoteRun(run, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.dispatches.size(), 1u);
  for (uint64_t lease : {uint64_t{1}, run.lease + 1}) {
    s_->OnRemoteCancel(protocol::RemoteCancel{run.owner, run.owner_incarnation, lease, run.seq});
    fx_ = s_->TakeEffects();
    EXPECT_TRUE(fx_.cancels.empty());
  }
  EXPECT_EQ(s_->Stats().counters["remote_cancels_unmatched"], 2u);
  s_->OnRemoteCancel(protocol::RemoteCancel{run.owner, run.owner_incarnation, run.lease, run.seq});
  EXPECT_EQ(s_->TakeEffects().cancels.size(), 1u);
}

// A stall of the owner's own loop (SIGSTOP, a VM pause) judges nobody: peers get a fresh grace
// period, and results that were sent meanwhile land before any lease is judged.
TEST_F(ClusterSchedulerTest, AStallOfThisNodeIsNotAPeersDeath) {
  Beat("n2", "tcp://p2", 1);
  Submit(Spec());
  JobSpec short_run = Spec();
  short_run.timeout_ms = 200;  // its lease (with the slack) ends 300 ms after it starts
  short_run.max_attempts = 1;
  std::string id = Submit(short_run);
  auto run = RunSentTo(0);
  // Frozen for 10 s: the loop clock leaves the stall out of mono, so only a little time passed.
  now_ += 250;
  s_->OnStall(10000, now_);
  s_->Tick(now_);
  fx_ = s_->TakeEffects();
  EXPECT_TRUE(fx_.liveness.empty());
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);
  Tick(100);  // past the lease, but within the grace: not judged yet
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);
  Result(run, true);  // read from the socket after the wake
  EXPECT_EQ(Info(id).state, protocol::JobState::kSucceeded);
  EXPECT_EQ(s_->Stats().counters["loop_stalls"], 1u);
  // A peer that stays silent is still declared dead, for its own silence.
  Tick(1100);
  EXPECT_EQ(s_->Stats().counters["peers_down"], 1u);
}

TEST_F(ClusterSchedulerTest, QueueSyncFromTheFutureIsRefusedAndAResumeWins) {
  protocol::QueueSettings q;
  q.name = "q";
  q.paused = true;
  q.origin = "n2";
  q.updated_at_ms = std::numeric_limits<uint64_t>::max();  // issue 16: wrapped +1 to 0
  s_->OnQueueSync(protocol::QueueSync{"n2", {q}}, now_);
  fx_ = s_->TakeEffects();
  EXPECT_EQ(s_->Stats().counters["queue_sync_future"], 1u);
  EXPECT_TRUE(fx_.queue_writes.empty());
  // A pause stamped within the skew is taken...
  q.updated_at_ms = now_ + 1000;
  s_->OnQueueSync(protocol::QueueSync{"n2", {q}}, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.queue_writes.size(), 1u);
  // ...and a resume here wins over it, with a stamp peers accept.
  protocol::QueueUpdate u;
  u.name = "q";
  u.paused = false;
  s_->SetQueue(++token_, u, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.queue_writes.size(), 1u);
  EXPECT_FALSE(fx_.queue_writes[0].paused);
  EXPECT_GT(fx_.queue_writes[0].updated_at_ms, now_ + 1000);
  EXPECT_LE(fx_.queue_writes[0].updated_at_ms, now_ + limits::kClockSkewMsMax);
}

TEST_F(ClusterSchedulerTest, HostedRunsUseFreeSlotsAndReportToTheOwner) {
  Beat("n2", "tcp://p2", 0);
  protocol::RemoteRun run = HostedRun();
  s_->AcceptRemoteRun(run, now_);
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.dispatches.size(), 1u);
  EXPECT_TRUE(fx.writes.empty());  // the owner journals, not the host
  Dispatch d = fx.dispatches[0];
  // No slot left: the next runs wait in its queue, and the one after is rejected at once.
  for (uint32_t i = 0; i < limits::kHostedQueuedPerWorker; ++i) {
    s_->AcceptRemoteRun(run, now_);
    fx = s_->TakeEffects();
    EXPECT_TRUE(fx.peer_sends.empty());
    EXPECT_TRUE(fx.dispatches.empty());
  }
  s_->AcceptRemoteRun(run, now_);
  fx = s_->TakeEffects();
  ASSERT_EQ(fx.peer_sends.size(), 1u);
  EXPECT_TRUE(std::get<protocol::RemoteResult>(fx.peer_sends[0].body).rejected);
  // It fails before its deadline with a long error.
  Tick(499);
  EXPECT_TRUE(fx_.cancels.empty());
  Finish(d, false, std::string(10000, 'x'));
  ASSERT_EQ(fx_.peer_sends.size(), 1u);
  auto res = std::get<protocol::RemoteResult>(fx_.peer_sends[0].body);
  EXPECT_EQ(res.lease, 41u);
  EXPECT_EQ(res.owner_incarnation, 3u);
  EXPECT_FALSE(res.ok);
  EXPECT_FALSE(res.timed_out);
  EXPECT_EQ(res.error.size(), limits::kErrorMessageBytesMax);  // fits the wire limit
  EXPECT_EQ(fx_.dispatches.size(), 1u);  // the first queued run takes the slot at once
  EXPECT_EQ(s_->busy_slots(), 1u);
}

TEST_F(ClusterSchedulerTest, QueuedHostedRunWaitingTooLongGoesBackAsARejection) {
  Beat("n2", "tcp://p2", 0);
  s_->AcceptRemoteRun(HostedRun(), now_);  // takes the only slot (and keeps it)
  auto queued = HostedRun();
  queued.lease = 42;
  s_->AcceptRemoteRun(queued, now_);
  EXPECT_TRUE(s_->TakeEffects().peer_sends.empty());
  EXPECT_EQ(s_->NextDeadlineMs(), now_ + 500);  // the running hosted run's own deadline first
  Tick(limits::kHostedQueueWaitMsMax - 1);
  bool rejected = false;
  for (auto& p : fx_.peer_sends)
    if (auto* r = std::get_if<protocol::RemoteResult>(&p.body)) rejected |= r->rejected;
  EXPECT_FALSE(rejected);
  Tick(1);
  ASSERT_EQ(fx_.peer_sends.size(), 1u);
  auto res = std::get<protocol::RemoteResult>(fx_.peer_sends[0].body);
  EXPECT_TRUE(res.rejected);  // the owner does not count the attempt
  EXPECT_EQ(res.lease, 42u);
  EXPECT_NE(res.error.find("no worker free"), std::string::npos);
}

TEST_F(ClusterSchedulerTest, DrainHandsQueuedHostedRunsBack) {
  Beat("n2", "tcp://p2", 0);
  s_->AcceptRemoteRun(HostedRun(), now_);
  s_->AcceptRemoteRun(HostedRun(), now_);
  s_->TakeEffects();
  s_->Drain();
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.peer_sends.size(), 1u);
  EXPECT_TRUE(std::get<protocol::RemoteResult>(fx.peer_sends[0].body).rejected);
  EXPECT_EQ(s_->MakeHeartbeat("tcp://p1").free, 0u);
}

TEST_F(ClusterSchedulerTest, HostedRunPastItsDeadlineIsReportedAsATimeout) {
  Beat("n2", "tcp://p2", 0);
  s_->AcceptRemoteRun(HostedRun(), now_);
  Dispatch d = s_->TakeEffects().dispatches.at(0);
  Tick(500);  // the host stops it at its deadline
  EXPECT_EQ(fx_.cancels, std::vector<uint64_t>{d.lease});
  Finish(d, false, "sleep stopped: cancelled or timed out");
  auto res = std::get<protocol::RemoteResult>(fx_.peer_sends.at(0).body);
  EXPECT_TRUE(res.timed_out);
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error, "timed out after 500 ms");
}

TEST_F(ClusterSchedulerTest, PeerReportedTimeoutCountsAsATimeoutBeforeTheOwnersLease) {
  Beat("n2", "tcp://p2", 1);
  Submit(Spec());
  JobSpec s = Spec("sleep");
  s.timeout_ms = 300;
  s.max_attempts = 1;
  std::string id = Submit(s);
  auto run = RunSentTo(0);
  // The host's deadline passed; the owner's lease has 100 ms of slack left.
  now_ += 300;
  protocol::RemoteResult r;
  r.owner = "n1";
  r.owner_incarnation = 7;
  r.worker_node = "n2";
  r.lease = run.lease;
  r.seq = run.seq;
  r.timed_out = true;
  r.error = "timed out after 300 ms";
  s_->OnRemoteResult(r, now_);
  fx_ = s_->TakeEffects();
  ExpectDeadByTimeout(id, 300);
  EXPECT_EQ(s_->Peers()[0].leases, 0u);
}

// ---- acknowledged runs (docs/cluster.md §3): a run the peer never received costs nothing ----

TEST_F(ClusterSchedulerTest, UnacknowledgedRunIsTakenBackWithoutAnAttemptAndThePeerSuspended) {
  AckingBeat(2);
  Submit(Spec());  // the only local slot
  std::string id = Submit(Spec());
  auto run = RunSentTo(0);
  EXPECT_EQ(Info(id).attempts, 1u);
  Tick(limits::kRemoteAckMsDefault - 1);
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);
  Tick(1);  // nothing came back from n2 (a one-way partition: its heartbeats still arrive)
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kQueued);
  EXPECT_EQ(info.attempts, 0u);
  EXPECT_NE(info.error.find("did not acknowledge"), std::string::npos);
  EXPECT_EQ(s_->Peers()[0].leases, 0u);
  auto counters = s_->Stats().counters;
  EXPECT_EQ(counters["remote_unacked"], 1u);
  EXPECT_EQ(counters["peers_suspended"], 1u);
  EXPECT_EQ(counters.count("failed_attempts"), 0u);
  // Its heartbeats still offer slots, but it gets no runs during the pause...
  AckingBeat(2);
  EXPECT_TRUE(RunsSent().empty());
  Tick(limits::kPeerSuspendMsMin - 1);
  EXPECT_TRUE(RunsSent().empty());
  AckingBeat(2);  // (within the failure timeout of 1000 ms)
  EXPECT_TRUE(RunsSent().empty());
  // ...then one probe, and no second run while the probe is unanswered.
  std::string other = Submit(Spec());
  Tick(1);
  ASSERT_EQ(RunsSent().size(), 1u);
  auto probe = RunsSent()[0];
  EXPECT_EQ(probe.attempt, 1u);  // the first attempt again: the lost one was not spent
  AckingBeat(2);
  EXPECT_TRUE(RunsSent().empty());
  EXPECT_EQ(Info(other).state, protocol::JobState::kQueued);
  // The probe is answered: the suspension ends and the other job goes too.
  Ack(probe, 1);
  ASSERT_EQ(RunsSent().size(), 1u);
  EXPECT_EQ(RunsSent()[0].id, other);
}

TEST_F(ClusterSchedulerTest, UnansweredProbesDoubleTheSuspension) {
  AckingBeat(2);
  Submit(Spec());
  std::string id = Submit(Spec());
  Tick(limits::kRemoteAckMsDefault);  // taken back: pause kPeerSuspendMsMin
  AckingBeat(2);
  Tick(limits::kPeerSuspendMsMin / 2);
  AckingBeat(2);
  Tick(limits::kPeerSuspendMsMin / 2);
  ASSERT_EQ(RunsSent().size(), 1u);  // probe 1
  Tick(limits::kRemoteAckMsDefault);  // unanswered: pause 2 * kPeerSuspendMsMin
  EXPECT_EQ(Info(id).attempts, 0u);
  for (int i = 0; i < 4; ++i) {  // heartbeats keep it alive (failure timeout 1000 ms)
    AckingBeat(2);
    EXPECT_TRUE(RunsSent().empty());
    Tick(limits::kPeerSuspendMsMin / 2 - (i == 3 ? 1 : 0));
    EXPECT_TRUE(RunsSent().empty());
  }
  AckingBeat(2);
  Tick(1);
  ASSERT_EQ(RunsSent().size(), 1u);  // probe 2
  EXPECT_EQ(s_->Stats().counters["peers_suspended"], 2u);
  EXPECT_EQ(s_->Stats().counters["remote_unacked"], 2u);
}

TEST_F(ClusterSchedulerTest, AcknowledgedRunKeepsItsAttemptPastTheAckDeadline) {
  AckingBeat(2);
  Submit(Spec());
  std::string id = Submit(Spec());
  auto run = RunSentTo(0);
  Ack(run, 1);
  Tick(limits::kRemoteAckMsDefault + 1);
  auto info = Info(id);
  EXPECT_EQ(info.state, protocol::JobState::kRunning);
  EXPECT_EQ(info.attempts, 1u);
  Result(run, false);  // an acknowledged run that fails spends its attempt
  EXPECT_EQ(Info(id).attempts, 1u);
  EXPECT_EQ(s_->Stats().counters["failed_attempts"], 1u);
  EXPECT_EQ(s_->Stats().counters.count("remote_unacked"), 0u);
}

TEST_F(ClusterSchedulerTest, RunsToAPeerWithoutAcksAreNeverTakenBack) {
  Beat("n2", "tcp://p2", 2);  // an older node
  Submit(Spec());
  std::string id = Submit(Spec());
  RunSentTo(0);
  Tick(limits::kRemoteAckMsDefault * 2 - 1);  // within its lease and the failure timeout
  EXPECT_EQ(Info(id).state, protocol::JobState::kRunning);
  EXPECT_EQ(Info(id).attempts, 1u);
}

TEST_F(ClusterSchedulerTest, CreditIsRefreshedFromAcksAndResultsNotOnlyHeartbeats) {
  AckingBeat(2);
  Submit(Spec());
  std::string a = Submit(Spec());
  auto run_a = RunSentTo(0);
  std::string b = Submit(Spec());
  auto run_b = RunSentTo(0);
  std::string c = Submit(Spec());
  EXPECT_EQ(Info(c).state, protocol::JobState::kQueued);  // credit 2 used up
  EXPECT_EQ(s_->Peers()[0].leases, 2u);
  // The first ack reports one slot left, but the second run (not yet acked) will take it.
  Ack(run_a, 1);
  EXPECT_TRUE(RunsSent().empty());
  Ack(run_b, 0);
  // A result frees a slot there and says so: the next run goes at once, no heartbeat needed.
  Result(run_a, true, false, 7, /*free=*/1);
  EXPECT_EQ(Info(a).state, protocol::JobState::kSucceeded);
  ASSERT_EQ(RunsSent().size(), 1u);
  EXPECT_EQ(RunsSent()[0].id, c);
}

TEST_F(ClusterSchedulerTest, PeerRunsInFlightAreBounded) {
  AckingBeat(std::numeric_limits<uint32_t>::max());  // a peer advertising absurd credit
  Submit(Spec());
  for (uint32_t i = 0; i < limits::kPeerRunsInFlightMax + 1; ++i) Submit(Spec());
  EXPECT_EQ(s_->Peers()[0].leases, limits::kPeerRunsInFlightMax);
}

TEST_F(ClusterSchedulerTest, HostAcknowledgesRunsOnlyToOwnersThatAnnounceAcks) {
  Beat("n2", "tcp://p2", 0);  // an older owner: an ack would be a kind it cannot read
  s_->AcceptRemoteRun(HostedRun(), now_);
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.dispatches.size(), 1u);
  EXPECT_TRUE(fx.peer_sends.empty());
  Finish(fx.dispatches[0], true);
  Beat("n2", "tcp://p2", 0, 1, /*acks=*/true);
  s_->AcceptRemoteRun(HostedRun(), now_);
  fx = s_->TakeEffects();
  ASSERT_EQ(fx.peer_sends.size(), 1u);
  auto ack = std::get<protocol::RemoteAck>(fx.peer_sends[0].body);
  EXPECT_EQ(ack.lease, 41u);
  EXPECT_EQ(ack.seq, 5u);
  EXPECT_EQ(ack.owner_incarnation, 3u);
  EXPECT_EQ(ack.worker_node, "n1");
  // Its only slot is taken; its queue has room for kHostedQueuedPerWorker more.
  EXPECT_EQ(ack.free, limits::kHostedQueuedPerWorker);
  EXPECT_EQ(s_->MakeHeartbeat("tcp://p1").free, limits::kHostedQueuedPerWorker);
  Finish(fx.dispatches.at(0), true);
  EXPECT_EQ(std::get<protocol::RemoteResult>(fx_.peer_sends.at(0).body).free,
            1u + limits::kHostedQueuedPerWorker);
}


TEST_F(ClusterSchedulerTest, ShrinkWhileHostingOffersNoRoomItDoesNotHave) {
  Beat("n2", "tcp://p2", 0);
  s_->SetWorkers(++token_, 2, now_);
  s_->TakeEffects();
  auto run = HostedRun();
  for (uint64_t lease = 41; lease < 45; ++lease) {  // two running, two queued
    run.lease = lease;
    s_->AcceptRemoteRun(run, now_);
  }
  s_->TakeEffects();
  s_->SetWorkers(++token_, 1, now_);
  s_->TakeEffects();
  // The queue holds two runs, more than one slot would have taken: no room, and no wrap-around.
  EXPECT_EQ(s_->MakeHeartbeat("tcp://p1").free, 0u);
  EXPECT_EQ(s_->MakeHeartbeat("tcp://p1").workers, 1u);
}

// ---- cancel of a run on a peer ----

TEST_F(ClusterSchedulerTest, CancelOfARunOnAPeerTellsTheHost) {
  Beat("n2", "tcp://p2", 1);
  Submit(Spec());
  std::string id = Submit(Spec());
  auto run = RunSentTo(0);
  s_->Cancel(++token_, id, now_);
  fx_ = s_->TakeEffects();
  ASSERT_EQ(fx_.peer_sends.size(), 1u);
  EXPECT_EQ(fx_.peer_sends[0].link, 0u);
  auto c = std::get<protocol::RemoteCancel>(fx_.peer_sends[0].body);
  EXPECT_EQ(c.owner, "n1");
  EXPECT_EQ(c.owner_incarnation, 7u);
  EXPECT_EQ(c.lease, run.lease);
  EXPECT_EQ(c.seq, run.seq);
  EXPECT_EQ(Info(id).state, JobState::kCancelled);
  EXPECT_EQ(s_->Peers()[0].leases, 0u);
  Result(run, true);  // the host's answer after the cancel is stale
  EXPECT_EQ(Info(id).state, JobState::kCancelled);
  // A local run's cancel sends nothing to peers.
  Make(1);
  std::string local = Submit(Spec());
  s_->Cancel(++token_, local, now_);
  EXPECT_TRUE(s_->TakeEffects().peer_sends.empty());
}

TEST_F(ClusterSchedulerTest, HostStopsACancelledRunAndDropsAQueuedOne) {
  Beat("n2", "tcp://p2", 0);
  auto running = HostedRun();
  s_->AcceptRemoteRun(running, now_);
  Dispatch d = s_->TakeEffects().dispatches.at(0);
  auto queued = HostedRun();
  queued.lease = 42;
  s_->AcceptRemoteRun(queued, now_);
  s_->TakeEffects();
  // Another incarnation's lease of the same number is not this run.
  s_->OnRemoteCancel(protocol::RemoteCancel{"n2", 2, running.lease, running.seq});
  EXPECT_TRUE(s_->TakeEffects().cancels.empty());
  s_->OnRemoteCancel(protocol::RemoteCancel{"n2", 3, running.lease, running.seq});
  auto fx = s_->TakeEffects();
  ASSERT_EQ(fx.cancels.size(), 1u);
  EXPECT_EQ(fx.cancels[0], d.lease);  // the local lease of that run: its worker's cancel flag
  s_->OnRemoteCancel(protocol::RemoteCancel{"n2", 3, queued.lease, queued.seq});
  EXPECT_TRUE(s_->TakeEffects().empty());
  EXPECT_EQ(s_->Stats().counters["hosted_cancelled"], 2u);
  // The stopped run frees its slot, and the dropped one never starts there.
  Finish(d, false, "sleep stopped: cancelled or timed out");
  EXPECT_TRUE(fx_.dispatches.empty());
  EXPECT_EQ(s_->busy_slots(), 0u);
}

// ---- PeerLeases on its own: the table and the fencing, without jobs ----

class PeerLeasesTest : public ::testing::Test {
 protected:
  PeerLeasesTest()
      : peers_(PeerLeases::Options{"n1", 7, {"tcp://p2"}, 1000, 500}, &fx_, &counters_) {}
  void Beat(uint64_t inc, bool acks = true, uint32_t free = 4) {
    protocol::Heartbeat hb;
    hb.node = "n2";
    hb.endpoint = "tcp://p2";
    hb.incarnation = inc;
    hb.workers = 4;
    hb.free = free;
    hb.acks = acks;
    seen_ = peers_.OnHeartbeat(hb, now_);
  }
  static protocol::RemoteResult ResultFor(uint64_t lease, uint64_t seq) {
    return FromN2<protocol::RemoteResult>(lease, seq);
  }
  Effects fx_;
  protocol::CounterValues counters_;
  PeerLeases peers_;
  std::vector<PeerLeases::Seen> seen_;
  uint64_t now_ = 1'000'000;
};

TEST_F(PeerLeasesTest, LeasesCarryTheIncarnationInTheirHighBits) {
  uint64_t first = PeerLeases::FirstLease(7);
  EXPECT_EQ(PeerLeases::LeaseIncarnation(first), 7u);
  EXPECT_EQ(first & ((uint64_t{1} << PeerLeases::kLeaseCounterBits) - 1), 1u);
  EXPECT_NE(PeerLeases::FirstLease(8), first);
}

TEST_F(PeerLeasesTest, AResultIsTakenOnceForTheRunItNamesAndRefusedOtherwise) {
  Beat(1);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_TRUE(seen_[0].sync);  // it came up: it gets our queue settings
  const uint64_t lease = PeerLeases::FirstLease(7);
  ASSERT_EQ(peers_.BestPeer(now_), std::optional<uint32_t>(0));
  peers_.AddLease(0, lease, 42, now_);
  EXPECT_EQ(peers_.peer(0).unacked, 1u);
  // A lease this start never made, another job's seq: refused and counted.
  EXPECT_EQ(peers_.OnResult(ResultFor(lease + 1, 42), lease + 1), PeerLeases::Verdict::kRefused);
  EXPECT_EQ(peers_.OnResult(ResultFor(lease, 43), lease + 1), PeerLeases::Verdict::kRefused);
  EXPECT_EQ(counters_[protocol::Counter::kResultsRefused], 2u);
  EXPECT_EQ(peers_.OnResult(ResultFor(lease, 42), lease + 1), PeerLeases::Verdict::kAccepted);
  EXPECT_EQ(peers_.peer(0).leases, 0u);
  EXPECT_EQ(peers_.peer(0).unacked, 0u);
  // The same result again: the run is over here.
  EXPECT_EQ(peers_.OnResult(ResultFor(lease, 42), lease + 1), PeerLeases::Verdict::kStale);
}

TEST_F(PeerLeasesTest, AnUnackedRunIsTakenBackAndEachSuspensionInARowDoubles) {
  Beat(1);
  uint64_t lease = PeerLeases::FirstLease(7);
  peers_.AddLease(0, lease, 1, now_);
  EXPECT_FALSE(peers_.DueAck(now_ + 499).has_value());
  ASSERT_EQ(peers_.DueAck(now_ + 500), std::optional<uint32_t>(0));
  EXPECT_EQ(peers_.TakeBackUnacked(0, now_ + 500), std::vector<uint64_t>{1});
  EXPECT_EQ(peers_.peer(0).resume_ms, now_ + 500 + limits::kPeerSuspendMsMin);
  peers_.AddLease(0, ++lease, 2, now_ + 500);  // its probe, unanswered too
  EXPECT_EQ(peers_.TakeBackUnacked(0, now_ + 1000), std::vector<uint64_t>{2});
  EXPECT_EQ(peers_.peer(0).resume_ms, now_ + 1000 + 2 * limits::kPeerSuspendMsMin);
  EXPECT_EQ(counters_[protocol::Counter::kPeersSuspended], 2u);
}

TEST_F(PeerLeasesTest, ARestartLosesTheRunsOnlyOnceTheOldIncarnationIsDead) {
  Beat(1);
  peers_.AddLease(0, PeerLeases::FirstLease(7), 5, now_);
  Beat(2);  // the known start is alive: refused
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(counters_[protocol::Counter::kHeartbeatsRefused], 1u);
  auto dead = peers_.DeclareSilentDead(now_ + 1000);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].lost, (PeerLeases::Lost{{PeerLeases::FirstLease(7), 5}}));
  Beat(2);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_TRUE(seen_[0].lost.empty());  // already lost with the dead start
  EXPECT_TRUE(peers_.peer(0).alive);
}

}  // namespace
}  // namespace jobnet::sched
