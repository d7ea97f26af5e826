// The job as clients see it: what to run (JobSpec), what became of it (JobInfo), and the node's
// answers to submit, list and stats. Plain structs of standard types, shared by the client library
// (jobnet/client.h) and the wire protocol (protocol/messages.hpp, which encodes them).
// docs/protocol.md §6 describes every field.
#ifndef JOBNET_JOB_H_
#define JOBNET_JOB_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobnet/limits.h"
#include "jobnet/status.h"

namespace jobnet {

// A job's place in its lifecycle. Numbers are stored in the journal: never renumber.
enum class JobState : uint8_t {
  kQueued = 0,
  kDelayed = 1,
  kRunning = 2,
  kSucceeded = 3,
  kFailed = 4,  // reserved for a final failure without dead-lettering; not produced yet
  kDead = 5,
  kCancelled = 6,
  // Submitted with depends_on: waits for its parents to succeed, then queues (or is delayed).
  kWaiting = 7,
};
constexpr int kJobStateCount = 8;
// "queued", "delayed", ... as on the wire and in the CLI.
const char* JobStateName(JobState s);
std::optional<JobState> ParseJobState(const std::string& name);
// succeeded, failed, dead or cancelled: the job will not run again unless retried.
bool IsFinal(JobState s);

// Where the delivery of a job's callback stands (docs/http.md "Callbacks"). Numbers are stored in
// the journal ("c:" records): never renumber.
enum class CallbackState : uint8_t {
  kNone = 0,       // no callback, or the job has not reached a final state yet
  kPending = 1,    // to be POSTed (again) at callback_next_at_ms
  kDelivered = 2,  // a receiver answered 2xx
  kFailed = 3,     // every attempt failed, or it was given up (callback_error says why)
};
// "none", "pending", "delivered", "failed" as on the wire and in the CLI.
const char* CallbackStateName(CallbackState s);
std::optional<CallbackState> ParseCallbackState(const std::string& name);

// msgpack nil: the payload of a job submitted without one.
inline std::string MsgpackNil() { return std::string(1, '\xc0'); }

// What a client asks to run.
struct JobSpec {
  std::string type;                 // handler name, [A-Za-z0-9_.-]{1,64}
  std::string payload = MsgpackNil();  // one msgpack value, raw bytes
  std::string queue = "default";    // [A-Za-z0-9_.-]{1,64}
  uint32_t priority = 0;            // 0..255, higher first
  uint64_t run_at_ms = 0;           // absolute Unix ms; 0 = now
  uint64_t delay_ms = 0;            // relative; exclusive with run_at_ms
  uint32_t max_attempts = limits::kMaxAttemptsDefault;
  uint64_t backoff_ms = limits::kBackoffMsDefault;  // first retry delay, doubled per attempt
  uint64_t timeout_ms = limits::kTimeoutMsDefault;  // lease: a run longer than this fails
  std::string key;                  // idempotency key, empty = none
  // An http/https URL the node POSTs the job's JSON to once it is final (docs/http.md
  // "Callbacks"); empty = none. At most limits::kCallbackUrlBytesMax bytes, and its host must be
  // on the node's callback allow-list.
  std::string callback;
  // Result reuse (docs/architecture.md "Result reuse"): a succeeded job of the same type and
  // payload bytes still retained on this node is answered with a copy of its result, and an
  // identical job still waiting or running is joined instead of run again.
  bool reuse = false;
  // Free-form text for people (any UTF-8, at most limits::kLabelBytesMax bytes), kept with the job
  // and shown in status and lists (JobInfo::label); the node does nothing else with it. Empty =
  // none.
  std::string label;
  // Dependencies (docs/architecture.md "Dependencies"): the ids of the jobs this one waits for,
  // at most limits::kParentsMax, each an existing job of this node or of a peer. The job waits
  // in state `waiting` until every one of them has succeeded.
  std::vector<std::string> depends_on;
  // What a parent that ends dead, failed or cancelled does to this job: false ("cancel") ends it
  // cancelled, naming the parent; true ("run") counts that parent as done.
  bool run_on_parent_failure = false;
  // Set by the node for the jobs of a flow (submit_flow, docs/protocol.md §23): the flow's id
  // (the id of its first job) and the job's name in it. A plain submit may not set them.
  std::string flow;
  std::string flow_name;
};

// One run of a job (JobInfo::history): where and when it ran and why it failed.
struct AttemptInfo {
  uint32_t attempt = 0;     // 1-based within the job's current life (a manual retry restarts at 1)
  std::string node;         // the node that ran it
  uint64_t started_at_ms = 0;
  uint64_t ended_at_ms = 0;  // 0 = still running
  std::string error;        // empty = succeeded (or still running)
};

// A job as a client sees it (no payload: status and list stay small).
struct JobInfo {
  std::string id;
  std::string type;
  std::string queue;
  uint32_t priority = 0;
  JobState state = JobState::kQueued;
  std::string result = MsgpackNil();  // raw msgpack, nil until succeeded
  std::string error;                  // last failure text
  uint32_t attempts = 0;
  uint32_t max_attempts = 0;
  uint64_t created_at_ms = 0;
  uint64_t started_at_ms = 0;         // last run start, 0 = never
  uint64_t finished_at_ms = 0;        // 0 = not final
  uint64_t run_at_ms = 0;             // next eligible time while delayed
  std::string key;
  // Filled only for a status request that asks for it: the last limits::kAttemptHistoryMax
  // attempts, oldest first, and how many older ones were dropped.
  std::vector<AttemptInfo> history;
  uint32_t history_dropped = 0;
  // The callback URL (empty = none) and the delivery of the job's last final state to it.
  std::string callback;
  CallbackState callback_state = CallbackState::kNone;
  uint32_t callback_attempts = 0;      // POSTs tried for this delivery
  uint64_t callback_next_at_ms = 0;    // Unix ms of the next try while pending
  std::string callback_error;          // the last failed attempt's error
  // A job answered from another job's result (submitted with reuse): that job's id. It never
  // ran; empty for every other job.
  std::string reused_from;
  // The current (or last) run's progress, as its handler reported it: 0..100 (100 once
  // succeeded) and a short message. Kept in memory only: 0 and "" after a node restart.
  uint32_t progress = 0;
  std::string progress_message;
  std::string label;  // JobSpec::label, as submitted
  // JobSpec::depends_on and run_on_parent_failure, as submitted; while the job waits, how many
  // of its parents have not finished yet.
  std::vector<std::string> depends_on;
  bool run_on_parent_failure = false;
  uint32_t parents_waiting = 0;
  // JobSpec::flow and flow_name: the flow it was submitted in, and its name there.
  std::string flow;
  std::string flow_name;
};

// One job of a flow (`jobnet flow submit`, docs/protocol.md §23): its name, unique within the
// flow, its spec, and the names of the flow's jobs it waits for (besides any job ids of
// spec.depends_on).
struct FlowJob {
  std::string name;  // [A-Za-z0-9_.-]{1,64}
  JobSpec spec;
  std::vector<std::string> after;
};

// The answer to a flow: its id (its first job's id) and each job's id, by name.
struct FlowResult {
  std::string flow;
  std::map<std::string, std::string> ids;
};

// The answer to a submit.
struct SubmitResult {
  std::string id;
  JobState state = JobState::kQueued;
  bool duplicate = false;  // the idempotency key matched an existing job
  // Result reuse: the new job is already succeeded with the result of this earlier job.
  std::string reused_from;
  // Result reuse: an identical job was waiting or running, and `id` is that job (no new job).
  bool coalesced = false;
};

// One entry of a submit_batch answer, in the order of the specs: the job, or why that spec
// was refused (the other specs are unaffected).
struct BatchItemResult {
  Status status;        // OK: `submitted` holds the job
  SubmitResult submitted;
};

// A bulk action over one queue (`jobnet retry --all`, `jobnet cancel --all`).
enum class BulkAction : uint8_t { kRetry = 0, kCancel = 1 };
struct BulkQuery {
  BulkAction action = BulkAction::kRetry;
  std::string queue;                   // required
  std::string type;                    // empty = every type
  // Only jobs in this state. Empty: retry takes dead, failed and cancelled jobs (as a single
  // retry does); cancel requires queued or delayed.
  std::optional<JobState> state;
};

// The answer to a bulk action, from one node.
struct BulkResult {
  uint64_t touched = 0;  // jobs it moved
  uint64_t matched = 0;  // eligible jobs it found (more than touched only when a retry was
                         // refused for one, e.g. the node's unfinished-job limit)
};

// A job handler linked into a node, and what it accepts (`jobnet types`).
struct HandlerInfo {
  std::string type;
  std::string payload;  // what payload it accepts, in words
  std::string result;   // what it returns
};

// Which jobs a list returns: a page of up to `limit`, in id order, after the cursor.
struct ListQuery {
  std::optional<JobState> state;
  std::string queue;   // empty = all
  std::string type;    // empty = all
  uint32_t limit = 100;
  std::string after;   // job id cursor: list jobs created after it; empty = from the start
  // Only jobs created in [created_from_ms, created_to_ms] (Unix ms; 0 = no bound on that side).
  uint64_t created_from_ms = 0;
  uint64_t created_to_ms = 0;
};

// A peer as a node sees it (stats, `jobnet nodes`).
struct PeerInfo {
  std::string node;      // empty until the peer's first heartbeat
  std::string endpoint;  // as configured with --peer
  std::string state;     // "alive", "dead" (silent past the failure timeout) or "unknown"
  uint64_t incarnation = 0;
  uint32_t workers = 0;
  uint32_t free = 0;      // idle worker slots it advertised
  uint64_t queued = 0;    // its ready + delayed jobs
  uint64_t last_seen_ms = 0;  // Unix ms of its last heartbeat, 0 = never
  uint32_t leases = 0;    // this node's jobs running there now
};

// A latency (or size) distribution, as Prometheus histograms carry it: per-bucket counts for
// increasing upper bounds and one last bucket for everything above them.
struct Histogram {
  std::vector<double> bounds;    // upper bounds (inclusive), increasing
  std::vector<uint64_t> counts;  // bounds.size() + 1 counts, per bucket (not cumulative)
  double sum = 0;                // of every observed value
  uint64_t count = 0;            // observations
};

// One node's view of itself and its peers.
struct NodeStats {
  std::string node;
  uint64_t incarnation = 0;
  uint32_t workers = 0;
  uint32_t busy = 0;
  uint64_t uptime_ms = 0;
  std::map<std::string, uint64_t> jobs;    // state name -> count
  std::map<std::string, uint64_t> queues;  // queue -> jobs waiting (queued + delayed)
  std::map<std::string, uint64_t> counters;  // journal_batches, journal_records, submitted, ...
  std::string endpoint;                      // where this node listens
  std::vector<PeerInfo> peers;
  // Per queue, since this node started: "submitted", and jobs that ended by final state
  // ("succeeded", "dead", "cancelled"). Absent from older nodes.
  std::map<std::string, std::map<std::string, uint64_t>> queue_totals;
  // Distributions since this node started, by name: "run_seconds", "queue_wait_seconds",
  // "journal_sync_seconds", "journal_batch_records" (docs/protocol.md §5.4).
  std::map<std::string, Histogram> histograms;
  // Frames this node refused because their principal lacked the scope, by principal name
  // ("(none)" for a connection that named none), since it started. Absent without principals.
  std::map<std::string, uint64_t> denied;
};

// One worker slot of a node (`jobnet workers`).
struct WorkerSlot {
  uint32_t id = 0;
  bool busy = false;      // "busy" or "idle" on the wire
  // Past the pool size (after `workers set` shrank it): the slot takes no new work and is gone
  // once its run ends.
  bool retiring = false;
  std::string job;        // the job it runs: this node's, or another owner's; empty when idle
  std::string queue;      // that job's queue; empty when idle or running another owner's job
  std::string type;       // that job's type; empty when idle
  uint64_t since_ms = 0;  // Unix ms it took its job, or became idle
};

// An external worker process registered with a node (docs/protocol.md "External workers").
struct ExternalWorkerInfo {
  uint64_t id = 0;  // as worker_register answered
  std::string name;
  std::vector<std::string> types;
  uint32_t capacity = 0;
  uint64_t lease_ms = 0;
  bool polling = false;  // holds a poll now, waiting for jobs
  uint32_t running = 0;  // runs it holds now
  // The ids of the jobs it runs, the first limits::kExternalJobsListedMax of `running`.
  std::vector<std::string> jobs;
};

// The node's worker pool: its size and each slot, and the external workers registered with it.
struct WorkerList {
  std::string node;      // the node that answered (with failover, not always the first endpoint)
  uint32_t workers = 0;  // the pool size (slots that take work)
  std::vector<WorkerSlot> slots;  // by id; retiring busy slots too
  std::vector<ExternalWorkerInfo> external;  // by id
  // Autoscaling (`jobnet workers autoscale`): the pool follows the load between these; 0: off.
  uint32_t autoscale_min = 0;
  uint32_t autoscale_max = 0;
};

// A recurring job (`jobnet schedule add`): every tick of `cron` or of `every_ms` submits one job
// made from `job` on the node that holds the schedule. docs/protocol.md "Schedules".
struct ScheduleSpec {
  std::string name;       // [A-Za-z0-9_.-]{1,64}, unique on its node
  std::string cron;       // 5-field cron in UTC (core/cron.hpp), or empty
  uint64_t every_ms = 0;  // or a fixed interval; exactly one of cron and every_ms is given
  JobSpec job;            // each fired job's spec; key, delay_ms and run_at_ms must be unset
};

// A schedule as `schedule list` shows it.
struct ScheduleInfo {
  std::string name;
  std::string node;        // the node that holds it and fires it
  std::string cron;        // as given, or empty
  uint64_t every_ms = 0;   // or the interval
  std::string type;
  std::string queue;
  bool paused = false;
  uint64_t next_fire_ms = 0;  // Unix ms of the next tick; 0 while paused
  uint64_t last_fire_ms = 0;  // Unix ms of the last fire; 0 = never fired
  std::string last_job_id;    // the job the last fire submitted
  uint64_t fires = 0;         // fires so far
};

}  // namespace jobnet

#endif  // JOBNET_JOB_H_
