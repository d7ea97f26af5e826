// The Scheduler's answers to requests about jobs that exist: schedules, status, wait, cancel,
// retry, bulk operations, listings, stats and the worker pool. Part of class Scheduler
// (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <algorithm>
#include <iterator>
#include <tuple>

#include "base/check.hpp"

namespace jobnet::sched {

using protocol::JobInfo;

Status Scheduler::RecoverSchedule(protocol::Schedule s, Now now) {
  return schedules_.Recover(std::move(s), now);
}

void Scheduler::AddSchedule(ReplyToken t, protocol::ScheduleSpec spec, Now now) {
  if (draining_) return Error(t, Status::Draining("node " + opt_.node_id + " is shutting down"));
  // Checked now rather than at every fire: a type this node cannot run would only make dead jobs.
  if (!IsKnownType(spec.job.type))
    return Error(t, Status::InvalidArgument("no handler for job type '" + spec.job.type +
                                            "' on node " + opt_.node_id));
  auto added = schedules_.Add(std::move(spec), now);
  if (!added.ok()) return Error(t, added.status());
  fx_.schedule_writes.push_back(protocol::ScheduleWrite{added.value().spec.name, false, added.value()});
  protocol::ScheduleListReply r;
  r.schedules.push_back(schedules_.Info(added.value(), opt_.node_id));
  fx_.replies.push_back(Reply{t, std::move(r)});
}

void Scheduler::ListSchedules(ReplyToken t) {
  fx_.replies.push_back(Reply{t, protocol::ScheduleListReply{schedules_.List(opt_.node_id), {}}});
}

void Scheduler::ChangeSchedule(ReplyToken t, const protocol::ScheduleChangeRequest& req,
                               Now now) {
  using protocol::ScheduleAction;
  Result<protocol::Schedule> r = Status::Internal("unknown schedule action");
  switch (req.action) {
    case ScheduleAction::kRemove: r = schedules_.Remove(req.name); break;
    case ScheduleAction::kPause: r = schedules_.Pause(req.name, now); break;
    case ScheduleAction::kResume: r = schedules_.Resume(req.name, now); break;
  }
  if (!r.ok()) return Error(t, r.status());
  fx_.schedule_writes.push_back(
      protocol::ScheduleWrite{req.name, req.action == ScheduleAction::kRemove, r.value()});
  protocol::ScheduleListReply reply;
  reply.schedules.push_back(schedules_.Info(r.value(), opt_.node_id));
  fx_.replies.push_back(Reply{t, std::move(reply)});
}

void Scheduler::FireSchedules(Now now) {
  if (draining_) return;  // a draining node submits nothing; the next start catches up once
  for (const std::string& name : schedules_.Due(now)) {
    const protocol::Schedule* s = schedules_.Find(name);
    JOBNET_CHECK(s != nullptr);
    JobSpec spec = s->spec.job;
    // The fire's own key: if this job was journaled but the schedule's record was not (a crash
    // between two batches of a split backlog), firing again after the restart finds this job
    // instead of making a second one.
    spec.key = "schedule:" + name + ":" + std::to_string(s->fires + 1);
    auto admitted = Admit(std::move(spec), now);
    const jobnet::Status& st = admitted.status();
    if (st.ok()) {
      counters_[Counter::kScheduleFires]++;
    } else {
      counters_[Counter::kScheduleFiresFailed]++;
      fx_.notes.push_back("schedule " + name + " skipped a tick: its job was refused (" +
                          st.ToString() + ")");
    }
    fx_.schedule_writes.push_back(
        protocol::ScheduleWrite{name, false, schedules_.Fired(name, now, st.ok() ? admitted.value().id : "")});
  }
}

void Scheduler::StatusOf(ReplyToken t, const std::string& id, bool history) {
  Job* job = Lookup(id, t);
  if (job == nullptr) return;
  JobInfo info = InfoOf(*job);
  if (history) {
    info.history = job->rare.get().history;
    info.history_dropped = job->rare.get().history_dropped;
  }
  fx_.replies.push_back(Reply{t, protocol::JobReply{std::move(info)}});
}

void Scheduler::Wait(ReplyToken t, const std::string& id, uint64_t timeout_ms, Now now) {
  Job* job = Lookup(id, t);
  if (job == nullptr) return;
  if (protocol::IsFinal(job->state)) {
    fx_.replies.push_back(Reply{t, protocol::JobReply{InfoOf(*job)}});
    return;
  }
  if (waiter_deadlines_.size() >= opt_.waiters_max)
    return Error(t, Status::Overloaded("node has " + std::to_string(opt_.waiters_max) +
                                       " waiters, its limit"));
  auto& list = waiters_[job->seq];
  if (list.size() >= opt_.waiters_per_job_max)
    return Error(t, Status::Overloaded("job " + id + " has too many waiters"));
  list.emplace_back(t, now.mono_ms + timeout_ms);
  waiter_deadlines_.emplace(now.mono_ms + timeout_ms, t, job->seq);
}

void Scheduler::Cancel(ReplyToken t, const std::string& id, Now now) {
  Job* job = Lookup(id, t);
  if (job == nullptr) return;
  if (protocol::IsFinal(job->state))
    return Error(t, Status::Conflict("job " + id + " is already " +
                                     protocol::JobStateName(job->state)));
  CancelJob(*job, now, "cancelled by request");
  fx_.replies.push_back(Reply{t, protocol::JobReply{InfoOf(*job)}});
}

void Scheduler::CancelJob(Job& job, Now now, const std::string& why, const std::string& error) {
  if (job.state == JobState::kRunning) {
    uint64_t lease = running_.at(job.seq).first;
    fx_.cancels.push_back(lease);  // stop a local run; a late result is ignored either way
    if (std::optional<uint32_t> link = peers_.LinkOf(lease)) {
      // A run on a peer: tell its host to stop it (one-way; if the message is lost the run goes
      // on to its deadline there, and its result is stale here either way).
      protocol::RemoteCancel rc{opt_.node_id, opt_.incarnation, lease, job.seq};
      fx_.peer_sends.push_back(PeerSend{*link, std::move(rc)});
      counters_[Counter::kRemoteCancelsSent]++;
    }
    peers_.DropLease(lease);
    external_.DropRun(lease);  // its worker learns it from its next heartbeat
  }
  Unindex(job);
  job.finished_at_ms = now.wall_ms;
  job.set_error(error);
  SetState(job, JobState::kCancelled, now, why);
  Finish(job, now);
  counters_[Counter::kCancelled]++;
}

void Scheduler::Retry(ReplyToken t, const std::string& id, Now now) {
  Job* job = Lookup(id, t);
  if (job == nullptr) return;
  if (draining_) return Error(t, Status::Draining("node " + opt_.node_id + " is shutting down"));
  if (job->state != JobState::kDead && job->state != JobState::kFailed &&
      job->state != JobState::kCancelled)
    return Error(t, Status::Conflict("only dead, failed or cancelled jobs can be retried; job " +
                                     id + " is " + protocol::JobStateName(job->state)));
  if (live_jobs_ >= opt_.jobs_live_max)
    return Error(t, Status::Overloaded("node holds too many unfinished jobs"));
  RetryJob(*job, now, "retried by request");
  fx_.replies.push_back(Reply{t, protocol::JobReply{InfoOf(*job)}});
  DispatchReady(now);
}

void Scheduler::RetryJob(Job& job, Now now, const std::string& why) {
  finished_.erase({job.finished_at_ms, job.seq});
  // The pending delivery was about the end of the life that this retry closes; the next final
  // state gets a delivery of its own.
  DropCallback(job, "not delivered: the job was retried before its callback landed");
  // A manual retry starts a new life: fresh attempts, and no run of this life has started or
  // finished yet (the old times stay in the job's history events).
  job.attempts = 0;
  job.started_at_ms = 0;
  job.finished_at_ms = 0;
  job.run_at_ms = 0;
  job.clear_error();
  SetState(job, JobState::kQueued, now, why);
  Enqueue(job, now);
  counters_[Counter::kRetriedManually]++;
}

void Scheduler::Bulk(ReplyToken t, const protocol::BulkRequest& req, Now now) {
  if (Status s = protocol::Validate(req); !s.ok()) return Error(t, s);
  if (req.action == protocol::BulkAction::kRetry && draining_)
    return Error(t, Status::Draining("node " + opt_.node_id + " is shutting down"));
  if (bulk_ops_.size() >= limits::kBulkOpsMax)
    return Error(t, Status::Overloaded(std::to_string(limits::kBulkOpsMax) +
                                       " bulk actions are under way on node " + opt_.node_id +
                                       ", its limit"));
  BulkOp op;
  op.token = t;
  op.query = req;
  bulk_ops_.push_back(std::move(op));
  if (bulk_ops_.size() == 1) ContinueBulk(now);
}

void Scheduler::ContinueBulk(Now now) {
  if (bulk_ops_.empty()) return;
  BulkOp& op = bulk_ops_.front();
  const protocol::BulkRequest& q = op.query;
  bool retry = q.action == protocol::BulkAction::kRetry;
  auto eligible = [&](JobState s) {
    if (q.state) return s == *q.state;
    return s == JobState::kDead || s == JobState::kFailed || s == JobState::kCancelled;
  };
  uint32_t changed = 0, scanned = 0;
  uint64_t seq = jobs_.NextFrom(op.next_seq);
  for (; seq != 0 && changed < limits::kBulkJobsPerTurnMax &&
         scanned < limits::kBulkScanPerTurnMax;
       seq = jobs_.After(seq), ++scanned) {
    Job& job = jobs_.At(seq);
    if (job.spec.queue != q.queue || (!q.type.empty() && job.spec.type != q.type) ||
        !eligible(job.state))
      continue;
    op.counts.matched++;
    if (retry) {
      // As a single retry: a draining node or a full live-job budget refuses it. The job is
      // left as it is and not counted as touched; the reply's matched - touched says so.
      if (draining_ || live_jobs_ >= opt_.jobs_live_max) continue;
      RetryJob(job, now, "retried by bulk request");
    } else {
      CancelJob(job, now, "cancelled by bulk request");
    }
    op.counts.touched++;
    changed++;
  }
  counters_[Counter::kBulkJobsTouched] += changed;
  if (seq != 0) {
    op.next_seq = seq;  // more next turn
  } else {
    fx_.replies.push_back(Reply{op.token, op.counts});
    bulk_ops_.pop_front();
  }
  if (changed > 0) DispatchReady(now);
}

void Scheduler::List(ReplyToken t, const protocol::ListRequest& req) {
  uint64_t from = 1;
  if (!req.after.empty()) {
    auto parsed = protocol::ParseJobId(req.after);
    if (!parsed.ok()) return Error(t, parsed.status());
    from = parsed.value().seq + 1;
  }
  protocol::JobListReply out;
  // Results can be large: stop early so the reply frame stays well under its limit (the
  // client pages on with `after` = the last id it got).
  size_t bytes = 0;
  for (uint64_t seq = jobs_.NextFrom(from); seq != 0 && out.jobs.size() < req.limit;
       seq = jobs_.After(seq)) {
    const Job& j = jobs_.At(seq);
    if (req.state && j.state != *req.state) continue;
    if (!req.queue.empty() && j.spec.queue != req.queue) continue;
    if (!req.type.empty() && j.spec.type != req.type) continue;
    if (j.created_at_ms < req.created_from_ms) continue;
    if (req.created_to_ms != 0 && j.created_at_ms > req.created_to_ms) continue;
    size_t size = j.result().size() + j.error().size() + 256;
    if (!out.jobs.empty() && bytes + size > limits::kReplyFrameBytesMax / 2) break;
    bytes += size;
    out.jobs.push_back(InfoOf(j));
  }
  fx_.replies.push_back(Reply{t, std::move(out)});
}

protocol::StatsReply Scheduler::Stats() const {
  protocol::StatsReply r;
  r.node = opt_.node_id;
  r.workers = opt_.workers;
  r.busy = pool_.busy();
  for (int i = 0; i < protocol::kJobStateCount; ++i)
    r.jobs[protocol::JobStateName(static_cast<JobState>(i))] = state_counts_[i];
  r.queues = queue_depth_;
  CounterValues now = counters_;
  now[Counter::kWaiters] = waiter_deadlines_.size();
  now[Counter::kHeldBytes] = held_bytes_;
  now[Counter::kCallbacksPending] = callbacks_pending();
  now[Counter::kExternalWorkers] = external_.size();
  for (const protocol::CounterInfo& c : protocol::kCounters)
    if (now[c.counter] != 0 || c.always) r.counters[c.name] = now[c.counter];
  for (const auto& [queue, counts] : queue_totals_) {
    auto& named = r.queue_totals[queue];
    if (counts[kSubmittedSlot] != 0) named["submitted"] = counts[kSubmittedSlot];
    for (int i = 0; i < protocol::kJobStateCount; ++i)
      if (counts[i] != 0) named[protocol::JobStateName(static_cast<JobState>(i))] = counts[i];
  }
  r.histograms[protocol::kRunSeconds] = run_seconds_;
  r.histograms[protocol::kQueueWaitSeconds] = queue_wait_seconds_;
  return r;
}

protocol::WorkerListReply Scheduler::WorkerList() const {
  protocol::WorkerListReply out;
  out.node = opt_.node_id;
  out.workers = pool_.size();
  if (autoscaler_.enabled()) {
    out.autoscale_min = autoscaler_.settings().min;
    out.autoscale_max = autoscaler_.settings().max;
  }
  for (uint32_t i = 0; i < pool_.count(); ++i) {
    if (!pool_.IsListed(i)) continue;
    const Slot& slot = slots_[i];
    protocol::WorkerSlot w;
    w.id = i;
    w.busy = pool_.IsBusy(i);
    w.retiring = i >= pool_.size();
    w.since_ms = slot.since_ms;
    if (w.busy && slot.hosted) {
      w.job = slot.run.id;
      w.type = slot.run.type;
    } else if (w.busy) {
      const Job* job = Find(slot.seq);
      if (job != nullptr) {  // else: cancelled or timed out and already purged, still running
        w.job = job->id;
        w.queue = job->spec.queue;
        w.type = job->spec.type;
      }
    }
    out.slots.push_back(std::move(w));
  }
  for (const auto& [id, w] : external_.all()) {
    protocol::ExternalWorkerInfo e;
    e.id = id;
    e.name = w.name;
    e.types.assign(w.types.begin(), w.types.end());
    e.capacity = w.capacity;
    e.lease_ms = w.lease_ms;
    e.polling = w.poll != 0;
    e.running = static_cast<uint32_t>(w.leases.size());
    for (uint64_t lease : w.leases) {
      if (e.jobs.size() == limits::kExternalJobsListedMax) break;
      auto seq = external_.RunOf(id, lease);
      const Job* job = seq ? Find(*seq) : nullptr;
      if (job != nullptr) e.jobs.push_back(job->id);
    }
    out.external.push_back(std::move(e));
  }
  return out;
}

void Scheduler::Workers(ReplyToken t) { fx_.replies.push_back(Reply{t, WorkerList()}); }

void Scheduler::ResizePool(uint32_t workers, const std::string& why, Now now) {
  if (workers != pool_.size())
    fx_.notes.push_back("worker pool resized from " + std::to_string(pool_.size()) + " to " +
                        std::to_string(workers) + " slots (" + std::to_string(pool_.busy()) +
                        " busy): " + why);
  uint32_t old = pool_.size();
  pool_.Resize(workers);
  opt_.workers = workers;  // heartbeats advertise it, HostedQueueMax follows it
  if (slots_.size() < pool_.count()) slots_.resize(pool_.count());
  for (uint32_t i = old; i < workers; ++i)
    if (!pool_.IsBusy(i)) slots_[i].since_ms = now.wall_ms;  // a new slot: idle from now
  DispatchReady(now);  // new slots take waiting work at once
}

void Scheduler::SetWorkers(ReplyToken t, uint32_t workers, Now now) {
  if (workers < 1 || workers > limits::kWorkersMax)
    return Error(t, Status::InvalidArgument("workers must be 1.." +
                                            std::to_string(limits::kWorkersMax) + ", not " +
                                            std::to_string(workers)));
  if (autoscaler_.enabled()) {  // a size someone chose: the pool stops following the load
    fx_.notes.push_back("autoscaling off: `workers set " + std::to_string(workers) + "`");
    autoscaler_.Configure({});
  }
  ResizePool(workers, "workers set", now);
  // Journaled even when unchanged: the configured size it is recorded against may be new.
  fx_.workers = workers;
  fx_.configured_workers = opt_.configured_workers;
  counters_[Counter::kWorkersResized]++;
  fx_.replies.push_back(Reply{t, WorkerList()});
}

void Scheduler::SetAutoscale(ReplyToken t, const protocol::WorkersAutoscaleRequest& req,
                             Now now) {
  if (req.min != 0 && (req.min > req.max || req.max > limits::kWorkersMax))
    return Error(t, Status::InvalidArgument("autoscale wants 1 <= min <= max <= " +
                                            std::to_string(limits::kWorkersMax) + ", not " +
                                            std::to_string(req.min) + ".." +
                                            std::to_string(req.max)));
  for (uint64_t ms : {req.target_wait_ms, req.quiet_ms})
    if (ms != 0 && (ms < limits::kAutoscaleMsMin || ms > limits::kAutoscaleMsMax))
      return Error(t, Status::InvalidArgument(
                          "autoscale's target wait and quiet period must be 10ms..24h, not " +
                          std::to_string(ms) + " ms"));
  AutoscaleSettings s = opt_.autoscale;  // the configured durations, unless the request names its own
  s.min = req.min;
  s.max = req.min == 0 ? 0 : req.max;
  if (req.target_wait_ms != 0) s.target_wait_ms = req.target_wait_ms;
  if (req.quiet_ms != 0) s.quiet_ms = req.quiet_ms;
  autoscaler_.Configure(s);
  fx_.notes.push_back(s.enabled() ? "autoscaling between " + std::to_string(s.min) + " and " +
                                        std::to_string(s.max) + " workers"
                                  : std::string("autoscaling off"));
  Autoscale(now);  // a pool outside the new bounds comes back inside them at once
  fx_.replies.push_back(Reply{t, WorkerList()});
}

void Scheduler::Autoscale(Now now) {
  if (!autoscaler_.enabled() || draining_) return;
  AutoscaleInput in;
  in.mono_ms = now.mono_ms;
  in.size = pool_.size();
  in.busy = std::min(pool_.busy(), pool_.size());
  in.waiting = queues_.AnyEligibleFor(LocalTypes());
  in.cpu_idle_permille = cpu_idle_permille_;
  std::optional<uint32_t> to = autoscaler_.Decide(in);
  if (!to || *to == pool_.size()) return;
  const bool grow = *to > pool_.size();
  counters_[grow ? Counter::kAutoscaleGrown : Counter::kAutoscaleShrunk]++;
  ResizePool(*to,
             grow ? "autoscale: jobs waited " + std::to_string(autoscaler_.settings().target_wait_ms) +
                        " ms with every slot busy"
                  : "autoscale: quiet for " + std::to_string(autoscaler_.settings().quiet_ms) + " ms",
             now);
}

}  // namespace jobnet::sched
