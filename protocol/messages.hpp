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
#include "jobnet/limits.h"

namespace jobnet::protocol {

// A job's place in its lifecycle. Numbers are stored in the journal: never renumber.
enum class JobState : uint8_t {
  kQueued = 0,
  kDelayed = 1,
  kRunning = 2,
  kSucceeded = 3,
  kFailed = 4,  // reserved for a final failure without dead-lettering; not produced yet
  kDead = 5,
  kCancelled = 6,
};
constexpr int kJobStateCount = 7;
const char* JobStateName(JobState s);
std::optional<JobState> ParseJobState(const std::string& name);
bool IsFinal(JobState s);

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
};

// Checks names and bounds. Returns kInvalidArgument or kTooLarge naming the field.
Status Validate(const JobSpec& spec);
// [A-Za-z0-9_.-]{1,max}
bool IsValidName(const std::string& s, uint32_t max_bytes);
// That pattern as text, for error messages: "[A-Za-z0-9_.-]{1,64}".
std::string NamePattern(uint32_t max_bytes);

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
};

// ---- requests ----
struct SubmitRequest { JobSpec spec; };
struct StatusRequest { std::string id; };
struct WaitRequest {
  std::string id;
  uint64_t timeout_ms = limits::kWaitTimeoutMsDefault;
};
struct CancelRequest { std::string id; };
struct RetryRequest { std::string id; };
struct ListRequest {
  std::optional<JobState> state;
  std::string queue;   // empty = all
  uint32_t limit = 100;
  std::string after;   // job id cursor: list jobs created after it; empty = from the start
};
struct StatsRequest {};

// ---- replies ----
struct AcceptedReply {
  std::string id;
  JobState state = JobState::kQueued;
  bool duplicate = false;  // the idempotency key matched an existing job
};
struct JobReply { JobInfo job; };
struct JobListReply { std::vector<JobInfo> jobs; };
// A peer as this node sees it (stats reply, `jobnet nodes`).
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

struct StatsReply {
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
};

// ---- node to node (one-way: no reply frame) ----
// Sent every heartbeat interval on each peer link.
struct Heartbeat {
  std::string node;
  uint64_t incarnation = 0;
  std::string endpoint;  // the sender's listen endpoint: how peers map links to node ids
  uint32_t workers = 0;
  uint32_t free = 0;     // slots it would give to other owners' jobs now
  uint64_t queued = 0;
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
  std::string result = MsgpackNil();
  std::string error;
};
struct ErrorReply {
  Code code = Code::kInternal;
  std::string message;
};

using Body = std::variant<SubmitRequest, StatusRequest, WaitRequest, CancelRequest, RetryRequest,
                          ListRequest, StatsRequest, AcceptedReply, JobReply, JobListReply,
                          StatsReply, ErrorReply, Heartbeat, RemoteRun, RemoteResult>;

// Message kinds on the wire. Numbers are part of the protocol: never renumber.
enum class Kind : uint8_t {
  kSubmit = 1,
  kStatus = 2,
  kWait = 3,
  kCancel = 4,
  kRetry = 5,
  kList = 6,
  kStats = 7,
  kHeartbeat = 16,
  kRemoteRun = 17,
  kRemoteResult = 18,
  kAccepted = 64,
  kJob = 65,
  kJobList = 66,
  kStatsReply = 67,
  kError = 127,
};
Kind KindOf(const Body& body);
// Node-to-node messages get no reply frame.
inline bool IsOneWay(Kind k) {
  return k == Kind::kHeartbeat || k == Kind::kRemoteRun || k == Kind::kRemoteResult;
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
