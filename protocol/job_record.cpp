// Journal record encoding for jobs and job events (grammar in job_record.hpp).
#include "protocol/job_record.hpp"

#include <algorithm>

#include <msgpack.hpp>

#include "base/check.hpp"
#include "protocol/descriptions.hpp"
#include "protocol/msgpack_bounded.hpp"

namespace jobnet::protocol {
namespace {

constexpr uint32_t kRecordVersion = 1;
// Job and schedule records whose spec map uses the wire's keys (one spec encoding). Version 1
// records (their own short keys) are still read; older binaries refuse version 2 by its number.
constexpr uint32_t kSpecRecordVersion = 2;
constexpr size_t kReuseKeyBytes = 32;  // SHA-256

void Str(Packer& pk, const char* key, const std::string& v) {
  pk.pack(key);
  pk.pack_str(static_cast<uint32_t>(v.size()));
  pk.pack_str_body(v.data(), static_cast<uint32_t>(v.size()));
}

void U64(Packer& pk, const char* key, uint64_t v) {
  pk.pack(key);
  pk.pack_uint64(v);
}

bool GetU64(const KeyFinder& map, const char* key, uint64_t* out) {
  const auto* v = map.Find(key);
  if (v == nullptr) return true;  // absent: keep the default
  if (v->type != msgpack::type::POSITIVE_INTEGER) return false;
  *out = v->via.u64;
  return true;
}

bool GetStr(const KeyFinder& map, const char* key, std::string* out) {
  const auto* v = map.Find(key);
  if (v == nullptr) return true;
  if (v->type != msgpack::type::STR) return false;
  out->assign(v->via.str.ptr, v->via.str.size);
  return true;
}

// One msgpack value of a record, as its own bytes.
std::string Repacked(const msgpack::object& v) {
  // Sized for the common nil or small value: the default 8 KiB buffer was one 8 KiB malloc per
  // field per record, a large part of reading 1,000,000 records at recovery.
  msgpack::sbuffer buf(64);
  msgpack::pack(buf, v);
  return std::string(buf.data(), buf.size());
}

bool GetRaw(const KeyFinder& map, const char* key, std::string* out) {
  const auto* v = map.Find(key);
  if (v != nullptr) *out = Repacked(*v);
  return true;
}

// "pr": the parents' results of a released child, a map of job id to any value.
Status GetParentResults(const KeyFinder& map,
                        std::vector<std::pair<std::string, std::shared_ptr<const std::string>>>* out) {
  const auto* v = map.Find("pr");
  if (v == nullptr || v->type == msgpack::type::NIL) return Status::OK();
  if (v->type != msgpack::type::MAP || v->via.map.size > limits::kParentsMax)
    return Status::Corruption("job record's 'pr' must map at most " +
                              std::to_string(limits::kParentsMax) + " job ids to results");
  for (uint32_t i = 0; i < v->via.map.size; ++i) {
    const auto& kv = v->via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.key.via.str.size > limits::kJobIdBytesMax)
      return Status::Corruption("job record's 'pr' has a key that is not a job id");
    out->emplace_back(std::string(kv.key.via.str.ptr, kv.key.via.str.size),
                      std::make_shared<const std::string>(Repacked(kv.val)));
  }
  return Status::OK();
}

bool GetBin(const KeyFinder& map, const char* key, std::string* out) {
  const auto* v = map.Find(key);
  if (v == nullptr) return true;
  if (v->type != msgpack::type::BIN) return false;
  out->assign(v->via.bin.ptr, v->via.bin.size);
  return true;
}

bool GetBool(const KeyFinder& map, const char* key, bool* out) {
  const auto* v = map.Find(key);
  if (v == nullptr) return true;
  if (v->type != msgpack::type::BOOLEAN) return false;
  *out = v->via.boolean;
  return true;
}

// Unpacks a record into *out, whose contents live in this thread's record zone: valid until the
// next record is unpacked on this thread. Records are decoded one at a time and copied out at
// once, and recovery decodes a million of them, so one zone per thread, cleared for each record,
// replaces a new zone (an 8 KiB malloc) per record.
Status UnpackRecord(const std::string& bytes, msgpack::object* out,
                    uint32_t version_max = kRecordVersion) {
  thread_local msgpack::zone zone;
  zone.clear();
  // Records come from disk: decode them within the same bounds as frames from the network.
  Status s = UnpackBounded(bytes.data(), bytes.size(), limits::kReplyFrameBytesMax, &zone, out);
  if (!s.ok()) return Status::Corruption("journal record: " + s.message());
  if (out->type != msgpack::type::MAP) return Status::Corruption("journal record is not a map");
  uint64_t v = 0;
  if (!GetU64(KeyFinder(*out), "v", &v) || v < 1 || v > version_max)
    return Status::Corruption("journal record version " + std::to_string(v) + " is unknown");
  return Status::OK();
}

// ---- records that are their field table and "v" ----
// Each is described once here: these tables write, read and bound them. The strings a node
// writes from what it accepted (ids, names) are bounded by what it accepts; free text (messages,
// errors) by the record's own bound.

constexpr uint32_t kTextBytesMax = limits::kReplyFrameBytesMax;

// An enum member journaled as its number; a number past the last value is refused.
template <class T, class E, E T::*M, uint64_t kCount>
struct EnumNumber {
  static void Pack(msgpack::sbuffer&, Packer& pk, const T& v) {
    pk.pack_uint64(static_cast<uint64_t>(v.*M));
  }
  static Status Read(const MapReader& r, const char* key, T* v) {
    uint64_t n = static_cast<uint64_t>(v->*M);
    JOBNET_TRY(r.Uint(key, &n));
    if (n >= kCount) return Status::Corruption(std::string("field '") + key + "' is out of range");
    v->*M = static_cast<E>(n);
    return Status::OK();
  }
};
template <class T, class E, E T::*M, uint64_t kCount>
Field<T> EnumField(const char* key) {
  return Custom<T>(key, {&EnumNumber<T, E, M, kCount>::Pack, &EnumNumber<T, E, M, kCount>::Read,
                         nullptr});
}

const Fields<CallbackDelivery>& CallbackRecordFields() {
  static const Fields<CallbackDelivery> kFields = {
      protocol::Str("id", &CallbackDelivery::id, limits::kJobIdBytesMax + 21),  // "<job id>.<event number>"
      EnumField<CallbackDelivery, CallbackState, &CallbackDelivery::state,
                static_cast<uint64_t>(CallbackState::kFailed) + 1>("state"),
      Uint("att", &CallbackDelivery::attempts),
      Uint("next", &CallbackDelivery::next_at_ms),
      Uint("last", &CallbackDelivery::last_at_ms),
      protocol::Str("err", &CallbackDelivery::error, kTextBytesMax),
  };
  return kFields;
}

const Fields<JobEvent>& EventRecordFields() {
  static const Fields<JobEvent> kFields = {
      Uint("t", &JobEvent::at_ms),
      EnumField<JobEvent, JobState, &JobEvent::state, kJobStateCount>("state"),
      Uint("att", &JobEvent::attempt),
      protocol::Str("msg", &JobEvent::message, kTextBytesMax),
      protocol::Str("node", &JobEvent::node, limits::kNodeIdBytesMax, kIfSet),
      protocol::Str("err", &JobEvent::error, kTextBytesMax, kIfSet),
  };
  return kFields;
}

bool IsProgressReport(const StateEvent& e) { return e.progress_report; }

// "pr": a progress report's percent; its presence marks the event as one.
void PackProgress(msgpack::sbuffer&, Packer& pk, const StateEvent& e) { pk.pack_uint64(e.progress); }
Status ReadProgress(const MapReader& r, const char* key, StateEvent* e) {
  if (r.Find(key) == nullptr) return Status::OK();
  JOBNET_TRY(r.Uint(key, &e->progress));
  if (e->progress > limits::kProgressPctMax)
    return Status::Corruption("progress " + std::to_string(e->progress) + " is out of range");
  e->progress_report = true;
  return Status::OK();
}

// One event of a stream record: what a follower needs, no more.
const Fields<StateEvent>& StreamEventFields() {
  static const Fields<StateEvent> kFields = {
      protocol::Str("id", &StateEvent::id, limits::kJobIdBytesMax),
      EnumField<StateEvent, JobState, &StateEvent::state, kJobStateCount>("state"),
      protocol::Str("q", &StateEvent::queue, limits::kQueueNameBytesMax),
      protocol::Str("type", &StateEvent::type, limits::kTypeNameBytesMax),
      Uint("t", &StateEvent::at_ms),
      Uint("att", &StateEvent::attempt),
      protocol::Str("node", &StateEvent::node, limits::kNodeIdBytesMax, kIfSet),
      protocol::Str("err", &StateEvent::error, kTextBytesMax, kIfSet),
      Custom<StateEvent>("pr", {&PackProgress, &ReadProgress, &IsProgressReport}),
      protocol::Str("pm", &StateEvent::progress_message, kTextBytesMax).When(&IsProgressReport),
  };
  return kFields;
}

// "paused" as 0 or 1 (the record's first encoding), not a msgpack bool.
void PackPaused(msgpack::sbuffer&, Packer& pk, const QueueSettings& q) {
  pk.pack_uint64(q.paused ? 1 : 0);
}
Status ReadPaused(const MapReader& r, const char* key, QueueSettings* q) {
  uint64_t n = q->paused ? 1 : 0;
  JOBNET_TRY(r.Uint(key, &n));
  if (n > 1) return Status::Corruption("field 'paused' is out of range");
  q->paused = n == 1;
  return Status::OK();
}

const Fields<QueueSettings>& QueueRecordFields() {
  static const Fields<QueueSettings> kFields = {
      protocol::Str("name", &QueueSettings::name, limits::kQueueNameBytesMax),
      EnumField<QueueSettings, QueueOrder, &QueueSettings::order,
                static_cast<uint64_t>(QueueOrder::kLifo) + 1>("order"),
      Uint("conc", &QueueSettings::concurrency),
      Uint("rate", &QueueSettings::rate),
      Uint("w", &QueueSettings::weight),
      Custom<QueueSettings>("paused", {&PackPaused, &ReadPaused, nullptr}),
      Uint("ua", &QueueSettings::updated_at_ms),
      protocol::Str("orig", &QueueSettings::origin, limits::kNodeIdBytesMax),
  };
  return kFields;
}

template <class T>
std::string EncodeTableRecord(const Fields<T>& fields, const T& v, size_t reserve) {
  msgpack::sbuffer buf(reserve);
  Packer pk(&buf);
  pk.pack_map(1 + CountFields(fields, v));
  U64(pk, "v", kRecordVersion);
  PackFields(buf, pk, fields, v);
  return std::string(buf.data(), buf.size());
}

// Reads a record written by EncodeTableRecord; any field's problem is kCorruption naming it.
template <class T>
Status DecodeTableRecord(const std::string& bytes, const Fields<T>& fields, const char* what,
                         T* out) {
  msgpack::object o;
  JOBNET_TRY(UnpackRecord(bytes, &o));
  Status s = ReadFields(MapReader(o), fields, out);
  if (!s.ok()) return Status::Corruption(std::string(what) + " record: " + s.message());
  return Status::OK();
}

}  // namespace

