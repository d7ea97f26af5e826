// Names, validation and job ids for the protocol messages.
#include "protocol/messages.hpp"

#include "base/parse.hpp"
#include "protocol/descriptions.hpp"
#include "protocol/msgpack_bounded.hpp"

#include <algorithm>

namespace jobnet {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kDelayed: return "delayed";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kDead: return "dead";
    case JobState::kCancelled: return "cancelled";
    case JobState::kWaiting: return "waiting";
  }
  return "unknown";
}

std::optional<JobState> ParseJobState(const std::string& name) {
  for (int i = 0; i < kJobStateCount; ++i) {
    auto s = static_cast<JobState>(i);
    if (name == JobStateName(s)) return s;
  }
  return std::nullopt;
}

bool IsFinal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kDead ||
         s == JobState::kCancelled;
}

const char* CallbackStateName(CallbackState s) {
  switch (s) {
    case CallbackState::kNone: return "none";
    case CallbackState::kPending: return "pending";
    case CallbackState::kDelivered: return "delivered";
    case CallbackState::kFailed: return "failed";
  }
  return "unknown";
}

std::optional<CallbackState> ParseCallbackState(const std::string& name) {
  for (auto s : {CallbackState::kNone, CallbackState::kPending, CallbackState::kDelivered,
                 CallbackState::kFailed})
    if (name == CallbackStateName(s)) return s;
  return std::nullopt;
}

const char* QueueOrderName(QueueOrder o) { return o == QueueOrder::kLifo ? "lifo" : "fifo"; }

std::optional<QueueOrder> ParseQueueOrder(const std::string& name) {
  if (name == "fifo") return QueueOrder::kFifo;
  if (name == "lifo") return QueueOrder::kLifo;
  return std::nullopt;
}

