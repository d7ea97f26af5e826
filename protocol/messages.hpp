// The messages of the jobnet wire protocol as plain structs (no CAF, no ZeroMQ).
// Payloads and results are kept as raw msgpack bytes, so any msgpack value passes through
// untouched. docs/protocol.md is the reference; keep the two in step.
#ifndef JOBNET_PROTOCOL_MESSAGES_HPP_
#define JOBNET_PROTOCOL_MESSAGES_HPP_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "jobnet/status.h"
#include "jobnet/events.h"
#include "jobnet/job.h"
#include "jobnet/limits.h"
#include "jobnet/queue.h"

namespace jobnet::protocol {

// The client-facing types live in the public header jobnet/job.h; the protocol encodes them.
using jobnet::AttemptInfo;
using jobnet::BatchItemResult;
using jobnet::BulkAction;
using jobnet::CallbackState;
using jobnet::CallbackStateName;
using jobnet::HandlerInfo;
using jobnet::IsFinal;
using jobnet::JobInfo;
using jobnet::JobSpec;
using jobnet::JobState;
using jobnet::JobStateName;
using jobnet::kJobStateCount;
using jobnet::MsgpackNil;
using jobnet::ParseJobState;
using jobnet::PeerInfo;
using jobnet::WorkerList;
using jobnet::ExternalWorkerInfo;
using jobnet::WorkerSlot;

// Checks names and bounds. Returns kInvalidArgument or kTooLarge naming the field.
Status Validate(const JobSpec& spec);
// A bulk action names a valid queue (and type, if any); retry takes a dead, failed or
// cancelled state, cancel requires queued or delayed. kInvalidArgument naming the field.
Status Validate(const BulkQuery& q);
using jobnet::ScheduleInfo;
using jobnet::ScheduleSpec;

// The name, exactly one of cron (length only: the scheduler parses it) and every_ms (bounds),
// and the job template (as Validate, with no key, delay or run_at). kInvalidArgument naming the
// field.
Status Validate(const ScheduleSpec& spec);
using jobnet::QueueInfo;
using jobnet::QueueOrder;
using jobnet::QueueSettings;
using jobnet::QueueUpdate;

// Checks a queue's name and each field given against its bounds (limits.h). Returns
// kInvalidArgument naming the field and its bounds.
Status Validate(const QueueUpdate& update);
Status Validate(const QueueSettings& settings);
// [A-Za-z0-9_.-]{1,max}
bool IsValidName(const std::string& s, uint32_t max_bytes);
// That pattern as text, for error messages: "[A-Za-z0-9_.-]{1,64}".
std::string NamePattern(uint32_t max_bytes);

// ---- requests ----
struct SubmitRequest { JobSpec spec; };
struct StatusRequest {
  std::string id;
  bool history = false;  // fill JobInfo::history (absent from older clients: false)
};
struct WaitRequest {
  std::string id;
  uint64_t timeout_ms = limits::kWaitTimeoutMsDefault;
};
struct CancelRequest { std::string id; };
struct RetryRequest { std::string id; };
using ListRequest = jobnet::ListQuery;
struct StatsRequest {};
// One spec of a submit_batch, as decoded: a spec that failed to decode keeps its error here
// (code + message) so only its own answer is an error.
struct BatchSpec {
  JobSpec spec;
  Status decoded;
};
struct SubmitBatchRequest { std::vector<BatchSpec> specs; };
// What one spec adds to a submit_batch frame, at most (limits::kBatchSpecOverheadBytes): a client
// starts a new request before the sum would pass limits::kBatchFrameSpecBytesMax.
uint64_t BatchSpecBytes(const JobSpec& spec);
using BulkRequest = jobnet::BulkQuery;
struct TypesRequest {};
struct WorkersRequest {};
// Resizes the worker pool to `workers` (1..kWorkersMax) while the node runs.
struct WorkersSetRequest { uint32_t workers = 0; };
// Autoscaling on between min and max (min 0: off); 0 for a duration keeps the node's own.
struct WorkersAutoscaleRequest {
  uint32_t min = 0;
  uint32_t max = 0;
  uint64_t target_wait_ms = 0;
  uint64_t quiet_ms = 0;
};
struct ScheduleAddRequest { ScheduleSpec schedule; };
// local = only the answering node's schedules; otherwise it also asks its alive peers
// (docs/cluster.md "Schedules"). Nodes set it on the requests they send each other.
struct ScheduleListRequest { bool local = false; };
enum class ScheduleAction : uint8_t { kRemove = 0, kPause = 1, kResume = 2 };
const char* ScheduleActionName(ScheduleAction a);  // "remove", "pause", "resume"
std::optional<ScheduleAction> ParseScheduleAction(const std::string& name);
struct ScheduleChangeRequest {
  std::string name;
  ScheduleAction action = ScheduleAction::kPause;
};
// Changes some settings of one queue (pause and resume are `paused`); answered with a
// queue_list holding that queue.
struct QueueSetRequest { QueueUpdate update; };
// Lists this node's queues: every queue with jobs or settings.
struct QueuesRequest {};
// Changes this node's principals while it runs (docs/operations.md §21): action "add" (name,
// key, scopes, endpoints, types), "remove" (name) or "list". Scopes, endpoints and types are
// comma-separated.
// Answered with a principal_list of every principal after the change.
struct PrincipalsRequest {
  std::string action;
  std::string name;
  std::string key;
  std::string scopes;
  std::string endpoints;
  std::string types;  // with scope worker: the only job types it may serve; "" = any
};

// ---- replies ----
using AcceptedReply = jobnet::SubmitResult;
struct JobReply { JobInfo job; };
struct JobListReply { std::vector<JobInfo> jobs; };
using StatsReply = jobnet::NodeStats;
struct BatchAcceptedReply { std::vector<jobnet::BatchItemResult> items; };
using BulkReply = jobnet::BulkResult;
struct TypeListReply { std::vector<jobnet::HandlerInfo> handlers; };
// A principal as listed: scopes and endpoints comma-separated; origin "config" (the node's
// config or principals file, changed by editing it) or "added" (by `principals add`).
struct PrincipalEntry {
  std::string name;
  std::string key;
  std::string scopes;
  std::string endpoints;
  std::string origin;
  std::string types;  // comma-separated; "" = any (absent on the wire)
};
struct PrincipalListReply { std::vector<PrincipalEntry> principals; };
using WorkerListReply = jobnet::WorkerList;
// The answer to schedule_list (every schedule), schedule_add (the new one) and schedule_change
// (the schedule as it is now; as it was, for remove). unreachable: nodes asked that did not
// answer (schedule_list only).
struct ScheduleListReply {
  std::vector<ScheduleInfo> schedules;
  std::vector<std::string> unreachable;
};
struct QueueListReply { std::vector<QueueInfo> queues; };

// ---- the job event stream (docs/protocol.md "Job events") ----
using jobnet::EventPage;
using jobnet::EventQuery;
using jobnet::StateEvent;
// events: the node's job state changes after `since`, held up to wait_ms when there are none.
using EventsRequest = jobnet::EventQuery;
using EventListReply = jobnet::EventPage;
// queue (when given) is a valid name, job at most kJobIdBytesMax, max 1..kEventsPerReplyMax,
// wait_ms at most kEventWaitMsMax. kInvalidArgument naming the field.
Status Validate(const EventQuery& q);

// ---- node to node (one-way: no reply frame) ----
// Sent every heartbeat interval on each peer link.
struct Heartbeat {
  std::string node;
  uint64_t incarnation = 0;
  std::string endpoint;  // the sender's listen endpoint: how peers map links to node ids
  uint32_t workers = 0;
  uint32_t free = 0;     // slots it would give to other owners' jobs now
  uint64_t queued = 0;
  // The sender answers each remote_run with remote_ack at once and reads remote_ack and the
  // `free` of results. Absent (older nodes): false, and runs to it are not acknowledged.
  bool acks = false;
};
// An owner asks a peer to run one attempt of its job on the peer's workers.
struct RemoteRun {
  std::string owner;
  uint64_t owner_incarnation = 0;
  uint64_t lease = 0;
  uint64_t seq = 0;
  std::string id;
  std::string type;
  std::string payload = MsgpackNil();
  uint32_t attempt = 0;
  uint64_t timeout_ms = 0;
  // With etcd: the owner's shard epoch when it sent the run (0: no etcd, or an older node). A
  // peer that knows another node won the owner's shard at a later epoch refuses the run: its
  // sender has been deposed (docs/failover.md §5).
  uint64_t epoch = 0;
  // The job's parents' results, a msgpack map of id to result (nil: none), for its handler.
  std::string parents = MsgpackNil();
};
// The peer reports the attempt's outcome to the owner. rejected = the peer had no free slot
// and never started it (the attempt does not count).
struct RemoteResult {
  std::string owner;
  uint64_t owner_incarnation = 0;
  std::string worker_node;
  uint64_t lease = 0;
  uint64_t seq = 0;
  bool ok = false;
  bool rejected = false;
  // The host stopped the run at its deadline, or it ended past it: the owner counts a timeout.
  bool timed_out = false;
  std::string result = MsgpackNil();
  std::string error;
  // The slots the peer offers now (as Heartbeat::free), after this run freed its slot. Read
  // only from peers that announce acks (older nodes do not write it).
  uint32_t free = 0;
  uint64_t epoch = 0;  // the run's epoch, echoed; the owner refuses one it has not reached
};
// The peer received a remote_run and started it (a run it does not start is answered with a
// rejected remote_result). Sent only to owners that announce acks. Until it arrives the owner
// does not count the attempt as spent.
struct RemoteAck {
  std::string owner;
  uint64_t owner_incarnation = 0;
  std::string worker_node;
  uint64_t lease = 0;
  uint64_t seq = 0;
  uint32_t free = 0;  // the slots the peer offers now, this run's slot already taken
  uint64_t epoch = 0;  // the run's epoch, echoed (as RemoteResult::epoch)
};
// The owner cancelled its job while the run `lease` was on this peer: the peer stops that run
// (as on its own cancel) or drops it if it has not started. No answer: the owner has already
// forgotten the lease, so the run's result, if any, is stale there.
struct RemoteCancel {
  std::string owner;
  uint64_t owner_incarnation = 0;
  uint64_t lease = 0;
  uint64_t seq = 0;
};
// Queue settings, newest first wins (QueueSettings::updated_at_ms, then origin): sent to every
// alive peer when a queue is set on this node, and all of them, in frames of at most
// kQueueSyncPerFrameMax, to a peer that turns alive or restarted.
struct QueueSync {
  std::string node;  // the sender
  std::vector<QueueSettings> queues;
};
// ---- flows (docs/protocol.md §23) ----
using jobnet::FlowJob;
using jobnet::FlowResult;
// A whole graph of jobs, every one of them accepted or none (one journal write, one fsync).
struct SubmitFlowRequest { std::vector<FlowJob> jobs; };  // 1..kFlowJobsMax
struct FlowAcceptedReply { FlowResult flow; };
// ---- dependencies across nodes (docs/cluster.md "Dependencies") ----
// A child's owner asks the owner of some of its parents to tell it once they are final. Sent
// when the child is submitted or recovered, when the parent's owner turns alive or restarts,
// and again every limits::kParentWatchResendMs while the parent has not finished: the watching
// side keeps nothing journaled, and a lost watch or answer only delays the child.
struct ParentWatch {
  std::string node;              // the sender: the children's owner, where answers go
  std::vector<std::string> ids;  // jobs of the receiver, 1..kParentWatchPerFrameMax
};
// The answer, one per watched parent that is final (or that the receiver does not hold): at
// once for such a parent, else when it becomes final.
struct ParentDone {
  std::string node;  // the sender: the parent's owner
  std::string id;    // the parent
  JobState state = JobState::kSucceeded;  // its final state; ignored when missing
  bool missing = false;  // no such job on the sender (never was, or purged by retention)
  std::string result = MsgpackNil();  // its result, when succeeded
  std::string error;                  // its last error, when it failed
};
// ---- blobs (docs/protocol.md "Blobs") ----
// One chunk of an upload. The client names the whole blob (hash, size) in every chunk and sends
// the chunks in order, each kBlobChunkBytesMax long but the last; offset = chunk index times
// kBlobChunkBytesMax. The node verifies the hash when the last chunk arrives. A blob of 0 bytes
// is one empty chunk.
struct BlobPutRequest {
  std::string hash;  // SHA-256 of the whole blob, lower-case hex
  uint64_t size = 0;
  uint64_t offset = 0;
  std::string data;
};
// Reads up to `length` (at most kBlobChunkBytesMax; 0 = that much) bytes from `offset`.
// `job` (optional): the job whose result names the blob. A node that does not own that job
// forwards the request to its owner, as it forwards status (the blob is where the job ran).
struct BlobGetRequest {
  std::string hash;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string job;
};
// The answer to each chunk: received = the bytes the node holds, from 0; complete once the
// whole blob is stored (durably) and its hash checked.
struct BlobStoredReply {
  std::string hash;
  uint64_t size = 0;
  uint64_t received = 0;
  bool complete = false;
};
struct BlobDataReply {
  std::string hash;
  uint64_t size = 0;    // of the whole blob
  uint64_t offset = 0;  // of `data`
  std::string data;
};
// [0-9a-f]{64}
bool IsBlobHash(const std::string& s);
// kInvalidArgument naming the field (hash, size against `blob_bytes_max`, chunk placement).
Status Validate(const BlobPutRequest& r, uint64_t blob_bytes_max);
struct ErrorReply {
  Code code = Code::kInternal;
  std::string message;
};

// ---- external workers: a worker process leases jobs over the wire ----
// (docs/protocol.md "External workers")
// Registers a worker that serves `types` with up to `capacity` jobs at once. lease_ms: how long
// it may stay silent before it is dropped and its jobs re-queued (0 = the default).
struct WorkerRegisterRequest {
  std::string name;
  std::vector<std::string> types;
  uint32_t capacity = 1;
  uint64_t lease_ms = 0;
};
// Asks for up to `max` jobs (0 = its free capacity); held up to wait_ms while there are none.
struct WorkerPollRequest {
  uint64_t worker = 0;
  uint64_t wait_ms = 0;
  uint32_t max = 0;
};
// The worker is alive: renews its lease (and so every job it holds). `leases`: the runs it
// believes it holds; the reply names those it no longer does (to stop their handlers).
struct WorkerHeartbeatRequest {
  uint64_t worker = 0;
  std::vector<uint64_t> leases;
};
struct WorkerProgressRequest {
  uint64_t worker = 0;
  std::string id;
  uint64_t lease = 0;
  uint32_t pct = 0;
  std::string message;
};
// The run `lease` of job `id` ended: it succeeded with `result` (complete), or failed with
// `error` (fail).
struct WorkerCompleteRequest {
  uint64_t worker = 0;
  std::string id;
  uint64_t lease = 0;
  std::string result = MsgpackNil();
};
struct WorkerFailRequest {
  uint64_t worker = 0;
  std::string id;
  uint64_t lease = 0;
  std::string error;
};
struct WorkerUnregisterRequest { uint64_t worker = 0; };
struct WorkerRegisteredReply {
  uint64_t worker = 0;
  std::string node;
  uint64_t lease_ms = 0;
};
// One job leased to an external worker.
struct LeasedJob {
  std::string id;
  uint64_t lease = 0;
  std::string type;
  std::string queue;
  uint32_t priority = 0;
  std::string payload = MsgpackNil();
  uint32_t attempt = 0;
  uint64_t timeout_ms = 0;
  // Its parents' results (a job submitted with depends_on): a msgpack map of parent id to
  // result; nil when it has none.
  std::string parents = MsgpackNil();
};
struct WorkerJobsReply { std::vector<LeasedJob> jobs; };
struct WorkerBeatReply {
  std::vector<uint64_t> lost;
  uint64_t lease_ms = 0;
};
// The answer to progress, complete, fail and unregister. applied = false: a progress update
// dropped by the rate limit.
struct WorkerAckReply { bool applied = true; };
// Register's bounds (limits.h): names, 1..kExternalTypesMax valid type names, capacity and lease.
Status Validate(const WorkerRegisterRequest& r);

using Body = std::variant<SubmitRequest, StatusRequest, WaitRequest, CancelRequest, RetryRequest,
                          ListRequest, StatsRequest, AcceptedReply, JobReply, JobListReply,
                          StatsReply, ErrorReply, Heartbeat, RemoteRun, RemoteResult, RemoteAck,
                          SubmitBatchRequest, BulkRequest, TypesRequest, BatchAcceptedReply,
                          BulkReply, TypeListReply,
                          WorkersRequest, WorkersSetRequest, WorkerListReply, RemoteCancel,
                          ScheduleAddRequest, ScheduleListRequest, ScheduleChangeRequest,
                          ScheduleListReply,
                          QueueSetRequest, QueuesRequest, QueueListReply, QueueSync,
                          EventsRequest, EventListReply,
                          BlobPutRequest, BlobGetRequest, BlobStoredReply, BlobDataReply,
                          WorkerRegisterRequest, WorkerPollRequest, WorkerHeartbeatRequest,
                          WorkerProgressRequest, WorkerCompleteRequest, WorkerFailRequest,
                          WorkerUnregisterRequest,
                          WorkerRegisteredReply, WorkerJobsReply, WorkerBeatReply,
                          WorkerAckReply, PrincipalsRequest, PrincipalListReply,
                          WorkersAutoscaleRequest, ParentWatch, ParentDone,
                          SubmitFlowRequest, FlowAcceptedReply>;

// Message kinds on the wire. Numbers are part of the protocol: never renumber.
enum class Kind : uint8_t {
  kSubmit = 1,
  kStatus = 2,
  kWait = 3,
  kCancel = 4,
  kRetry = 5,
  kList = 6,
  kStats = 7,
  kWorkers = 10,
  kWorkersSet = 11,
  kWorkersAutoscale = 15,
  kScheduleAdd = 12,
  kScheduleList = 13,
  kScheduleChange = 14,
  kQueueSet = 8,
  kQueues = 9,
  kHeartbeat = 16,
  kRemoteRun = 17,
  kRemoteResult = 18,
  kRemoteAck = 19,
  kSubmitBatch = 32,
  kSubmitFlow = 36,
  kFlowAccepted = 78,
  kBulk = 33,
  kTypes = 34,
  kRemoteCancel = 21,
  kQueueSync = 20,
  kParentWatch = 25,
  kParentDone = 26,
  kBlobPut = 23,
  kBlobGet = 24,
  kBlobStored = 75,
  kBlobData = 76,
  kAccepted = 64,
  kJob = 65,
  kJobList = 66,
  kStatsReply = 67,
  kBatchAccepted = 71,
  kBulkReply = 72,
  kTypeList = 73,
  kWorkerList = 69,
  kScheduleListReply = 70,
  kQueueList = 68,
  kEvents = 22,
  kEventList = 74,
  // external workers: requests 40..47, replies 80..87
  kWorkerRegister = 40,
  kWorkerPoll = 41,
  kWorkerHeartbeat = 42,
  kWorkerProgress = 43,
  kWorkerComplete = 44,
  kWorkerFail = 45,
  kWorkerUnregister = 46,
  kWorkerRegistered = 80,
  kWorkerJobs = 81,
  kWorkerBeat = 82,
  kWorkerAck = 83,
  kPrincipals = 35,
  kPrincipalList = 77,
  kError = 127,
};
Kind KindOf(const Body& body);
// Node-to-node messages get no reply frame.
inline bool IsOneWay(Kind k) {
  return k == Kind::kHeartbeat || k == Kind::kRemoteRun || k == Kind::kRemoteResult ||
         k == Kind::kRemoteAck || k == Kind::kRemoteCancel ||
         k == Kind::kQueueSync || k == Kind::kParentWatch || k == Kind::kParentDone;
}
const char* KindName(Kind k);

struct Envelope {
  uint32_t version = limits::kProtocolVersion;
  uint64_t corr_id = 0;  // chosen by the client, echoed in the reply
  Body body;
};

inline Envelope MakeError(uint64_t corr_id, const Status& s) {
  return Envelope{limits::kProtocolVersion, corr_id, ErrorReply{s.code(), s.message()}};
}

// ---- job ids: "<node>-<seq>", the owner node is part of the id ----
std::string MakeJobId(const std::string& node, uint64_t seq);
struct ParsedJobId {
  std::string node;
  uint64_t seq = 0;
};
Result<ParsedJobId> ParseJobId(const std::string& id);

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_MESSAGES_HPP_