namespace {

// The spec map, as on the wire (JobSpecFields); without the payload for a job record (the
// journal keeps it under its own key).
const Fields<JobSpec>& RecordSpecFields(bool with_payload) {
  static const Fields<JobSpec> kWithout = [] {
    Fields<JobSpec> f;
    for (const auto& field : JobSpecFields())
      if (std::string(field.key) != "payload") f.push_back(field);
    return f;
  }();
  return with_payload ? JobSpecFields() : kWithout;
}

void PackSpec(Packer& pk, msgpack::sbuffer& buf, const JobSpec& spec, bool with_payload) {
  pk.pack("spec");
  PackMap(buf, pk, RecordSpecFields(with_payload), spec);
}

// The spec map back, with the wire's keys or a version 1 record's (fields.hpp old_key). A job
// record's payload is left nil.
Status ReadSpec(const msgpack::object& spec, bool with_payload, JobSpec* s) {
  if (spec.type != msgpack::type::MAP) return Status::Corruption("record has no spec");
  Status st = ReadFields(MapReader(spec), RecordSpecFields(with_payload), s);
  if (!st.ok()) return Status::Corruption("record spec: " + st.message());
  return Status::OK();
}

}  // namespace

HeldSpec::HeldSpec(JobSpec s)
    : type(s.type),
      payload(std::move(s.payload)),
      queue(s.queue),
      run_at_ms(s.run_at_ms),
      backoff_ms(s.backoff_ms),
      timeout_ms(s.timeout_ms),
      // Validated at submit and at decode; a value past 8 bits here is our bug.
      max_attempts(static_cast<uint8_t>(s.max_attempts)),
      priority(static_cast<uint8_t>(s.priority)),
      reuse(s.reuse) {
  JOBNET_CHECK(s.max_attempts <= UINT8_MAX && s.priority <= UINT8_MAX);
  set_key(std::move(s.key));
  set_callback(std::move(s.callback));
  set_label(std::move(s.label));
  if (!s.depends_on.empty()) {
    extra.mut().depends_on = std::move(s.depends_on);
    extra.mut().run_on_parent_failure = s.run_on_parent_failure;
  }
  if (!s.flow.empty()) {
    extra.mut().flow = std::move(s.flow);
    extra.mut().flow_name = std::move(s.flow_name);
  }
}

