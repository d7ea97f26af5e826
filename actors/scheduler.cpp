// Scheduler actor behavior: drive the state machine, group-commit its writes, then act.
#include "actors/scheduler.hpp"
#include "base/cpu_idle.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/worker.hpp"
#include "protocol/codec.hpp"
#include "protocol/histograms.hpp"
#include "base/check.hpp"
#include "base/clock.hpp"
#include "base/exit_codes.hpp"

namespace jobnet::actors {
namespace {

struct SchedulerState {
  std::shared_ptr<sched::Scheduler> core;
  // The machine's idle CPU share, read at most twice a second, for the autoscaler.
  base::CpuIdle cpu;
  uint64_t cpu_read_at_ms = 0;  // on the loop's steady clock (Now)
  // Read once per message: both clocks, and whether the loop stalled since the last message.
  sched::LoopClock clock{limits::kLoopStallMsMin};
  journal_writer_actor journal;
  std::vector<std::unique_ptr<Worker>> workers;  // by slot id
  std::shared_ptr<OutcomeBox> outcomes = std::make_shared<OutcomeBox>();  // from the workers
  caf::actor ingress;
  SchedulerConfig config;
  sched::Effects pending;                 // effects whose writes are not yet sent
  std::optional<sched::Effects> inflight;  // effects waiting for their batch's fsync
  std::unordered_map<uint64_t, std::shared_ptr<std::atomic<bool>>> cancel_flags;  // by lease
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  uint64_t batches = 0, records = 0, sync_us = 0, batch_records_max = 0;
  protocol::Histogram sync_seconds = protocol::MakeHistogram(protocol::SecondsBounds());
  protocol::Histogram batch_records = protocol::MakeHistogram(protocol::BatchBounds());
  // Ack stage timings (protocol/histograms.hpp): the accepted submits whose replies wait in
  // `pending` and `inflight`, as (count, when their request was handled) groups, and when the
  // in-flight batch went to the writer; base::SteadyUs's clock.
  std::vector<std::pair<uint32_t, uint64_t>> pending_acks, inflight_acks;
  uint64_t inflight_sent_us = 0;
  std::map<std::string, protocol::Histogram> ack_stages = [] {
    std::map<std::string, protocol::Histogram> m;
    for (const char* name : protocol::AckStageNames())
      if (name != std::string(protocol::kAckNodeSeconds))  // the transport's
        m.emplace(name, protocol::MakeHistogram(protocol::StageBounds()));
    return m;
  }();
  bool failed = false;  // the journal failed: durability is lost, the node must stop
  // The journal's disk is full: the failed batch is held by the journal writer (and stays
  // `inflight`), writes are refused, reads are answered at once, and inputs that would change
  // jobs (run outcomes, remote results) wait here until the held batch is durable. Bounded:
  // one outcome per local slot, one result per lease on a peer.
  bool storage_full = false;
  std::vector<sched::Outcome> held_outcomes;
  std::vector<protocol::RemoteResult> held_results;
  std::vector<sched::CallbackResult> held_callbacks;  // at most the in-flight deliveries
  uint64_t storage_full_refused = 0;
  // The shard's fence dropped (config.fence): writes are refused with unavailable and inputs
  // that would change jobs are held as while the disk is full, until it holds again.
  bool fenced = false;
  uint64_t fenced_refused = 0;
  uint64_t stale_epoch_refused = 0;  // remote results and acks naming an epoch not reached
  bool bulk_scheduled = false;  // a bulk_atom is in the mailbox
  // Whether a reply in `pending` is one a client waits on now (anything but a JobReply: a
  // submit's accept, a cancel's answer), and whether `pending` lingers for one (Lingers), with
  // the number of the linger_atom that ends the wait (older ones are stale).
  bool pending_urgent = false;
  bool lingering = false;
  uint64_t linger_gen = 0;
  uint64_t last_batch_records = 0;  // of the last durable batch: is the journal busy?
  std::shared_ptr<spdlog::logger> job_log = spdlog::get("job");  // null in tests without one
  static inline const char* name = "jobnet.scheduler";
};

using Self = scheduler_actor::stateful_pointer<SchedulerState>;

// Whether inputs that change jobs (run outcomes, remote results, callback results, ticks that
// start runs) wait: the disk is full, or this node may not act for its shard.
bool Paused(const SchedulerState& s) { return s.storage_full || s.fenced; }

// The time for the message being handled. A stall of this loop (the process was stopped, or
// one message took very long) is told to the core first, before the message can judge anyone.
sched::Now Now(Self self) {
  auto& st = self->state;
  uint64_t stalled_ms = 0;
  sched::Now now = st.clock.Read(&stalled_ms);
  if (stalled_ms != 0) st.core->OnStall(stalled_ms, now);
  return now;
}

void ReplyError(Self self, sched::ReplyToken token, Code code, std::string message) {
  caf::anon_send(self->state.ingress, reply_atom_v, token,
                 protocol::Body{protocol::ErrorReply{code, std::move(message)}});
}

// One worker thread per slot id of the core's pool: started when a grow adds slots, stopped
// when a shrink's retiring slots have finished their runs (so stopping one waits for nothing:
// a slot gets a run only while busy).
void SyncWorkers(Self self) {
  auto& st = self->state;
  uint32_t want = st.core->slot_count();
  while (st.workers.size() < want)
    st.workers.push_back(std::make_unique<Worker>(caf::actor_cast<caf::actor>(self), st.outcomes));
  while (st.workers.size() > want) st.workers.pop_back();
}

// Starts runs, stops runs and talks to peers at once, without waiting for the journal: a worker
// marks the run it starts (storage/run_marks.hpp), so the attempt is counted after a crash even
// if the job's `running` record was not yet durable. Only replies wait for the fsync.
void Act(Self self, sched::Effects& fx) {
  auto& st = self->state;
  // Dispatches before cancels: a run started and cancelled in one batch must see its flag.
  for (auto& d : fx.dispatches) {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    st.cancel_flags[d.lease] = flag;
    uint32_t slot = d.slot;
    st.workers[slot]->Run(
        WorkItem{std::move(d), flag, st.config.handler_config, st.config.run_marks});
  }
  fx.dispatches.clear();
  for (uint64_t lease : fx.cancels) {
    auto it = st.cancel_flags.find(lease);
    if (it != st.cancel_flags.end()) it->second->store(true);
  }
  fx.cancels.clear();
  for (auto& p : fx.peer_sends) {
    if (auto* run = std::get_if<protocol::RemoteRun>(&p.body); run != nullptr && st.config.fence)
      run->epoch = static_cast<uint64_t>(st.config.fence->epoch());  // as it acts now
    if (st.config.peer_sink)
      st.config.peer_sink(p.link, protocol::Encode(protocol::Envelope{
                                      limits::kProtocolVersion, 0, std::move(p.body)}));
  }
  fx.peer_sends.clear();
}

// Hands all the replies to the ingress in one message.
void SendReplies(Self self, sched::Effects& fx) {
  if (fx.replies.empty()) return;
  caf::anon_send(self->state.ingress, reply_atom_v, std::move(fx.replies));
  fx.replies.clear();
}

// Sends the replies and callback POSTs of effects whose writes are durable (Pump already acted
// on the rest).
void Execute(Self self, sched::Effects& fx) {
  auto& st = self->state;
  JOBNET_CHECK(fx.dispatches.empty() && fx.cancels.empty() && fx.peer_sends.empty());
  SendReplies(self, fx);
  if (!fx.callback_sends.empty() && st.config.callback_sink)
    st.config.callback_sink(std::move(fx.callback_sends));
  fx.callback_sends.clear();
}

// Nothing in flight or pending may be reported as done: answers every waiting request with
// `code` instead.
void FailReplies(Self self, Code code, const std::string& message) {
  auto& st = self->state;
  auto fail = [&](sched::Effects& fx) {
    for (auto& r : fx.replies) ReplyError(self, r.token, code, message);
    fx.replies.clear();
  };
  if (st.inflight) fail(*st.inflight);
  fail(st.pending);
  st.pending_acks.clear();
  st.inflight_acks.clear();
}

void FailStop(Self self, const std::string& why) {
  auto& st = self->state;
  if (st.failed) return;
  st.failed = true;
  spdlog::critical("journal write failed, stopping the node to keep what is durable: {}", why);
  // A restart recovers from what the journal holds.
  FailReplies(self, Code::kStorage, "journal write failed: " + why);
  self->delayed_send(self, std::chrono::milliseconds(300), stop_atom_v);
}

// A full disk is not a broken one: RocksDB can resume once space returns, so the node keeps
// serving reads and tries again every kStorageFullRetryMs. Any other write error still stops it
// (after a failed fsync the state of the file is unknown: only a restart can trust it again).
void EnterStorageFull(Self self, const std::string& why) {
  auto& st = self->state;
  st.storage_full = true;
  spdlog::error("journal disk is full: refusing submit, cancel and retry with storage_full until "
                "space returns; status, wait, list and stats go on ({})",
                why);
  FailReplies(self, Code::kStorageFull,
              "the journal's disk is full, so this was not made durable; the node writes it "
              "when space returns: resubmit with the same key to be sure");
  self->delayed_send(self, std::chrono::milliseconds(limits::kStorageFullRetryMs), resume_atom_v);
}

void Flush(Self self, bool linger_over = false);
void ReleaseHeld(Self self);

std::string FencedMessage(const SchedulerState& s) {
  if (s.config.fence && s.config.fence->lost())
    return "this node's shard has been taken over by another node, which serves its jobs: "
           "not acknowledged; submit to another node, with the same idempotency key";
  return "this node does not hold its shard's etcd lease (epoch " +
         std::to_string(s.config.fence ? s.config.fence->epoch() : 0) +
         "): not acknowledged; retry later or on another node, with the same idempotency key";
}

// With etcd: enters or leaves the fenced state as the shard's fence says (docs/failover.md §5).
void CheckFence(Self self) {
  auto& s = self->state;
  if (!s.config.fence) return;
  const bool holds = s.config.fence->Holds(std::chrono::steady_clock::now(),
                                           std::chrono::milliseconds(limits::kFenceMarginMs));
  if (holds != s.fenced) return;
  if (!holds) {
    s.fenced = true;
    spdlog::error("fenced: this node's etcd lease may end within {} ms; submit, cancel and retry "
                  "are refused with unavailable, and no run starts or ends, until it holds its "
                  "shard again",
                  limits::kFenceMarginMs);
    return;
  }
  s.fenced = false;
  spdlog::warn("fence lifted: holding the shard at epoch {}", s.config.fence->epoch());
  if (!s.storage_full) ReleaseHeld(self);
}

// The in-flight batch is durable and its replies were handed on: where did its accepted
// submits' time go?
void ObserveAckStages(SchedulerState& s, const JournalAck& ack) {
  const uint64_t handed_us = base::SteadyUs();
  auto seconds = [](uint64_t from_us, uint64_t to_us) {
    return to_us > from_us ? static_cast<double>(to_us - from_us) / 1e6 : 0.0;
  };
  const uint64_t write_us = ack.end_us - ack.start_us;
  for (const auto& [n, handled_us] : s.inflight_acks) {
    protocol::Observe(&s.ack_stages[protocol::kAckBatchWaitSeconds],
                      seconds(handled_us, s.inflight_sent_us), n);
    protocol::Observe(&s.ack_stages[protocol::kAckWriterWaitSeconds],
                      seconds(s.inflight_sent_us, ack.start_us), n);
    protocol::Observe(&s.ack_stages[protocol::kAckEncodeSeconds],
                      seconds(ack.rocks_us, write_us), n);
    protocol::Observe(&s.ack_stages[protocol::kAckSyncSeconds], seconds(0, ack.rocks_us), n);
    protocol::Observe(&s.ack_stages[protocol::kAckReturnSeconds], seconds(ack.end_us, handed_us),
                      n);
  }
  s.inflight_acks.clear();
}

// The in-flight batch is durable: carry out its effects and send the next one.
void BatchDurable(Self self, const JournalAck& ack) {
  auto& s = self->state;
  s.batches++;
  s.records += ack.records;
  s.sync_us += ack.sync_us;
  s.batch_records_max = std::max(s.batch_records_max, ack.records);
  s.last_batch_records = ack.records;
  protocol::Observe(&s.sync_seconds, static_cast<double>(ack.sync_us) / 1e6);
  protocol::Observe(&s.batch_records, static_cast<double>(ack.records));
  sched::Effects done = std::move(*s.inflight);
  s.inflight.reset();
  CheckFence(self);
  if (s.fenced) {
    // Durable here, but another node may hold the shard by the time the answer arrives, and
    // not have these writes: nothing they decided is told (stats tell nothing of a job's fate).
    std::vector<sched::Reply> kept;
    for (auto& r : done.replies) {
      if (std::holds_alternative<protocol::StatsReply>(r.body)) {
        kept.push_back(std::move(r));
        continue;
      }
      s.fenced_refused++;
      ReplyError(self, r.token, Code::kUnavailable, FencedMessage(s));
    }
    done.replies = std::move(kept);
  }
  Execute(self, done);
  ObserveAckStages(s, ack);
  Flush(self);
}

// A batch that nobody waits on urgently (run ends with no one waiting, or only `wait` and
// `status` answers) may wait up to result_linger_us for one that somebody does (a submit, a
// cancel) to share its fsync. Without this each run's end took an fsync of its own, and a submit
// arriving meanwhile waited behind it: about two fsyncs per job at a moderate rate, and the
// submit's ack paid for both (docs/journal.md §5). A backlog of kResultLingerRecordsMax records
// goes at once, and nothing lingers while the journal is busy (its last batch held as many), so
// a stream of run ends is not slowed.
bool Lingers(const SchedulerState& st) {
  return st.config.result_linger_us > 0 && !st.pending_urgent &&
         st.last_batch_records < limits::kResultLingerRecordsMax &&
         st.pending.writes.size() + st.pending.deletes.size() < limits::kResultLingerRecordsMax;
}

// Sends what is pending to the journal writer, unless a batch is in flight (its fsync ends with
// the next Flush) or the pending batch lingers (linger_over: its time is up).
void Flush(Self self, bool linger_over) {
  auto& st = self->state;
  if (st.inflight || st.failed) return;
  if (!st.pending.has_writes()) {
    Execute(self, st.pending);
    st.pending = sched::Effects{};
    st.pending_acks.clear();  // answered without waiting for the journal: no ack stages
    st.pending_urgent = st.lingering = false;
    return;
  }
  if (!linger_over && Lingers(st)) {
    if (!st.lingering) {
      st.lingering = true;
      self->delayed_send(self, std::chrono::microseconds(st.config.result_linger_us),
                         linger_atom_v, ++st.linger_gen);
    }
    return;
  }
  st.lingering = false;
  // A backlog larger than one batch goes in several; the replies and dispatches wait for the
  // last of them, so nothing is reported before everything before it is durable.
  size_t n = 0;
  uint64_t bytes = 0;
  auto& w = st.pending.writes;
  while (n < w.size() && n < limits::kJournalBatchRecordsMax &&
         (n == 0 || bytes < limits::kJournalBatchBytesMax)) {
    bool first = !w[n].events.empty() && w[n].events.front().first == 0;  // carries the payload
    bytes += (first ? w[n].job.spec.payload.size() : 0) + w[n].job.result().size();
    for (const auto& [id, result] : w[n].job.rare.get().parent_results) bytes += result->size();
    ++n;
  }
  // A flow is journaled whole (docs/protocol.md §23): a cut never falls between two of its new
  // jobs (consecutive writes, as their seqs are). Before the flow if something precedes it in
  // this backlog, else after it: a flow is at most kFlowJobsMax jobs of one request frame.
  auto same_flow = [&w](size_t a, size_t b) {
    auto new_in_flow = [](const protocol::JobWrite& x) {
      return !x.job.spec.flow().empty() && !x.events.empty() && x.events.front().first == 0;
    };
    return new_in_flow(w[a]) && new_in_flow(w[b]) && w[a].job.spec.flow() == w[b].job.spec.flow();
  };
  if (n > 0 && n < w.size() && same_flow(n - 1, n)) {
    size_t start = n - 1;
    while (start > 0 && same_flow(start - 1, start)) --start;
    if (start > 0) {
      n = start;
    } else {
      while (n < w.size() && same_flow(n - 1, n)) ++n;
    }
  }
  JournalBatch batch;
  if (n == w.size()) {
    batch = JournalBatch{std::move(w), std::move(st.pending.deletes), st.pending.next_seq,
                         PoolSetting{st.pending.workers, st.pending.configured_workers},
                         std::move(st.pending.schedule_writes), std::move(st.pending.queue_writes)};
    st.inflight = std::move(st.pending);
    st.pending = sched::Effects{};
    st.inflight_acks = std::move(st.pending_acks);
    st.pending_acks.clear();
    st.pending_urgent = false;
  } else {
    batch.writes.assign(std::make_move_iterator(w.begin()), std::make_move_iterator(w.begin() + n));
    w.erase(w.begin(), w.begin() + n);
    st.inflight = sched::Effects{};  // nothing to carry out yet
  }
  st.inflight_sent_us = base::SteadyUs();
  self->request(st.journal, caf::infinite, write_atom_v, std::move(batch))
      .then(
          [=](const JournalAck& ack) {
            if (ack.code == Code::kStorageFull) return EnterStorageFull(self, ack.message);
            if (ack.code != Code::kOk) return FailStop(self, ack.message);
            BatchDurable(self, ack);
          },
          [=](caf::error& err) { FailStop(self, self->system().render(err)); });
}

// One debug line per job state change on the "job" logger (node/logging.hpp formats
// "ID\tSTATE\tATTEMPT\tTEXT" as text or as JSON fields), so a job can be followed by its id.
void LogJobEvents(spdlog::logger* log, const std::vector<protocol::JobWrite>& writes) {
  if (log == nullptr || !log->should_log(spdlog::level::debug)) return;
  for (const auto& w : writes)
    for (const auto& [n, ev] : w.events)
      log->debug("{}\t{}\t{}\t{}{}", w.job.id, protocol::JobStateName(ev.state), ev.attempt,
                 ev.message,
                 ev.error.empty() || ev.message.find(ev.error) != std::string::npos
                     ? std::string()
                     : ": " + ev.error);
}

// Collects the state machine's effects and moves them along.
void Pump(Self self) {
  auto& st = self->state;
  sched::Effects fx = st.core->TakeEffects();
  LogJobEvents(st.job_log.get(), fx.writes);
  for (const auto& note : fx.notes) spdlog::info("{}", note);
  fx.notes.clear();
  if (st.config.liveness_sink)
    for (const auto& l : fx.liveness) st.config.liveness_sink(l.link, l.node, l.alive);
  fx.liveness.clear();
  if (st.failed) {
    for (auto& r : fx.replies)
      ReplyError(self, r.token, Code::kStorage, "journal failed; node is stopping");
    return;
  }
  SyncWorkers(self);  // before Act: a dispatch may go to a slot a grow just added
  Act(self, fx);
  if (st.storage_full) {
    // Writes are refused before they reach the state machine, so these are reads (and wait
    // timeouts): answer them now rather than behind a batch that may wait for hours.
    SendReplies(self, fx);
  }
  uint32_t accepted = 0;
  for (const auto& r : fx.replies) {
    accepted += std::holds_alternative<protocol::AcceptedReply>(r.body) ? 1 : 0;
    st.pending_urgent = st.pending_urgent || !std::holds_alternative<protocol::JobReply>(r.body);
  }
  if (accepted > 0) st.pending_acks.emplace_back(accepted, base::SteadyUs());
  if (!fx.empty()) st.pending.Append(std::move(fx));
  if (!st.pending.empty()) Flush(self);
  // A bulk action goes on behind the messages that are already waiting, one chunk per turn.
  if (st.core->HasBulkWork() && !st.bulk_scheduled) {
    st.bulk_scheduled = true;
    self->send(self, bulk_atom_v);
  }
}

// The scheduler holds the node's state: if it ever throws (out of memory, a broken invariant),
// carrying on would serve wrong answers. Stop; the journal holds what was durable.
void StopOnException(Self self) {
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& e) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    spdlog::critical("scheduler failed ({}); exiting so a restart recovers from the journal", what);
    std::_Exit(exit_code::kFailStop);
  });
}

