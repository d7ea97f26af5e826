// Journal record encoding for jobs and job events (grammar in job_record.hpp).
#include "protocol/job_record.hpp"

#include <msgpack.hpp>

#include "protocol/msgpack_bounded.hpp"

namespace jobnet::protocol {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;
constexpr uint32_t kRecordVersion = 1;

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

Status UnpackRecord(const std::string& bytes, msgpack::object_handle* oh) {
  // Records come from disk: decode them within the same bounds as frames from the network.
  Status s = UnpackBounded(bytes.data(), bytes.size(), limits::kReplyFrameBytesMax, oh);
  if (!s.ok()) return Status::Corruption("journal record: " + s.message());
  const auto& o = oh->get();
  if (o.type != msgpack::type::MAP) return Status::Corruption("journal record is not a map");
  uint64_t v = 0;
  if (!GetU64(o, "v", &v) || v != kRecordVersion)
    return Status::Corruption("journal record version " + std::to_string(v) + " is unknown");
  return Status::OK();
}

}  // namespace

JobInfo Job::Info() const {
  JobInfo i;
  i.id = id;
  i.type = spec.type;
  i.queue = spec.queue;
  i.priority = spec.priority;
  i.state = state;
  i.result = result;
  i.error = error;
  i.attempts = attempts;
  i.max_attempts = spec.max_attempts;
  i.created_at_ms = created_at_ms;
  i.started_at_ms = started_at_ms;
  i.finished_at_ms = finished_at_ms;
  i.run_at_ms = run_at_ms;
  i.key = spec.key;
  return i;
}

std::string EncodeJobRecord(const Job& j) {
  msgpack::sbuffer buf(192 + j.result.size());
  Packer pk(&buf);
  pk.pack_map(14);
  U64(pk, "v", kRecordVersion);
  U64(pk, "seq", j.seq);
  Str(pk, "id", j.id);
  pk.pack("spec");
  pk.pack_map(8);
  Str(pk, "type", j.spec.type);
  Str(pk, "queue", j.spec.queue);
  U64(pk, "prio", j.spec.priority);
  U64(pk, "max", j.spec.max_attempts);
  U64(pk, "backoff", j.spec.backoff_ms);
  U64(pk, "timeout", j.spec.timeout_ms);
  U64(pk, "run_at", j.spec.run_at_ms);
  Str(pk, "key", j.spec.key);
  U64(pk, "state", static_cast<uint8_t>(j.state));
  U64(pk, "att", j.attempts);
  U64(pk, "ca", j.created_at_ms);
  U64(pk, "sa", j.started_at_ms);
  U64(pk, "fa", j.finished_at_ms);
  U64(pk, "ra", j.run_at_ms);
  pk.pack("res");
  buf.write(j.result.data(), j.result.size());
  Str(pk, "err", j.error);
  U64(pk, "ord", j.order);
  U64(pk, "nev", j.events);
  return std::string(buf.data(), buf.size());
}

Result<Job> DecodeJobRecord(const std::string& bytes) {
  msgpack::object_handle oh;
  Status s = UnpackRecord(bytes, &oh);
  if (!s.ok()) return s;
  const auto& o = oh.get();
  Job j;
  uint64_t state = 0, att = 0, prio = 0, max = 0, nev = 0;
  const auto* spec = FindKey(o, "spec");
  if (spec == nullptr || spec->type != msgpack::type::MAP)
    return Status::Corruption("job record has no spec");
  bool ok = GetU64(o, "seq", &j.seq) && GetStr(o, "id", &j.id) && GetU64(o, "state", &state) &&
            GetU64(o, "att", &att) && GetU64(o, "ca", &j.created_at_ms) &&
            GetU64(o, "sa", &j.started_at_ms) && GetU64(o, "fa", &j.finished_at_ms) &&
            GetU64(o, "ra", &j.run_at_ms) && GetRaw(o, "res", &j.result) &&
            GetStr(o, "err", &j.error) && GetU64(o, "ord", &j.order) && GetU64(o, "nev", &nev) &&
            GetStr(*spec, "type", &j.spec.type) && GetRaw(*spec, "payload", &j.spec.payload) &&
            GetStr(*spec, "queue", &j.spec.queue) && GetU64(*spec, "prio", &prio) &&
            GetU64(*spec, "max", &max) && GetU64(*spec, "backoff", &j.spec.backoff_ms) &&
            GetU64(*spec, "timeout", &j.spec.timeout_ms) &&
            GetU64(*spec, "run_at", &j.spec.run_at_ms) && GetStr(*spec, "key", &j.spec.key);
  if (!ok) return Status::Corruption("job record has a field of the wrong type");
  if (state >= static_cast<uint64_t>(kJobStateCount))
    return Status::Corruption("job record has unknown state " + std::to_string(state));
  if (j.seq == 0 || j.id.empty()) return Status::Corruption("job record has no seq or id");
  // Every journaled job has its submit event; the scheduler reads nev 0 as "never journaled".
  if (nev == 0) return Status::Corruption("job record has no events (nev 0)");
  if (max == 0 || max > limits::kMaxAttemptsMax)
    return Status::Corruption("job record has max_attempts " + std::to_string(max));
  j.state = static_cast<JobState>(state);
  j.attempts = static_cast<uint32_t>(att);
  j.events = static_cast<uint32_t>(nev);
  j.spec.priority = static_cast<uint32_t>(prio);
  j.spec.max_attempts = static_cast<uint32_t>(max);
  return j;
}

std::string EncodeEventRecord(const JobEvent& ev) {
  msgpack::sbuffer buf(64);
  Packer pk(&buf);
  pk.pack_map(5);
  U64(pk, "v", kRecordVersion);
  U64(pk, "t", ev.at_ms);
  U64(pk, "state", static_cast<uint8_t>(ev.state));
  U64(pk, "att", ev.attempt);
  Str(pk, "msg", ev.message);
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
      !GetStr(o, "msg", &ev.message))
    return Status::Corruption("event record has a field of the wrong type");
  if (state >= static_cast<uint64_t>(kJobStateCount))
    return Status::Corruption("event record has unknown state");
  ev.state = static_cast<JobState>(state);
  ev.attempt = static_cast<uint32_t>(att);
  return ev;
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