JobSpec HeldSpec::ToJobSpec() const {
  JobSpec s;
  s.type = type;
  s.payload = payload;
  s.queue = queue;
  s.priority = priority;
  s.run_at_ms = run_at_ms;
  s.max_attempts = max_attempts;
  s.backoff_ms = backoff_ms;
  s.timeout_ms = timeout_ms;
  s.key = key();
  s.callback = callback();
  s.reuse = reuse;
  s.label = label();
  s.depends_on = depends_on();
  s.run_on_parent_failure = run_on_parent_failure();
  s.flow = flow();
  s.flow_name = flow_name();
  return s;
}

std::string EncodeJobRecord(const Job& j) {
  msgpack::sbuffer buf(192 + j.result().size());
  Packer pk(&buf);
  const JobRare& r = j.rare.get();
  // A waiting child's parents' results so far are gathered again after a restart: only a
  // released child's are written.
  const bool pr = !r.parent_results.empty() && j.state != JobState::kWaiting;
  pk.pack_map(14 + (r.reuse_key.empty() ? 0 : 1) + (r.reused_from.empty() ? 0 : 1) +
              (j.lease == 0 ? 0 : 1) + (pr ? 1 : 0));
  U64(pk, "v", kSpecRecordVersion);
  U64(pk, "seq", j.seq);
  Str(pk, "id", j.id);
  JobSpec spec = j.spec.ToJobSpec();
  PackSpec(pk, buf, spec, false);
  U64(pk, "state", static_cast<uint8_t>(j.state));
  U64(pk, "att", j.attempts);
  U64(pk, "ca", j.created_at_ms);
  U64(pk, "sa", j.started_at_ms);
  U64(pk, "fa", j.finished_at_ms);
  U64(pk, "ra", j.run_at_ms);
  pk.pack("res");
  buf.write(j.result().data(), j.result().size());
  Str(pk, "err", j.error());
  U64(pk, "ord", j.order);
  U64(pk, "nev", j.events);
  if (!r.reuse_key.empty()) {
    pk.pack("rk");
    pk.pack_bin(static_cast<uint32_t>(r.reuse_key.size()));
    pk.pack_bin_body(r.reuse_key.data(), static_cast<uint32_t>(r.reuse_key.size()));
  }
  if (!r.reused_from.empty()) Str(pk, "rf", r.reused_from);
  if (j.lease != 0) U64(pk, "ls", j.lease);
  if (pr) {
    pk.pack("pr");
    pk.pack_map(static_cast<uint32_t>(r.parent_results.size()));
    for (const auto& [id, result] : r.parent_results) {
      PackStr(pk, id);
      PackRaw(buf, *result);
    }
  }
  return std::string(buf.data(), buf.size());
}