// Whether a remote result or ack names an epoch this node has not reached: no run of its was
// sent at it (counted). Older epochs are this node's own (a node never holds a shard again
// once another node has won it, docs/failover.md §7): such results are judged by their lease
// and incarnation, as those without an epoch (no etcd, an older peer).
bool StaleEpoch(SchedulerState& s, uint64_t epoch) {
  if (epoch == 0 || !s.config.fence ||
      epoch <= static_cast<uint64_t>(s.config.fence->epoch()))
    return false;
  s.stale_epoch_refused++;
  return true;
}

// A one-way node-to-node message (token 0).
void OnPeerMessage(Self self, protocol::Body& body, sched::Now now) {
  auto& core = *self->state.core;
  bool full = Paused(self->state);
  if (auto* hb = std::get_if<protocol::Heartbeat>(&body)) {
    core.OnHeartbeat(*hb, now);
  } else if (auto* run = std::get_if<protocol::RemoteRun>(&body)) {
    // Not taken while full: the owner's lease runs out and it runs the job elsewhere,
    // as for a run lost on the way.
    if (!full) core.AcceptRemoteRun(*run, now);
  } else if (auto* res = std::get_if<protocol::RemoteResult>(&body)) {
    if (StaleEpoch(self->state, res->epoch)) return;
    if (full) {
      self->state.held_results.push_back(std::move(*res));
    } else {
      core.OnRemoteResult(*res, now);
    }
  } else if (auto* cancel = std::get_if<protocol::RemoteCancel>(&body)) {
    // Taken even while full: it only sets a cancel flag.
    core.OnRemoteCancel(*cancel);
  } else if (auto* ack = std::get_if<protocol::RemoteAck>(&body)) {
    if (StaleEpoch(self->state, ack->epoch)) return;
    // Taken even while full: it changes no job, and a dropped ack would later take
    // back (and re-run) a run that is going fine.
    core.OnRemoteAck(*ack, now);
  } else if (auto* sync = std::get_if<protocol::QueueSync>(&body)) {
    // Taken even while full: it changes no job; its record waits with the other
    // pending writes until the disk has space.
    core.OnQueueSync(*sync, now);
  } else if (auto* watch = std::get_if<protocol::ParentWatch>(&body)) {
    // Taken even while full: it changes no job (answers go out, watches are kept in memory).
    core.OnParentWatch(*watch, now);
  } else if (auto* done = std::get_if<protocol::ParentDone>(&body)) {
    // Taken even while full: the children's changes wait with the other pending writes.
    core.OnParentDone(*done, now);
  }
}

