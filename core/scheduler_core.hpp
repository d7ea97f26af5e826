// The scheduler's state machine, without CAF: queues, priorities, delays, leases, retries,
// waiters, idempotency and retention. It is driven by calls that carry the current time and
// answers with Effects (journal writes, replies, dispatches) for its owner to carry out in order:
// first make the writes durable, then send the replies and dispatches. Unit tests drive it with a
// fake clock; the scheduler actor drives it with the real one.
// It keeps the jobs; concerns with state of their own are parts it asks and applies: QueueSet
// (ready jobs), PeerLeases (peers, runs on peers, hosted runs), ExternalWorkers (worker
// processes). Its definitions: scheduler_core.cpp, and by concern scheduler_peers.cpp,
// scheduler_workers.cpp, scheduler_queues.cpp and scheduler_callbacks.cpp.
#ifndef JOBNET_CORE_SCHEDULER_CORE_HPP_
#define JOBNET_CORE_SCHEDULER_CORE_HPP_

#include <array>
#include <deque>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/callbacks.hpp"
#include "core/clock.hpp"
#include "core/due_heap.hpp"
#include "core/effects.hpp"
#include "core/external_workers.hpp"
#include "core/job_table.hpp"
#include "core/peer_leases.hpp"
#include "core/blob_refs.hpp"
#include "core/worker_pool.hpp"
#include "core/autoscaler.hpp"
#include "core/schedules.hpp"
#include "core/queue_set.hpp"
#include "jobnet/status.h"
#include "protocol/counters.hpp"
#include "protocol/histograms.hpp"
#include "protocol/job_record.hpp"
#include "protocol/messages.hpp"

