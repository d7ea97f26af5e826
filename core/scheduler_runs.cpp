// A run's life on this node's slots: dispatching ready jobs, the outcome of each run (success,
// failure with backoff, interruption) and draining. Part of class Scheduler (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <algorithm>
#include <tuple>

#include "base/check.hpp"
#include "core/backoff.hpp"
#include "protocol/msgpack_bounded.hpp"

namespace jobnet::sched {

using protocol::JobInfo;

uint64_t Scheduler::BackoffMs(const Job& job) {
  // Spread with jitter (core/backoff.hpp) so that retries of a burst do not come back at once.
  return sched::BackoffMs(job.attempts, job.spec.backoff_ms, limits::kBackoffMsMax, rng_());
}

void Scheduler::FailRun(Job& job, const std::string& error, Now now) {
  job.set_error(error.size() > limits::kErrorMessageBytesMax
                    ? error.substr(0, limits::kErrorMessageBytesMax)
                    : error);
  if (job.attempts < job.spec.max_attempts) {
    uint64_t delay_ms = BackoffMs(job);
    // Due on the steady clock (ready_at_ms while delayed by a backoff); run_at_ms, the instant
    // it names, is what is journaled and shown.
    job.run_at_ms = delay_ms == 0 ? 0 : now.wall_ms + delay_ms;
    job.ready_at_ms = now.mono_ms + delay_ms;
    SetState(job, delay_ms == 0 ? JobState::kQueued : JobState::kDelayed, now,
             "attempt failed: " + job.error());
    Enqueue(job, now);
    counters_[Counter::kRetries]++;
  } else {
    job.finished_at_ms = now.wall_ms;
    SetState(job, JobState::kDead, now, "dead after " + std::to_string(job.attempts) +
                                               " attempts: " + job.error());
    Finish(job, now);
    counters_[Counter::kDead]++;
  }
}

void Scheduler::Finish(Job& job, Now now) {
  JOBNET_CHECK(protocol::IsFinal(job.state));
  finished_.emplace(job.finished_at_ms, job.seq);
  StartCallback(job);
  TellChildren(job, now);
  auto it = waiters_.find(job.seq);
  if (it == waiters_.end()) return;
  JobInfo info = InfoOf(job);
  for (auto [t, deadline] : it->second) {
    fx_.replies.push_back(Reply{t, protocol::JobReply{info}});
    waiter_deadlines_.erase({deadline, t, job.seq});
  }
  waiters_.erase(it);
}

// Why a handler's successful result cannot be kept, or "" if it can: over the size bound, or
// nested past the one payload bound (a job that is kept must fit every reply that carries it).
static std::string ResultProblem(const std::string& result) {
  if (result.size() > limits::kResultBytesMax) return "result is larger than 1 MiB";
  if (result.empty()) return "";
  Status s = protocol::CheckNesting(result.data(), result.size(), limits::kPayloadDepthMax, "result");
  return s.ok() ? "" : s.message();
}

void Scheduler::EndRun(Job& job, uint64_t lease, bool ok, const std::string& result,
                       const std::string& error, bool timed_out, Now now) {
  // The lease deadline is authoritative: an outcome that arrives at or past it is a timeout,
  // whether a tick noticed the expiry first or the handler stopped at its own deadline and
  // reported before the next tick (which it usually does, as ticks are 10 ms apart).
  // Except just after a stall of this node's loop (OnStall): the outcome may have waited in a
  // socket while the node could not read it; only the run's own report of a timeout counts.
  auto run = running_.find(job.seq);
  if (lease != 0 && run != running_.end() && run->second.first == lease &&
      now.mono_ms >= run->second.second && now.mono_ms >= judge_after_mono_ms_)
    timed_out = true;
  Unindex(job);
  if (timed_out) {
    counters_[Counter::kTimeouts]++;
    FailRun(job, "timed out after " + std::to_string(job.spec.timeout_ms) + " ms", now);
  } else if (std::string problem = ok ? ResultProblem(result) : ""; ok && problem.empty()) {
    held_bytes_ -= job.spec.payload.size() + job.result().size();
    job.set_result(result.empty() ? protocol::MsgpackNil() : result);
    if (opt_.blob_refs) opt_.blob_refs->AddResult(job.seq, job.result());
    job.spec.payload = protocol::MsgpackNil();  // journaled; a succeeded job never runs again
    held_bytes_ += job.spec.payload.size() + job.result().size();
    job.clear_error();
    job.finished_at_ms = now.wall_ms;
    SetState(job, JobState::kSucceeded, now, "succeeded");
    Finish(job, now);
    counters_[Counter::kSucceeded]++;
  } else {
    counters_[Counter::kFailedAttempts]++;
    FailRun(job, ok ? problem : error, now);
  }
}

void Scheduler::Complete(const Outcome& o, Now now) {
  JOBNET_CHECK(pool_.IsBusy(o.slot));
  Slot& slot = slots_[o.slot];
  JOBNET_CHECK(slot.lease == o.lease);
  pool_.Release(o.slot);  // a retiring slot goes away here
  slot.since_ms = now.wall_ms;
  if (slot.hosted) {
    slot.hosted = false;
    peers_.EraseDeadline(slot.hosted_deadline_ms, o.slot, o.lease);
    counters_[Counter::kHostedRuns]++;
    auto r = peers_.AnswerTo<protocol::RemoteResult>(slot.run);
    // As for a local run, the host's deadline decides; the owner counts the timeout.
    r.timed_out = o.timed_out || now.mono_ms >= slot.hosted_deadline_ms;
    const std::string problem = o.ok ? ResultProblem(o.result) : "";
    r.ok = !r.timed_out && o.ok && problem.empty();
    r.result = r.ok ? o.result : protocol::MsgpackNil();
    if (r.timed_out) {
      r.error = "timed out after " + std::to_string(slot.run.timeout_ms) + " ms";
    } else {
      r.error = o.ok && !r.ok ? problem : o.error.substr(0, limits::kErrorMessageBytesMax);
    }
    r.free = FreeToOffer();  // this run's slot is free again
    if (!peers_.SendTo(slot.run.owner, std::move(r)))
      counters_[Counter::kHostedResultsUndeliverable]++;
    slot.run = protocol::RemoteRun{};
    DispatchReady(now);
    return;
  }
  auto rit = running_.find(o.seq);
  if (rit == running_.end() || rit->second.first != o.lease) {
    counters_[Counter::kStaleResults]++;  // timed out or cancelled while it ran
    DispatchReady(now);
    return;
  }
  EndRun(jobs_.At(o.seq), o.lease, o.ok, o.result, o.error, o.timed_out, now);
  DispatchReady(now);
}

void Scheduler::InterruptRun(Job& job, const std::string& why, Now now) {
  // The run's process is gone, so the attempt failed; retry at once (no backoff: the job did
  // not fail, its host did) if attempts remain.
  job.set_error(why);
  counters_[Counter::kInterruptedRuns]++;
  if (job.attempts < job.spec.max_attempts) {
    job.run_at_ms = 0;
    SetState(job, JobState::kQueued, now, why);
    Enqueue(job, now);
    counters_[Counter::kRetries]++;
  } else {
    job.finished_at_ms = now.wall_ms;
    SetState(job, JobState::kDead, now, why);
    Finish(job, now);
    counters_[Counter::kDead]++;
  }
}

void Scheduler::Drain() {
  draining_ = true;
  running_held_.clear();  // a drained node's journal shows what it was running
  for (; peers_.queued() > 0; peers_.PopFront())
    peers_.RejectHosted(peers_.front(), "node " + opt_.node_id + " is shutting down", FreeToOffer());
  // Submits held for a peer's answer are refused now, as new ones would be.
  for (const HeldSubmit& h : held_submits_)
    Error(h.token, Status::Draining("node " + opt_.node_id + " is shutting down"));
  held_submits_.clear();
}

uint32_t Scheduler::TakeSlot(Now now) {
  uint32_t slot_no = pool_.Take();
  slots_[slot_no].since_ms = now.wall_ms;
  return slot_no;
}

void Scheduler::TrackRun(const Job& job, uint64_t lease, uint64_t deadline_ms) {
  running_[job.seq] = {lease, deadline_ms};
  leases_.emplace(deadline_ms, job.seq);
}

void Scheduler::DispatchReady(Now now) {
  StartQueuedHosted(now);
  if (draining_) return;  // a draining node finishes what runs and starts nothing new
  // The queue set picks the job (docs/architecture.md §14): queues that are paused or at a
  // limit are skipped without looking at their jobs, and a run leased to a peer or an external
  // worker counts against its queue's limits like a local one. Each taker gets only the types
  // it runs: this node's slots and its peers the types of its handlers, an external worker its
  // own.
  QueueSet::Entry next;
  while (pool_.free() > 0 && queues_.Next(now.mono_ms, LocalTypes(), &next)) {
    Job& job = jobs_.At(next.seq);
    if (!PayloadForRun(job, now)) continue;
    uint64_t lease = BeginRun(job, now);
    uint32_t slot_no = TakeSlot(now);
    Slot& slot = slots_[slot_no];
    slot.lease = lease;
    slot.seq = job.seq;
    SetState(job, JobState::kRunning, now, "started on slot " + std::to_string(slot_no),
             opt_.node_id);
    // The worker's run mark counts this attempt if the node dies, so the `running` record may
    // wait for the run's end and go in one write with it; not when the job has other news in
    // this batch (its submit: then it is written now anyway).
    if (opt_.running_write_delay_ms > 0 && dirty_[job.seq].size() == 1)
      running_held_[job.seq] = now.mono_ms + opt_.running_write_delay_ms;
    fx_.dispatches.push_back(Dispatch{slot_no, lease, job.seq, job.id, job.spec.type,
                                      job.spec.payload, job.attempts, job.spec.timeout_ms,
                                      ParentsOf(job)});
    TrackRun(job, lease, now.mono_ms + job.spec.timeout_ms);
  }
  if (external_.AnyPolls()) ServePolls(now);
  // Then the alive peer with the most advertised free slots, once every local slot is busy.
  while (pool_.free() == 0) {
    std::optional<uint32_t> link = peers_.BestPeer(now);
    if (!link) return;
    // A job that names blobs leases like any other: the host fetches them from this node
    // (node/hosted_blobs.hpp).
    if (!queues_.Next(now.mono_ms, LocalTypes(), &next)) return;
    Job& job = jobs_.At(next.seq);
    if (!PayloadForRun(job, now)) continue;
    uint64_t lease = BeginRun(job, now);
    peers_.AddLease(*link, lease, job.seq, now);
    const std::string& node = peers_.peer(*link).node;
    SetState(job, JobState::kRunning, now, "started on node " + node, node);
    protocol::RemoteRun run;
    run.owner = opt_.node_id;
    run.owner_incarnation = opt_.incarnation;
    run.lease = lease;
    run.seq = job.seq;
    run.id = job.id;
    run.type = job.spec.type;
    run.payload = job.spec.payload;
    run.attempt = job.attempts;
    run.timeout_ms = job.spec.timeout_ms;
    run.parents = ParentsOf(job);
    counters_[Counter::kRemoteDispatched]++;
    fx_.peer_sends.push_back(PeerSend{*link, std::move(run)});
    TrackRun(job, lease, now.mono_ms + job.spec.timeout_ms + opt_.remote_lease_slack_ms);
  }
}

}  // namespace jobnet::sched