Result<Job> DecodeJobRecord(const std::string& bytes) {
  msgpack::object map;
  Status s = UnpackRecord(bytes, &map, kSpecRecordVersion);
  if (!s.ok()) return s;
  // Read in the order EncodeJobRecord writes (KeyFinder: one comparison per key).
  const KeyFinder o(map);
  Job j;
  uint64_t state = 0, att = 0, nev = 0;
  std::string reuse_key, reused_from, result = MsgpackNil(), error;
  bool ok = GetU64(o, "seq", &j.seq) && GetStr(o, "id", &j.id);
  const auto* spec = o.Find("spec");
  if (spec == nullptr || spec->type != msgpack::type::MAP)
    return Status::Corruption("job record has no spec");
  // A version 1 record without max_attempts (never written) reads as 0, as it always did.
  JobSpec js;
  js.max_attempts = 0;
  if (Status sp = ReadSpec(*spec, false, &js); !sp.ok()) return sp;
  ok = ok && GetU64(o, "state", &state) &&
       GetU64(o, "att", &att) && GetU64(o, "ca", &j.created_at_ms) &&
       GetU64(o, "sa", &j.started_at_ms) && GetU64(o, "fa", &j.finished_at_ms) &&
       GetU64(o, "ra", &j.run_at_ms) && GetRaw(o, "res", &result) &&
       GetStr(o, "err", &error) && GetU64(o, "ord", &j.order) && GetU64(o, "nev", &nev) &&
       GetBin(o, "rk", &reuse_key) && GetStr(o, "rf", &reused_from) &&
       GetU64(o, "ls", &j.lease);
  if (!ok) return Status::Corruption("job record has a field of the wrong type");
  if (!reuse_key.empty() && reuse_key.size() != kReuseKeyBytes)
    return Status::Corruption("job record has a content key of " +
                              std::to_string(reuse_key.size()) + " bytes, not 32");
  if (result != MsgpackNil() || !error.empty()) {
    j.set_result(std::move(result));
    j.set_error(std::move(error));
  }
  if (!reuse_key.empty()) j.rare.mut().reuse_key = std::move(reuse_key);
  if (!reused_from.empty()) j.rare.mut().reused_from = std::move(reused_from);
  if (o.Find("pr") != nullptr) JOBNET_TRY(GetParentResults(o, &j.rare.mut().parent_results));
  if (state >= static_cast<uint64_t>(kJobStateCount))
    return Status::Corruption("job record has unknown state " + std::to_string(state));
  if (j.seq == 0 || j.id.empty()) return Status::Corruption("job record has no seq or id");
  // Every journaled job has its submit event; the scheduler reads nev 0 as "never journaled".
  if (nev == 0) return Status::Corruption("job record has no events (nev 0)");
  if (js.max_attempts == 0 || js.max_attempts > limits::kMaxAttemptsMax)
    return Status::Corruption("job record has max_attempts " + std::to_string(js.max_attempts));
  if (js.priority > limits::kPriorityMax)
    return Status::Corruption("job record has priority " + std::to_string(js.priority));
  j.spec = std::move(js);
  j.state = static_cast<JobState>(state);
  j.attempts = static_cast<uint32_t>(att);
  j.events = static_cast<uint32_t>(nev);
  return j;
}

