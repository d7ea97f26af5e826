// jobnet::Client: a synchronous ZeroMQ client for one jobnet node (the CLI is built on it).
//
// A Client owns one DEALER socket. It is NOT thread-safe: use one Client per thread. Every call
// blocks for at most its timeout and returns a Status; none throws. Job payloads and results are
// raw msgpack bytes (jobnet/job.h: JobSpec, JobInfo). Only standard and jobnet types appear here.
#ifndef JOBNET_CLIENT_H_
#define JOBNET_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "jobnet/events.h"
#include "jobnet/job.h"
#include "jobnet/limits.h"
#include "jobnet/queue.h"
#include "jobnet/keys.h"
#include "jobnet/status.h"

namespace jobnet {

struct ClientOptions {
  // Nodes to try, in order. Default: $JOBNET_ENDPOINTS (comma-separated) if set, else
  // tcp://127.0.0.1:7701.
  std::vector<std::string> endpoints = DefaultEndpoints();
  // How long one request may take before it fails with kTimeout. Default
  // limits::kRequestTimeoutMsDefault (5 s), longer than a node waits for another node it
  // forwarded the request to, so that node's kUnavailable answer arrives first. A wait request
  // gets its own wait timeout on top of this.
  uint32_t request_timeout_ms = limits::kRequestTimeoutMsDefault;
  // When a node does not answer at all, retry the request on the next endpoint, trying each
  // endpoint at most once per call. "Does not answer" is either of:
  //  - its connection is refused or lost while the request waits (nothing listens on the port,
  //    the node died): detected at once, typically within tens of ms (a client that was
  //    connected before waits for ZeroMQ's next reconnect attempt, 100 ms later), so a dead
  //    endpoint costs far less than request_timeout_ms;
  //  - the node is connected but sends no reply within request_timeout_ms (slow, stopped, or
  //    a host that drops packets, whose TCP connect neither succeeds nor is refused).
  // Error replies (including a node's own timeout or unavailable answers) are returned as they
  // are. Without failover, a refused or lost connection fails the call with kUnavailable, as
  // early. Default true.
  bool failover = true;
  // Start at a random endpoint (then go on in order, wrapping around), so that a cluster's
  // clients spread their submits, and so the ownership of their jobs, over its nodes instead of
  // all using the first endpoint listed. false: start at the first (a tool that prefers one
  // node). Default true.
  bool spread = true;
  // Give each submit without an idempotency key a random one, so a submit retried after a
  // lost reply never creates a second job on the same owner. Default true.
  bool auto_idempotency_key = true;
  // CURVE (docs/operations.md "Securing a cluster"): this client's keypair, and the public key
  // (Z85) of the node at each endpoint. With a keypair every endpoint needs its node's key;
  // without one the client speaks plain ZeroMQ, which a node with principals refuses.
  CurveKeys key;
  std::map<std::string, std::string> server_keys;

  static std::vector<std::string> DefaultEndpoints();
  // Options for exactly one node, without failover (tools that must know which node answered).
  static ClientOptions Single(const std::string& endpoint, uint32_t request_timeout_ms);
  // These options (this client's key, the nodes' keys) for exactly one of the nodes, without
  // failover: as Single, keeping the CURVE keys.
  ClientOptions Narrowed(const std::string& endpoint, uint32_t request_timeout_ms) const;
};

// One reply to a pipelined request (Client::SendSubmit, Client::SendWait).
struct Reply {
  uint64_t corr_id = 0;   // as returned by the Send call it answers
  Status status;          // the node's error, if it answered with one
  SubmitResult submitted;  // for a submit, when status is OK
  JobInfo job;            // for a wait, when status is OK
};

class Client {
 public:
  // Connects to the first endpoint in options.endpoints that answers a stats request within
  // the request timeout. An endpoint that refuses the connection is skipped at once, without
  // waiting for the timeout. On success stores the client in *client and returns OK; otherwise
  // leaves *client empty and returns kUnavailable naming every endpoint tried. Blocks for at
  // most request_timeout_ms per endpoint that accepts the connection but does not answer.
  static Status Connect(const ClientOptions& options, std::unique_ptr<Client>* client);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The endpoint this client talks to.
  const std::string& endpoint() const;

