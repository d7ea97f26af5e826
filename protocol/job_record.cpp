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

bool GetU64(const msgpack::object& map, const char* key, uint64_t* out) {
  const auto* v = FindKey(map, key);
  if (v == nullptr) return true;  // absent: keep the default
  if (v->type != msgpack::type::POSITIVE_INTEGER) return false;
  *out = v->via.u64;
  return true;
}

bool GetStr(const msgpack::object& map, const char* key, std::string* out) {
  const auto* v = FindKey(map, key);
  if (v == nullptr) return true;
  if (v->type != msgpack::type::STR) return false;
  out->assign(v->via.str.ptr, v->via.str.size);
  return true;
}

bool GetRaw(const msgpack::object& map, const char* key, std::string* out) {
  const auto* v = FindKey(map, key);
  if (v == nullptr) return true;
  // Sized for the common nil or small value: the default 8 KiB buffer was one 8 KiB malloc per
  // field per record, a large part of reading 1,000,000 records at recovery.
  msgpack::sbuffer buf(64);
  msgpack::pack(buf, *v);
  out->assign(buf.data(), buf.size());
  return true;
}

bool GetBin(const msgpack::object& map, const char* key, std::string* out) {
  const auto* v = FindKey(map, key);
  if (v == nullptr) return true;
  if (v->type != msgpack::type::BIN) return false;
  out->assign(v->via.bin.ptr, v->via.bin.size);
  return true;
}

bool GetBool(const msgpack::object& map, const char* key, bool* out) {
  const auto* v = FindKey(map, key);
  if (v == nullptr) return true;
  if (v->type != msgpack::type::BOOLEAN) return false;
  *out = v->via.boolean;
  return true;
}

Status UnpackRecord(const std::string& bytes, msgpack::object_handle* oh,
                    uint32_t version_max = kRecordVersion) {
  // Records come from disk: decode them within the same bounds as frames from the network.
  Status s = UnpackBounded(bytes.data(), bytes.size(), limits::kReplyFrameBytesMax, oh);
  if (!s.ok()) return Status::Corruption("journal record: " + s.message());
  const auto& o = oh->get();
  if (o.type != msgpack::type::MAP) return Status::Corruption("journal record is not a map");
  uint64_t v = 0;
  if (!GetU64(o, "v", &v) || v < 1 || v > version_max)
    return Status::Corruption("journal record version " + std::to_string(v) + " is unknown");
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
  return s;
}

std::string EncodeJobRecord(const Job& j) {
  msgpack::sbuffer buf(192 + j.result().size());
  Packer pk(&buf);
  const JobRare& r = j.rare.get();
  pk.pack_map(14 + (r.reuse_key.empty() ? 0 : 1) + (r.reused_from.empty() ? 0 : 1) +
              (j.lease == 0 ? 0 : 1));
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
  return std::string(buf.data(), buf.size());
}

Result<Job> DecodeJobRecord(const std::string& bytes) {
  msgpack::object_handle oh;
  Status s = UnpackRecord(bytes, &oh, kSpecRecordVersion);
  if (!s.ok()) return s;
  const auto& o = oh.get();
  Job j;
  uint64_t state = 0, att = 0, nev = 0;
  std::string reuse_key, reused_from, result = MsgpackNil(), error;
  const auto* spec = FindKey(o, "spec");
  if (spec == nullptr || spec->type != msgpack::type::MAP)
    return Status::Corruption("job record has no spec");
  // A version 1 record without max_attempts (never written) reads as 0, as it always did.
  JobSpec js;
  js.max_attempts = 0;
  if (Status sp = ReadSpec(*spec, false, &js); !sp.ok()) return sp;
  bool ok = GetU64(o, "seq", &j.seq) && GetStr(o, "id", &j.id) && GetU64(o, "state", &state) &&
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
  msgpack::sbuffer buf(64 + d.id.size() + d.error.size());
  Packer pk(&buf);
  pk.pack_map(7);
  U64(pk, "v", kRecordVersion);
  Str(pk, "id", d.id);
  U64(pk, "state", static_cast<uint8_t>(d.state));
  U64(pk, "att", d.attempts);
  U64(pk, "next", d.next_at_ms);
  U64(pk, "last", d.last_at_ms);
  Str(pk, "err", d.error);
  return std::string(buf.data(), buf.size());
}

