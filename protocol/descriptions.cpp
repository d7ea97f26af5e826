// The field tables of descriptions.hpp: one row per field, in wire order. The old_key column
// names the key journal records used before one spec encoding (docs/journal.md); never reuse
// those keys for anything else.
#include "protocol/descriptions.hpp"

#include "protocol/job_record.hpp"

namespace jobnet::protocol {
namespace {

using namespace limits;

// ---- enums, written as their names ----

void PackQueueOrder(msgpack::sbuffer&, Packer& pk, const QueueSettings& q) {
  PackStr(pk, QueueOrderName(q.order));
}
Status ParseOrder(const std::string& name, QueueOrder* out) {
  auto o = ParseQueueOrder(name);
  if (!o) return Status::InvalidArgument("order must be fifo or lifo, not '" + name + "'");
  *out = *o;
  return Status::OK();
}
Status ReadQueueOrder(const MapReader& r, const char* key, QueueSettings* q) {
  std::string order;
  JOBNET_TRY(r.Str(key, &order, 8));
  return order.empty() ? Status::OK() : ParseOrder(order, &q->order);
}
void PackUpdateOrder(msgpack::sbuffer&, Packer& pk, const QueueUpdate& u) {
  PackStr(pk, QueueOrderName(*u.order));
}
Status ReadUpdateOrder(const MapReader& r, const char* key, QueueUpdate* u) {
  if (r.Find(key) == nullptr) return Status::OK();
  std::string order;
  JOBNET_TRY(r.Str(key, &order, 8));
  QueueOrder o{};
  JOBNET_TRY(ParseOrder(order, &o));
  u->order = o;
  return Status::OK();
}

void PackJobState(msgpack::sbuffer&, Packer& pk, const JobInfo& j) {
  PackStr(pk, JobStateName(j.state));
}
Status ReadJobState(const MapReader& r, const char* key, JobInfo* j) {
  bool present = false;
  JOBNET_TRY(r.State(key, &j->state, &present));
  return present ? Status::OK() : Status::InvalidArgument("missing field 'state'");
}
void PackCallbackState(msgpack::sbuffer&, Packer& pk, const JobInfo& j) {
  PackStr(pk, CallbackStateName(j.callback_state));
}
Status ReadCallbackState(const MapReader& r, const char* key, JobInfo* j) {
  std::string name;
  JOBNET_TRY(r.Str(key, &name, 16));
  if (name.empty()) return Status::OK();
  auto cs = ParseCallbackState(name);
  if (!cs) return Status::InvalidArgument("unknown callback state '" + name + "'");
  j->callback_state = *cs;
  return Status::OK();
}

// ---- a job's attempt history ----

const Fields<AttemptInfo>& AttemptFields() {
  static const Fields<AttemptInfo> kFields = {
      Uint("attempt", &AttemptInfo::attempt),
      Str("node", &AttemptInfo::node, kNodeIdBytesMax),
      Uint("started_at", &AttemptInfo::started_at_ms),
      Uint("ended_at", &AttemptInfo::ended_at_ms),
      Str("error", &AttemptInfo::error, kErrorMessageBytesMax),
  };
  return kFields;
}
void PackHistory(msgpack::sbuffer& buf, Packer& pk, const JobInfo& j) {
  pk.pack_array(static_cast<uint32_t>(j.history.size()));
  for (const auto& a : j.history) PackMap(buf, pk, AttemptFields(), a);
}
Status ReadHistory(const MapReader& r, const char* key, JobInfo* j) {
  const auto* h = r.Find(key);
  if (h == nullptr) return Status::OK();
  if (h->type != msgpack::type::ARRAY || h->via.array.size > kAttemptHistoryMax)
    return Status::Corruption("field 'history' must be an array of at most " +
                              std::to_string(kAttemptHistoryMax) + " attempts");
  for (uint32_t i = 0; i < h->via.array.size; ++i) {
    const auto& ao = h->via.array.ptr[i];
    if (ao.type != msgpack::type::MAP) return Status::Corruption("attempt must be a map");
    AttemptInfo a;
    JOBNET_TRY(ReadFields(MapReader(ao), AttemptFields(), &a));
    j->history.push_back(std::move(a));
  }
  return Status::OK();
}
Status ReadProgress(const MapReader& r, const char* key, JobInfo* j) {
  JOBNET_TRY(r.Uint(key, &j->progress));  // absent: 0 (no progress reported)
  if (j->progress > kProgressPctMax)
    return Status::InvalidArgument("field 'progress' must be 0.." +
                                   std::to_string(kProgressPctMax));
  return Status::OK();
}
void PackProgress(msgpack::sbuffer&, Packer& pk, const JobInfo& j) { pk.pack_uint32(j.progress); }

// ---- dependencies: depends_on as an array of job ids, on_parent_failure as "cancel" or "run" ----

template <class T>
void PackDependsOn(msgpack::sbuffer&, Packer& pk, const T& v) {
  pk.pack_array(static_cast<uint32_t>(v.depends_on.size()));
  for (const auto& id : v.depends_on) PackStr(pk, id);
}
template <class T>
Status ReadDependsOn(const MapReader& r, const char* key, T* v) {
  v->depends_on.clear();
  return r.Strs(key, &v->depends_on, kParentsMax, kJobIdBytesMax);
}
template <class T>
bool HasDependsOn(const T& v) {
  return !v.depends_on.empty();
}
template <class T>
void PackOnParentFailure(msgpack::sbuffer&, Packer& pk, const T& v) {
  PackStr(pk, v.run_on_parent_failure ? "run" : "cancel");
}
template <class T>
Status ReadOnParentFailure(const MapReader& r, const char* key, T* v) {
  std::string what;
  JOBNET_TRY(r.Str(key, &what, 8));
  if (what.empty() || what == "cancel") {
    v->run_on_parent_failure = false;
  } else if (what == "run") {
    v->run_on_parent_failure = true;
  } else {
    return Status::InvalidArgument("on_parent_failure must be cancel or run, not '" + what + "'");
  }
  return Status::OK();
}
template <class T>
bool RunsOnParentFailure(const T& v) {
  return v.run_on_parent_failure;
}

// The groups of a job's optional fields: each is written whole, or not at all.
bool HasCallback(const JobInfo& j) { return !j.callback.empty(); }
bool HasProgress(const JobInfo& j) { return j.progress != 0 || !j.progress_message.empty(); }
bool HasHistory(const JobInfo& j) { return !j.history.empty() || j.history_dropped != 0; }

}  // namespace

const Fields<JobSpec>& JobSpecFields() {
  static const Fields<JobSpec> kFields = {
      Str("type", &JobSpec::type, kTypeNameBytesMax, kRequired),
      Raw("payload", &JobSpec::payload, kPayloadBytesMax),
      Str("queue", &JobSpec::queue, kQueueNameBytesMax),
      Uint("priority", &JobSpec::priority, kAlways, "prio"),
      Uint("run_at_ms", &JobSpec::run_at_ms, kAlways, "run_at"),
      Uint("delay_ms", &JobSpec::delay_ms),
      Uint("max_attempts", &JobSpec::max_attempts, kAlways, "max"),
      Uint("backoff_ms", &JobSpec::backoff_ms, kAlways, "backoff"),
      Uint("timeout_ms", &JobSpec::timeout_ms, kAlways, "timeout"),
      Str("key", &JobSpec::key, kIdempotencyKeyBytesMax),
      // Optional fields from here: left out while unset, so older readers see the same spec.
      Str("callback", &JobSpec::callback, kCallbackUrlBytesMax, kIfSet, "cb"),
      Bool("reuse", &JobSpec::reuse, kIfSet),
      Str("label", &JobSpec::label, kLabelBytesMax, kIfSet).Json(),
      Custom<JobSpec>("depends_on", {PackDependsOn<JobSpec>, ReadDependsOn<JobSpec>,
                                     HasDependsOn<JobSpec>}),
      Custom<JobSpec>("on_parent_failure", {PackOnParentFailure<JobSpec>,
                                            ReadOnParentFailure<JobSpec>,
                                            RunsOnParentFailure<JobSpec>}),
      Str("flow", &JobSpec::flow, kJobIdBytesMax, kIfSet),
      Str("flow_name", &JobSpec::flow_name, kTypeNameBytesMax, kIfSet),
  };
  return kFields;
}

const Fields<JobInfo>& JobInfoFields() {
  static const Fields<JobInfo> kFields = {
      Str("id", &JobInfo::id, kJobIdBytesMax, kRequired),
      Str("type", &JobInfo::type, kTypeNameBytesMax),
      Str("queue", &JobInfo::queue, kQueueNameBytesMax),
      Uint("priority", &JobInfo::priority),
      Custom<JobInfo>("state", {PackJobState, ReadJobState}),
      Raw("result", &JobInfo::result, kResultBytesMax),
      Str("error", &JobInfo::error, kErrorMessageBytesMax),
      Uint("attempts", &JobInfo::attempts),
      Uint("max_attempts", &JobInfo::max_attempts),
      Uint("created_at", &JobInfo::created_at_ms),
      Uint("started_at", &JobInfo::started_at_ms),
      Uint("finished_at", &JobInfo::finished_at_ms),
      Uint("run_at", &JobInfo::run_at_ms),
      Str("key", &JobInfo::key, kIdempotencyKeyBytesMax),
      // The callback and its delivery, only for a job that has one.
      Str("callback", &JobInfo::callback, kCallbackUrlBytesMax).When(HasCallback),
      Custom<JobInfo>("callback_state", {PackCallbackState, ReadCallbackState}).When(HasCallback),
      Uint("callback_attempts", &JobInfo::callback_attempts).When(HasCallback),
      Uint("callback_next_at", &JobInfo::callback_next_at_ms).When(HasCallback),
      Str("callback_error", &JobInfo::callback_error, kErrorMessageBytesMax).When(HasCallback),
      // Result reuse: only on a job answered from another's result.
      Str("reused_from", &JobInfo::reused_from, kJobIdBytesMax, kIfSet),
      // Only once a run reported some: a job that never did encodes as before.
      Custom<JobInfo>("progress", {PackProgress, ReadProgress}).When(HasProgress),
      Str("progress_message", &JobInfo::progress_message, kProgressMessageBytesMax)
          .When(HasProgress),
      // Only for a status request that asked for it.
      Custom<JobInfo>("history", {PackHistory, ReadHistory}).When(HasHistory),
      Uint("history_dropped", &JobInfo::history_dropped).When(HasHistory),
      Str("label", &JobInfo::label, kLabelBytesMax, kIfSet).Json(),
      Custom<JobInfo>("depends_on", {PackDependsOn<JobInfo>, ReadDependsOn<JobInfo>,
                                     HasDependsOn<JobInfo>}),
      Custom<JobInfo>("on_parent_failure", {PackOnParentFailure<JobInfo>,
                                            ReadOnParentFailure<JobInfo>,
                                            RunsOnParentFailure<JobInfo>}),
      Uint("parents_waiting", &JobInfo::parents_waiting, kIfSet),
      Str("flow", &JobInfo::flow, kJobIdBytesMax, kIfSet).Json(),
      Str("flow_name", &JobInfo::flow_name, kTypeNameBytesMax, kIfSet).Json(),
  };
  return kFields;
}

// What status shows of a job: its spec's fields and its state (a new job field that status
// shows is copied here too).
JobInfo Job::Info() const {
  JobInfo i;
  i.id = id;
  i.type = spec.type;
  i.queue = spec.queue;
  i.priority = spec.priority;
  i.state = state;
  i.result = result();
  i.error = error();
  i.attempts = attempts;
  i.max_attempts = spec.max_attempts;
  i.created_at_ms = created_at_ms;
  i.started_at_ms = started_at_ms;
  i.finished_at_ms = finished_at_ms;
  i.run_at_ms = run_at_ms;
  i.key = spec.key();
  i.callback = spec.callback();
  const JobRare& r = rare.get();
  i.callback_state = r.callback.state;
  i.callback_attempts = r.callback.attempts;
  i.callback_next_at_ms = r.callback.state == CallbackState::kPending ? r.callback.next_at_ms : 0;
  i.callback_error = r.callback.error;
  i.reused_from = r.reused_from;
  i.progress = state == JobState::kSucceeded ? limits::kProgressPctMax : r.progress;
  i.progress_message = r.progress_message;
  i.label = spec.label();
  i.depends_on = spec.depends_on();
  i.run_on_parent_failure = spec.run_on_parent_failure();
  i.flow = spec.flow();
  i.flow_name = spec.flow_name();
  return i;
}

const Fields<QueueSettings>& QueueSettingsFields() {
  static const Fields<QueueSettings> kFields = {
      Str("name", &QueueSettings::name, kQueueNameBytesMax, kRequired),
      Custom<QueueSettings>("order", {PackQueueOrder, ReadQueueOrder}),
      Uint("concurrency", &QueueSettings::concurrency),
      Uint("rate", &QueueSettings::rate),
      Uint("weight", &QueueSettings::weight),
      Bool("paused", &QueueSettings::paused),
      Uint("updated_at", &QueueSettings::updated_at_ms),
      Str("origin", &QueueSettings::origin, kNodeIdBytesMax),
  };
  return kFields;
}

const Fields<QueueUpdate>& QueueUpdateFields() {
  // Each field present (and not nil) is a change; absent ones keep their value.
  static const Fields<QueueUpdate> kFields = {
      Str("name", &QueueUpdate::name, kQueueNameBytesMax, kRequired),
      Custom<QueueUpdate>("order", {PackUpdateOrder, ReadUpdateOrder,
                                    [](const QueueUpdate& u) { return u.order.has_value(); }}),
      Uint("concurrency", &QueueUpdate::concurrency, kIfSet),
      Uint("rate", &QueueUpdate::rate, kIfSet),
      Uint("weight", &QueueUpdate::weight, kIfSet),
      Bool("paused", &QueueUpdate::paused, kIfSet),
  };
  return kFields;
}

// ---- messages that are their field table ----

namespace {

// worker, id and lease: the first fields of progress, complete and fail, all required.
template <class T>
Fields<T> RunFields(std::initializer_list<Field<T>> more) {
  Fields<T> f = {Uint("worker", &T::worker, kRequired), Str("id", &T::id, kJobIdBytesMax, kRequired),
                 Uint("lease", &T::lease, kRequired)};
  f.insert(f.end(), more);
  return f;
}

}  // namespace

// A message's table, built once: JOBNET_DESCRIBE(T, rows...).
#define JOBNET_DESCRIBE(T, ...)                    \
  const Fields<T>& Describe(const T*) {            \
    static const Fields<T> kFields = {__VA_ARGS__}; \
    return kFields;                                \
  }

JOBNET_DESCRIBE(StatusRequest, Str("id", &StatusRequest::id, kJobIdBytesMax, kRequired),
                Bool("history", &StatusRequest::history, kIfSet))

JOBNET_DESCRIBE(WaitRequest, Str("id", &WaitRequest::id, kJobIdBytesMax, kRequired),
                Uint("timeout_ms", &WaitRequest::timeout_ms))
Status Check(const WaitRequest& b) {
  if (b.timeout_ms > kWaitTimeoutMsMax)
    return Status::InvalidArgument("timeout_ms must be at most " +
                                   std::to_string(kWaitTimeoutMsMax));
  return Status::OK();
}

JOBNET_DESCRIBE(CancelRequest, Str("id", &CancelRequest::id, kJobIdBytesMax, kRequired))
JOBNET_DESCRIBE(RetryRequest, Str("id", &RetryRequest::id, kJobIdBytesMax, kRequired))

// Requests without fields: an empty map.
template <class T>
const Fields<T>& NoFields() {
  static const Fields<T> kFields;
  return kFields;
}
const Fields<StatsRequest>& Describe(const StatsRequest*) { return NoFields<StatsRequest>(); }
const Fields<TypesRequest>& Describe(const TypesRequest*) { return NoFields<TypesRequest>(); }
const Fields<WorkersRequest>& Describe(const WorkersRequest*) { return NoFields<WorkersRequest>(); }
const Fields<QueuesRequest>& Describe(const QueuesRequest*) { return NoFields<QueuesRequest>(); }

JOBNET_DESCRIBE(WorkersSetRequest, Uint("workers", &WorkersSetRequest::workers, kRequired))
JOBNET_DESCRIBE(WorkersAutoscaleRequest, Uint("min", &WorkersAutoscaleRequest::min, kRequired),
                Uint("max", &WorkersAutoscaleRequest::max, kRequired),
                Uint("target_wait_ms", &WorkersAutoscaleRequest::target_wait_ms, kIfSet),
                Uint("quiet_ms", &WorkersAutoscaleRequest::quiet_ms, kIfSet))
JOBNET_DESCRIBE(ScheduleListRequest, Bool("local", &ScheduleListRequest::local))
JOBNET_DESCRIBE(BulkReply, Uint("touched", &BulkReply::touched),
                Uint("matched", &BulkReply::matched))

JOBNET_DESCRIBE(Heartbeat, Str("node", &Heartbeat::node, kNodeIdBytesMax, kRequired),
                Uint("incarnation", &Heartbeat::incarnation),
                Str("endpoint", &Heartbeat::endpoint, kEndpointBytesMax),
                Uint("workers", &Heartbeat::workers), Uint("free", &Heartbeat::free),
                Uint("queued", &Heartbeat::queued),
                Bool("acks", &Heartbeat::acks))  // absent from older nodes: false
Status Check(const Heartbeat& b) {
  if (!IsValidName(b.node, kNodeIdBytesMax))
    return Status::InvalidArgument("heartbeat has an invalid node id");
  return Status::OK();
}

JOBNET_DESCRIBE(RemoteRun, Str("owner", &RemoteRun::owner, kNodeIdBytesMax, kRequired),
                Uint("owner_incarnation", &RemoteRun::owner_incarnation),
                Uint("lease", &RemoteRun::lease, kRequired), Uint("seq", &RemoteRun::seq, kRequired),
                Str("id", &RemoteRun::id, kJobIdBytesMax, kRequired),
                Str("type", &RemoteRun::type, kTypeNameBytesMax, kRequired),
                Raw("payload", &RemoteRun::payload, kPayloadBytesMax),
                Raw("parents", &RemoteRun::parents, kPayloadBytesMax, kIfSet),
                Uint("attempt", &RemoteRun::attempt), Uint("timeout_ms", &RemoteRun::timeout_ms),
                Uint("epoch", &RemoteRun::epoch, kIfSet))
Status Check(const RemoteRun& b) {
  if (b.timeout_ms < 1 || b.timeout_ms > kTimeoutMsMax)
    return Status::InvalidArgument("remote_run timeout_ms out of range");
  return Status::OK();
}

void PackWatchIds(msgpack::sbuffer&, Packer& pk, const ParentWatch& w) {
  pk.pack_array(static_cast<uint32_t>(w.ids.size()));
  for (const auto& id : w.ids) PackStr(pk, id);
}
Status ReadWatchIds(const MapReader& r, const char* key, ParentWatch* w) {
  return r.Strs(key, &w->ids, kParentWatchPerFrameMax, kJobIdBytesMax);
}
JOBNET_DESCRIBE(ParentWatch, Str("node", &ParentWatch::node, kNodeIdBytesMax, kRequired),
                Custom<ParentWatch>("ids", {PackWatchIds, ReadWatchIds}))
Status Check(const ParentWatch& b) {
  if (!IsValidName(b.node, kNodeIdBytesMax))
    return Status::InvalidArgument("parent_watch has an invalid node id");
  if (b.ids.empty()) return Status::InvalidArgument("parent_watch names no job");
  return Status::OK();
}

void PackDoneState(msgpack::sbuffer&, Packer& pk, const ParentDone& d) {
  PackStr(pk, JobStateName(d.state));
}
// Read after "missing": a parent that is not missing has a state (final, or, in the first
// answer to a watch, the one it is in).
Status ReadDoneState(const MapReader& r, const char* key, ParentDone* d) {
  bool present = false;
  JOBNET_TRY(r.State(key, &d->state, &present));
  if (!present && !d->missing) return Status::InvalidArgument("missing field 'state'");
  return Status::OK();
}
bool HasDoneState(const ParentDone& d) { return !d.missing; }
JOBNET_DESCRIBE(ParentDone, Str("node", &ParentDone::node, kNodeIdBytesMax, kRequired),
                Str("id", &ParentDone::id, kJobIdBytesMax, kRequired),
                Bool("missing", &ParentDone::missing, kIfSet),
                Custom<ParentDone>("state", {PackDoneState, ReadDoneState, HasDoneState}),
                Raw("result", &ParentDone::result, kResultBytesMax),
                Str("error", &ParentDone::error, kErrorMessageBytesMax, kIfSet))

// Fields absent from older nodes read as their defaults: timed_out false, free 0 (they send no
// acks, so free is not read from them).
JOBNET_DESCRIBE(RemoteResult, Str("owner", &RemoteResult::owner, kNodeIdBytesMax, kRequired),
                Uint("owner_incarnation", &RemoteResult::owner_incarnation),
                Str("worker_node", &RemoteResult::worker_node, kNodeIdBytesMax),
                Uint("lease", &RemoteResult::lease, kRequired),
                Uint("seq", &RemoteResult::seq, kRequired), Bool("ok", &RemoteResult::ok),
                Bool("rejected", &RemoteResult::rejected),
                Bool("timed_out", &RemoteResult::timed_out),
                Raw("result", &RemoteResult::result, kResultBytesMax),
                Str("error", &RemoteResult::error, kErrorMessageBytesMax),
                Uint("free", &RemoteResult::free), Uint("epoch", &RemoteResult::epoch, kIfSet))

JOBNET_DESCRIBE(RemoteAck, Str("owner", &RemoteAck::owner, kNodeIdBytesMax, kRequired),
                Uint("owner_incarnation", &RemoteAck::owner_incarnation),
                Str("worker_node", &RemoteAck::worker_node, kNodeIdBytesMax),
                Uint("lease", &RemoteAck::lease, kRequired), Uint("seq", &RemoteAck::seq, kRequired),
                Uint("free", &RemoteAck::free), Uint("epoch", &RemoteAck::epoch, kIfSet))

JOBNET_DESCRIBE(RemoteCancel, Str("owner", &RemoteCancel::owner, kNodeIdBytesMax, kRequired),
                Uint("owner_incarnation", &RemoteCancel::owner_incarnation),
                Uint("lease", &RemoteCancel::lease, kRequired),
                Uint("seq", &RemoteCancel::seq, kRequired))

JOBNET_DESCRIBE(EventsRequest, Uint("since", &EventsRequest::since),
                Str("queue", &EventsRequest::queue, kQueueNameBytesMax, kIfSet),
                Str("job", &EventsRequest::job, kJobIdBytesMax, kIfSet),
                Uint("max", &EventsRequest::max),  // absent: the default
                Uint("wait_ms", &EventsRequest::wait_ms))
Status Check(const EventsRequest& b) { return Validate(b); }

JOBNET_DESCRIBE(BlobPutRequest, Str("hash", &BlobPutRequest::hash, kBlobHashHexBytes, kRequired),
                Uint("size", &BlobPutRequest::size, kRequired),
                Uint("offset", &BlobPutRequest::offset),
                Bin("data", &BlobPutRequest::data, kBlobChunkBytesMax, kRequired))
// The node checks the size against its own --blob-mb-max; here only the ceiling.
Status Check(const BlobPutRequest& b) { return Validate(b, kBlobBytesMaxMax); }

JOBNET_DESCRIBE(BlobGetRequest, Str("hash", &BlobGetRequest::hash, kBlobHashHexBytes, kRequired),
                Uint("offset", &BlobGetRequest::offset), Uint("length", &BlobGetRequest::length),
                Str("job", &BlobGetRequest::job, kJobIdBytesMax, kIfSet))
JOBNET_DESCRIBE(PrincipalsRequest,
                Str("action", &PrincipalsRequest::action, 16, kRequired),
                Str("name", &PrincipalsRequest::name, kNodeIdBytesMax, kIfSet),
                Str("key", &PrincipalsRequest::key, 40, kIfSet),
                Str("scopes", &PrincipalsRequest::scopes, 64, kIfSet),
                Str("endpoints", &PrincipalsRequest::endpoints,
                    kPrincipalEndpointsMax * (kEndpointBytesMax + 1), kIfSet),
                Str("types", &PrincipalsRequest::types,
                    kExternalTypesMax * (kTypeNameBytesMax + 1), kIfSet))

Status Check(const BlobGetRequest& b) {
  if (!IsBlobHash(b.hash))
    return Status::InvalidArgument("hash must be a SHA-256 in 64 lower-case hex digits");
  if (b.length > kBlobChunkBytesMax)
    return Status::InvalidArgument("length must be at most " + std::to_string(kBlobChunkBytesMax));
  return Status::OK();
}

JOBNET_DESCRIBE(BlobStoredReply,
                Str("hash", &BlobStoredReply::hash, kBlobHashHexBytes, kRequired),
                Uint("size", &BlobStoredReply::size), Uint("received", &BlobStoredReply::received),
                Bool("complete", &BlobStoredReply::complete))

JOBNET_DESCRIBE(BlobDataReply, Str("hash", &BlobDataReply::hash, kBlobHashHexBytes, kRequired),
                Uint("size", &BlobDataReply::size), Uint("offset", &BlobDataReply::offset),
                Bin("data", &BlobDataReply::data, kBlobChunkBytesMax))

JOBNET_DESCRIBE(WorkerPollRequest, Uint("worker", &WorkerPollRequest::worker, kRequired),
                Uint("wait_ms", &WorkerPollRequest::wait_ms), Uint("max", &WorkerPollRequest::max))
Status Check(const WorkerPollRequest& b) {
  if (b.wait_ms > kExternalPollWaitMsMax)
    return Status::InvalidArgument("wait_ms must be 0.." + std::to_string(kExternalPollWaitMsMax));
  if (b.max > kExternalCapacityMax)
    return Status::InvalidArgument("max must be 0.." + std::to_string(kExternalCapacityMax));
  return Status::OK();
}

const Fields<WorkerProgressRequest>& Describe(const WorkerProgressRequest*) {
  static const auto kFields = RunFields<WorkerProgressRequest>(
      {Uint("pct", &WorkerProgressRequest::pct, kRequired),
       Str("message", &WorkerProgressRequest::message, kProgressMessageBytesMax)});
  return kFields;
}
Status Check(const WorkerProgressRequest& b) {
  if (b.pct > kProgressPctMax)
    return Status::InvalidArgument("pct must be 0.." + std::to_string(kProgressPctMax));
  return Status::OK();
}
const Fields<WorkerCompleteRequest>& Describe(const WorkerCompleteRequest*) {
  static const auto kFields = RunFields<WorkerCompleteRequest>(
      {Raw("result", &WorkerCompleteRequest::result, kResultBytesMax)});
  return kFields;
}
const Fields<WorkerFailRequest>& Describe(const WorkerFailRequest*) {
  static const auto kFields = RunFields<WorkerFailRequest>(
      {Str("error", &WorkerFailRequest::error, kErrorMessageBytesMax)});
  return kFields;
}

JOBNET_DESCRIBE(WorkerUnregisterRequest,
                Uint("worker", &WorkerUnregisterRequest::worker, kRequired))
JOBNET_DESCRIBE(WorkerRegisteredReply, Uint("worker", &WorkerRegisteredReply::worker, kRequired),
                Str("node", &WorkerRegisteredReply::node, kNodeIdBytesMax),
                Uint("lease_ms", &WorkerRegisteredReply::lease_ms))
JOBNET_DESCRIBE(WorkerAckReply, Bool("applied", &WorkerAckReply::applied))

#undef JOBNET_DESCRIBE

}  // namespace jobnet::protocol