namespace jobnet::sched {

using protocol::Counter;
using protocol::CounterValues;
using protocol::Job;
using protocol::JobEvent;
using protocol::JobState;
using protocol::JobWrite;
using protocol::JobRare;

// The job state changes the scheduler makes (docs/architecture.md §5), as [from][to]. SetState
// fail-stops (JOBNET_CHECK) on any other: a job moving outside this table is our bug, and carrying
// on would journal a history no reader can explain.
using TransitionTable = std::array<std::array<bool, protocol::kJobStateCount>, protocol::kJobStateCount>;
inline constexpr TransitionTable kLegalTransitions = [] {
  TransitionTable t{};
  auto allow = [&t](JobState from, JobState to) {
    t[static_cast<int>(from)][static_cast<int>(to)] = true;
  };
  allow(JobState::kQueued, JobState::kRunning);     // dispatch
  allow(JobState::kDelayed, JobState::kQueued);     // due
  allow(JobState::kRunning, JobState::kSucceeded);  // result
  allow(JobState::kRunning, JobState::kQueued);     // failed or timed out (no backoff),
                                                    // interrupted, or rejected by a peer
  allow(JobState::kRunning, JobState::kDelayed);    // failed or timed out, with backoff
  allow(JobState::kRunning, JobState::kDead);       // the last attempt failed or timed out
  // A success from the run on a peer that the journal names, dispatched before this node
  // restarted (cluster.md §3), ends the job while it waits to run again.
  allow(JobState::kQueued, JobState::kSucceeded);
  for (JobState s : {JobState::kQueued, JobState::kDelayed, JobState::kRunning})
    allow(s, JobState::kCancelled);  // cancel
  for (JobState s : {JobState::kDead, JobState::kFailed, JobState::kCancelled})
    allow(s, JobState::kQueued);  // retry
  // Dependencies: every parent finished (queued, or delayed by its run_at), or one failed.
  allow(JobState::kWaiting, JobState::kQueued);
  allow(JobState::kWaiting, JobState::kDelayed);
  allow(JobState::kWaiting, JobState::kCancelled);
  return t;
}();
constexpr bool IsLegalTransition(JobState from, JobState to) {
  return kLegalTransitions[static_cast<int>(from)][static_cast<int>(to)];
}
// A job's first state, when it is submitted.
constexpr bool IsLegalInitialState(JobState s) {
  return s == JobState::kQueued || s == JobState::kDelayed || s == JobState::kWaiting;
}
static_assert(!IsLegalTransition(JobState::kSucceeded, JobState::kQueued),
              "a succeeded job has dropped its payload: it can never run again");


struct SchedulerOptions {
  std::string node_id = "n1";
  uint32_t workers = 4;                       // worker slots (1..kWorkersMax)
  // The configured pool size (--workers or the config file), journaled beside a `workers set`
  // size (docs/operations.md: which wins at start). 0: `workers`.
  uint32_t configured_workers = 0;
  // Elastic workers: the pool follows the load between autoscale.min and .max (min 0: off).
  AutoscaleSettings autoscale;
  uint64_t retention_ms = 24ull * 3600 * 1000;  // final jobs are purged after this
  uint64_t final_jobs_max = 500000;           // and when more than this many are kept
  uint64_t jobs_live_max = limits::kJobsLiveMax;
  // Payloads and results held in memory. Over it, the oldest final jobs are purged (as by
  // retention); a submit that would still go past it gets kOverloaded. Succeeded jobs release
  // their payloads.
  uint64_t held_bytes_max = 2ull << 30;
  uint32_t waiters_max = limits::kWaitersMax;
  uint32_t waiters_per_job_max = limits::kWaitersPerJobMax;
  uint64_t seed = 0x6a6f626e6574ull;          // backoff jitter
  // Job types this node's own slots can run (its handlers); empty = any. Types served by a
  // registered external worker are accepted at submit too (docs/architecture.md "External
  // workers").
  std::set<std::string> known_types;
  // Checks a submitted payload against what its type's handler accepts (node.cpp passes the
  // handler registry's check in; the core cannot include handlers/). OK for a type it does not
  // know: known_types decides about those. Unset = every payload passes.
  std::function<jobnet::Status(const std::string& type, const std::string& payload)> check_payload;
  // Reads a journaled job's payload back (node.cpp passes the journal's in; the core cannot
  // include storage/). Set, a job whose delay ends more than payload_drop_ahead_ms after its
  // submit (or the restart) does not keep its payload in memory once journaled: it is read back
  // when the job is about to run. Unset: every payload stays in memory.
  std::function<jobnet::Result<std::string>(uint64_t seq)> load_payload;
  // A minute: a job due sooner would cost a read soon after, for little memory held briefly.
  uint64_t payload_drop_ahead_ms = 60'000;
  uint64_t incarnation = 0;                   // this start of the node (journal)
  std::vector<std::string> peers;             // peer link endpoints, by link index
  uint64_t failure_timeout_ms = limits::kFailureTimeoutMsDefault;  // a silent peer is dead
  uint64_t remote_lease_slack_ms = limits::kRemoteLeaseSlackMsDefault;  // for a run on a peer
  // A run on a peer that announces acks, unacknowledged this long, is taken back (no attempt
  // spent) and the peer suspended (docs/cluster.md §3).
  uint64_t remote_ack_ms = limits::kRemoteAckMsDefault;
  // How long the `running` record of a run on a local slot may wait for the run's end, to go
  // to the journal in one write with it (limits.h kRunningWriteDelayMsDefault). Only for a
  // node whose workers keep run marks (storage/run_marks.hpp): they count the attempt if the
  // node dies first. 0: journaled with the batch that started the run.
  uint64_t running_write_delay_ms = 0;
  // Callbacks: where they may go, how often they are tried (core/callbacks.hpp).
  CallbackOptions callbacks;
  // Blob references of this node's jobs (core/blob_refs.hpp), kept up to date here for the blob
  // sweep. A peer that runs one of these jobs fetches its blobs from this node (docs/cluster.md
  // "Blobs"). Null: no blob store, nothing tracked.
  std::shared_ptr<BlobRefs> blob_refs;
};

// What a worker reports after running a job.
struct Outcome {
  uint32_t slot = 0;
  uint64_t lease = 0;
  uint64_t seq = 0;
  bool ok = false;
  std::string result;  // raw msgpack when ok
  std::string error;   // when !ok
  // The handler gave up because its own deadline passed (the worker's steady clock). The
  // scheduler also counts a timeout without it when the outcome arrives past the lease deadline.
  bool timed_out = false;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);

  // Rebuilds state from journaled jobs: RecoverJob for each (any order; the node streams them
  // out of the journal, so a million jobs are never held twice), then FinishRecovery once.
  // Jobs that were running are failed with "interrupted by restart" and, in their old enqueue
  // order, re-queued behind the waiting jobs (or dead-lettered if that was the last attempt).
  // `next_seq` is the journaled sequence counter (0 = none). `now_ms` is the time of the restart:
  // recovered ready jobs count their age (priority aging) from it.
  void RecoverJob(Job job, Now now);
  // A journaled queue setting; before FinishRecovery.
  void RecoverQueue(const protocol::QueueSettings& settings, Now now);
  void FinishRecovery(uint64_t next_seq, Now now);
  // Both steps, for jobs already in memory (tests).
  void Recover(std::vector<Job> jobs, uint64_t next_seq, Now now);
  // A journaled schedule, before FinishRecovery. kCorruption if it could not have been added.
  // Its ticks missed while the node was down fire once, at the first Tick.
  Status RecoverSchedule(protocol::Schedule s, Now now);