Result<CallbackDelivery> DecodeCallbackRecord(const std::string& bytes) {
  msgpack::object_handle oh;
  Status s = UnpackRecord(bytes, &oh);
  if (!s.ok()) return s;
  const auto& o = oh.get();
  CallbackDelivery d;
  uint64_t state = 0, att = 0;
  if (!GetStr(o, "id", &d.id) || !GetU64(o, "state", &state) || !GetU64(o, "att", &att) ||
      !GetU64(o, "next", &d.next_at_ms) || !GetU64(o, "last", &d.last_at_ms) ||
      !GetStr(o, "err", &d.error))
    return Status::Corruption("callback record has a field of the wrong type");
  if (state > static_cast<uint64_t>(CallbackState::kFailed) || att > UINT32_MAX)
    return Status::Corruption("callback record has state or attempts out of range");
  d.state = static_cast<CallbackState>(state);
  d.attempts = static_cast<uint32_t>(att);
  return d;
}

std::string EncodeEventRecord(const JobEvent& ev) {
  msgpack::sbuffer buf(64);
  Packer pk(&buf);
  pk.pack_map(5 + (ev.node.empty() ? 0 : 1) + (ev.error.empty() ? 0 : 1));
  U64(pk, "v", kRecordVersion);
  U64(pk, "t", ev.at_ms);
  U64(pk, "state", static_cast<uint8_t>(ev.state));
  U64(pk, "att", ev.attempt);
  Str(pk, "msg", ev.message);
  if (!ev.node.empty()) Str(pk, "node", ev.node);
  if (!ev.error.empty()) Str(pk, "err", ev.error);
  return std::string(buf.data(), buf.size());
}

Result<JobEvent> DecodeEventRecord(const std::string& bytes) {
  msgpack::object_handle oh;
  Status s = UnpackRecord(bytes, &oh);
  if (!s.ok()) return s;
  const auto& o = oh.get();
  JobEvent ev;
  uint64_t state = 0, att = 0;
  if (!GetU64(o, "t", &ev.at_ms) || !GetU64(o, "state", &state) || !GetU64(o, "att", &att) ||
      !GetStr(o, "msg", &ev.message) || !GetStr(o, "node", &ev.node) ||
      !GetStr(o, "err", &ev.error))
    return Status::Corruption("event record has a field of the wrong type");
  if (state >= static_cast<uint64_t>(kJobStateCount))
    return Status::Corruption("event record has unknown state");
  ev.state = static_cast<JobState>(state);
  ev.attempt = static_cast<uint32_t>(att);
  return ev;
}

namespace {

// One event of a stream record: what a follower needs, no more.
void PackStreamEvent(Packer& pk, const StateEvent& e) {
  pk.pack_map(6 + (e.node.empty() ? 0 : 1) + (e.error.empty() ? 0 : 1) +
              (e.progress_report ? 2 : 0));
  Str(pk, "id", e.id);
  U64(pk, "state", static_cast<uint8_t>(e.state));
  Str(pk, "q", e.queue);
  Str(pk, "type", e.type);
  U64(pk, "t", e.at_ms);
  U64(pk, "att", e.attempt);
  if (!e.node.empty()) Str(pk, "node", e.node);
  if (!e.error.empty()) Str(pk, "err", e.error);
  if (e.progress_report) {  // "pr" marks a progress report
    U64(pk, "pr", e.progress);
    Str(pk, "pm", e.progress_message);
  }
}

Status DecodeStreamEvent(const msgpack::object& o, uint64_t seq, StateEvent* e) {
  if (o.type != msgpack::type::MAP) return Status::Corruption("stream event is not a map");
  e->seq = seq;
  uint64_t state = 0, att = 0, pct = UINT64_MAX;
  if (!GetStr(o, "id", &e->id) || !GetU64(o, "state", &state) || !GetStr(o, "q", &e->queue) ||
      !GetStr(o, "type", &e->type) || !GetU64(o, "t", &e->at_ms) || !GetU64(o, "att", &att) ||
      !GetStr(o, "node", &e->node) || !GetStr(o, "err", &e->error) || !GetU64(o, "pr", &pct) ||
      !GetStr(o, "pm", &e->progress_message))
    return Status::Corruption("stream event " + std::to_string(seq) +
                              " has a field of the wrong type");
  if (e->id.empty()) return Status::Corruption("stream event " + std::to_string(seq) + " names no job");
  if (state >= static_cast<uint64_t>(kJobStateCount) || att > UINT32_MAX)
    return Status::Corruption("stream event " + std::to_string(seq) +
                              " has a state or attempt out of range");
  if (pct != UINT64_MAX) {
    if (pct > limits::kProgressPctMax)
      return Status::Corruption("stream event " + std::to_string(seq) +
                                " has a progress out of range");
    e->progress_report = true;
    e->progress = static_cast<uint32_t>(pct);
  }
  e->state = static_cast<JobState>(state);
  e->attempt = static_cast<uint32_t>(att);
  return Status::OK();
}

}  // namespace

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
  for (size_t i = 0; i < count; ++i) PackStreamEvent(pk, events[i]);
  return std::string(buf.data(), buf.size());
}

