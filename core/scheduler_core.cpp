// Scheduler state machine: see scheduler_core.hpp for the contract.
#include "core/scheduler_core.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <tuple>

#include "base/check.hpp"
#include "core/content_key.hpp"

namespace jobnet::sched {

using protocol::BatchItemResult;
using protocol::CallbackDelivery;
using protocol::JobInfo;
using protocol::JobSpec;

Scheduler::Scheduler(SchedulerOptions options)
    : opt_(std::move(options)),
      rng_(opt_.seed),
      next_lease_(PeerLeases::FirstLease(opt_.incarnation)),
      peers_(PeerLeases::Options{opt_.node_id, opt_.incarnation, opt_.peers,
                                 opt_.failure_timeout_ms, opt_.remote_ack_ms},
             &fx_, &counters_),
      pool_(opt_.workers),
      run_seconds_(protocol::MakeHistogram(protocol::SecondsBounds())),
      queue_wait_seconds_(protocol::MakeHistogram(protocol::SecondsBounds())),
      external_(opt_.incarnation) {
  JOBNET_CHECK(opt_.workers >= 1 && opt_.workers <= limits::kWorkersMax);
  if (opt_.configured_workers == 0) opt_.configured_workers = opt_.workers;
  JOBNET_CHECK(!opt_.autoscale.enabled() || (opt_.autoscale.min <= opt_.autoscale.max &&
                                             opt_.autoscale.max <= limits::kWorkersMax));
  autoscaler_.Configure(opt_.autoscale);
  slots_.resize(opt_.workers);
}

const Job* Scheduler::Find(uint64_t seq) const {
  return jobs_.Find(seq);
}

void Scheduler::Error(ReplyToken t, const jobnet::Status& s) {
  fx_.replies.push_back(Reply{t, protocol::ErrorReply{s.code(), s.message()}});
}

protocol::AcceptedReply Scheduler::Answer(const Job& job, bool duplicate) {
  protocol::AcceptedReply r;
  r.id = job.id;
  r.state = job.state;
  r.duplicate = duplicate;
  return r;
}

Job* Scheduler::Lookup(const std::string& id, ReplyToken t) {
  auto parsed = protocol::ParseJobId(id);
  if (!parsed.ok()) {
    Error(t, parsed.status());
    return nullptr;
  }
  if (parsed.value().node != opt_.node_id) {
    Error(t, Status::NotFound("job " + id + " is owned by node " + parsed.value().node +
                              ", not by " + opt_.node_id));
    return nullptr;
  }
  Job* job = jobs_.Find(parsed.value().seq);
  if (job == nullptr)
    Error(t, Status::NotFound("job " + id + " does not exist (or was purged by retention)"));
  return job;
}

void Scheduler::SetState(Job& job, JobState to, Now now, std::string message,
                         std::string node) {
  auto waiting = [](JobState s) { return s == JobState::kQueued || s == JobState::kDelayed; };
  if (job.events == 0) {
    JOBNET_CHECK_MSG(IsLegalInitialState(to), "a new job starts queued or delayed");
  } else {
    JOBNET_CHECK_MSG(IsLegalTransition(job.state, to), "illegal job state transition");
  }
  if (job.events > 0) {  // a new job (no events yet) was never counted in its initial state
    state_counts_[static_cast<int>(job.state)]--;
    CountQueueState(job.spec.queue, job.state, -1);
    if (waiting(job.state) && --queue_depth_[job.spec.queue] == 0) queue_depth_.erase(job.spec.queue);
    if (!protocol::IsFinal(job.state)) live_jobs_--;
  }
  const bool was_running = job.events > 0 && job.state == JobState::kRunning;
  if (was_running && job.run_started_mono_ms != 0 && now.mono_ms >= job.run_started_mono_ms)
    protocol::Observe(&run_seconds_,
                      static_cast<double>(now.mono_ms - job.run_started_mono_ms) / 1e3);
  if (to == JobState::kRunning && job.ready_at_ms != 0 && now.mono_ms >= job.ready_at_ms)
    protocol::Observe(&queue_wait_seconds_, static_cast<double>(now.mono_ms - job.ready_at_ms) / 1e3);
  if (protocol::IsFinal(to)) CountQueueTotal(job.spec.queue, static_cast<size_t>(to));
  job.state = to;
  state_counts_[static_cast<int>(to)]++;
  CountQueueState(job.spec.queue, to, +1);
  if (waiting(to)) queue_depth_[job.spec.queue]++;
  if (!protocol::IsFinal(to)) live_jobs_++;
  JobEvent ev{now.wall_ms, to, job.attempts, std::move(message), std::move(node), {}};
  // An event that ends a failed run carries its error, for the attempt history.
  if (job.events > 0 && to != JobState::kRunning && to != JobState::kSucceeded &&
      !job.rare.get().history.empty() && job.rare.get().history.back().ended_at_ms == 0)
    ev.error = job.error();
  protocol::RecordEvent(ev, opt_.node_id, &job);
  dirty_[job.seq].emplace_back(job.events++, std::move(ev));
}

void Scheduler::CountQueueTotal(const std::string& queue, size_t slot) {
  auto it = queue_totals_.find(queue);
  if (it == queue_totals_.end())
    it = queue_totals_.try_emplace(queue_totals_.size() < limits::kQueuesMax ? queue
                                                                            : protocol::kOtherQueues)
             .first;
  it->second[slot]++;
}

void Scheduler::CountQueueState(const std::string& queue, JobState state, int delta) {
  auto& counts = queue_states_[queue];
  uint64_t& n = counts[static_cast<int>(state)];
  JOBNET_CHECK(delta > 0 || n > 0);
  n += delta;
  if (delta < 0 && n == 0 &&
      std::all_of(counts.begin(), counts.end(), [](uint64_t c) { return c == 0; }))
    queue_states_.erase(queue);
}

void Scheduler::Enqueue(Job& job, Now now) {
  if (job.state == JobState::kDelayed) {
    if (IsBackoff(job)) {
      delayed_mono_.Add(job.ready_at_ms, job.seq);
    } else {
      delayed_.Add(job.run_at_ms, job.seq);
    }
  } else {
    JOBNET_CHECK(job.state == JobState::kQueued);
    job.order = next_order_++;
    job.ready_at_ms = now.mono_ms;
    queues_.Add(job.spec.queue, EntryOf(job), now.mono_ms, job.spec.type);
  }
}

void Scheduler::Unindex(const Job& job) {
  switch (job.state) {
    case JobState::kQueued:
      queues_.Remove(job.spec.queue, EntryOf(job), job.spec.type);
      break;
    case JobState::kDelayed:
      if (IsBackoff(job)) {
        delayed_mono_.Erase(job.ready_at_ms, job.seq);
      } else {
        delayed_.Erase(job.run_at_ms, job.seq);
      }
      break;
    case JobState::kRunning: {
      auto it = running_.find(job.seq);
      JOBNET_CHECK(it != running_.end());
      leases_.erase({it->second.second, job.seq});
      running_.erase(it);
      queues_.RunEnded(job.spec.queue);
      break;
    }
    case JobState::kWaiting:
      parents_waiting_.erase(job.seq);  // its entries in children_ are skipped when found
      break;
    default:
      break;
  }
}

void Scheduler::RecoverJob(Job j, Now now) {
  uint64_t seq = j.seq;
  JOBNET_CHECK(seq != 0 && !jobs_.Contains(seq));  // journal keys are unique per seq
  next_seq_ = std::max(next_seq_, seq + 1);
  next_order_ = std::max(next_order_, j.order + 1);
  if (opt_.blob_refs) {
    opt_.blob_refs->AddJob(seq, j.spec.payload);
    if (j.state == JobState::kSucceeded) opt_.blob_refs->AddResult(seq, j.result());
  }
  if (j.state == JobState::kSucceeded) j.spec.payload = protocol::MsgpackNil();  // never runs again
  held_bytes_ += j.spec.payload.size() + j.result().size();
  Job& job = jobs_.Insert(seq, std::move(j));
  if (!job.spec.key().empty()) by_key_[job.spec.key()] = seq;
  if (!job.rare.get().reuse_key.empty()) {
    // The newest job with a content key is the one the index named: an older one was only
    // replaced after it failed (Admit).
    uint64_t& indexed = reuse_[job.rare.get().reuse_key];
    indexed = std::max(indexed, seq);
  }
  state_counts_[static_cast<int>(job.state)]++;
  CountQueueState(job.spec.queue, job.state, +1);
  if (job.state == JobState::kQueued || job.state == JobState::kDelayed)
    queue_depth_[job.spec.queue]++;
  if (!protocol::IsFinal(job.state)) live_jobs_++;
  switch (job.state) {
    case JobState::kQueued:
      job.ready_at_ms = now.mono_ms;  // its wait before the restart is not known
      queues_.Add(job.spec.queue, EntryOf(job), now.mono_ms, job.spec.type);
      break;
    case JobState::kDelayed:
      // A backoff in progress is a duration: what was left of it (by the journaled instant,
      // as of now) runs on the steady clock. No more than one backoff, whatever the wall says.
      if (IsBackoff(job)) job.ready_at_ms = now.MonoAt(job.run_at_ms, limits::kBackoffMsMax);
      Enqueue(job, now);
      MaybeDropPayload(job, now);
      break;
    case JobState::kWaiting:
      recovered_waiting_.push_back(job.seq);  // linked once its parents are in
      break;
    case JobState::kRunning: {
      recovered_running_.emplace_back(job.order, job.seq);  // its run died with the node
      // If it ran on a peer, that run may still end there and report: its result is taken
      // for this run only (OnRemoteResult), as the journal names it.
      const auto& history = job.rare.get().history;
      if (job.lease != 0 && !history.empty() && history.back().node != opt_.node_id)
        peers_.AddLateRun(seq, job.lease, history.back().node);
      break;
    }
    default:
      finished_.emplace(job.finished_at_ms, job.seq);
      // A delivery pending when the node stopped (or in flight: its answer was lost) goes on.
      if (job.rare.get().callback.state == CallbackState::kPending) {
        CallbackDelivery& d = job.rare.mut().callback;
        d.due_mono_ms = now.MonoAt(d.next_at_ms, opt_.callbacks.backoff_max_ms);
        callback_due_.emplace(d.due_mono_ms, job.seq);
      }
      break;
  }
}

void Scheduler::FinishRecovery(uint64_t next_seq, Now now) {
  next_seq_ = std::max(next_seq_, next_seq);
  std::sort(recovered_running_.begin(), recovered_running_.end());
  for (const auto& [order, seq] : recovered_running_) {
    Job& job = jobs_.At(seq);
    InterruptRun(job, "interrupted: node restarted during attempt " + std::to_string(job.attempts),
                 now);
    counters_[Counter::kRecoveredRunning]++;
  }
  recovered_running_.clear();
  recovered_running_.shrink_to_fit();
  for (uint64_t seq : recovered_waiting_) {
    Job& job = jobs_.At(seq);
    std::string failed;
    parents_waiting_[seq] = LinkParents(job, &failed);
    if (!failed.empty()) {
      CancelForParent(job, failed, now);
    } else if (parents_waiting_[seq] == 0) {
      ReleaseChild(job, now);  // its parents ended in the write that lost its release
    }
  }
  recovered_waiting_.clear();
  recovered_waiting_.shrink_to_fit();
  counters_[Counter::kRecoveredJobs] = jobs_.size();
  for (Slot& slot : slots_) slot.since_ms = now.wall_ms;  // idle since the node started
  DispatchReady(now);
}

void Scheduler::Recover(std::vector<Job> jobs, uint64_t next_seq, Now now) {
  JOBNET_CHECK(jobs_.empty());
  for (auto& j : jobs) RecoverJob(std::move(j), now);
  FinishRecovery(next_seq, now);
}

Status Scheduler::CheckSpec(const JobSpec& spec) {
  if (draining_) return Status::Draining("node " + opt_.node_id + " is shutting down");
  jobnet::Status s = protocol::Validate(spec);
  if (!s.ok()) return s;
  if (!IsKnownType(spec.type))
    return Status::InvalidArgument("no handler for job type '" + spec.type + "' on node " +
                                   opt_.node_id + " (and no external worker serving it)");
  if (opt_.check_payload) {
    // At submit, not after the attempts a payload no run can accept would burn.
    s = opt_.check_payload(spec.type, spec.payload);
    if (!s.ok()) {
      counters_[Counter::kPayloadsRejected]++;
      return s;
    }
  }
  if (!spec.callback.empty()) return opt_.callbacks.allow.Check(spec.callback);
  return Status::OK();
}

Result<protocol::AcceptedReply> Scheduler::Admit(JobSpec spec, Now now) {
  jobnet::Status s = CheckSpec(spec);
  if (!s.ok()) return s;
  if (!spec.key.empty()) {
    auto it = by_key_.find(spec.key);
    if (it != by_key_.end()) {
      const Job& existing = jobs_.At(it->second);
      counters_[Counter::kSubmitsDeduplicated]++;
      return Answer(existing, /*duplicate=*/true);
    }
  }
  if (spec.run_at_ms > now.wall_ms + limits::kDelayMsMax)
    return Status::InvalidArgument("run_at_ms is more than a year ahead");
  std::string content_key;
  if (spec.reuse) {
    content_key = ContentKey(spec.type, spec.payload);
    auto it = reuse_.find(content_key);
    if (it != reuse_.end()) {
      const Job& earlier = jobs_.At(it->second);
      if (earlier.state == JobState::kSucceeded) return AdmitReused(std::move(spec), earlier, now);
      if (!protocol::IsFinal(earlier.state)) {
        // The same work is waiting or running: join it rather than run it twice.
        counters_[Counter::kCoalesced]++;
        protocol::AcceptedReply joined = Answer(earlier, /*duplicate=*/false);
        joined.coalesced = true;
        return joined;
      }
      // Failed, dead or cancelled: not reused. The new job below runs the work again and
      // takes the key over.
    }
  }
  if (live_jobs_ >= opt_.jobs_live_max)
    return Status::Overloaded("node holds " + std::to_string(live_jobs_) +
                              " unfinished jobs, its limit");
  if (held_bytes_ + spec.payload.size() > opt_.held_bytes_max) Purge(now);  // old results first
  if (held_bytes_ + spec.payload.size() > opt_.held_bytes_max)
    return Status::Overloaded("node holds " + std::to_string(held_bytes_) +
                              " bytes of payloads and results, its limit is " +
                              std::to_string(opt_.held_bytes_max));
  if (queue_depth_.size() >= limits::kQueuesMax && queue_depth_.count(spec.queue) == 0)
    return Status::Overloaded("too many queues with waiting jobs");
  if (!spec.callback.empty() && callbacks_pending() >= opt_.callbacks.pending_max)
    return Status::Overloaded("node has " + std::to_string(callbacks_pending()) +
                              " callback deliveries pending, its limit");
  if (!spec.depends_on.empty()) {
    s = CheckParents(spec);
    if (!s.ok()) return s;
  }
  Job& job = NewJob(std::move(spec), now);
  if (!content_key.empty()) {
    reuse_[content_key] = job.seq;
    job.rare.mut().reuse_key = std::move(content_key);
  }
  held_bytes_ += job.spec.payload.size() + job.result().size();
  counters_[Counter::kSubmitted]++;
  CountQueueTotal(job.spec.queue, kSubmittedSlot);
  std::string failed;
  uint32_t waiting = job.spec.depends_on().empty() ? 0 : LinkParents(job, &failed);
  if (waiting != 0 || !failed.empty()) {
    parents_waiting_[job.seq] = waiting;
    SetState(job, JobState::kWaiting, now,
             "submitted: waits for " + std::to_string(waiting) + " of " +
                 std::to_string(job.spec.depends_on().size()) + " parents");
    if (!failed.empty()) CancelForParent(job, failed, now);
    return Answer(job, /*duplicate=*/false);
  }
  job.run_at_ms = job.spec.run_at_ms > now.wall_ms ? job.spec.run_at_ms : 0;
  SetState(job, job.run_at_ms != 0 ? JobState::kDelayed : JobState::kQueued, now, "submitted");
  Enqueue(job, now);
  MaybeDropPayload(job, now);
  return Answer(job, /*duplicate=*/false);
}

Job& Scheduler::NewJob(JobSpec spec, Now now) {
  uint64_t seq = next_seq_++;
  fx_.next_seq = next_seq_;
  Job& job = jobs_.Insert(seq, Job{});
  job.seq = seq;
  job.id = protocol::MakeJobId(opt_.node_id, seq);
  job.created_at_ms = now.wall_ms;
  if (spec.delay_ms != 0) {
    // A delay becomes an instant (wall clock) when it is journaled (docs/architecture.md "Time").
    spec.run_at_ms = now.wall_ms + spec.delay_ms;
    spec.delay_ms = 0;
  }
  job.spec = std::move(spec);
  if (opt_.blob_refs) opt_.blob_refs->AddJob(seq, job.spec.payload);
  if (!job.spec.key().empty()) by_key_[job.spec.key()] = seq;
  return job;
}

Result<protocol::AcceptedReply> Scheduler::AdmitReused(JobSpec spec, const Job& earlier,
                                                       Now now) {
  // Copied first: making room below may purge `earlier` itself (the oldest final job).
  std::string result = earlier.result();
  std::string from = earlier.id;
  if (held_bytes_ + result.size() > opt_.held_bytes_max) Purge(now);
  if (held_bytes_ + result.size() > opt_.held_bytes_max)
    return Status::Overloaded("node holds " + std::to_string(held_bytes_) +
                              " bytes of payloads and results, its limit is " +
                              std::to_string(opt_.held_bytes_max));
  Job& job = NewJob(std::move(spec), now);
  // Already done: it never waits, runs or keeps its payload, whatever its delay said.
  job.spec.payload = protocol::MsgpackNil();
  job.spec.run_at_ms = 0;
  job.set_result(std::move(result));
  job.rare.mut().reused_from = from;
  if (opt_.blob_refs) opt_.blob_refs->AddResult(job.seq, job.result());  // an image's result blob
  job.finished_at_ms = now.wall_ms;
  held_bytes_ += job.spec.payload.size() + job.result().size();
  // Two events, as for any job (a job starts queued): its submit, and its end.
  SetState(job, JobState::kQueued, now, "submitted with reuse");
  SetState(job, JobState::kSucceeded, now, "succeeded: result reused from job " + from);
  Finish(job, now);
  counters_[Counter::kSubmitted]++;
  CountQueueTotal(job.spec.queue, kSubmittedSlot);
  counters_[Counter::kReused]++;
  protocol::AcceptedReply r = Answer(job, /*duplicate=*/false);
  r.reused_from = std::move(from);
  return r;
}

void Scheduler::Submit(ReplyToken t, JobSpec spec, Now now) {
  if (!spec.flow.empty() || !spec.flow_name.empty())
    return Error(t, NodeSetsFlow());
  // Parents on peers: their owners are asked first (core/scheduler_deps.cpp).
  if (!spec.depends_on.empty() && HoldSubmit(t, spec, now)) return;
  auto r = Admit(std::move(spec), now);
  if (!r.ok()) return Error(t, r.status());
  fx_.replies.push_back(Reply{t, std::move(r.value())});
  if (!r.value().duplicate) DispatchReady(now);
}

void Scheduler::SubmitBatch(ReplyToken t, std::vector<protocol::BatchSpec> specs,
                            Now now) {
  JOBNET_CHECK(specs.size() <= limits::kBatchSpecsMax);  // the decoder refuses larger batches
  counters_[Counter::kBatches]++;
  protocol::BatchAcceptedReply out;
  out.items.reserve(specs.size());
  for (auto& b : specs) {
    BatchItemResult item;
    if (!b.decoded.ok()) {
      item.status = b.decoded;
    } else if (!b.spec.flow.empty() || !b.spec.flow_name.empty()) {
      item.status = NodeSetsFlow();
    } else {
      auto r = Admit(std::move(b.spec), now);
      if (r.ok()) {
        item.submitted = std::move(r.value());
      } else {
        item.status = r.status();
      }
    }
    if (!item.status.ok()) counters_[Counter::kBatchSpecsRefused]++;
    out.items.push_back(std::move(item));
  }
  fx_.replies.push_back(Reply{t, std::move(out)});
  DispatchReady(now);
}

void Scheduler::Purge(Now now) {
  while (!finished_.empty()) {
    auto [at, seq] = *finished_.begin();
    bool expired = at + opt_.retention_ms <= now.wall_ms;  // finished_at: an instant
    // Also purged, oldest first: final jobs past the count limit, and while held bytes are over
    // their budget (results are the bulk of what final jobs hold).
    if (!expired && finished_.size() <= opt_.final_jobs_max && held_bytes_ <= opt_.held_bytes_max)
      break;
    finished_.erase(finished_.begin());
    Job* found = jobs_.Find(seq);
    if (found == nullptr) continue;
    Job& job = *found;
    if (!job.spec.key().empty()) {
      auto k = by_key_.find(job.spec.key());
      if (k != by_key_.end() && k->second == seq) by_key_.erase(k);
    }
    if (!job.rare.get().reuse_key.empty()) {
      auto r = reuse_.find(job.rare.get().reuse_key);
      if (r != reuse_.end() && r->second == seq) reuse_.erase(r);
    }
    state_counts_[static_cast<int>(job.state)]--;
    CountQueueState(job.spec.queue, job.state, -1);
    held_bytes_ -= job.spec.payload.size() + job.result().size();
    if (job.rare.get().callback.state == CallbackState::kPending)
      fx_.notes.push_back("callback of job " + job.id + " to " + job.spec.callback() +
                          " given up: the job was purged before it was delivered");
    DropCallback(job, "purged");
    callback_dirty_.erase(seq);  // its record is deleted with the job
    jobs_.Erase(seq);
    result_shares_.erase(seq);
    if (opt_.blob_refs) opt_.blob_refs->RemoveJob(seq);
    dirty_.erase(seq);
    fx_.deletes.push_back(seq);
    counters_[Counter::kPurged]++;
  }
}

void Scheduler::Tick(Now now) {
  // Runs still going after the delay have their `running` record written (TakeEffects).
  for (auto it = running_held_.begin(); it != running_held_.end();)
    it = it->second <= now.mono_ms ? running_held_.erase(it) : std::next(it);
  // Delays a user named are due by the wall clock, backoffs by the steady one.
  for (auto* delayed : {&delayed_, &delayed_mono_}) {
    const uint64_t at = delayed == &delayed_ ? now.wall_ms : now.mono_ms;
    while (!delayed->empty() && delayed->top().first <= at) {
      uint64_t seq = delayed->Pop().second;
      Job& job = jobs_.At(seq);
      job.run_at_ms = 0;
      SetState(job, JobState::kQueued, now, "due");
      Enqueue(job, now);
    }
  }
  // Just after a stall of this node's own loop, results and heartbeats sent meanwhile are read
  // before anyone is judged (OnStall): deadlines are looked at again once that grace is over.
  const uint64_t mono = now.mono_ms < judge_after_mono_ms_ ? 0 : now.mono_ms;
  // Before lease expiry: a run that never arrived costs no attempt, even if its lease is up too.
  while (std::optional<uint32_t> link = peers_.DueAck(mono)) TakeBackUnacked(*link, now);
  while (!leases_.empty() && leases_.begin()->first <= mono) {
    uint64_t seq = leases_.begin()->second;
    Job& job = jobs_.At(seq);
    uint64_t lease = running_.at(seq).first;
    fx_.cancels.push_back(lease);
    peers_.DropLease(lease);
    external_.DropRun(lease);  // the worker learns it from its next heartbeat
    // A local slot stays busy until its worker returns; that result is then stale.
    EndRun(job, lease, false, "", "", /*timed_out=*/true, now);
  }
  ExpireWaiters(now);
  ExpireHeldSubmits(now);
  while (auto id = external_.DuePoll(mono))
    AnswerPoll(external_.ReleasePoll(*id, now), {});  // no job for it in time
  while (auto id = external_.Expired(mono)) {
    const ExternalWorkers::Worker& w = *external_.Find(*id);
    counters_[Counter::kExternalExpired]++;
    DropWorker(*id,
               "interrupted: external worker " + w.name + " (" + std::to_string(*id) +
                   ") was silent for its lease of " + std::to_string(w.lease_ms) + " ms",
               now);
  }
  FireSchedules(now);
  Autoscale(now);
  // Parents on peers: asked again now and then, in case a watch or its answer was lost.
  if (!remote_children_.empty() && now.mono_ms >= watch_resend_mono_ms_) SendWatches("", now);
  for (const PeerLeases::Seen& dead : peers_.DeclareSilentDead(mono))
    LosePeerLeases(dead.lost, dead.why, now);
  for (; peers_.FrontExpired(mono); peers_.PopFront())
    peers_.RejectHosted(peers_.front(),
                        "node " + opt_.node_id + " had no worker free for " +
                            std::to_string(limits::kHostedQueueWaitMsMax) + " ms",
                        FreeToOffer());
  while (auto due = peers_.PopDueDeadline(mono)) {
    auto [slot_no, lease] = *due;
    const Slot& slot = slots_[slot_no];
    // Entries of runs that already ended are dropped here (their lease no longer matches).
    if (pool_.IsBusy(slot_no) && slot.hosted && slot.lease == lease) fx_.cancels.push_back(lease);
  }
  Purge(now);
  DispatchReady(now);
  SendDueCallbacks(now);
}

void Scheduler::OnStall(uint64_t stalled_ms, Now now) {
  counters_[Counter::kLoopStalls]++;
  judge_after_mono_ms_ = now.mono_ms + opt_.failure_timeout_ms;
  peers_.OnStall(now);
  fx_.notes.push_back("this node's loop did not run for " + std::to_string(stalled_ms) +
                      " ms (stopped, paused or overloaded): that time is not counted against "
                      "peers, runs or workers, and nobody is judged for " +
                      std::to_string(opt_.failure_timeout_ms) +
                      " ms while what they sent meanwhile is read");
}

void Scheduler::ExpireWaiters(Now now) {
  while (!waiter_deadlines_.empty() && std::get<0>(*waiter_deadlines_.begin()) <= now.mono_ms) {
    auto [deadline, token, seq] = *waiter_deadlines_.begin();
    waiter_deadlines_.erase(waiter_deadlines_.begin());
    auto it = waiters_.find(seq);
    JOBNET_CHECK(it != waiters_.end());
    auto& v = it->second;
    auto pos = std::find(v.begin(), v.end(), std::make_pair(token, deadline));
    JOBNET_CHECK(pos != v.end());
    v.erase(pos);
    if (v.empty()) waiters_.erase(it);
    const Job* job = Find(seq);
    Error(token, Status::Timeout("job " + (job ? job->id : std::to_string(seq)) +
                                 " is not finished yet"));
  }
}

uint64_t Scheduler::NextDeadlineMs() const {
  uint64_t d = std::numeric_limits<uint64_t>::max();
  if (!delayed_.empty()) d = std::min(d, delayed_.top().first);
  if (!delayed_mono_.empty()) d = std::min(d, delayed_mono_.top().first);
  if (!leases_.empty()) d = std::min(d, leases_.begin()->first);
  d = std::min(d, peers_.NextDeadlineMs());
  d = std::min(d, queues_.NextWakeMs());  // a rate-limited queue's next token
  if (!waiter_deadlines_.empty()) d = std::min(d, std::get<0>(*waiter_deadlines_.begin()));
  d = std::min(d, external_.NextDeadlineMs());
  if (!finished_.empty()) d = std::min(d, finished_.begin()->first + opt_.retention_ms);
  d = std::min(d, schedules_.NextDeadlineMs());
  if (!callback_due_.empty()) d = std::min(d, callback_due_.begin()->first);
  for (const auto& [seq, due] : running_held_) d = std::min(d, due);
  if (!remote_children_.empty()) d = std::min(d, watch_resend_mono_ms_);
  for (const HeldSubmit& h : held_submits_) d = std::min(d, h.deadline_mono_ms);
  return d;
}

Effects Scheduler::TakeEffects() {
  for (const auto& [owner, ids] : new_watches_) SendWatchFrames(owner, ids);
  new_watches_.clear();
  // A progress report shows the run to the event stream: its `running` record goes first.
  for (uint64_t seq : progress_dirty_) running_held_.erase(seq);
  for (uint64_t seq : progress_dirty_) {
    // A report goes out only while its run goes on: a state change in this batch supersedes it.
    Job* job = jobs_.Find(seq);
    if (job == nullptr || job->state != JobState::kRunning || dirty_.count(seq) != 0) continue;
    fx_.writes.push_back(WriteOf(*job, {}, false));
    fx_.writes.back().progress = true;
  }
  progress_dirty_.clear();
  for (auto d = dirty_.begin(); d != dirty_.end();) {
    const uint64_t seq = d->first;
    if (auto held = running_held_.find(seq); held != running_held_.end()) {
      if (d->second.size() == 1) {  // still only the start: it waits for the end or its time
        JOBNET_CHECK(d->second.front().second.state == JobState::kRunning);
        ++d;
        continue;
      }
      running_held_.erase(held);  // the run ended (or moved on): one write carries both
    }
    if (Job* job = jobs_.Find(seq))
      fx_.writes.push_back(WriteOf(*job, std::move(d->second), callback_dirty_.erase(seq) > 0));
    d = dirty_.erase(d);
  }
  drop_on_write_.clear();  // each was a new job, so dirty and never held: taken above
  for (uint64_t seq : callback_dirty_) {  // deliveries that changed without a job event
    if (Job* job = jobs_.Find(seq)) fx_.writes.push_back(WriteOf(*job, {}, true));
  }
  callback_dirty_.clear();
  Effects out = std::move(fx_);
  fx_ = Effects{};
  return out;
}

JobWrite Scheduler::WriteOf(Job& job, std::vector<std::pair<uint32_t, JobEvent>> events,
                             bool callback) {
  // The journal copy leaves out what the journal does not write: the attempt history (rebuilt
  // from the h: records) and, after the job's first write, its payload (stored once). Swapped
  // out and back rather than copied: three writes per job, on the hot path.
  const bool first = !events.empty() && events.front().first == 0;
  const bool drop = first && drop_on_write_.erase(job.seq) > 0;
  std::vector<AttemptInfo> history;
  std::string payload;
  if (job.rare.has()) history.swap(job.rare.mut().history);
  if (!first || drop) payload.swap(job.spec.payload);
  JobWrite w{job, std::move(events), callback};
  if (job.rare.has()) job.rare.mut().history.swap(history);
  if (!first)
    job.spec.payload.swap(payload);
  else if (drop)  // the journal keeps it; memory does not (MaybeDropPayload)
    w.job.spec.payload = std::move(payload);
  return w;
}

bool Scheduler::IsKnownType(const std::string& type) const {
  return opt_.known_types.empty() || opt_.known_types.count(type) != 0 ||
         external_.Serves(type);
}

bool Scheduler::ApplyProgress(Job& job, uint32_t pct, std::string message, Now now) {
  const uint64_t mono = now.mono_ms;
  const JobRare& seen = job.rare.get();
  if (seen.progress_at_ms != 0 && mono < seen.progress_at_ms + limits::kProgressIntervalMsMin) {
    counters_[Counter::kProgressDropped]++;
    return false;
  }
  JobRare& r = job.rare.mut();
  r.progress = std::min(pct, limits::kProgressPctMax);
  if (message.size() > limits::kProgressMessageBytesMax)
    message.resize(limits::kProgressMessageBytesMax);
  r.progress_message = std::move(message);
  r.progress_at_ms = std::max<uint64_t>(mono, 1);
  counters_[Counter::kProgressUpdates]++;
  if (r.progress_event_at_ms == 0 ||
      mono >= r.progress_event_at_ms + limits::kProgressEventIntervalMsMin) {
    r.progress_event_at_ms = r.progress_at_ms;
    progress_dirty_.insert(job.seq);
  }
  return true;
}

void Scheduler::Progress(uint64_t seq, uint64_t lease, uint32_t pct, std::string message,
                         Now now) {
  auto run = running_.find(seq);
  if (run == running_.end() || run->second.first != lease) return;  // that run is over
  ApplyProgress(jobs_.At(seq), pct, std::move(message), now);
}

}  // namespace jobnet::sched