// `stats`: the core's, with the journal's and the node's counters.
void AnswerStats(Self self, uint64_t token) {
  auto& s = self->state;
  protocol::StatsReply r = s.core->Stats();
  r.incarnation = s.config.incarnation;
  r.uptime_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - s.started)
          .count());
  auto set = [&r](protocol::Counter c, uint64_t v) {
    r.counters[protocol::CounterName(c)] = v;
  };
  set(protocol::Counter::kJournalBatches, s.batches);
  set(protocol::Counter::kJournalRecords, s.records);
  set(protocol::Counter::kJournalBatchRecordsMax, s.batch_records_max);
  set(protocol::Counter::kJournalSyncUsAvg, s.batches ? s.sync_us / s.batches : 0);
  set(protocol::Counter::kJournalFull, s.storage_full ? 1 : 0);
  set(protocol::Counter::kStorageFullRefused, s.storage_full_refused);
  set(protocol::Counter::kFenced, s.fenced ? 1 : 0);
  set(protocol::Counter::kFencedRefused, s.fenced_refused);
  set(protocol::Counter::kStaleEpochRefused, s.stale_epoch_refused);
  set(protocol::Counter::kShardEpoch,
      s.config.fence ? static_cast<uint64_t>(s.config.fence->epoch()) : 0);
  if (s.config.extra_counters)
    for (const auto& [c, v] : s.config.extra_counters()) set(c, v);
  r.histograms[protocol::kJournalSyncSeconds] = s.sync_seconds;
  r.histograms[protocol::kJournalBatchRecords] = s.batch_records;
  for (const auto& [name, h] : s.ack_stages) r.histograms[name] = h;
  if (s.config.extra_histograms)
    for (auto& [name, h] : s.config.extra_histograms()) r.histograms[name] = std::move(h);
  if (s.config.denied_by_principal) r.denied = s.config.denied_by_principal();
  r.endpoint = s.config.bound_endpoint;
  r.peers = s.core->Peers();
  if (s.failed)
    return ReplyError(self, token, Code::kStorage, "journal failed; node is stopping");
  // Not a state change: it follows whatever is being made durable right now;
  // while the disk is full, nothing is, and it is answered at once.
  if (s.storage_full)
    return caf::anon_send(s.ingress, reply_atom_v, token,
                          protocol::Body{std::move(r)});
  self->state.pending.replies.push_back(sched::Reply{token, std::move(r)});
}