  // Submits a job. On success the reply holds the job id and its state (duplicate = true if
  // the idempotency key matched an existing job; with spec.reuse, reused_from names the job
  // whose result the new, already succeeded job copied, or coalesced = true says `id` is an
  // identical job that was waiting or running). Errors: kInvalidArgument, kTooLarge,
  // kOverloaded, kDraining, kTimeout, kUnavailable. With failover, a submit whose node stops
  // answering is retried on the next endpoint: if the first node did accept it before dying,
  // the job then exists on both owners (keys are per owner).
  Result<SubmitResult> Submit(const JobSpec& spec);
  // Submits up to limits::kBatchSpecsMax jobs in one request, journaled with one fsync. On
  // success returns one result per spec, in order: the job, or that spec's error (a bad spec
  // does not fail the others; specs that fail protocol::Validate, such as a payload nested past
  // limits::kPayloadDepthMax, are answered here and not sent). Errors for the whole request: kInvalidArgument (no specs, or
  // more than kBatchSpecsMax), kTooLarge (the frame; split the batch), and those of Submit.
  // Each spec without a key gets an automatic one (as Submit), so the failover retry of a
  // batch whose node stopped answering does not create its jobs twice on that node.
  Result<std::vector<BatchItemResult>> SubmitBatch(const std::vector<JobSpec>& specs);
  // A whole graph of 1..limits::kFlowJobsMax jobs with local names (docs/protocol.md §23): the
  // node accepts every one or none (one journal write), parents first, and answers the ids by
  // name. Flow jobs take no idempotency key (none is added) and no reuse.
  Result<FlowResult> SubmitFlow(const std::vector<FlowJob>& jobs);
  // Retries or cancels every eligible job of one queue on the node it talks to (jobnet/job.h
  // BulkQuery). Blocks until the node has been through all its jobs: a large queue may need
  // more than the default request timeout. Safe to repeat: a second run touches none.
  Result<BulkResult> Bulk(const BulkQuery& query);
  // The job handlers of the node, with the payload each accepts and the result it returns.
  Result<std::vector<HandlerInfo>> Types();
  // A node's principals (docs/operations.md §21; scope admin): `action` "list", "add" (name,
  // key, scopes and endpoints, comma-separated) or "remove" (name). Every principal after it.
  struct PrincipalInfo {
    std::string name, key, scopes, endpoints;
    std::string origin;  // "config" or "added"
    std::string types;   // a worker's only job types, comma-separated; "" = any
  };
  Result<std::vector<PrincipalInfo>> Principals(const std::string& action,
                                                const PrincipalInfo& principal = {});
  // Current state of a job (with history: its last attempts, JobInfo::history). kNotFound if
  // the node does not know it.
  Result<JobInfo> GetStatus(const std::string& id, bool history = false);
  // Blocks until the job is final or timeout_ms passes (then kTimeout).
  Result<JobInfo> Wait(const std::string& id, uint64_t timeout_ms);
  // Cancels a queued, delayed or running job (kConflict if it is already final).
  Result<JobInfo> Cancel(const std::string& id);
  // Re-queues a dead, failed or cancelled job with a fresh set of attempts.
  Result<JobInfo> Retry(const std::string& id);
  // One page of jobs matching `query` (at most limits::kListLimitMax).
  Result<std::vector<JobInfo>> List(const ListQuery& query);
  // The node's own view: its jobs by state, queues, counters and peers.
  Result<NodeStats> Stats();
  // The node's worker pool: its size and each slot (idle, or the job it runs).
  Result<WorkerList> Workers();
  // Resizes the node's worker pool to `workers` while it runs; returns the pool after the
  // change, once the new size is journaled (it is kept across restarts). A shrink lets running
  // jobs finish: their slots are listed as retiring until then. kInvalidArgument outside
  // 1..limits::kWorkersMax; kStorageFull while the node's journal disk is full.
  Result<WorkerList> SetWorkers(uint32_t workers);
  // Lets the pool follow the load between min and max workers (min 0: off); a duration of 0
  // keeps the node's own (docs/operations.md §13). `SetWorkers` turns it off.
  Result<WorkerList> SetAutoscale(uint32_t min, uint32_t max, uint64_t target_wait_ms = 0,
                                  uint64_t quiet_ms = 0);

