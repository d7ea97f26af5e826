// The Scheduler's side of the cluster (docs/architecture.md §3a): it applies what PeerLeases
// decides (runs taken back or lost, results and acks that pass the fencing) to its jobs, and runs
// other owners' jobs on its slots. Part of class Scheduler (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <algorithm>
#include <tuple>

#include "base/check.hpp"

namespace jobnet::sched {

uint32_t Scheduler::FreeToOffer() const {
  // Its own waiting jobs come first, and a draining node takes nothing new. The queue only
  // holds runs while every slot is busy, so idle slots and queue room never overlap.
  if (queues_.AnyEligibleFor(LocalTypes()) || draining_) return 0;
  // After a shrink the queue may hold more than the smaller pool would have taken.
  uint64_t room = uint64_t{pool_.free()} + HostedQueueMax();
  return room > peers_.queued() ? static_cast<uint32_t>(room - peers_.queued()) : 0;
}

void Scheduler::TakeBackUnacked(uint32_t link, Now now) {
  const std::string why = "node " + peers_.peer(link).node +
                          " did not acknowledge the run within " +
                          std::to_string(opt_.remote_ack_ms) + " ms: taken back, attempt not counted";
  for (uint64_t seq : peers_.TakeBackUnacked(link, now)) {
    Job& job = jobs_.At(seq);
    Unindex(job);
    // Most likely it never arrived, so it did not run: like a rejection, the attempt is not
    // spent. If it did arrive after all, it runs there once more than counted, and its result
    // is stale (at-least-once allows the duplicate; an attempt lost to the network does not).
    job.attempts--;
    job.set_error(why);
    counters_[Counter::kRemoteUnacked]++;
    SetState(job, JobState::kQueued, now, why);
    Enqueue(job, now);
  }
}

void Scheduler::LosePeerLeases(const PeerLeases::Lost& lost, const std::string& why, Now now) {
  for (auto [lease, seq] : lost) {
    // Counted even if unacknowledged: a job that kills its host before the ack leaves must
    // still run out of attempts.
    Job& job = jobs_.At(seq);
    Unindex(job);
    counters_[Counter::kPeerRunsLost]++;
    InterruptRun(job, why, now);
  }
}

void Scheduler::OnHeartbeat(const protocol::Heartbeat& hb, Now now) {
  for (const PeerLeases::Seen& seen : peers_.OnHeartbeat(hb, now)) {
    LosePeerLeases(seen.lost, seen.why, now);  // its restart lost them
    if (seen.sync) {  // it was down or restarted: it forgot what it was told
      SyncQueuesTo(seen.link);
      SendWatches(peers_.peer(seen.link).node, now);
    }
  }
  DispatchReady(now);
}

void Scheduler::AcceptRemoteRun(const protocol::RemoteRun& run, Now now) {
  if (FreeToOffer() == 0)
    return peers_.RejectHosted(run, "node " + opt_.node_id + " has no free worker", 0);
  peers_.AckHosted(run, FreeToOffer() - 1);  // this run takes a slot or a queue place
  if (pool_.free() == 0) return peers_.Queue(run, now);
  HostRun(run, now);
}

void Scheduler::StartQueuedHosted(Now now) {
  while (peers_.queued() > 0 && pool_.free() > 0) {
    HostRun(peers_.front(), now);
    peers_.PopFront();
  }
}

void Scheduler::HostRun(const protocol::RemoteRun& run, Now now) {
  uint32_t slot_no = TakeSlot(now);
  Slot& slot = slots_[slot_no];
  slot.lease = next_lease_++;
  slot.seq = 0;
  slot.hosted = true;
  slot.run = run;
  slot.hosted_deadline_ms = now.mono_ms + run.timeout_ms;
  peers_.AddDeadline(slot.hosted_deadline_ms, slot_no, slot.lease);
  fx_.dispatches.push_back(Dispatch{slot_no, slot.lease, 0, run.id, run.type, run.payload,
                                    run.attempt, run.timeout_ms, run.parents});
}

void Scheduler::OnRemoteResult(const protocol::RemoteResult& res, Now now) {
  // Every result must name a run this node journaled for that job: the lease (which carries
  // the incarnation that made it), the job and the node the run went to. Anything else changes
  // nothing and is counted (docs/cluster.md "Fencing"), whatever incarnation it names.
  if (res.owner != opt_.node_id) return peers_.RefuseResult(res, "not this node's job");
  Job* found = jobs_.Find(res.seq);
  if (res.owner_incarnation != opt_.incarnation) {
    // Finished for an earlier start of this node: delivered if it is the run the journal holds
    // for the job (recovered running there), and the job has not been run again since.
    if (found == nullptr || !peers_.TakeLateRun(res))
      return peers_.RefuseResult(res, "no such run of an earlier start");
    if (protocol::IsFinal(found->state) || !res.ok || res.rejected) {
      counters_[Counter::kStaleResults]++;
      return;
    }
    Job& job = *found;
    if (job.state == JobState::kRunning) {
      auto& rl = running_.at(job.seq);
      fx_.cancels.push_back(rl.first);
      peers_.DropLease(rl.first);
    }
    counters_[Counter::kLateResultsAccepted]++;
    EndRun(job, /*lease=*/0, true, res.result, "", false, now);
    DispatchReady(now);
    return;
  }
  if (peers_.OnResult(res, next_lease_) != PeerLeases::Verdict::kAccepted) return;
  auto run = running_.find(res.seq);
  JOBNET_CHECK(found != nullptr && run != running_.end() && run->second.first == res.lease);
  Job& job = *found;
  if (res.rejected) {
    Unindex(job);
    job.attempts--;  // it never started
    counters_[Counter::kRemoteRejected]++;
    SetState(job, JobState::kQueued, now, res.error);
    Enqueue(job, now);
  } else {
    counters_[Counter::kRemoteCompleted]++;
    EndRun(job, res.lease, res.ok, res.result, res.error, res.timed_out, now);
  }
  DispatchReady(now);
}

void Scheduler::OnRemoteCancel(const protocol::RemoteCancel& c) {
  // Not started yet: drop it. The owner no longer waits for an answer.
  if (peers_.CancelQueued(c)) {
    counters_[Counter::kHostedCancelled]++;
    return;
  }
  // Running: set its cancel flag, as a local cancel does. The slot frees when the handler
  // returns; its result then goes to the owner, which counts it stale.
  for (uint32_t i = 0; i < pool_.count(); ++i) {
    const Slot& slot = slots_[i];
    if (!pool_.IsBusy(i) || !slot.hosted || !PeerLeases::Names(c, slot.run)) continue;
    fx_.cancels.push_back(slot.lease);
    counters_[Counter::kHostedCancelled]++;
    return;
  }
  // Else it already ended (its result crossed the cancel), never arrived, or the frame names a
  // run that never was: nothing to stop.
  counters_[Counter::kRemoteCancelsUnmatched]++;
}

void Scheduler::OnRemoteAck(const protocol::RemoteAck& ack, Now now) {
  if (peers_.OnAck(ack, next_lease_)) DispatchReady(now);
}

protocol::Heartbeat Scheduler::MakeHeartbeat(const std::string& endpoint) const {
  protocol::Heartbeat hb;
  hb.node = opt_.node_id;
  hb.incarnation = opt_.incarnation;
  hb.endpoint = endpoint;
  hb.workers = opt_.workers;
  hb.free = FreeToOffer();
  hb.queued = queues_.ready() + delayed_.size();
  hb.acks = true;
  return hb;
}

std::vector<protocol::PeerInfo> Scheduler::Peers() const { return peers_.Info(); }

uint64_t Scheduler::BeginRun(Job& job, Now now) {
  peers_.ForgetLateRun(job.seq);  // a new run: an earlier one's result is stale from now on
  job.attempts++;
  job.started_at_ms = now.wall_ms;
  job.run_started_mono_ms = now.mono_ms;
  if (job.rare.has()) {  // each run reports its own progress
    JobRare& r = job.rare.mut();
    r.progress = 0;
    r.progress_message.clear();
    r.progress_at_ms = 0;
    r.progress_event_at_ms = 0;
  }
  job.lease = next_lease_++;
  return job.lease;
}

}  // namespace jobnet::sched