  void Submit(ReplyToken t, protocol::JobSpec spec, Now now);
  // Up to limits::kBatchSpecsMax specs, each admitted or refused as a single submit would be,
  // answered together in one BatchAcceptedReply (in spec order); their writes join one group
  // commit.
  void SubmitBatch(ReplyToken t, std::vector<protocol::BatchSpec> specs, Now now);
  // A whole graph (docs/protocol.md §23): every job is checked first, then all are made in
  // parent-before-child order with consecutive ids, in one journal write; or none is, and the
  // error names the job. Answers FlowAcceptedReply.
  void SubmitFlow(ReplyToken t, protocol::SubmitFlowRequest req, Now now);
  // Starts a bulk retry or cancel over one queue. It changes at most kBulkJobsPerTurnMax jobs
  // per call of ContinueBulk (the owner calls it again while HasBulkWork()), and answers with a
  // BulkReply once it has been through every job.
  void Bulk(ReplyToken t, const protocol::BulkRequest& req, Now now);
  bool HasBulkWork() const { return !bulk_ops_.empty(); }
  void ContinueBulk(Now now);
  void StatusOf(ReplyToken t, const std::string& id, bool history = false);
  void Wait(ReplyToken t, const std::string& id, uint64_t timeout_ms, Now now);
  void Cancel(ReplyToken t, const std::string& id, Now now);
  void Retry(ReplyToken t, const std::string& id, Now now);
  void List(ReplyToken t, const protocol::ListRequest& req);
  // Schedules (recurring jobs; core/schedules.hpp says when they fire). Each answers with a
  // ScheduleListReply: the new schedule, this node's schedules, or the changed (removed) one.
  void AddSchedule(ReplyToken t, protocol::ScheduleSpec spec, Now now);
  void ListSchedules(ReplyToken t);
  void ChangeSchedule(ReplyToken t, const protocol::ScheduleChangeRequest& req, Now now);
  protocol::StatsReply Stats() const;
  // `jobnet workers`: each slot, what it runs and since when.
  void Workers(ReplyToken t);
  protocol::WorkerListReply WorkerList() const;
  // `jobnet workers set`: resizes the pool to `workers` (kInvalidArgument outside
  // 1..kWorkersMax). Running jobs finish on their slots; a grow starts waiting jobs at once.
  // The size is journaled; the reply (the new worker list) waits for that.
  void SetWorkers(ReplyToken t, uint32_t workers, Now now);
  // Turns autoscaling on with `s` (min 0: off), answers the worker list.
  void SetAutoscale(ReplyToken t, const protocol::WorkersAutoscaleRequest& req, Now now);
  // The machine's idle CPU share since the last sample, per mille (the actor reads /proc/stat);
  // nullopt when it cannot be read. The autoscaler grows only with CPU to give.
  void SetCpuIdle(std::optional<uint32_t> permille) { cpu_idle_permille_ = permille; }
  // Changes some settings of a queue (docs/architecture.md §14): journals them, passes them on
  // to the alive peers, and answers with the queue's QueueInfo.
  void SetQueue(ReplyToken t, const protocol::QueueUpdate& update, Now now);
  // Answers with every queue that has jobs or settings.
  void ListQueues(ReplyToken t, Now now);
  std::vector<protocol::QueueInfo> Queues(Now now) const;
  // Refuse new submits from now on (shutdown): they get kDraining.
  // Runs queued for other owners go back to them as rejections.
  void Drain();

  void Complete(const Outcome& outcome, Now now);
  // How a callback POST went: the delivery is done, failed for good, or tried again later. A
  // result for a delivery that is no longer in flight (the job was retried or purged) is ignored.
  void OnCallbackResult(const CallbackResult& result, Now now);
  // A local run reports progress (HandlerContext::Progress). Applied if `lease` is still the
  // job's current run and the job's last update is at least kProgressIntervalMsMin old; else
  // dropped. Kept in memory only (not journaled).
  void Progress(uint64_t seq, uint64_t lease, uint32_t pct, std::string message, Now now);