void RecordEvent(const JobEvent& ev, const std::string& owner, Job* job) {
  // Only a run makes a history: a job that never ran keeps none (and no JobRare).
  if (ev.state != JobState::kRunning && job->rare.get().history.empty()) return;
  JobRare& r = job->rare.mut();
  auto& h = r.history;
  bool open = !h.empty() && h.back().ended_at_ms == 0;
  if (open && ev.attempt < h.back().attempt) {
    h.pop_back();  // handed back unstarted: not an attempt
    return;
  }
  if (open && ev.state != JobState::kRunning) {
    AttemptInfo& a = h.back();
    a.ended_at_ms = std::max<uint64_t>(ev.at_ms, 1);
    if (ev.state != JobState::kSucceeded) a.error = ev.error.empty() ? ev.message : ev.error;
    return;
  }
  if (ev.state != JobState::kRunning) return;
  if (open) h.back().ended_at_ms = std::max<uint64_t>(ev.at_ms, 1);  // not expected: close it
  if (h.size() >= limits::kAttemptHistoryMax) {
    h.erase(h.begin());
    r.history_dropped++;
  }
  h.push_back(AttemptInfo{ev.attempt, ev.node.empty() ? owner : ev.node, ev.at_ms, 0, {}});
}

std::string EncodeCallbackRecord(const CallbackDelivery& d) {
  return EncodeTableRecord(CallbackRecordFields(), d, 64 + d.id.size() + d.error.size());
}

Result<CallbackDelivery> DecodeCallbackRecord(const std::string& bytes) {
  CallbackDelivery d;
  JOBNET_TRY(DecodeTableRecord(bytes, CallbackRecordFields(), "callback", &d));
  return d;
}

std::string EncodeEventRecord(const JobEvent& ev) {
  return EncodeTableRecord(EventRecordFields(), ev, 64);
}

Result<JobEvent> DecodeEventRecord(const std::string& bytes) {
  JobEvent ev;
  JOBNET_TRY(DecodeTableRecord(bytes, EventRecordFields(), "event", &ev));
  return ev;
}


std::string EncodeStreamRecord(const StateEvent* events, size_t count) {
  size_t bytes = 16;
  for (size_t i = 0; i < count; ++i)
    bytes += 40 + events[i].id.size() + events[i].queue.size() + events[i].type.size() +
             events[i].node.size() + events[i].error.size() + events[i].progress_message.size();
  msgpack::sbuffer buf(bytes);
  Packer pk(&buf);
  pk.pack_map(2);
  U64(pk, "v", kRecordVersion);
  pk.pack("ev");
  pk.pack_array(static_cast<uint32_t>(count));
  for (size_t i = 0; i < count; ++i) PackMap(buf, pk, StreamEventFields(), events[i]);
  return std::string(buf.data(), buf.size());
}

