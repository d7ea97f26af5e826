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
#include "jobnet/job.h"
#include "jobnet/limits.h"
#include "jobnet/queue.h"

namespace jobnet::protocol {

// The client-facing types live in the public header jobnet/job.h; the protocol encodes them.
using jobnet::IsFinal;
using jobnet::JobInfo;
using jobnet::JobSpec;
using jobnet::JobState;
using jobnet::JobStateName;
using jobnet::kJobStateCount;
using jobnet::MsgpackNil;
using jobnet::ParseJobState;
using jobnet::PeerInfo;
using jobnet::QueueInfo;
using jobnet::QueueOrder;
using jobnet::QueueSettings;
using jobnet::QueueUpdate;

// Checks names and bounds. Returns kInvalidArgument or kTooLarge naming the field.
Status Validate(const JobSpec& spec);
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
struct StatusRequest { std::string id; };
struct WaitRequest {
  std::string id;
  uint64_t timeout_ms = limits::kWaitTimeoutMsDefault;
};
struct CancelRequest { std::string id; };
struct RetryRequest { std::string id; };
using ListRequest = jobnet::ListQuery;
struct StatsRequest {};
// Changes some settings of one queue (pause and resume are `paused`); answered with a
// queue_list holding that queue.
struct QueueSetRequest { QueueUpdate update; };
// Lists this node's queues: every queue with jobs or settings.
struct QueuesRequest {};

// ---- replies ----
using AcceptedReply = jobnet::SubmitResult;
struct JobReply { JobInfo job; };
struct JobListReply { std::vector<JobInfo> jobs; };
using StatsReply = jobnet::NodeStats;
struct QueueListReply { std::vector<QueueInfo> queues; };

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
};
// Queue settings, newest first wins (QueueSettings::updated_at_ms, then origin): sent to every
// alive peer when a queue is set on this node, and all of them, in frames of at most
// kQueueSyncPerFrameMax, to a peer that turns alive or restarted.
struct QueueSync {
  std::string node;  // the sender
  std::vector<QueueSettings> queues;
};
struct ErrorReply {
  Code code = Code::kInternal;
  std::string message;
};

using Body = std::variant<SubmitRequest, StatusRequest, WaitRequest, CancelRequest, RetryRequest,
                          ListRequest, StatsRequest, AcceptedReply, JobReply, JobListReply,
                          StatsReply, ErrorReply, Heartbeat, RemoteRun, RemoteResult, RemoteAck,
                          QueueSetRequest, QueuesRequest, QueueListReply, QueueSync>;

// Message kinds on the wire. Numbers are part of the protocol: never renumber.
enum class Kind : uint8_t {
  kSubmit = 1,
  kStatus = 2,
  kWait = 3,
  kCancel = 4,
  kRetry = 5,
  kList = 6,
  kStats = 7,
  kQueueSet = 8,
  kQueues = 9,
  kHeartbeat = 16,
  kRemoteRun = 17,
  kRemoteResult = 18,
  kRemoteAck = 19,
  kQueueSync = 20,
  kAccepted = 64,
  kJob = 65,
  kJobList = 66,
  kStatsReply = 67,
  kQueueList = 68,
  kError = 127,
};
Kind KindOf(const Body& body);
// Node-to-node messages get no reply frame.
inline bool IsOneWay(Kind k) {
  return k == Kind::kHeartbeat || k == Kind::kRemoteRun || k == Kind::kRemoteResult ||
         k == Kind::kRemoteAck || k == Kind::kQueueSync;
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