// A client's request: to the core, or refused while the disk is full if it writes.
void OnClientRequest(Self self, uint64_t token, protocol::Body& body, sched::Now now) {
  auto& core = *self->state.core;
  std::visit(
      [&](auto& req) {
        using T = std::decay_t<decltype(req)>;
        constexpr bool kWrites = std::is_same_v<T, protocol::SubmitRequest> ||
                                 std::is_same_v<T, protocol::SubmitBatchRequest> ||
                                 std::is_same_v<T, protocol::SubmitFlowRequest> ||
                                 std::is_same_v<T, protocol::BulkRequest> ||
                                 std::is_same_v<T, protocol::CancelRequest> ||
                                 std::is_same_v<T, protocol::RetryRequest> ||
                                 std::is_same_v<T, protocol::WorkersSetRequest> ||
                                 std::is_same_v<T, protocol::WorkersAutoscaleRequest> ||
                                 std::is_same_v<T, protocol::ScheduleAddRequest> ||
                                 std::is_same_v<T, protocol::ScheduleChangeRequest> ||
                                 std::is_same_v<T, protocol::QueueSetRequest> ||
                                 // a poll may lease jobs; results end runs; an
                                 // unregister re-queues them: all journal writes
                                 std::is_same_v<T, protocol::WorkerPollRequest> ||
                                 std::is_same_v<T, protocol::WorkerCompleteRequest> ||
                                 std::is_same_v<T, protocol::WorkerFailRequest> ||
                                 std::is_same_v<T, protocol::WorkerUnregisterRequest>;
        if (kWrites && self->state.fenced) {
          self->state.fenced_refused++;
          return ReplyError(self, token, Code::kUnavailable, FencedMessage(self->state));
        }
        if (kWrites && self->state.storage_full) {
          self->state.storage_full_refused++;
          return ReplyError(self, token, Code::kStorageFull,
                            "the journal's disk is full: submit, cancel, retry and "
                            "workers set are refused until space returns (status, wait, "
                            "list, stats and workers still work)");
        }
        if constexpr (std::is_same_v<T, protocol::SubmitRequest>) {
          core.Submit(token, std::move(req.spec), now);
        } else if constexpr (std::is_same_v<T, protocol::SubmitBatchRequest>) {
          core.SubmitBatch(token, std::move(req.specs), now);
        } else if constexpr (std::is_same_v<T, protocol::SubmitFlowRequest>) {
          core.SubmitFlow(token, std::move(req), now);
        } else if constexpr (std::is_same_v<T, protocol::BulkRequest>) {
          core.Bulk(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::TypesRequest>) {
          // Fixed at start: answered at once, not behind the journal.
          caf::anon_send(self->state.ingress, reply_atom_v, token,
                         protocol::Body{protocol::TypeListReply{
                             self->state.config.handler_types}});
        } else if constexpr (std::is_same_v<T, protocol::StatusRequest>) {
          core.StatusOf(token, req.id, req.history);
        } else if constexpr (std::is_same_v<T, protocol::WaitRequest>) {
          core.Wait(token, req.id, req.timeout_ms, now);
        } else if constexpr (std::is_same_v<T, protocol::CancelRequest>) {
          core.Cancel(token, req.id, now);
        } else if constexpr (std::is_same_v<T, protocol::RetryRequest>) {
          core.Retry(token, req.id, now);
        } else if constexpr (std::is_same_v<T, protocol::ListRequest>) {
          core.List(token, req);
        } else if constexpr (std::is_same_v<T, protocol::WorkersRequest>) {
          core.Workers(token);
        } else if constexpr (std::is_same_v<T, protocol::WorkersSetRequest>) {
          core.SetWorkers(token, req.workers, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkersAutoscaleRequest>) {
          core.SetAutoscale(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::ScheduleAddRequest>) {
          core.AddSchedule(token, std::move(req.schedule), now);
        } else if constexpr (std::is_same_v<T, protocol::ScheduleListRequest>) {
          core.ListSchedules(token);  // the peers' part is gathered by the transport
        } else if constexpr (std::is_same_v<T, protocol::ScheduleChangeRequest>) {
          core.ChangeSchedule(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::QueueSetRequest>) {
          core.SetQueue(token, req.update, now);
        } else if constexpr (std::is_same_v<T, protocol::QueuesRequest>) {
          core.ListQueues(token, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkerRegisterRequest>) {
          core.RegisterWorker(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkerPollRequest>) {
          core.PollWorker(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkerHeartbeatRequest>) {
          core.HeartbeatWorker(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkerProgressRequest>) {
          core.WorkerProgress(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkerCompleteRequest>) {
          core.WorkerComplete(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkerFailRequest>) {
          core.WorkerFail(token, req, now);
        } else if constexpr (std::is_same_v<T, protocol::WorkerUnregisterRequest>) {
          core.UnregisterWorker(token, req.worker, now);
        } else if constexpr (std::is_same_v<T, protocol::StatsRequest>) {
          AnswerStats(self, token);
        } else {
          ReplyError(self, token, Code::kInvalidArgument,
                     std::string("a node does not accept '") +
                         protocol::KindName(protocol::KindOf(protocol::Body{req})) +
                         "' messages from clients");
        }
      },
      body);
}

// Takes what waited while the node was paused (Paused): run outcomes, remote results, callback
// results, in that order.
void ReleaseHeld(Self self) {
  auto& s = self->state;
  const sched::Now now = Now(self);
  for (auto& o : s.held_outcomes) s.core->Complete(o, now);
  for (auto& r : s.held_results) s.core->OnRemoteResult(r, now);
  for (auto& r : s.held_callbacks) s.core->OnCallbackResult(r, now);
  s.held_outcomes.clear();
  s.held_results.clear();
  s.held_callbacks.clear();
  Pump(self);
}

// Asks the journal whether the disk has space again; if so, the held batch is durable and what
// was held meanwhile is taken.
void TryResume(Self self) {
  self->request(self->state.journal, caf::infinite, resume_atom_v)
      .then(
          [=](const JournalAck& ack) {
            auto& s = self->state;
            if (ack.code == Code::kStorageFull) {
              self->delayed_send(self, std::chrono::milliseconds(limits::kStorageFullRetryMs),
                                 resume_atom_v);
              return;
            }
            if (ack.code != Code::kOk) return FailStop(self, ack.message);
            spdlog::warn("journal disk has space again: the held batch is durable, writes "
                         "resume");
            s.storage_full = false;
            BatchDurable(self, ack);
            if (!s.fenced) ReleaseHeld(self);
          },
          [=](caf::error& err) { FailStop(self, self->system().render(err)); });
}

scheduler_actor::behavior_type SchedulerBehavior(Self self,
                                                 std::shared_ptr<sched::Scheduler> core,
                                                 uint32_t workers, journal_writer_actor journal,
                                                 SchedulerConfig config) {
  auto& st = self->state;
  StopOnException(self);
  st.core = std::move(core);
  st.journal = journal;
  st.config = std::move(config);
  JOBNET_CHECK(workers == st.core->slot_count());
  SyncWorkers(self);
  self->delayed_send(self, std::chrono::milliseconds(st.config.tick_ms), tick_atom_v);
  if (st.config.peer_count > 0) self->send(self, beat_atom_v);
  return {
      [=](connect_atom, caf::actor ingress) {
        self->state.ingress = std::move(ingress);
        Pump(self);  // recovery effects (re-queued runs) and their dispatches
      },
      [=](request_atom, std::vector<protocol::Inbound>& requests) {
        // One Pump for the whole group: its effects go to the journal and the workers together.
        const sched::Now now = Now(self);
        CheckFence(self);
        const uint64_t us = base::SteadyUs();
        auto& receive = self->state.ack_stages[protocol::kAckReceiveSeconds];
        for (auto& in : requests) {
          if (in.route == 0) {
            OnPeerMessage(self, in.env.body, now);
            continue;
          }
          if (std::holds_alternative<protocol::SubmitRequest>(in.env.body))
            protocol::Observe(&receive, us > in.read_us
                                            ? static_cast<double>(us - in.read_us) / 1e6
                                            : 0.0);
          OnClientRequest(self, in.route, in.env.body, now);
        }
        Pump(self);
      },
      [=](done_atom) {
        // All the outcomes left by now, in one step: their records and the slots' next runs
        // go out together.
        auto& s = self->state;
        std::vector<sched::Outcome> outcomes = s.outcomes->TakeAll();
        for (auto& o : outcomes) s.cancel_flags.erase(o.lease);
        if (Paused(s)) {
          for (auto& o : outcomes) s.held_outcomes.push_back(std::move(o));
          return;
        }
        const sched::Now now = Now(self);
        for (const auto& o : outcomes) s.core->Complete(o, now);
        Pump(self);
      },
      [=](callback_atom, sched::CallbackResult& r) {
        // Held while the disk is full, like run outcomes: the delivery's record waits with them.
        if (Paused(self->state)) return self->state.held_callbacks.push_back(std::move(r));
        self->state.core->OnCallbackResult(r, Now(self));
        Pump(self);
      },
      [=](progress_atom, uint64_t seq, uint64_t lease, uint32_t pct, std::string& message) {
        // In memory only: nothing to journal, and no reply.
        self->state.core->Progress(seq, lease, pct, std::move(message), Now(self));
      },
      [=](tick_atom) {
        // While the disk is full only waits time out: promoting delayed jobs, expiring leases
        // (of runs whose outcomes are held) or purging would pile up writes nobody can make.
        CheckFence(self);
        if (Paused(self->state)) {
          self->state.core->ExpireWaiters(Now(self));
        } else {
          auto& st = self->state;
          const sched::Now now = Now(self);
          if (now.mono_ms - st.cpu_read_at_ms >= 500) {
            st.core->SetCpuIdle(st.cpu.Sample());
            st.cpu_read_at_ms = now.mono_ms;
          }
          st.core->Tick(now);
        }
        Pump(self);
        self->delayed_send(self, std::chrono::milliseconds(self->state.config.tick_ms),
                           tick_atom_v);
      },
      [=](beat_atom) {
        auto& s = self->state;
        std::string frame = protocol::Encode(protocol::Envelope{
            limits::kProtocolVersion, 0, s.core->MakeHeartbeat(s.config.endpoint)});
        for (uint32_t i = 0; i < s.config.peer_count; ++i) s.config.peer_sink(i, frame);
        self->delayed_send(self, std::chrono::milliseconds(s.config.heartbeat_ms), beat_atom_v);
      },
      [=](peer_atom, uint32_t link, std::string& endpoint) {
        // A member found in etcd: links are only added, each the next index, in the order the
        // transport added them (node.cpp announces both under one lock).
        auto& s = self->state;
        if (link != s.core->peer_count()) {
          spdlog::error("peer link {} to {} announced as link {}: not added", s.core->peer_count(),
                        endpoint, link);
          return;
        }
        s.core->AddPeer(std::move(endpoint));
        if (s.config.peer_count++ == 0) self->send(self, beat_atom_v);  // heartbeats start
      },
      [=](resume_atom) { TryResume(self); },
      [=](linger_atom, uint64_t gen) {
        if (self->state.lingering && gen == self->state.linger_gen) Flush(self, true);
      },
      [=](bulk_atom) {
        auto& s = self->state;
        s.bulk_scheduled = false;
        if (s.failed) return;
        if (Paused(s)) {  // its writes would only pile up: go on when the node may write
          s.bulk_scheduled = true;
          self->delayed_send(self, std::chrono::milliseconds(limits::kStorageFullRetryMs),
                             bulk_atom_v);
          return;
        }
        s.core->ContinueBulk(Now(self));
        Pump(self);
      },
      [=](drain_atom) -> DrainState {
        auto& s = self->state;
        s.core->Drain();
        Pump(self);
        // Runs leased to external workers are waited for like the node's own: their results
        // are still taken while draining.
        return DrainState{s.core->busy_slots() + s.core->external_runs(),
                          !s.inflight && s.pending.empty()};
      },
      [=](stop_atom) {
        auto& s = self->state;
        if (s.failed) {
          spdlog::critical("exiting after journal failure");
          std::_Exit(exit_code::kFailStop);
        }
        for (auto& [lease, flag] : s.cancel_flags) flag->store(true);
        // Waits for the runs in progress, which their cancel flags stop.
        s.workers.clear();
        self->send_exit(s.journal, caf::exit_reason::user_shutdown);
        self->quit();
      },
  };
}

}  // namespace

scheduler_actor SpawnScheduler(caf::actor_system& sys, std::unique_ptr<sched::Scheduler> core,
                               uint32_t workers, journal_writer_actor journal,
                               SchedulerConfig config) {
  return sys.spawn(SchedulerBehavior, std::shared_ptr<sched::Scheduler>(std::move(core)), workers, std::move(journal), std::move(config));
}

}  // namespace jobnet::actors