Status DecodeStreamRecord(const std::string& bytes, uint64_t first_seq,
                          std::vector<StateEvent>* out) {
  msgpack::object record;
  Status s = UnpackRecord(bytes, &record);
  if (!s.ok()) return s;
  const auto* ev = FindKey(record, "ev");
  if (ev == nullptr || ev->type != msgpack::type::ARRAY || ev->via.array.size == 0)
    return Status::Corruption("stream record holds no events");
  if (ev->via.array.size > limits::kStreamRecordEventsMax)
    return Status::Corruption("stream record holds " + std::to_string(ev->via.array.size) +
                              " events; at most " +
                              std::to_string(limits::kStreamRecordEventsMax) + " are written");
  const size_t before = out->size();
  out->resize(before + ev->via.array.size);
  for (uint32_t i = 0; i < ev->via.array.size; ++i) {
    const msgpack::object& o = ev->via.array.ptr[i];
    StateEvent& e = (*out)[before + i];
    e.seq = first_seq + i;
    s = o.type == msgpack::type::MAP ? ReadFields(MapReader(o), StreamEventFields(), &e)
                                     : Status::Corruption("not a map");
    if (s.ok() && e.id.empty()) s = Status::Corruption("it names no job");
    if (!s.ok()) {
      out->resize(before);
      return Status::Corruption("stream event " + std::to_string(first_seq + i) + ": " +
                                s.message());
    }
  }
  return Status::OK();
}

std::string EncodeScheduleRecord(const Schedule& s) {
  msgpack::sbuffer buf(256 + s.spec.job.payload.size());
  Packer pk(&buf);
  pk.pack_map(11);
  U64(pk, "v", kSpecRecordVersion);
  Str(pk, "name", s.spec.name);
  Str(pk, "cron", s.spec.cron);
  U64(pk, "every", s.spec.every_ms);
  PackSpec(pk, buf, s.spec.job, true);
  U64(pk, "an", s.anchor_ms);
  U64(pk, "from", s.from_ms);
  pk.pack("paused");
  pk.pack(s.paused);
  U64(pk, "lf", s.last_fire_ms);
  Str(pk, "lj", s.last_job_id);
  U64(pk, "fires", s.fires);
  return std::string(buf.data(), buf.size());
}

Result<Schedule> DecodeScheduleRecord(const std::string& bytes) {
  msgpack::object map;
  Status st = UnpackRecord(bytes, &map, kSpecRecordVersion);
  if (!st.ok()) return st;
  const KeyFinder o(map);
  Schedule s;
  const auto* spec = o.Find("spec");
  if (spec == nullptr || spec->type != msgpack::type::MAP)
    return Status::Corruption("schedule record has no spec");
  if (Status sp = ReadSpec(*spec, true, &s.spec.job); !sp.ok()) return sp;
  bool ok = GetStr(o, "name", &s.spec.name) && GetStr(o, "cron", &s.spec.cron) &&
            GetU64(o, "every", &s.spec.every_ms) &&
            GetU64(o, "an", &s.anchor_ms) && GetU64(o, "from", &s.from_ms) &&
            GetBool(o, "paused", &s.paused) && GetU64(o, "lf", &s.last_fire_ms) &&
            GetStr(o, "lj", &s.last_job_id) && GetU64(o, "fires", &s.fires);
  if (!ok) return Status::Corruption("schedule record has a field of the wrong type");
  // The scheduler parses the cron again; the rest must be a spec it could have accepted.
  if (Status v = Validate(s.spec); !v.ok())
    return Status::Corruption("schedule record '" + s.spec.name + "': " + v.message());
  return s;
}

std::string EncodeQueueRecord(const QueueSettings& q) {
  return EncodeTableRecord(QueueRecordFields(), q, 128);
}

Result<QueueSettings> DecodeQueueRecord(const std::string& bytes) {
  QueueSettings q;
  JOBNET_TRY(DecodeTableRecord(bytes, QueueRecordFields(), "queue", &q));
  if (Status v = Validate(q); !v.ok()) return Status::Corruption("queue record: " + v.message());
  return q;
}

}  // namespace jobnet::protocol