  // ---- external workers (docs/architecture.md and docs/protocol.md "External workers") ----
  // A worker process leases jobs of its types, up to its capacity, as this node's own slots do
  // (same queues, priorities, limits, timeouts and retries). It must send something (a poll, a
  // heartbeat, progress or a result) at least every lease_ms, or it is dropped and the jobs it
  // holds go back to their queues. A result must name the job's current lease: one for a run
  // that expired, was cancelled or was leased again is refused with kConflict (fencing).
  // Registers a worker; answers WorkerRegisteredReply (kOverloaded past kExternalWorkersMax).
  void RegisterWorker(ReplyToken t, const protocol::WorkerRegisterRequest& req, Now now);
  // Answers with jobs leased to the worker, at once if there are any, else when some arrive or
  // after req.wait_ms (an empty WorkerJobsReply). A worker holds one poll: a new one answers the
  // previous one empty. kNotFound for a worker that is not registered (register again).
  void PollWorker(ReplyToken t, const protocol::WorkerPollRequest& req, Now now);
  // Renews the worker's lease; answers with the listed leases it no longer holds.
  void HeartbeatWorker(ReplyToken t, const protocol::WorkerHeartbeatRequest& req, Now now);
  void WorkerProgress(ReplyToken t, const protocol::WorkerProgressRequest& req, Now now);
  void WorkerComplete(ReplyToken t, const protocol::WorkerCompleteRequest& req, Now now);
  void WorkerFail(ReplyToken t, const protocol::WorkerFailRequest& req, Now now);
  // The worker leaves: the jobs it still holds go back to their queues at once.
  void UnregisterWorker(ReplyToken t, uint64_t worker, Now now);

  // ---- cluster ----
  // Peer links: those of SchedulerOptions::peers, then one per AddPeer (a member found in etcd),
  // each the next index.
  size_t peer_count() const { return peers_.size(); }
  void AddPeer(std::string endpoint) { peers_.AddPeer(std::move(endpoint)); }
  void OnHeartbeat(const protocol::Heartbeat& hb, Now now);
  // Another owner's job to run here; rejected at once when no slot is free.
  void AcceptRemoteRun(const protocol::RemoteRun& run, Now now);
  // The outcome of one of this node's jobs that ran on a peer.
  void OnRemoteResult(const protocol::RemoteResult& res, Now now);
  // Dependencies across nodes (core/scheduler_deps.cpp): a peer's children wait for jobs of
  // this node, and a peer answers about the parents of this node's children.
  void OnParentWatch(const protocol::ParentWatch& w, Now now);
  void OnParentDone(const protocol::ParentDone& d, Now now);
  // A peer received one of this node's runs and started it.
  void OnRemoteAck(const protocol::RemoteAck& ack, Now now);
  // The owner of a run hosted here cancelled its job: stop the run (or drop it unstarted).
  void OnRemoteCancel(const protocol::RemoteCancel& cancel);
  // Queue settings from a peer: each one newer than ours (updated_at, then origin) replaces it.
  void OnQueueSync(const protocol::QueueSync& sync, Now now);
  protocol::Heartbeat MakeHeartbeat(const std::string& endpoint) const;
  std::vector<protocol::PeerInfo> Peers() const;
  // Promotes due delayed jobs, expires leases and waiters, fires due schedules, purges old
  // final jobs, dispatches.
  void Tick(Now now);
  // The owner's loop did not run for `stalled_ms` (core/clock.hpp LoopClock; that time is
  // already left out of now.mono_ms). What waits in its sockets was sent while it was away:
  // every peer gets a fresh grace period, and no lease, unacknowledged run or external worker
  // is judged for one failure timeout, so heartbeats and results that are already on their way
  // are read first. A peer is declared dead for its own silence only.
  void OnStall(uint64_t stalled_ms, Now now);
  // Only the waiters' part of Tick: answers waits whose timeout passed. Writes nothing, so the
  // node can keep answering waits while its journal refuses writes (a full disk).
  void ExpireWaiters(Now now);

  Effects TakeEffects();

  // Introspection (tests, stats, shutdown).
  const Job* Find(uint64_t seq) const;
  uint32_t busy_slots() const { return pool_.busy(); }
  // Slot ids in use, 0..slot_count()-1: the scheduler actor keeps one worker per id.
  uint32_t slot_count() const { return pool_.count(); }
  uint32_t running_jobs() const { return static_cast<uint32_t>(leases_.size()); }
  // Runs leased to external workers now (a draining node waits for them as for its slots).
  uint32_t external_runs() const { return static_cast<uint32_t>(external_.runs()); }
  uint32_t external_workers() const { return static_cast<uint32_t>(external_.size()); }
  uint64_t live_jobs() const { return live_jobs_; }
  uint64_t held_bytes() const { return held_bytes_; }
  size_t waiter_count() const { return waiter_deadlines_.size(); }
  // Jobs waiting for parents, and the parents on peers they wait for.
  size_t waiting_jobs() const { return parents_waiting_.size(); }
  size_t remote_parents() const { return remote_children_.size(); }
  // Deliveries waiting for their next try or in flight.
  size_t callbacks_pending() const { return callback_due_.size() + callback_in_flight_.size(); }
  uint64_t NextDeadlineMs() const;  // earliest timer, UINT64_MAX if none
  const ScheduleTable& schedules() const { return schedules_; }

 private:
  friend class SchedulerTestPeer;  // tests/scheduler_test.cpp: forces an illegal transition