namespace protocol {

bool IsValidName(const std::string& s, uint32_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string NamePattern(uint32_t max_bytes) {
  return "[A-Za-z0-9_.-]{1," + std::to_string(max_bytes) + "}";
}

Status Validate(const JobSpec& spec) {
  using namespace limits;
  using std::to_string;
  // Over-long names are too_large, as the decoder answers them (docs/protocol.md §4.1), so a
  // spec checked here (the HTTP face, the CLI) gets the code it would get from the node.
  if (spec.type.size() > kTypeNameBytesMax)
    return Status::TooLarge("type is longer than " + to_string(kTypeNameBytesMax) + " bytes");
  if (!IsValidName(spec.type, kTypeNameBytesMax))
    return Status::InvalidArgument("type must match " + NamePattern(kTypeNameBytesMax));
  if (spec.queue.size() > kQueueNameBytesMax)
    return Status::TooLarge("queue is longer than " + to_string(kQueueNameBytesMax) + " bytes");
  if (!IsValidName(spec.queue, kQueueNameBytesMax))
    return Status::InvalidArgument("queue must match " + NamePattern(kQueueNameBytesMax));
  if (spec.payload.empty()) return Status::InvalidArgument("payload must be one msgpack value");
  if (spec.payload.size() > kPayloadBytesMax)
    return Status::TooLarge("payload is " + std::to_string(spec.payload.size()) +
                            " bytes; the limit is " + std::to_string(kPayloadBytesMax));
  // The one nesting bound (limits.h): a job accepted here fits every reply that carries it.
  Status nesting = CheckNesting(spec.payload.data(), spec.payload.size(), kPayloadDepthMax, "payload");
  if (nesting.IsCorruption()) return Status::InvalidArgument(nesting.message());
  if (!nesting.ok()) return nesting;
  if (spec.priority > kPriorityMax)
    return Status::InvalidArgument("priority must be 0.." + to_string(kPriorityMax));
  if (spec.run_at_ms != 0 && spec.delay_ms != 0)
    return Status::InvalidArgument("give run_at_ms or delay_ms, not both");
  if (spec.delay_ms > kDelayMsMax) return Status::InvalidArgument("delay_ms is over a year");
  if (spec.max_attempts < 1 || spec.max_attempts > kMaxAttemptsMax)
    return Status::InvalidArgument("max_attempts must be 1.." + to_string(kMaxAttemptsMax));
  if (spec.backoff_ms > kBackoffMsMax)
    return Status::InvalidArgument("backoff_ms must be at most " + to_string(kBackoffMsMax));
  if (spec.timeout_ms < 1 || spec.timeout_ms > kTimeoutMsMax)
    return Status::InvalidArgument("timeout_ms must be 1.." + to_string(kTimeoutMsMax));
  if (spec.depends_on.size() > kParentsMax)
    return Status::TooLarge("depends_on names " + to_string(spec.depends_on.size()) +
                            " jobs; the limit is " + to_string(kParentsMax));
  for (size_t i = 0; i < spec.depends_on.size(); ++i) {
    const std::string& parent = spec.depends_on[i];
    auto parsed = ParseJobId(parent);
    if (!parsed.ok())
      return Status::InvalidArgument("depends_on: " + parsed.status().message());
    if (std::find(spec.depends_on.begin(), spec.depends_on.begin() + i, parent) !=
        spec.depends_on.begin() + i)
      return Status::InvalidArgument("depends_on names job " + parent + " twice");
  }
  if (spec.run_on_parent_failure && spec.depends_on.empty())
    return Status::InvalidArgument("on_parent_failure needs depends_on");
  if (spec.reuse && !spec.depends_on.empty())
    return Status::InvalidArgument("reuse cannot be combined with depends_on");
  // Every other string's bound comes from its row (descriptions.cpp): key, callback, ... Only the
  // size of a callback here: the URL itself is checked by the node that takes the job, against
  // its callback allow-list (core/callbacks.hpp).
  for (const auto& f : JobSpecFields()) {
    const auto* m = std::get_if<std::string JobSpec::*>(&f.member);
    if (f.type != FieldType::kStr || m == nullptr || (spec.*(*m)).size() <= f.bytes_max) continue;
    return Status::TooLarge(std::string(f.key) + " must be at most " + to_string(f.bytes_max) +
                            " bytes");
  }
  return Status::OK();
}

uint64_t BatchSpecBytes(const JobSpec& spec) {
  // The payload and every free-length string (key, callback, ...: each string row but the two
  // names, which the overhead covers).
  uint64_t bytes = spec.payload.size() + limits::kBatchSpecOverheadBytes;
  for (const std::string& parent : spec.depends_on) bytes += parent.size() + 2;
  for (const auto& f : JobSpecFields()) {
    const auto* m = std::get_if<std::string JobSpec::*>(&f.member);
    if (m != nullptr && f.type == FieldType::kStr && &(spec.*(*m)) != &spec.type &&
        &(spec.*(*m)) != &spec.queue)
      bytes += (spec.*(*m)).size();
  }
  return bytes;
}

Status Validate(const BulkQuery& q) {
  using limits::kQueueNameBytesMax;
  using limits::kTypeNameBytesMax;
  if (!IsValidName(q.queue, kQueueNameBytesMax))
    return Status::InvalidArgument("queue must match " + NamePattern(kQueueNameBytesMax));
  if (!q.type.empty() && !IsValidName(q.type, kTypeNameBytesMax))
    return Status::InvalidArgument("type must match " + NamePattern(kTypeNameBytesMax));
  if (q.action == BulkAction::kRetry) {
    if (q.state && *q.state != JobState::kDead && *q.state != JobState::kFailed &&
        *q.state != JobState::kCancelled)
      return Status::InvalidArgument("retry --all takes dead, failed or cancelled jobs, not " +
                                     std::string(JobStateName(*q.state)));
  } else if (!q.state || (*q.state != JobState::kQueued && *q.state != JobState::kDelayed &&
                          *q.state != JobState::kWaiting)) {
    return Status::InvalidArgument("cancel --all needs a state: waiting, queued or delayed");
  }
  return Status::OK();
}

Status Validate(const ScheduleSpec& spec) {
  using namespace limits;
  using std::to_string;
  if (!IsValidName(spec.name, kScheduleNameBytesMax))
    return Status::InvalidArgument("schedule name must match " + NamePattern(kScheduleNameBytesMax));
  if (spec.cron.empty() == (spec.every_ms == 0))
    return Status::InvalidArgument("give exactly one of cron and every_ms");
  if (spec.cron.size() > kCronBytesMax)
    return Status::InvalidArgument("cron is longer than " + to_string(kCronBytesMax) + " bytes");
  if (spec.every_ms != 0 && (spec.every_ms < kScheduleEveryMsMin || spec.every_ms > kScheduleEveryMsMax))
    return Status::InvalidArgument("every_ms must be " + to_string(kScheduleEveryMsMin) + ".." +
                                   to_string(kScheduleEveryMsMax) + " (1 s to 366 days)");
  if (!spec.job.key.empty())
    return Status::InvalidArgument("a schedule's jobs cannot have a key: each fire gets its own");
  if (spec.job.reuse)
    return Status::InvalidArgument("a schedule's jobs cannot have reuse: every fire would copy "
                                   "the first fire's result instead of running");
  if (spec.job.delay_ms != 0 || spec.job.run_at_ms != 0)
    return Status::InvalidArgument("a schedule's jobs cannot have delay_ms or run_at_ms: the "
                                   "schedule says when they run");
  return Validate(spec.job);
}

Status Validate(const EventQuery& q) {
  using namespace limits;
  using std::to_string;
  if (!q.queue.empty() && !IsValidName(q.queue, kQueueNameBytesMax))
    return Status::InvalidArgument("queue must match " + NamePattern(kQueueNameBytesMax));
  if (q.job.size() > kJobIdBytesMax)
    return Status::InvalidArgument("job must be a job id of at most " + to_string(kJobIdBytesMax) +
                                   " bytes");
  if (q.max < 1 || q.max > kEventsPerReplyMax)
    return Status::InvalidArgument("max must be 1.." + to_string(kEventsPerReplyMax));
  if (q.wait_ms > kEventWaitMsMax)
    return Status::InvalidArgument("wait_ms must be at most " + to_string(kEventWaitMsMax));
  return Status::OK();
}

const char* ScheduleActionName(ScheduleAction a) {
  switch (a) {
    case ScheduleAction::kRemove: return "remove";
    case ScheduleAction::kPause: return "pause";
    case ScheduleAction::kResume: return "resume";
  }
  return "unknown";
}

std::optional<ScheduleAction> ParseScheduleAction(const std::string& name) {
  for (auto a : {ScheduleAction::kRemove, ScheduleAction::kPause, ScheduleAction::kResume})
    if (name == ScheduleActionName(a)) return a;
  return std::nullopt;
}

Status Validate(const QueueUpdate& u) {
  using namespace limits;
  using std::to_string;
  if (!IsValidName(u.name, kQueueNameBytesMax))
    return Status::InvalidArgument("queue must match " + NamePattern(kQueueNameBytesMax));
  if (u.order && *u.order != QueueOrder::kFifo && *u.order != QueueOrder::kLifo)
    return Status::InvalidArgument("order must be fifo or lifo");
  if (u.concurrency && *u.concurrency > kQueueConcurrencyMax)
    return Status::InvalidArgument("concurrency must be 0 (no limit).." +
                                   to_string(kQueueConcurrencyMax));
  if (u.rate && *u.rate > kQueueRateMax)
    return Status::InvalidArgument("rate must be 0 (no limit).." + to_string(kQueueRateMax) +
                                   " runs per second");
  if (u.weight && (*u.weight < 1 || *u.weight > kQueueWeightMax))
    return Status::InvalidArgument("weight must be 1.." + to_string(kQueueWeightMax));
  return Status::OK();
}

Status Validate(const QueueSettings& s) {
  QueueUpdate u{s.name, s.order, s.concurrency, s.rate, s.weight, s.paused};
  Status st = Validate(u);
  if (!st.ok()) return st;
  if (!s.origin.empty() && !IsValidName(s.origin, limits::kNodeIdBytesMax))
    return Status::InvalidArgument("origin must be a node id");
  return Status::OK();
}

Status Validate(const WorkerRegisterRequest& r) {
  using namespace limits;
  using std::to_string;
  if (!r.name.empty() && !IsValidName(r.name, kWorkerNameBytesMax))
    return Status::InvalidArgument("worker name must match " + NamePattern(kWorkerNameBytesMax));
  if (r.types.empty() || r.types.size() > kExternalTypesMax)
    return Status::InvalidArgument("a worker serves 1.." + to_string(kExternalTypesMax) +
                                   " types, not " + to_string(r.types.size()));
  for (const auto& t : r.types)
    if (!IsValidName(t, kTypeNameBytesMax))
      return Status::InvalidArgument("each type must match " + NamePattern(kTypeNameBytesMax));
  if (r.capacity < 1 || r.capacity > kExternalCapacityMax)
    return Status::InvalidArgument("capacity must be 1.." + to_string(kExternalCapacityMax));
  if (r.lease_ms != 0 && (r.lease_ms < kExternalLeaseMsMin || r.lease_ms > kExternalLeaseMsMax))
    return Status::InvalidArgument("lease_ms must be 0 (the default, " +
                                   to_string(kExternalLeaseMsDefault) + ") or " +
                                   to_string(kExternalLeaseMsMin) + ".." +
                                   to_string(kExternalLeaseMsMax));
  return Status::OK();
}

bool IsBlobHash(const std::string& s) {
  if (s.size() != limits::kBlobHashHexBytes) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Status Validate(const BlobPutRequest& r, uint64_t blob_bytes_max) {
  if (!IsBlobHash(r.hash))
    return Status::InvalidArgument("hash must be a SHA-256 in 64 lower-case hex digits");
  if (r.size > blob_bytes_max)
    return Status::TooLarge("blob of " + std::to_string(r.size) + " bytes; the limit is " +
                            std::to_string(blob_bytes_max));
  if (r.offset % limits::kBlobChunkBytesMax != 0 || (r.offset >= r.size && r.size != 0) ||
      (r.size == 0 && r.offset != 0))
    return Status::InvalidArgument("offset " + std::to_string(r.offset) +
                                   " is not the start of a chunk of a blob of " +
                                   std::to_string(r.size) + " bytes");
  uint64_t want = std::min<uint64_t>(limits::kBlobChunkBytesMax, r.size - r.offset);
  if (r.data.size() != want)
    return Status::InvalidArgument("chunk at offset " + std::to_string(r.offset) + " has " +
                                   std::to_string(r.data.size()) + " bytes; it must have " +
                                   std::to_string(want));
  return Status::OK();
}

std::string MakeJobId(const std::string& node, uint64_t seq) {
  return node + "-" + std::to_string(seq);
}

Result<ParsedJobId> ParseJobId(const std::string& id) {
  if (id.size() > limits::kJobIdBytesMax) return Status::InvalidArgument("job id too long");
  auto dash = id.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == id.size())
    return Status::InvalidArgument("job id must look like <node>-<number>: '" + id + "'");
  ParsedJobId out;
  out.node = id.substr(0, dash);
  if (!IsValidName(out.node, limits::kNodeIdBytesMax))
    return Status::InvalidArgument("job id has an invalid node part: '" + id + "'");
  const std::string_view number = std::string_view(id).substr(dash + 1);
  auto seq = base::ParseUint(number);
  if (!seq || *seq == 0)
    return Status::InvalidArgument("job id must end in a positive number: '" + id + "'");
  out.seq = *seq;
  // One job, one spelling: "h1-01" would otherwise name h1-1 (ids are map keys and cursors).
  if (number.front() == '0')
    return Status::InvalidArgument("job id number must not have leading zeros: '" + id + "'");
  return out;
}

}  // namespace protocol
}  // namespace jobnet
