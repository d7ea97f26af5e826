// The Scheduler's side of external workers (docs/architecture.md §19): the requests of worker
// processes, answered from ExternalWorkers' registry and applied to the jobs. Part of class
// Scheduler (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <algorithm>
#include <tuple>

#include "base/check.hpp"

namespace jobnet::sched {

ExternalWorkers::Worker* Scheduler::FindWorker(uint64_t id, ReplyToken t) {
  if (ExternalWorkers::Worker* w = external_.Find(id)) return w;
  Error(t, Status::NotFound("worker " + std::to_string(id) + " is not registered on node " +
                            opt_.node_id + " (its lease expired, it unregistered, or the node "
                            "restarted): register again"));
  return nullptr;
}

Job* Scheduler::FindExternalRun(uint64_t worker, const std::string& id, uint64_t lease,
                                ReplyToken t) {
  auto seq = external_.RunOf(worker, lease);
  auto parsed = protocol::ParseJobId(id);
  if (seq && parsed.ok() && parsed.value().node == opt_.node_id && parsed.value().seq == *seq)
    return &jobs_.At(*seq);
  counters_[Counter::kExternalStaleResults]++;
  Error(t, Status::Conflict("lease " + std::to_string(lease) + " of worker " +
                            std::to_string(worker) + " is not the current run of job " + id +
                            " (it expired, was cancelled, or the job was leased again): refused"));
  return nullptr;
}

void Scheduler::RegisterWorker(ReplyToken t, const protocol::WorkerRegisterRequest& req,
                               Now now) {
  if (Status s = protocol::Validate(req); !s.ok()) return Error(t, s);
  if (draining_) return Error(t, Status::Draining("node " + opt_.node_id + " is shutting down"));
  if (external_.size() >= limits::kExternalWorkersMax)
    return Error(t, Status::Overloaded("node " + opt_.node_id + " has " +
                                       std::to_string(limits::kExternalWorkersMax) +
                                       " external workers, its limit"));
  // Ids carry the incarnation, so a worker of an earlier start of this node is never mistaken
  // for one of this start (its requests get kNotFound, and it registers again).
  uint64_t id = external_.Register(req, now);
  const ExternalWorkers::Worker& w = *external_.Find(id);
  counters_[Counter::kExternalRegistered]++;
  fx_.notes.push_back("external worker " + w.name + " (" + std::to_string(id) +
                      ") registered: capacity " + std::to_string(w.capacity) + ", lease " +
                      std::to_string(w.lease_ms) + " ms");
  fx_.replies.push_back(Reply{t, protocol::WorkerRegisteredReply{id, opt_.node_id, w.lease_ms}});
}

void Scheduler::PollWorker(ReplyToken t, const protocol::WorkerPollRequest& req, Now now) {
  if (FindWorker(req.worker, t) == nullptr) return;
  ReplyToken replaced = external_.HoldPoll(req.worker, t, now.mono_ms + req.wait_ms, req.max, now);
  if (replaced != 0) AnswerPoll(replaced, {});  // replaced by this one
  DispatchReady(now);
  // wait_ms 0: "whatever there is now". Otherwise a tick answers it at its deadline.
  if (req.wait_ms == 0 && external_.Find(req.worker)->poll == t)
    AnswerPoll(external_.ReleasePoll(req.worker, now), {});
}

void Scheduler::AnswerPoll(ReplyToken poll, std::vector<protocol::LeasedJob> jobs) {
  JOBNET_CHECK(poll != 0);
  fx_.replies.push_back(Reply{poll, protocol::WorkerJobsReply{std::move(jobs)}});
}

void Scheduler::ServePolls(Now now) {
  for (uint64_t id : external_.PollOrder()) {
    const uint32_t want = external_.Wants(id);
    const ExternalWorkers::Worker& w = *external_.Find(id);
    std::vector<protocol::LeasedJob> jobs;
    size_t bytes = 0;
    QueueSet::Entry next;
    // Payloads go in the reply: stop at half a reply frame (the rest go with the next poll).
    while (jobs.size() < want && bytes < limits::kReplyFrameBytesMax / 2 &&
           queues_.Next(now.mono_ms, &w.types, &next)) {
      Job& job = jobs_.At(next.seq);
      if (!PayloadForRun(job, now)) continue;
      uint64_t lease = BeginRun(job, now);
      SetState(job, JobState::kRunning, now, "leased to external worker " + w.name,
               opt_.node_id);
      TrackRun(job, lease, now.mono_ms + job.spec.timeout_ms);
      external_.AddRun(id, lease, job.seq);
      counters_[Counter::kExternalLeased]++;
      jobs.push_back(protocol::LeasedJob{job.id, lease, job.spec.type, job.spec.queue,
                                         job.spec.priority, job.spec.payload, job.attempts,
                                         job.spec.timeout_ms, ParentsOf(job)});
      bytes += job.spec.payload.size() + jobs.back().parents.size() + 256;
    }
    if (jobs.empty()) continue;
    external_.Served(id);
    AnswerPoll(external_.ReleasePoll(id, now), std::move(jobs));
  }
}

void Scheduler::HeartbeatWorker(ReplyToken t, const protocol::WorkerHeartbeatRequest& req,
                                Now now) {
  ExternalWorkers::Worker* w = FindWorker(req.worker, t);
  if (w == nullptr) return;
  external_.Touch(req.worker, now);
  protocol::WorkerBeatReply r;
  r.lease_ms = w->lease_ms;
  for (uint64_t lease : req.leases)
    if (w->leases.count(lease) == 0) r.lost.push_back(lease);
  fx_.replies.push_back(Reply{t, std::move(r)});
}

void Scheduler::WorkerProgress(ReplyToken t, const protocol::WorkerProgressRequest& req,
                               Now now) {
  Job* job = FindExternalRun(req.worker, req.id, req.lease, t);
  if (job == nullptr) return;
  external_.Touch(req.worker, now);
  bool applied = ApplyProgress(*job, req.pct, req.message, now);
  fx_.replies.push_back(Reply{t, protocol::WorkerAckReply{applied}});
}

void Scheduler::WorkerComplete(ReplyToken t, const protocol::WorkerCompleteRequest& req,
                               Now now) {
  WorkerEnded(t, req.worker, req.id, req.lease, true, req.result, "", now);
}

void Scheduler::WorkerFail(ReplyToken t, const protocol::WorkerFailRequest& req, Now now) {
  WorkerEnded(t, req.worker, req.id, req.lease, false, "",
              req.error.empty() ? "failed (the worker gave no reason)" : req.error, now);
}

void Scheduler::WorkerEnded(ReplyToken t, uint64_t worker, const std::string& id,
                            uint64_t lease, bool ok, const std::string& result,
                            const std::string& error, Now now) {
  Job* job = FindExternalRun(worker, id, lease, t);
  if (job == nullptr) return;
  external_.Touch(worker, now);
  external_.DropRun(lease);
  counters_[Counter::kExternalResults]++;
  EndRun(*job, lease, ok, result, error, false, now);
  fx_.replies.push_back(Reply{t, protocol::WorkerAckReply{}});
  DispatchReady(now);
}

void Scheduler::UnregisterWorker(ReplyToken t, uint64_t worker, Now now) {
  ExternalWorkers::Worker* w = FindWorker(worker, t);
  if (w == nullptr) return;
  DropWorker(worker,
             "interrupted: external worker " + w->name + " (" + std::to_string(worker) +
                 ") unregistered during the run",
             now);
  fx_.replies.push_back(Reply{t, protocol::WorkerAckReply{}});
}

void Scheduler::DropWorker(uint64_t id, const std::string& why, Now now) {
  ExternalWorkers::Removed gone = external_.Remove(id);
  if (gone.poll != 0) AnswerPoll(gone.poll, {});
  // Its jobs go back to their queues at once; the attempt counts, as for a node that died
  // during a run. Jobs of its types that are still queued wait for the next worker that serves
  // them (docs/architecture.md "External workers"); new submits of a type nobody serves are
  // refused again.
  for (auto [lease, seq] : gone.runs) {
    Job& job = jobs_.At(seq);
    Unindex(job);
    counters_[Counter::kExternalRunsLost]++;
    InterruptRun(job, why, now);
  }
  fx_.notes.push_back("external worker " + gone.name + " (" + std::to_string(id) + ") removed; " +
                      std::to_string(gone.runs.size()) + " of its runs re-queued: " + why);
  DispatchReady(now);
}

}  // namespace jobnet::sched