  // Schedules (recurring jobs, docs/protocol.md "Schedules"). A schedule belongs to the node that
  // added it: add, remove, pause and resume act on the node this client talks to.
  // Adds one. On success returns it with its next fire time. Errors: kInvalidArgument (a bad
  // spec, or a bad cron expression: the message names the field), kConflict (the node already
  // has a schedule of that name), kOverloaded (the node holds limits::kSchedulesPerNodeMax),
  // kDraining, kStorageFull, kTimeout, kUnavailable.
  Result<ScheduleInfo> AddSchedule(const ScheduleSpec& spec);
  // The schedules of every node: the node asks its alive peers and merges their answers (with
  // local_only, only its own). Peers that did not answer in time, or were known dead, are named
  // in *unreachable (if not null). Blocks for up to the request timeout.
  Result<std::vector<ScheduleInfo>> ListSchedules(std::vector<std::string>* unreachable,
                                                  bool local_only = false);
  // Remove, pause or resume the node's schedule `name`; returns it as it now is (as it was, for
  // remove). kNotFound if the node has no schedule of that name. Pause and resume are safe to
  // repeat; resume continues with the first tick after now (ticks missed while paused are
  // skipped).
  Result<ScheduleInfo> ChangeSchedule(const std::string& name, const std::string& action);
  // Changes the settings given in `update` of one queue on this node; the node passes them on to
  // its peers (the newest change wins on every node). Pause and resume are `paused`. On success
  // returns the queue as this node now has it. kInvalidArgument for a bad name or a value out of
  // its bounds (limits.h), kOverloaded past limits::kQueueSettingsMax queues, kStorageFull.
  Result<QueueInfo> SetQueue(const QueueUpdate& update);
  // This node's queues: every queue with jobs or settings, by name, with its figures.
  Result<std::vector<QueueInfo>> Queues();

  // The node's job events after query.since (jobnet/events.h), oldest first, at most
  // query.max; with none yet, the node holds the request up to query.wait_ms and answers with
  // an empty page. Events are numbered per node, so this asks the node this client talks to,
  // without failover (kUnavailable or kTimeout when it does not answer). kInvalidArgument for
  // a bad query; kOverloaded when the node already holds limits::kEventWaitersMax of them.
  // Blocks up to query.wait_ms plus the request timeout.
  Result<EventPage> Events(const EventQuery& query);
  // Blobs (docs/protocol.md "Blobs"): content-addressed bytes on the node this client talks to,
  // such as the input image an image_resize payload names.
  // Stores `data` as a blob, in chunks of limits::kBlobChunkBytesMax, and returns its name (the
  // SHA-256 in lower-case hex) once the node holds it durably. Bytes the node already has are
  // not sent again. Blocks for the whole upload (one request timeout per chunk). Errors:
  // kTooLarge (over the node's blob limit), kInvalidArgument, kStorage, kStorageFull, kTimeout,
  // kUnavailable. A failover to another endpoint mid-upload starts the upload there again.
  Result<std::string> PutBlob(const std::string& data);
  // The whole blob `hash`, checked against its hash. `job` (may be empty): the job whose result
  // names the blob, so a node that does not own that job forwards the request to its owner.
  // kNotFound if the node does not hold the blob; kCorruption if the bytes do not match.
  Result<std::string> GetBlob(const std::string& hash, const std::string& job = "");

  // Pipelining, on this client's current endpoint only (no failover): send requests without
  // waiting, then collect replies in any order, matched by corr_id. Each Send returns the
  // corr_id it used, or kTooLarge, or kOverloaded when the local send queue is full. A submit
  // sent this way gets no automatic idempotency key. Receive returns the next reply (kTimeout if
  // none arrives within timeout_ms, kCorruption for an undecodable or unexpected reply); a
  // node's error answer is a Reply whose status is not OK. ReceiveFor is Receive to the
  // microsecond: an open-loop sender waits for a reply until its next send is due, without
  // polling. Both wait out their timeout even when the connection is refused or lost (requests
  // sent before the node came back are delivered when it does).
  Result<uint64_t> SendSubmit(const JobSpec& spec);
  Result<uint64_t> SendWait(const std::string& id, uint64_t timeout_ms);
  Result<Reply> Receive(uint32_t timeout_ms);
  Result<Reply> ReceiveFor(std::chrono::microseconds timeout);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jobnet

#endif  // JOBNET_CLIENT_H_