  // What a slot runs (pool_ says whether it is busy).
  struct Slot {
    uint64_t since_ms = 0;     // it took its run, or became idle
    uint64_t lease = 0;
    uint64_t seq = 0;
    bool hosted = false;       // running another owner's job (RemoteRun)
    protocol::RemoteRun run;   // that job, when hosted
    uint64_t hosted_deadline_ms = 0;
  };
  // Submits one job for each due schedule and journals its new last fire.
  void FireSchedules(Now now);
  // The accepted reply naming `job` as it now is.
  static protocol::AcceptedReply Answer(const Job& job, bool duplicate);
  Job* Lookup(const std::string& id, ReplyToken t);
  void Error(ReplyToken t, const jobnet::Status& s);
  // Moves `job` to `to` (checked against kLegalTransitions) and records the event; `node` is the
  // node that runs the attempt, for a move to running.
  void SetState(Job& job, JobState to, Now now, std::string message,
                std::string node = {});
  // A submit's checks and, if they pass, the new (or, by key, the existing) job.
  // With spec.reuse (docs/architecture.md "Result reuse"): a retained succeeded job of the
  // same content key is answered with a new job holding a copy of its result (AdmitReused),
  // and a waiting or running one is answered with itself (coalesced) instead of a new job.
  Result<protocol::AcceptedReply> Admit(protocol::JobSpec spec, Now now);
  // The checks of a spec that need no state of jobs: draining, bounds, type, payload, callback.
  Status CheckSpec(const protocol::JobSpec& spec);
  static Status NodeSetsFlow() {
    return Status::InvalidArgument("flow and flow_name are set by the node, for submit_flow");
  }
  // A new job (seq, id, key) in jobs_, with its delay resolved; not yet counted or in a state.
  Job& NewJob(protocol::JobSpec spec, Now now);
  // A new job that is already succeeded with a copy of `earlier`'s result.
  Result<protocol::AcceptedReply> AdmitReused(protocol::JobSpec spec, const Job& earlier,
                                              Now now);
  // The state changes of retry and cancel, for one job already checked to allow them.
  void RetryJob(Job& job, Now now, const std::string& why);
  // `error` is the job's error from now on ("cancelled", or why a parent's end cancelled it).
  void CancelJob(Job& job, Now now, const std::string& why,
                 const std::string& error = "cancelled");
  // ---- dependencies (core/scheduler_deps.cpp, docs/architecture.md "Dependencies") ----
  // Whether every parent a spec names may be waited for: this node's (it must hold it) or a
  // peer's (the peer must be known; whether it holds the job is learnt from its answer).
  Status CheckParents(const JobSpec& spec) const;
  // Links a new (or recovered) waiting job to its parents that have not finished, and answers
  // how many those are; `failed` gets the first parent that ended other than succeeded (and
  // does not count for a job that runs on a parent's failure) or is gone. Remote parents are
  // counted as unfinished and watched.
  uint32_t LinkParents(Job& job, std::string* failed);
  // Cancels a waiting job because of a parent (`why` names it; it becomes the job's error).
  void CancelForParent(Job& job, const std::string& why, Now now);
  // A waiting job's parents all finished: it queues (or waits for its run_at).
  void ReleaseChild(Job& job, Now now);
  // `parent` (of this node, or a peer's) ended in `state` (`missing`: it does not exist):
  // its waiting children are released, counted down or cancelled. Children cancelled in turn
  // end their own children in the same loop, never by recursion (a chain of 10,000 is fine).
  void ParentEnded(std::vector<uint64_t> children, const std::string& parent, JobState state,
                   bool missing, const std::string& error, const std::string& result, Now now);
  // A job of this node became final: its children here, and the peers watching it, hear it.
  void TellChildren(const Job& job, Now now);
  // Sends parent_watch for the unfinished remote parents of this node's waiting children, to
  // the owner `node` only, or (empty) to every alive owner; drops children no longer waiting.
  void SendWatches(const std::string& node, Now now);
  // A submit naming parents on peers is held until each of their owners has said it holds
  // them (a parent_done in any state) and then admitted, or refused: kNotFound when one does
  // not, kUnavailable when an owner is not alive or does not answer within kParentCheckMs.
  // False (nothing held) for a spec whose parents are all this node's, or that fails a check
  // that needs no answer (Admit then gives that error).
  bool HoldSubmit(ReplyToken t, const protocol::JobSpec& spec, Now now);
  // Applies an owner's answer to the held submits that wait for it.
  void AnswerHeldSubmits(const protocol::ParentDone& d, Now now);
  void ExpireHeldSubmits(Now now);
  // parent_watch frames for `ids`, parents owned by `owner`, if it is alive.
  void SendWatchFrames(const std::string& owner, const std::vector<std::string>& ids);
  // The parent_done frame about `job` (final) or about a job this node does not hold.
  protocol::ParentDone DoneOf(const std::string& id, const Job* job) const;
  // A run's parents' results: a msgpack map of parent id to result, in depends_on order; nil
  // for a job without.
  static std::string ParentsOf(const Job& job);
  // A succeeded job's result, shared by the children that take it after it ended (one copy in
  // memory however many there are).
  std::shared_ptr<const std::string> SharedResult(const Job& parent);
  // The JobInfo of a job with what only the scheduler knows (its parents still waited for).
  JobInfo InfoOf(const Job& job) const;
  void Enqueue(Job& job, Now now);  // into its queue's ready jobs or delayed, by run_at
  // A delayed job waits out a backoff (due on the steady clock) rather than a delay its user
  // named (due on the wall clock): it has run before.
  static bool IsBackoff(const Job& job) { return job.attempts > 0; }
  static QueueSet::Entry EntryOf(const Job& job) {
    return QueueSet::Entry{job.seq, job.order, job.ready_at_ms, job.spec.priority};
  }
  // Takes `q` as the queue's settings: in the queue set, and to the journal.
  void ApplyQueue(const protocol::QueueSettings& q, Now now);
  // Every queue setting, to the peer on `link` (it turned alive or restarted).
  void SyncQueuesTo(uint32_t link);
  protocol::QueueInfo InfoOf(const std::string& queue, Now now) const;
  // Counts a job of `queue` entering (+1) or leaving (-1) `state`.
  void CountQueueState(const std::string& queue, JobState state, int delta);
  // Adds one to queue_totals_[queue][slot]: a final state's number, or kSubmittedSlot.
  void CountQueueTotal(const std::string& queue, size_t slot);
  void Unindex(const Job& job);  // out of ready/delayed/leases
  void FailRun(Job& job, const std::string& error, Now now);
  // Drops the payload of a job that waits for a delay ending past payload_drop_ahead_ms (when a
  // loader is set): no longer counted in held_bytes_, and gone from memory at once, or for a
  // new job once its first write has taken it to the journal (WriteOf).
  void MaybeDropPayload(Job& job, Now now);
  // An empty payload is no msgpack value (Validate refuses one): it marks a payload not held.
  static bool PayloadDropped(const Job& job) { return job.spec.payload.empty(); }
  // Before a run of `job` starts: its payload, read back if it was dropped. A payload that
  // cannot be read fails the attempt the run would have been (false): the job retries or dies
  // by its own backoff and max_attempts.
  bool PayloadForRun(Job& job, Now now);
  void Finish(Job& job, Now now);       // notify waiters, start its callback, track for retention
  // The job just became final: its callback's delivery becomes pending (journaled with the
  // final state), or failed at once when limits are reached.
  void StartCallback(Job& job);
  // Ends a pending delivery without sending it (the job is retried or purged): failed, `why`.
  void DropCallback(Job& job, const std::string& why);
  // Sends due deliveries, up to the in-flight limit.
  void SendDueCallbacks(Now now);
  void DispatchReady(Now now);
  // Resizes the pool to `workers` (1..kWorkersMax, checked by the caller) and dispatches to new
  // slots; `why` goes to the log line.
  void ResizePool(uint32_t workers, const std::string& why, Now now);
  // One autoscaler step (Tick).
  void Autoscale(Now now);
  void Purge(Now now);
  uint64_t BackoffMs(const Job& job);
  // A run ended (locally, on a peer, or by lease expiry): record success or fail the attempt.
  // The one place a run is classified as timed out (docs/architecture.md §6): `lease` names the
  // job's current run (0: a result of a run from before this node restarted, which is not).
  void EndRun(Job& job, uint64_t lease, bool ok, const std::string& result,
              const std::string& error, bool timed_out, Now now);
  // A run's host died (this node restarted, or the peer running it): fail the attempt and
  // re-queue at once, or dead-letter it if it was the last. The job must be unindexed.
  void InterruptRun(Job& job, const std::string& why, Now now);
  // The runs of ours that a peer held are lost (it died or restarted): fail those attempts.
  void LosePeerLeases(const PeerLeases::Lost& lost, const std::string& why, Now now);
  // A queue settings stamp, or `now` if it is beyond the clock skew: a stamp from the future
  // is not trusted, so it cannot hold every later change back.
  static uint64_t TrustedStamp(uint64_t stamp, Now now) {
    return stamp > now.wall_ms + limits::kClockSkewMsMax ? now.wall_ms : stamp;
  }
  // The slots this node offers other owners now (heartbeats, acks, results).
  uint32_t FreeToOffer() const;
  // Takes a free slot for a run starting now.
  uint32_t TakeSlot(Now now);
  // The start of every run of this node's jobs (local, peer, external): a new lease, one more
  // attempt, progress reset. The caller moves the job to running and then calls TrackRun.
  uint64_t BeginRun(Job& job, Now now);
  void TrackRun(const Job& job, uint64_t lease, uint64_t deadline_ms);
  // Whether a submit of `type` is accepted: a handler here, or a registered external worker.
  bool IsKnownType(const std::string& type) const;
  // The types this node's own slots (and peers, which run the same handlers) take; null: any.
  const QueueSet::TypeSet* LocalTypes() const {
    return opt_.known_types.empty() ? nullptr : &opt_.known_types;
  }
  // The journal write of `job` with `events`: a copy of the job without what is not journaled.
  JobWrite WriteOf(Job& job, std::vector<std::pair<uint32_t, JobEvent>> events, bool callback);
  // Applies a run's progress unless rate-limited; true if applied.
  bool ApplyProgress(Job& job, uint32_t pct, std::string message, Now now);