Status DecodeStreamRecord(const std::string& bytes, uint64_t first_seq,
                          std::vector<StateEvent>* out) {
  msgpack::object_handle oh;
  Status s = UnpackRecord(bytes, &oh);
  if (!s.ok()) return s;
  const auto* ev = FindKey(oh.get(), "ev");
  if (ev == nullptr || ev->type != msgpack::type::ARRAY || ev->via.array.size == 0)
    return Status::Corruption("stream record holds no events");
  if (ev->via.array.size > limits::kStreamRecordEventsMax)
    return Status::Corruption("stream record holds " + std::to_string(ev->via.array.size) +
                              " events; at most " +
                              std::to_string(limits::kStreamRecordEventsMax) + " are written");
  const size_t before = out->size();
  out->resize(before + ev->via.array.size);
  for (uint32_t i = 0; i < ev->via.array.size; ++i) {
    s = DecodeStreamEvent(ev->via.array.ptr[i], first_seq + i, &(*out)[before + i]);
    if (!s.ok()) {
      out->resize(before);
      return s;
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
  msgpack::object_handle oh;
  Status st = UnpackRecord(bytes, &oh, kSpecRecordVersion);
  if (!st.ok()) return st;
  const auto& o = oh.get();
  Schedule s;
  const auto* spec = FindKey(o, "spec");
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
  msgpack::sbuffer buf(128);
  Packer pk(&buf);
  pk.pack_map(9);
  U64(pk, "v", kRecordVersion);
  Str(pk, "name", q.name);
  U64(pk, "order", static_cast<uint8_t>(q.order));
  U64(pk, "conc", q.concurrency);
  U64(pk, "rate", q.rate);
  U64(pk, "w", q.weight);
  U64(pk, "paused", q.paused ? 1 : 0);
  U64(pk, "ua", q.updated_at_ms);
  Str(pk, "orig", q.origin);
  return std::string(buf.data(), buf.size());
}

Result<QueueSettings> DecodeQueueRecord(const std::string& bytes) {
  msgpack::object_handle oh;
  Status s = UnpackRecord(bytes, &oh);
  if (!s.ok()) return s;
  const auto& o = oh.get();
  QueueSettings q;
  uint64_t order = 0, conc = 0, rate = 0, w = 1, paused = 0;
  if (!GetStr(o, "name", &q.name) || !GetU64(o, "order", &order) || !GetU64(o, "conc", &conc) ||
      !GetU64(o, "rate", &rate) || !GetU64(o, "w", &w) || !GetU64(o, "paused", &paused) ||
      !GetU64(o, "ua", &q.updated_at_ms) || !GetStr(o, "orig", &q.origin))
    return Status::Corruption("queue record has a field of the wrong type");
  if (order > 1 || paused > 1 || conc > UINT32_MAX || rate > UINT32_MAX || w > UINT32_MAX)
    return Status::Corruption("queue record has a field out of range");
  q.order = static_cast<QueueOrder>(order);
  q.concurrency = static_cast<uint32_t>(conc);
  q.rate = static_cast<uint32_t>(rate);
  q.weight = static_cast<uint32_t>(w);
  q.paused = paused == 1;
  if (Status v = Validate(q); !v.ok()) return Status::Corruption("queue record: " + v.message());
  return q;
}

}  // namespace jobnet::protocol
