// The Scheduler's payloads of jobs that wait far ahead: not held in memory, as the journal has
// them ("p:" records), and read back just before the job runs. A million jobs delayed by hours
// then cost memory for what they are, not for what they will carry. Part of class Scheduler
// (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <utility>

namespace jobnet::sched {

void Scheduler::MaybeDropPayload(Job& job, Now now) {
  // A backoff is due on the steady clock, and it follows a run that just read the payload.
  if (!opt_.load_payload || PayloadDropped(job) || job.state != JobState::kDelayed ||
      IsBackoff(job) || job.run_at_ms <= now.wall_ms + opt_.payload_drop_ahead_ms)
    return;
  held_bytes_ -= job.spec.payload.size();
  // A new job's payload is still to be journaled: its first write takes it (WriteOf).
  auto d = dirty_.find(job.seq);
  if (d != dirty_.end() && d->second.front().first == 0) {
    drop_on_write_.insert(job.seq);
    return;
  }
  std::string().swap(job.spec.payload);
}

bool Scheduler::PayloadForRun(Job& job, Now now) {
  if (!PayloadDropped(job)) {
    // About to run before its first write: the write keeps its payload after all.
    if (drop_on_write_.erase(job.seq) > 0) held_bytes_ += job.spec.payload.size();
    return true;
  }
  Result<std::string> payload = opt_.load_payload(job.seq);
  if (payload.ok() && !payload.value().empty()) {
    job.spec.payload = std::move(payload.value());
    held_bytes_ += job.spec.payload.size();
    return true;
  }
  // Journaled before the job could be due, so this is a failed read (or a damaged journal): the
  // run cannot start, and counts as a failed attempt, so the job is neither lost nor stuck.
  std::string why = payload.ok() ? "it is empty" : payload.status().ToString();
  BeginRun(job, now);
  SetState(job, JobState::kRunning, now, "started", opt_.node_id);
  FailRun(job, "its payload could not be read from the journal: " + why, now);
  return false;
}

}  // namespace jobnet::sched