  // ---- external workers (the registry is external_; these apply its answers to the jobs) ----
  // The worker, or null after answering kNotFound to `t`.
  ExternalWorkers::Worker* FindWorker(uint64_t id, ReplyToken t);
  // The job whose current run is `lease`, held by `worker`; null after answering kConflict.
  Job* FindExternalRun(uint64_t worker, const std::string& id, uint64_t lease, ReplyToken t);
  // Answers a worker's poll (already released in external_) with `jobs`.
  void AnswerPoll(ReplyToken poll, std::vector<protocol::LeasedJob> jobs);
  // Gives ready jobs to the workers holding polls, round robin.
  void ServePolls(Now now);
  // A worker's run ended (WorkerComplete, WorkerFail): fenced by FindExternalRun.
  void WorkerEnded(ReplyToken t, uint64_t worker, const std::string& id, uint64_t lease, bool ok,
                   const std::string& result, const std::string& error, Now now);
  // The worker is gone: its held poll is answered empty and its runs go back to their queues.
  void DropWorker(uint64_t id, const std::string& why, Now now);
  // ---- runs on peers and runs hosted for them (peers_ keeps their state) ----
  // Starts another owner's run on a free slot.
  void HostRun(const protocol::RemoteRun& run, Now now);
  // Starts queued hosted runs on free slots (before this node's own ready jobs: they are few,
  // and were taken when it had none waiting).
  void StartQueuedHosted(Now now);
  uint32_t HostedQueueMax() const { return opt_.workers * limits::kHostedQueuedPerWorker; }
  // Runs on the peer left unacknowledged past their deadline: take them all back (no attempt
  // spent) and suspend the peer.
  void TakeBackUnacked(uint32_t link, Now now);

  SchedulerOptions opt_;
  std::mt19937_64 rng_;
  bool draining_ = false;
  uint64_t next_seq_ = 1;
  uint64_t next_order_ = 1;
  uint64_t next_lease_ = 1;
  // After a stall of the owner's loop, nothing is judged by a deadline before this (steady).
  uint64_t judge_after_mono_ms_ = 0;
  uint64_t live_jobs_ = 0;
  uint64_t held_bytes_ = 0;  // payload + result bytes of the jobs in jobs_

  JobTable jobs_;  // by seq: ordered, for list cursors
  std::unordered_map<std::string, uint64_t> by_key_;
  // Result reuse: content key -> the newest job submitted with reuse that runs that work
  // (Job::reuse_key). Rebuilt from the job records at recovery; an entry goes when its job is
  // purged.
  std::unordered_map<std::string, uint64_t> reuse_;
  QueueSet queues_;  // the ready jobs, by queue, and the queues' settings
  DueHeap delayed_;       // (run_at, seq): delays users named (wall)
  DueHeap delayed_mono_;  // (ready_at, seq): backoffs (steady)
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> running_;  // seq -> (lease, deadline)
  std::set<std::pair<uint64_t, uint64_t>> leases_;    // (deadline, seq)
  std::set<std::pair<uint64_t, uint64_t>> finished_;  // (finished_at, seq), for retention
  std::set<std::pair<uint64_t, uint64_t>> callback_due_;  // (due_mono_ms, seq), pending deliveries
  std::unordered_map<uint64_t, std::string> callback_in_flight_;  // seq -> delivery id
  std::set<uint64_t> callback_dirty_;  // seqs whose callback record is to be journaled
  // Running jobs whose last applied progress goes to the event stream in the next batch.
  std::set<uint64_t> progress_dirty_;

  // The peer table, this node's runs on peers and the runs it hosts (core/peer_leases.hpp).
  PeerLeases peers_;
  SlotPool pool_;
  Autoscaler autoscaler_;
  std::optional<uint32_t> cpu_idle_permille_;
  std::vector<Slot> slots_;  // by slot id; at least pool_.count() entries (never shrinks)

  std::unordered_map<uint64_t, std::vector<std::pair<ReplyToken, uint64_t>>> waiters_;  // seq -> (token, deadline)
  std::set<std::tuple<uint64_t, ReplyToken, uint64_t>> waiter_deadlines_;  // (deadline, token, seq)

  uint64_t state_counts_[protocol::kJobStateCount] = {};
  std::map<std::string, uint64_t> queue_depth_;  // queued + delayed per queue
  std::map<std::string, std::array<uint64_t, protocol::kJobStateCount>> queue_states_;  // jobs by state
  CounterValues counters_;  // waiters and held_bytes are filled in by Stats()
  // Since start, per queue: submitted, and ended by final state (NodeStats::queue_totals). At
  // most limits::kQueuesMax queues; past that, the rest count under kOtherQueues.
  // Counts by JobState number; the last slot counts submits. Named only in Stats(): this is
  // counted on every submit and every end of a job.
  static constexpr size_t kSubmittedSlot = protocol::kJobStateCount;
  std::unordered_map<std::string, std::array<uint64_t, kSubmittedSlot + 1>> queue_totals_;
  protocol::Histogram run_seconds_;         // a run's start to its end, local and on peers
  protocol::Histogram queue_wait_seconds_;  // ready to started

  ExternalWorkers external_;  // registered worker processes, their polls and runs

  // Bulk actions under way, oldest first; only the first advances.
  struct BulkOp {
    ReplyToken token = 0;
    protocol::BulkRequest query;
    uint64_t next_seq = 1;  // the scan resumes here
    protocol::BulkReply counts;
  };
  std::deque<BulkOp> bulk_ops_;
  ScheduleTable schedules_;

  Effects fx_;
  std::map<uint64_t, std::vector<std::pair<uint32_t, JobEvent>>> dirty_;  // seq -> new events
  // Local runs whose `running` event waits in dirty_ (running_write_delay_ms), by seq: the
  // steady ms at which it goes to the journal anyway. At most one per local slot.
  std::unordered_map<uint64_t, uint64_t> running_held_;
  // New jobs whose first write takes their payload away (MaybeDropPayload); empty between turns.
  std::set<uint64_t> drop_on_write_;
  // ---- dependencies ----
  // Waiting jobs -> their parents that have not finished.
  std::unordered_map<uint64_t, uint32_t> parents_waiting_;
  // This node's unfinished jobs -> the seqs of the waiting jobs here that named them (entries
  // of jobs that stopped waiting are skipped when the parent ends).
  std::unordered_map<uint64_t, std::vector<uint64_t>> children_;
  // Parents on peers, by id -> this node's waiting children.
  std::unordered_map<std::string, std::vector<uint64_t>> remote_children_;
  // This node's unfinished jobs that peers' children wait for -> those peers (node ids).
  std::unordered_map<uint64_t, std::set<std::string>> watchers_;
  size_t watcher_count_ = 0;  // (parent, peer) pairs in watchers_, at most kParentWatchersMax
  uint64_t watch_resend_mono_ms_ = 0;
  // Remote parents first named in this turn, by owner: watched at TakeEffects.
  std::map<std::string, std::vector<std::string>> new_watches_;
  // Parent ends still to apply (ParentEnded's loop) and whether that loop runs.
  struct ParentEnd {
    std::vector<uint64_t> children;
    std::string parent;
    JobState state = JobState::kSucceeded;
    bool missing = false;
    std::string error;
    std::string result;
  };
  std::deque<ParentEnd> parent_ends_;
  // Succeeded jobs whose result children hold (SharedResult); an entry goes with its job.
  std::unordered_map<uint64_t, std::weak_ptr<const std::string>> result_shares_;
  bool ending_parents_ = false;
  // Submits held for their remote parents' owners to answer (HoldSubmit), oldest first.
  static constexpr uint64_t kParentCheckMs = 5000;
  static constexpr size_t kHeldSubmitsMax = 10000;
  struct HeldSubmit {
    ReplyToken token = 0;
    protocol::JobSpec spec;
    std::set<std::string> unanswered;  // remote parent ids
    uint64_t deadline_mono_ms = 0;
  };
  std::deque<HeldSubmit> held_submits_;
  // Recovered waiting jobs: FinishRecovery links them once every job is in.
  std::vector<uint64_t> recovered_waiting_;
  // Recovered jobs that were running, by (order, seq): FinishRecovery interrupts them once every
  // job is in, so their new enqueue order comes after all the recovered ones.
  std::vector<std::pair<uint64_t, uint64_t>> recovered_running_;
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_SCHEDULER_CORE_HPP_
