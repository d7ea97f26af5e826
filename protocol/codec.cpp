// msgpack codec for the wire protocol; see codec.hpp for the frame grammar.
#include "protocol/codec.hpp"

#include "protocol/descriptions.hpp"
#include "protocol/fields.hpp"
#include "protocol/msgpack_bounded.hpp"

#include <msgpack.hpp>

#include <exception>
#include <limits>

namespace jobnet::protocol {
namespace {

struct BodyWriter {
  msgpack::sbuffer& buf;
  Packer& pk;

  void Key(const char* k) {
    auto n = static_cast<uint32_t>(std::char_traits<char>::length(k));
    pk.pack_str(n);
    pk.pack_str_body(k, n);
  }
  // A message that is its field table (descriptions.hpp).
  template <class T>
  void operator()(const T& r) {
    PackMap(buf, pk, Describe(&r), r);
  }
  void operator()(const SubmitRequest& r) { Spec(r.spec, 0); }
  void operator()(const SubmitBatchRequest& r) {
    pk.pack_map(1);
    Key("specs");
    pk.pack_array(static_cast<uint32_t>(r.specs.size()));
    for (const auto& b : r.specs) Spec(b.spec, 0);
  }
  void operator()(const SubmitFlowRequest& r) {
    pk.pack_map(1);
    Key("jobs");
    pk.pack_array(static_cast<uint32_t>(r.jobs.size()));
    for (const auto& j : r.jobs) {
      Spec(j.spec, 2);
      Key("name"); PackStr(pk, j.name);
      Key("after"); Strings(j.after);
    }
  }
  void operator()(const FlowAcceptedReply& r) {
    pk.pack_map(2);
    Key("flow"); PackStr(pk, r.flow.flow);
    Key("ids");
    pk.pack_map(static_cast<uint32_t>(r.flow.ids.size()));
    for (const auto& [name, id] : r.flow.ids) {
      PackStr(pk, name);
      PackStr(pk, id);
    }
  }
  void operator()(const BulkRequest& r) {
    pk.pack_map(r.state ? 4 : 3);
    Key("action"); PackStr(pk, r.action == BulkAction::kCancel ? "cancel" : "retry");
    Key("queue"); PackStr(pk, r.queue);
    Key("type"); PackStr(pk, r.type);
    if (r.state) {
      Key("state"); PackStr(pk, JobStateName(*r.state));
    }
  }
  void Bin(const std::string& b) {
    pk.pack_bin(static_cast<uint32_t>(b.size()));
    pk.pack_bin_body(b.data(), static_cast<uint32_t>(b.size()));
  }
  void operator()(const BatchAcceptedReply& r) {
    pk.pack_map(1);
    Key("items");
    pk.pack_array(static_cast<uint32_t>(r.items.size()));
    for (const auto& it : r.items) {
      if (it.status.ok()) {
        Accepted(it.submitted);
      } else {
        Error(it.status.code(), it.status.message());
      }
    }
  }
  void operator()(const PrincipalListReply& r) {
    pk.pack_map(1);
    Key("principals");
    pk.pack_array(static_cast<uint32_t>(r.principals.size()));
    for (const auto& p : r.principals) {
      pk.pack_map(p.types.empty() ? 5 : 6);
      Key("name"); PackStr(pk, p.name);
      Key("key"); PackStr(pk, p.key);
      Key("scopes"); PackStr(pk, p.scopes);
      Key("endpoints"); PackStr(pk, p.endpoints);
      Key("origin"); PackStr(pk, p.origin);
      if (!p.types.empty()) {
        Key("types"); PackStr(pk, p.types);
      }
    }
  }
  void operator()(const TypeListReply& r) {
    pk.pack_map(1);
    Key("handlers");
    pk.pack_array(static_cast<uint32_t>(r.handlers.size()));
    for (const auto& h : r.handlers) {
      pk.pack_map(3);
      Key("type"); PackStr(pk, h.type);
      Key("payload"); PackStr(pk, h.payload);
      Key("result"); PackStr(pk, h.result);
    }
  }
  // A job spec's fields in a map with `extra` more fields, which the caller writes next.
  void Spec(const JobSpec& s, uint32_t extra) { PackMap(buf, pk, JobSpecFields(), s, extra); }
  void operator()(const ListRequest& r) {
    pk.pack_map(3 + (r.state ? 1 : 0) + (r.type.empty() ? 0 : 1) + (r.created_from_ms ? 1 : 0) +
                (r.created_to_ms ? 1 : 0));
    if (r.state) {
      Key("state"); PackStr(pk, JobStateName(*r.state));
    }
    if (!r.type.empty()) {
      Key("type"); PackStr(pk, r.type);
    }
    Key("queue"); PackStr(pk, r.queue);
    Key("limit"); pk.pack_uint32(r.limit);
    Key("after"); PackStr(pk, r.after);
    // Left out when unset: the request is then byte for byte what older clients send.
    if (r.created_from_ms != 0) {
      Key("created_from"); pk.pack_uint64(r.created_from_ms);
    }
    if (r.created_to_ms != 0) {
      Key("created_to"); pk.pack_uint64(r.created_to_ms);
    }
  }
  void operator()(const AcceptedReply& r) { Accepted(r); }
  void Accepted(const AcceptedReply& r) {
    pk.pack_map(3 + (r.reused_from.empty() ? 0 : 1) + (r.coalesced ? 1 : 0));
    Key("id"); PackStr(pk, r.id);
    Key("state"); PackStr(pk, JobStateName(r.state));
    Key("duplicate"); pk.pack(r.duplicate);
    // Result reuse, each only when set.
    if (!r.reused_from.empty()) {
      Key("reused_from"); PackStr(pk, r.reused_from);
    }
    if (r.coalesced) {
      Key("coalesced"); pk.pack(true);
    }
  }
  void Info(const JobInfo& j) { PackMap(buf, pk, JobInfoFields(), j); }
  void operator()(const JobReply& r) { Info(r.job); }
  void operator()(const JobListReply& r) {
    pk.pack_map(1);
    Key("jobs");
    pk.pack_array(static_cast<uint32_t>(r.jobs.size()));
    for (const auto& j : r.jobs) Info(j);
  }
  void Strings(const std::vector<std::string>& v) {
    pk.pack_array(static_cast<uint32_t>(v.size()));
    for (const auto& s : v) PackStr(pk, s);
  }
  void Counts(const std::map<std::string, uint64_t>& m) {
    pk.pack_map(static_cast<uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
      PackStr(pk, k);
      pk.pack_uint64(v);
    }
  }
  void Peer(const PeerInfo& p) {
    pk.pack_map(9);
    Key("node"); PackStr(pk, p.node);
    Key("endpoint"); PackStr(pk, p.endpoint);
    Key("state"); PackStr(pk, p.state);
    Key("incarnation"); pk.pack_uint64(p.incarnation);
    Key("workers"); pk.pack_uint32(p.workers);
    Key("free"); pk.pack_uint32(p.free);
    Key("queued"); pk.pack_uint64(p.queued);
    Key("last_seen"); pk.pack_uint64(p.last_seen_ms);
    Key("leases"); pk.pack_uint32(p.leases);
  }
  void operator()(const StatsReply& r) {
    pk.pack_map(r.denied.empty() ? 12 : 13);  // "denied" only when there is some
    Key("node"); PackStr(pk, r.node);
    Key("incarnation"); pk.pack_uint64(r.incarnation);
    Key("workers"); pk.pack_uint32(r.workers);
    Key("busy"); pk.pack_uint32(r.busy);
    Key("uptime_ms"); pk.pack_uint64(r.uptime_ms);
    Key("jobs"); Counts(r.jobs);
    Key("queues"); Counts(r.queues);
    Key("counters"); Counts(r.counters);
    Key("endpoint"); PackStr(pk, r.endpoint);
    Key("peers");
    pk.pack_array(static_cast<uint32_t>(r.peers.size()));
    for (const auto& p : r.peers) Peer(p);
    Key("queue_totals");
    pk.pack_map(static_cast<uint32_t>(r.queue_totals.size()));
    for (const auto& [queue, totals] : r.queue_totals) {
      PackStr(pk, queue);
      Counts(totals);
    }
    Key("histograms");
    pk.pack_map(static_cast<uint32_t>(r.histograms.size()));
    for (const auto& [name, h] : r.histograms) {
      PackStr(pk, name);
      pk.pack_map(4);
      Key("bounds");
      pk.pack_array(static_cast<uint32_t>(h.bounds.size()));
      for (double b : h.bounds) pk.pack_double(b);
      Key("counts");
      pk.pack_array(static_cast<uint32_t>(h.counts.size()));
      for (uint64_t c : h.counts) pk.pack_uint64(c);
      Key("sum"); pk.pack_double(h.sum);
      Key("count"); pk.pack_uint64(h.count);
    }
    if (!r.denied.empty()) {
      Key("denied");
      Counts(r.denied);
    }
  }
  void operator()(const WorkerListReply& r) {
    pk.pack_map(3 + (r.external.empty() ? 0 : 1) + (r.autoscale_min != 0 ? 2 : 0));
    Key("node"); PackStr(pk, r.node);
    Key("workers"); pk.pack_uint32(r.workers);
    Key("slots");
    pk.pack_array(static_cast<uint32_t>(r.slots.size()));
    for (const auto& w : r.slots) {
      pk.pack_map(7);
      Key("id"); pk.pack_uint32(w.id);
      Key("state"); PackStr(pk, w.busy ? "busy" : "idle");
      Key("retiring"); pk.pack(w.retiring);
      Key("job"); PackStr(pk, w.job);
      Key("queue"); PackStr(pk, w.queue);
      Key("type"); PackStr(pk, w.type);
      Key("since"); pk.pack_uint64(w.since_ms);
    }
    if (r.autoscale_min != 0) {
      Key("autoscale_min"); pk.pack_uint32(r.autoscale_min);
      Key("autoscale_max"); pk.pack_uint32(r.autoscale_max);
    }
    if (r.external.empty()) return;  // older readers see the same reply
    Key("external");
    pk.pack_array(static_cast<uint32_t>(r.external.size()));
    for (const auto& w : r.external) {
      pk.pack_map(8);
      Key("id"); pk.pack_uint64(w.id);
      Key("name"); PackStr(pk, w.name);
      Key("types"); Strings(w.types);
      Key("capacity"); pk.pack_uint32(w.capacity);
      Key("lease_ms"); pk.pack_uint64(w.lease_ms);
      Key("polling"); pk.pack(w.polling);
      Key("running"); pk.pack_uint32(w.running);
      Key("jobs"); Strings(w.jobs);
    }
  }
  void operator()(const ScheduleAddRequest& r) {
    Spec(r.schedule.job, 3);
    Key("name"); PackStr(pk, r.schedule.name);
    Key("cron"); PackStr(pk, r.schedule.cron);
    Key("every_ms"); pk.pack_uint64(r.schedule.every_ms);
  }
  void operator()(const ScheduleChangeRequest& r) {
    pk.pack_map(2);
    Key("name"); PackStr(pk, r.name);
    Key("action"); PackStr(pk, ScheduleActionName(r.action));
  }
  void operator()(const ScheduleListReply& r) {
    pk.pack_map(2);
    Key("schedules");
    pk.pack_array(static_cast<uint32_t>(r.schedules.size()));
    for (const auto& i : r.schedules) {
      pk.pack_map(11);
      Key("name"); PackStr(pk, i.name);
      Key("node"); PackStr(pk, i.node);
      Key("cron"); PackStr(pk, i.cron);
      Key("every_ms"); pk.pack_uint64(i.every_ms);
      Key("type"); PackStr(pk, i.type);
      Key("queue"); PackStr(pk, i.queue);
      Key("paused"); pk.pack(i.paused);
      Key("next_fire"); pk.pack_uint64(i.next_fire_ms);
      Key("last_fire"); pk.pack_uint64(i.last_fire_ms);
      Key("last_job"); PackStr(pk, i.last_job_id);
      Key("fires"); pk.pack_uint64(i.fires);
    }
    Key("unreachable");
    pk.pack_array(static_cast<uint32_t>(r.unreachable.size()));
    for (const auto& n : r.unreachable) PackStr(pk, n);
  }
  void operator()(const QueueSetRequest& r) { PackMap(buf, pk, QueueUpdateFields(), r.update); }
  void operator()(const QueueListReply& r) {
    pk.pack_map(1);
    Key("queues");
    pk.pack_array(static_cast<uint32_t>(r.queues.size()));
    for (const auto& q : r.queues) {
      // The settings' fields, then the node's figures, in one flat map.
      pk.pack_map(CountFields(QueueSettingsFields(), q.settings) + 6);
      PackFields(buf, pk, QueueSettingsFields(), q.settings);
      Key("node"); PackStr(pk, q.node);
      Key("queued"); pk.pack_uint64(q.queued);
      Key("delayed"); pk.pack_uint64(q.delayed);
      Key("running"); pk.pack_uint64(q.running);
      Key("dead"); pk.pack_uint64(q.dead);
      Key("oldest_wait_ms"); pk.pack_uint64(q.oldest_wait_ms);
    }
  }
  void operator()(const QueueSync& r) {
    pk.pack_map(2);
    Key("node"); PackStr(pk, r.node);
    Key("queues");
    pk.pack_array(static_cast<uint32_t>(r.queues.size()));
    for (const auto& q : r.queues) {
      PackMap(buf, pk, QueueSettingsFields(), q);
    }
  }
  void operator()(const EventListReply& r) {
    pk.pack_map(r.gap ? 4 : 3);
    Key("events");
    pk.pack_array(static_cast<uint32_t>(r.events.size()));
    for (const auto& e : r.events) {
      pk.pack_map(7 + (e.node.empty() ? 0 : 1) + (e.error.empty() ? 0 : 1) +
                  (e.progress_report ? 3 : 0));
      Key("seq"); pk.pack_uint64(e.seq);
      Key("id"); PackStr(pk, e.id);
      Key("state"); PackStr(pk, JobStateName(e.state));
      Key("queue"); PackStr(pk, e.queue);
      Key("type"); PackStr(pk, e.type);
      Key("at"); pk.pack_uint64(e.at_ms);
      Key("attempt"); pk.pack_uint32(e.attempt);
      if (!e.node.empty()) { Key("node"); PackStr(pk, e.node); }
      if (!e.error.empty()) { Key("error"); PackStr(pk, e.error); }
      if (e.progress_report) {
        Key("event"); PackStr(pk, "progress");
        Key("progress"); pk.pack_uint32(e.progress);
        Key("progress_message"); PackStr(pk, e.progress_message);
      }
    }
    Key("next"); pk.pack_uint64(r.next);
    Key("oldest"); pk.pack_uint64(r.oldest);
    if (r.gap) { Key("gap"); pk.pack(true); }
  }
  // ---- external workers ----
  void operator()(const WorkerRegisterRequest& r) {
    pk.pack_map(4);
    Key("name"); PackStr(pk, r.name);
    Key("types"); Strings(r.types);
    Key("capacity"); pk.pack_uint32(r.capacity);
    Key("lease_ms"); pk.pack_uint64(r.lease_ms);
  }
  void Leases(const char* key, const std::vector<uint64_t>& leases) {
    Key(key);
    pk.pack_array(static_cast<uint32_t>(leases.size()));
    for (uint64_t l : leases) pk.pack_uint64(l);
  }
  void operator()(const WorkerHeartbeatRequest& r) {
    pk.pack_map(2);
    Key("worker"); pk.pack_uint64(r.worker);
    Leases("leases", r.leases);
  }
  void operator()(const WorkerJobsReply& r) {
    pk.pack_map(1);
    Key("jobs");
    pk.pack_array(static_cast<uint32_t>(r.jobs.size()));
    for (const auto& j : r.jobs) {
      const bool parents = !j.parents.empty() && j.parents != MsgpackNil();
      pk.pack_map(parents ? 9 : 8);
      Key("id"); PackStr(pk, j.id);
      Key("lease"); pk.pack_uint64(j.lease);
      Key("type"); PackStr(pk, j.type);
      Key("queue"); PackStr(pk, j.queue);
      Key("priority"); pk.pack_uint32(j.priority);
      Key("payload"); PackRaw(buf, j.payload);
      Key("attempt"); pk.pack_uint32(j.attempt);
      Key("timeout_ms"); pk.pack_uint64(j.timeout_ms);
      if (parents) {
        Key("parents"); PackRaw(buf, j.parents);
      }
    }
  }
  void operator()(const WorkerBeatReply& r) {
    pk.pack_map(2);
    Leases("lost", r.lost);
    Key("lease_ms"); pk.pack_uint64(r.lease_ms);
  }
  void operator()(const ErrorReply& r) { Error(r.code, r.message); }
  void Error(Code code, const std::string& message) {
    pk.pack_map(2);
    Key("code"); pk.pack_uint32(static_cast<uint8_t>(code));
    Key("message"); PackStr(pk, message);
  }
};

// ---- decoding helpers ----

// stats_reply "queue_totals": queue -> {name: count}.
Status ReadQueueTotals(const msgpack::object& o,
                       std::map<std::string, std::map<std::string, uint64_t>>* out) {
  if (o.type != msgpack::type::MAP || o.via.map.size > limits::kQueuesMax + 1)
    return Status::Corruption("field 'queue_totals' must be a map of at most " +
                              std::to_string(limits::kQueuesMax + 1) + " queues");
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::MAP)
      return Status::Corruption("field 'queue_totals' must map queue names to maps");
    JOBNET_TRY(ReadCounts(kv.val, "queue_totals",
                          &(*out)[std::string(kv.key.via.str.ptr, kv.key.via.str.size)]));
  }
  return Status::OK();
}

// A msgpack number (any of its integer or float types) as a double.
bool AsDouble(const msgpack::object& o, double* out) {
  switch (o.type) {
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: *out = o.via.f64; return true;
    case msgpack::type::POSITIVE_INTEGER: *out = static_cast<double>(o.via.u64); return true;
    case msgpack::type::NEGATIVE_INTEGER: *out = static_cast<double>(o.via.i64); return true;
    default: return false;
  }
}

// stats_reply "histograms": name -> {bounds, counts, sum, count}.
Status ReadHistograms(const msgpack::object& o, std::map<std::string, Histogram>* out) {
  constexpr uint32_t kHistogramsMax = 64, kBucketsMax = 128;
  if (o.type != msgpack::type::MAP || o.via.map.size > kHistogramsMax)
    return Status::Corruption("field 'histograms' must be a map of at most " +
                              std::to_string(kHistogramsMax) + " histograms");
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::MAP)
      return Status::Corruption("field 'histograms' must map names to maps");
    MapReader hr(kv.val);
    Histogram h;
    const auto* bounds = hr.Find("bounds");
    const auto* counts = hr.Find("counts");
    const auto* sum = hr.Find("sum");
    if (bounds == nullptr || counts == nullptr || sum == nullptr ||
        bounds->type != msgpack::type::ARRAY || counts->type != msgpack::type::ARRAY ||
        bounds->via.array.size > kBucketsMax ||
        counts->via.array.size != bounds->via.array.size + 1 || !AsDouble(*sum, &h.sum))
      return Status::Corruption("a histogram needs bounds (at most " + std::to_string(kBucketsMax) +
                                "), one more count than bounds, and a sum");
    for (uint32_t j = 0; j < bounds->via.array.size; ++j) {
      double b = 0;
      if (!AsDouble(bounds->via.array.ptr[j], &b) || (j > 0 && b <= h.bounds.back()))
        return Status::Corruption("histogram bounds must be increasing numbers");
      h.bounds.push_back(b);
    }
    for (uint32_t j = 0; j < counts->via.array.size; ++j) {
      const auto& c = counts->via.array.ptr[j];
      if (c.type != msgpack::type::POSITIVE_INTEGER)
        return Status::Corruption("histogram counts must be non-negative integers");
      h.counts.push_back(c.via.u64);
    }
    JOBNET_TRY(hr.Uint("count", &h.count));
    (*out)[std::string(kv.key.via.str.ptr, kv.key.via.str.size)] = std::move(h);
  }
  return Status::OK();
}

Status ReadSpec(const MapReader& r, JobSpec* s) {
  JOBNET_TRY(ReadFields(r, JobSpecFields(), s));
  if (s->queue.empty()) s->queue = "default";
  return Validate(*s);
}

// The settings fields of a queue_sync entry or a queue_list row (absent fields: defaults).
Status ReadSettings(const MapReader& r, QueueSettings* q) {
  JOBNET_TRY(ReadFields(r, QueueSettingsFields(), q));
  return Validate(*q);
}

// An array of maps under `key`, at most `max` of them, each read by `fn`.
template <class Fn>
Status ReadMaps(const MapReader& r, const char* key, uint32_t max, Fn fn) {
  const auto* a = r.Find(key);
  if (a == nullptr || a->type != msgpack::type::ARRAY || a->via.array.size > max)
    return Status::Corruption(std::string("field '") + key + "' must be an array of at most " +
                              std::to_string(max) + " maps");
  for (uint32_t i = 0; i < a->via.array.size; ++i) {
    if (a->via.array.ptr[i].type != msgpack::type::MAP)
      return Status::Corruption(std::string("each of '") + key + "' must be a map");
    JOBNET_TRY(fn(MapReader(a->via.array.ptr[i])));
  }
  return Status::OK();
}

Status ReadInfo(const msgpack::object& o, JobInfo* j) {
  if (o.type != msgpack::type::MAP) return Status::Corruption("job must be a map");
  return ReadFields(MapReader(o), JobInfoFields(), j);
}

Status ReadAccepted(const MapReader& r, AcceptedReply* b) {
  bool present = false;
  JOBNET_TRY(r.Str("id", &b->id, limits::kJobIdBytesMax, true));
  JOBNET_TRY(r.State("state", &b->state, &present));
  JOBNET_TRY(r.Bool("duplicate", &b->duplicate));
  JOBNET_TRY(r.Str("reused_from", &b->reused_from, limits::kJobIdBytesMax));
  JOBNET_TRY(r.Bool("coalesced", &b->coalesced));
  return Status::OK();
}

Status ReadError(const MapReader& r, ErrorReply* b) {
  uint8_t code = 0;
  JOBNET_TRY(r.Uint("code", &code, true));
  JOBNET_TRY(r.Str("message", &b->message, limits::kErrorMessageBytesMax));
  b->code = static_cast<Code>(code);  // unknown codes pass through; clients print the number
  return Status::OK();
}

// The elements of the array field `key`, at most `max_items`; each must be a map.
Status ReadMaps(const MapReader& r, const char* key, uint32_t max_items,
                std::vector<const msgpack::object*>* out) {
  const auto* v = r.Find(key);
  if (v == nullptr || v->type != msgpack::type::ARRAY)
    return Status::Corruption(std::string("field '") + key + "' must be an array");
  if (v->via.array.size > max_items)
    return Status::TooLarge(std::string("field '") + key + "' has " +
                            std::to_string(v->via.array.size) + " elements; the limit is " +
                            std::to_string(max_items));
  for (uint32_t i = 0; i < v->via.array.size; ++i) out->push_back(&v->via.array.ptr[i]);
  return Status::OK();
}

Status ReadScheduleInfo(const msgpack::object& o, ScheduleInfo* i) {
  if (o.type != msgpack::type::MAP) return Status::Corruption("schedule must be a map");
  MapReader r(o);
  JOBNET_TRY(r.Str("name", &i->name, limits::kScheduleNameBytesMax, true));
  JOBNET_TRY(r.Str("node", &i->node, limits::kNodeIdBytesMax));
  JOBNET_TRY(r.Str("cron", &i->cron, limits::kCronBytesMax));
  JOBNET_TRY(r.Uint("every_ms", &i->every_ms));
  JOBNET_TRY(r.Str("type", &i->type, limits::kTypeNameBytesMax));
  JOBNET_TRY(r.Str("queue", &i->queue, limits::kQueueNameBytesMax));
  JOBNET_TRY(r.Bool("paused", &i->paused));
  JOBNET_TRY(r.Uint("next_fire", &i->next_fire_ms));
  JOBNET_TRY(r.Uint("last_fire", &i->last_fire_ms));
  JOBNET_TRY(r.Str("last_job", &i->last_job_id, limits::kJobIdBytesMax));
  JOBNET_TRY(r.Uint("fires", &i->fires));
  return Status::OK();
}

// An array of at most `max` values under `key`, each read by `fn(const msgpack::object&)`.
// Absent: empty.
template <class Fn>
Status ReadArray(const MapReader& r, const char* key, uint32_t max, const char* what, Fn fn) {
  const auto* a = r.Find(key);
  if (a == nullptr || a->type == msgpack::type::NIL) return Status::OK();
  if (a->type != msgpack::type::ARRAY || a->via.array.size > max)
    return Status::Corruption(std::string("field '") + key + "' must be an array of at most " +
                              std::to_string(max) + " " + what);
  for (uint32_t i = 0; i < a->via.array.size; ++i) JOBNET_TRY(fn(a->via.array.ptr[i]));
  return Status::OK();
}

Status ReadLeases(const MapReader& r, const char* key, std::vector<uint64_t>* out) {
  return ReadArray(r, key, limits::kExternalCapacityMax, "lease ids",
                   [out, key](const msgpack::object& v) {
                     if (v.type != msgpack::type::POSITIVE_INTEGER)
                       return Status::Corruption(std::string("each of '") + key +
                                                 "' must be a non-negative integer");
                     out->push_back(v.via.u64);
                     return Status::OK();
                   });
}

// ---- one reader per kind (the table kKinds below names them) ----

// A message that is its field table (descriptions.hpp), and its checks.
template <class T>
Status ReadDescribed(const MapReader& r, Body* body) {
  T b;
  JOBNET_TRY(ReadFields(r, Describe(&b), &b));
  JOBNET_TRY(Check(b));
  *body = std::move(b);
  return Status::OK();
}

Status ReadWorkerRegister(const MapReader& r, Body* body) {
  WorkerRegisterRequest b;
  b.capacity = 0;  // required below
  JOBNET_TRY(r.Str("name", &b.name, limits::kWorkerNameBytesMax));
  JOBNET_TRY(r.Strs("types", &b.types, limits::kExternalTypesMax, limits::kTypeNameBytesMax));
  JOBNET_TRY(r.Uint("capacity", &b.capacity, true));
  JOBNET_TRY(r.Uint("lease_ms", &b.lease_ms));
  JOBNET_TRY(Validate(b));
  *body = std::move(b);
  return Status::OK();
}

Status ReadWorkerHeartbeat(const MapReader& r, Body* body) {
  WorkerHeartbeatRequest b;
  JOBNET_TRY(r.Uint("worker", &b.worker, true));
  JOBNET_TRY(ReadLeases(r, "leases", &b.leases));
  *body = std::move(b);
  return Status::OK();
}

Status ReadWorkerJobs(const MapReader& r, Body* body) {
  WorkerJobsReply b;
  JOBNET_TRY(ReadMaps(r, "jobs", limits::kExternalCapacityMax, [&b](const MapReader& jr) {
    LeasedJob j;
    JOBNET_TRY(jr.Str("id", &j.id, limits::kJobIdBytesMax, true));
    JOBNET_TRY(jr.Uint("lease", &j.lease, true));
    JOBNET_TRY(jr.Str("type", &j.type, limits::kTypeNameBytesMax, true));
    JOBNET_TRY(jr.Str("queue", &j.queue, limits::kQueueNameBytesMax));
    JOBNET_TRY(jr.Uint("priority", &j.priority));
    JOBNET_TRY(jr.Raw("payload", &j.payload, limits::kPayloadBytesMax));
    JOBNET_TRY(jr.Uint("attempt", &j.attempt));
    JOBNET_TRY(jr.Uint("timeout_ms", &j.timeout_ms));
    JOBNET_TRY(jr.Raw("parents", &j.parents, limits::kPayloadBytesMax));
    b.jobs.push_back(std::move(j));
    return Status::OK();
  }));
  *body = std::move(b);
  return Status::OK();
}

Status ReadWorkerBeat(const MapReader& r, Body* body) {
  WorkerBeatReply b;
  JOBNET_TRY(ReadLeases(r, "lost", &b.lost));
  JOBNET_TRY(r.Uint("lease_ms", &b.lease_ms));
  *body = std::move(b);
  return Status::OK();
}

Status ReadSubmit(const MapReader& r, Body* body) {
  SubmitRequest b;
  JOBNET_TRY(ReadSpec(r, &b.spec));
  *body = std::move(b);
  return Status::OK();
}

Status ReadList(const MapReader& r, Body* body) {
  ListRequest b;
  JobState st{};
  bool present = false;
  JOBNET_TRY(r.State("state", &st, &present));
  if (present) b.state = st;
  JOBNET_TRY(r.Str("queue", &b.queue, limits::kQueueNameBytesMax));
  JOBNET_TRY(r.Str("type", &b.type, limits::kTypeNameBytesMax));
  JOBNET_TRY(r.Uint("limit", &b.limit));
  JOBNET_TRY(r.Str("after", &b.after, limits::kJobIdBytesMax));
  JOBNET_TRY(r.Uint("created_from", &b.created_from_ms));
  JOBNET_TRY(r.Uint("created_to", &b.created_to_ms));
  if (b.created_to_ms != 0 && b.created_to_ms < b.created_from_ms)
    return Status::InvalidArgument("created_to is before created_from");
  if (b.limit == 0 || b.limit > limits::kListLimitMax)
    return Status::InvalidArgument("limit must be 1.." +
                                   std::to_string(limits::kListLimitMax));
  *body = std::move(b);
  return Status::OK();
}

Status ReadAccepted(const MapReader& r, Body* body) {
  AcceptedReply b;
  JOBNET_TRY(ReadAccepted(r, &b));
  *body = std::move(b);
  return Status::OK();
}

Status ReadSubmitBatch(const MapReader& r, Body* body) {
  SubmitBatchRequest b;
  std::vector<const msgpack::object*> specs;
  JOBNET_TRY(ReadMaps(r, "specs", limits::kBatchSpecsMax, &specs));
  b.specs.resize(specs.size());
  // A spec that does not decode is that spec's error only: its neighbours go on.
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i]->type != msgpack::type::MAP) {
      b.specs[i].decoded = Status::Corruption("spec must be a map");
      continue;
    }
    b.specs[i].decoded = ReadSpec(MapReader(*specs[i]), &b.specs[i].spec);
  }
  *body = std::move(b);
  return Status::OK();
}

Status ReadSubmitFlow(const MapReader& r, Body* body) {
  SubmitFlowRequest b;
  JOBNET_TRY(ReadMaps(r, "jobs", limits::kFlowJobsMax, [&b](const MapReader& jr) {
    FlowJob j;
    JOBNET_TRY(jr.Str("name", &j.name, limits::kTypeNameBytesMax, true));
    JOBNET_TRY(jr.Strs("after", &j.after, limits::kParentsMax, limits::kTypeNameBytesMax));
    Status s = ReadSpec(jr, &j.spec);
    if (!s.ok()) return Status(s.code(), "job '" + j.name + "': " + s.message());
    b.jobs.push_back(std::move(j));
    return Status::OK();
  }));
  if (b.jobs.empty()) return Status::InvalidArgument("a flow needs at least one job");
  *body = std::move(b);
  return Status::OK();
}

Status ReadFlowAccepted(const MapReader& r, Body* body) {
  FlowAcceptedReply b;
  JOBNET_TRY(r.Str("flow", &b.flow.flow, limits::kJobIdBytesMax, true));
  const auto* ids = r.Find("ids");
  if (ids == nullptr || ids->type != msgpack::type::MAP ||
      ids->via.map.size > limits::kFlowJobsMax)
    return Status::Corruption("field 'ids' must map at most " +
                              std::to_string(limits::kFlowJobsMax) + " names to job ids");
  for (uint32_t i = 0; i < ids->via.map.size; ++i) {
    const auto& kv = ids->via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::STR ||
        kv.key.via.str.size > limits::kTypeNameBytesMax ||
        kv.val.via.str.size > limits::kJobIdBytesMax)
      return Status::Corruption("field 'ids' must map names to job ids");
    b.flow.ids[std::string(kv.key.via.str.ptr, kv.key.via.str.size)] =
        std::string(kv.val.via.str.ptr, kv.val.via.str.size);
  }
  *body = std::move(b);
  return Status::OK();
}

Status ReadBulk(const MapReader& r, Body* body) {
  BulkRequest b;
  std::string action;
  JobState st{};
  bool present = false;
  JOBNET_TRY(r.Str("action", &action, 16, true));
  JOBNET_TRY(r.Str("queue", &b.queue, limits::kQueueNameBytesMax, true));
  JOBNET_TRY(r.Str("type", &b.type, limits::kTypeNameBytesMax));
  JOBNET_TRY(r.State("state", &st, &present));
  if (present) b.state = st;
  if (action == "retry") {
    b.action = BulkAction::kRetry;
  } else if (action == "cancel") {
    b.action = BulkAction::kCancel;
  } else {
    return Status::InvalidArgument("unknown bulk action '" + action +
                                   "' (want retry or cancel)");
  }
  JOBNET_TRY(Validate(b));
  *body = std::move(b);
  return Status::OK();
}

Status ReadBatchAccepted(const MapReader& r, Body* body) {
  BatchAcceptedReply b;
  std::vector<const msgpack::object*> items;
  JOBNET_TRY(ReadMaps(r, "items", limits::kBatchSpecsMax, &items));
  for (const auto* o : items) {
    if (o->type != msgpack::type::MAP) return Status::Corruption("item must be a map");
    MapReader ir(*o);
    BatchItemResult item;
    if (ir.Find("code") != nullptr) {
      ErrorReply e;
      JOBNET_TRY(ReadError(ir, &e));
      item.status = Status(e.code == Code::kOk ? Code::kInternal : e.code, e.message);
    } else {
      JOBNET_TRY(ReadAccepted(ir, &item.submitted));
    }
    b.items.push_back(std::move(item));
  }
  *body = std::move(b);
  return Status::OK();
}

Status ReadTypeList(const MapReader& r, Body* body) {
  TypeListReply b;
  std::vector<const msgpack::object*> hs;
  JOBNET_TRY(ReadMaps(r, "handlers", limits::kContainerItemsMax, &hs));
  for (const auto* o : hs) {
    if (o->type != msgpack::type::MAP) return Status::Corruption("handler must be a map");
    MapReader hr(*o);
    HandlerInfo h;
    JOBNET_TRY(hr.Str("type", &h.type, limits::kTypeNameBytesMax, true));
    JOBNET_TRY(hr.Str("payload", &h.payload, limits::kErrorMessageBytesMax));
    JOBNET_TRY(hr.Str("result", &h.result, limits::kErrorMessageBytesMax));
    b.handlers.push_back(std::move(h));
  }
  *body = std::move(b);
  return Status::OK();
}

Status ReadPrincipalList(const MapReader& r, Body* body) {
  PrincipalListReply b;
  std::vector<const msgpack::object*> ps;
  JOBNET_TRY(ReadMaps(r, "principals", limits::kPrincipalsMax + 1, &ps));
  for (const auto* o : ps) {
    if (o->type != msgpack::type::MAP) return Status::Corruption("principal must be a map");
    MapReader pr(*o);
    PrincipalEntry p;
    JOBNET_TRY(pr.Str("name", &p.name, limits::kNodeIdBytesMax, true));
    JOBNET_TRY(pr.Str("key", &p.key, 40, true));
    JOBNET_TRY(pr.Str("scopes", &p.scopes, 64));
    JOBNET_TRY(pr.Str("endpoints", &p.endpoints,
                      limits::kPrincipalEndpointsMax * (limits::kEndpointBytesMax + 1)));
    JOBNET_TRY(pr.Str("origin", &p.origin, 16));
    JOBNET_TRY(pr.Str("types", &p.types, limits::kExternalTypesMax * (limits::kTypeNameBytesMax + 1)));
    b.principals.push_back(std::move(p));
  }
  *body = std::move(b);
  return Status::OK();
}

Status ReadJob(const MapReader& r, Body* body) {
  JobReply b;
  JOBNET_TRY(ReadInfo(r.object(), &b.job));
  *body = std::move(b);
  return Status::OK();
}

Status ReadJobList(const MapReader& r, Body* body) {
  JobListReply b;
  const auto* jobs = r.Find("jobs");
  if (jobs == nullptr || jobs->type != msgpack::type::ARRAY)
    return Status::Corruption("field 'jobs' must be an array");
  b.jobs.resize(jobs->via.array.size);
  for (uint32_t i = 0; i < jobs->via.array.size; ++i)
    JOBNET_TRY(ReadInfo(jobs->via.array.ptr[i], &b.jobs[i]));
  *body = std::move(b);
  return Status::OK();
}

Status ReadStatsReply(const MapReader& r, Body* body) {
  StatsReply b;
  JOBNET_TRY(r.Str("node", &b.node, limits::kNodeIdBytesMax));
  JOBNET_TRY(r.Uint("incarnation", &b.incarnation));
  JOBNET_TRY(r.Uint("workers", &b.workers));
  JOBNET_TRY(r.Uint("busy", &b.busy));
  JOBNET_TRY(r.Uint("uptime_ms", &b.uptime_ms));
  JOBNET_TRY(r.Counts("jobs", &b.jobs));
  JOBNET_TRY(r.Counts("queues", &b.queues));
  JOBNET_TRY(r.Counts("counters", &b.counters));
  JOBNET_TRY(r.Str("endpoint", &b.endpoint, limits::kEndpointBytesMax));
  if (const auto* peers = r.Find("peers")) {
    if (peers->type != msgpack::type::ARRAY || peers->via.array.size > limits::kPeersMax)
      return Status::Corruption("field 'peers' must be an array of at most " +
                                std::to_string(limits::kPeersMax) + " peers");
    for (uint32_t i = 0; i < peers->via.array.size; ++i) {
      const auto& po = peers->via.array.ptr[i];
      if (po.type != msgpack::type::MAP) return Status::Corruption("peer must be a map");
      MapReader pr(po);
      PeerInfo p;
      JOBNET_TRY(pr.Str("node", &p.node, limits::kNodeIdBytesMax));
      JOBNET_TRY(pr.Str("endpoint", &p.endpoint, limits::kEndpointBytesMax));
      JOBNET_TRY(pr.Str("state", &p.state, 16));
      JOBNET_TRY(pr.Uint("incarnation", &p.incarnation));
      JOBNET_TRY(pr.Uint("workers", &p.workers));
      JOBNET_TRY(pr.Uint("free", &p.free));
      JOBNET_TRY(pr.Uint("queued", &p.queued));
      JOBNET_TRY(pr.Uint("last_seen", &p.last_seen_ms));
      JOBNET_TRY(pr.Uint("leases", &p.leases));
      b.peers.push_back(std::move(p));
    }
  }
  if (const auto* qt = r.Find("queue_totals")) JOBNET_TRY(ReadQueueTotals(*qt, &b.queue_totals));
  if (const auto* hs = r.Find("histograms")) JOBNET_TRY(ReadHistograms(*hs, &b.histograms));
  JOBNET_TRY(r.Counts("denied", &b.denied));
  if (b.denied.size() > limits::kPrincipalsMax + 1)
    return Status::Corruption("field 'denied' names more than " +
                              std::to_string(limits::kPrincipalsMax + 1) + " principals");
  *body = std::move(b);
  return Status::OK();
}

Status ReadWorkerList(const MapReader& r, Body* body) {
  WorkerListReply b;
  JOBNET_TRY(r.Str("node", &b.node, limits::kNodeIdBytesMax));
  JOBNET_TRY(r.Uint("workers", &b.workers));
  const auto* slots = r.Find("slots");
  if (slots == nullptr || slots->type != msgpack::type::ARRAY ||
      slots->via.array.size > limits::kWorkersMax)
    return Status::Corruption("field 'slots' must be an array of at most " +
                              std::to_string(limits::kWorkersMax) + " slots");
  for (uint32_t i = 0; i < slots->via.array.size; ++i) {
    const auto& so = slots->via.array.ptr[i];
    if (so.type != msgpack::type::MAP) return Status::Corruption("slot must be a map");
    MapReader sr(so);
    WorkerSlot w;
    std::string state;
    JOBNET_TRY(sr.Uint("id", &w.id, true));
    JOBNET_TRY(sr.Str("state", &state, 16));
    if (state != "busy" && state != "idle")
      return Status::Corruption("slot state must be 'busy' or 'idle'");
    w.busy = state == "busy";
    JOBNET_TRY(sr.Bool("retiring", &w.retiring));
    JOBNET_TRY(sr.Str("job", &w.job, limits::kJobIdBytesMax));
    JOBNET_TRY(sr.Str("queue", &w.queue, limits::kQueueNameBytesMax));
    JOBNET_TRY(sr.Str("type", &w.type, limits::kTypeNameBytesMax));
    JOBNET_TRY(sr.Uint("since", &w.since_ms));
    b.slots.push_back(std::move(w));
  }
  JOBNET_TRY(r.Uint("autoscale_min", &b.autoscale_min));
  JOBNET_TRY(r.Uint("autoscale_max", &b.autoscale_max));
  const auto* external = r.Find("external");
  if (external != nullptr) {
    if (external->type != msgpack::type::ARRAY ||
        external->via.array.size > limits::kExternalWorkersMax)
      return Status::Corruption("field 'external' must be an array of at most " +
                                std::to_string(limits::kExternalWorkersMax) + " workers");
    for (uint32_t i = 0; i < external->via.array.size; ++i) {
      const auto& wo = external->via.array.ptr[i];
      if (wo.type != msgpack::type::MAP) return Status::Corruption("external worker must be a map");
      MapReader wr(wo);
      ExternalWorkerInfo w;
      JOBNET_TRY(wr.Uint("id", &w.id, true));
      JOBNET_TRY(wr.Str("name", &w.name, limits::kWorkerNameBytesMax));
      JOBNET_TRY(wr.Strs("types", &w.types, limits::kExternalTypesMax, limits::kTypeNameBytesMax));
      JOBNET_TRY(wr.Uint("capacity", &w.capacity));
      JOBNET_TRY(wr.Uint("lease_ms", &w.lease_ms));
      JOBNET_TRY(wr.Bool("polling", &w.polling));
      JOBNET_TRY(wr.Uint("running", &w.running));
      JOBNET_TRY(wr.Strs("jobs", &w.jobs, limits::kExternalJobsListedMax, limits::kJobIdBytesMax));
      b.external.push_back(std::move(w));
    }
  }
  *body = std::move(b);
  return Status::OK();
}

Status ReadScheduleAdd(const MapReader& r, Body* body) {
  ScheduleAddRequest b;
  JOBNET_TRY(ReadSpec(r, &b.schedule.job));
  JOBNET_TRY(r.Str("name", &b.schedule.name, limits::kScheduleNameBytesMax, true));
  JOBNET_TRY(r.Str("cron", &b.schedule.cron, limits::kCronBytesMax));
  JOBNET_TRY(r.Uint("every_ms", &b.schedule.every_ms));
  JOBNET_TRY(Validate(b.schedule));
  *body = std::move(b);
  return Status::OK();
}

Status ReadScheduleChange(const MapReader& r, Body* body) {
  ScheduleChangeRequest b;
  std::string action;
  JOBNET_TRY(r.Str("name", &b.name, limits::kScheduleNameBytesMax, true));
  JOBNET_TRY(r.Str("action", &action, 16, true));
  auto parsed = ParseScheduleAction(action);
  if (parsed) b.action = *parsed;
  if (!parsed)
    return Status::InvalidArgument("action must be remove, pause or resume, not '" + action +
                                   "'");
  *body = std::move(b);
  return Status::OK();
}

Status ReadScheduleListReply(const MapReader& r, Body* body) {
  ScheduleListReply b;
  const auto* list = r.Find("schedules");
  if (list == nullptr || list->type != msgpack::type::ARRAY)
    return Status::Corruption("field 'schedules' must be an array");
  b.schedules.resize(list->via.array.size);
  for (uint32_t i = 0; i < list->via.array.size; ++i)
    JOBNET_TRY(ReadScheduleInfo(list->via.array.ptr[i], &b.schedules[i]));
  if (const auto* un = r.Find("unreachable")) {
    if (un->type != msgpack::type::ARRAY || un->via.array.size > limits::kPeersMax)
      return Status::Corruption("field 'unreachable' must be an array of at most " +
                                std::to_string(limits::kPeersMax) + " node ids");
    for (uint32_t i = 0; i < un->via.array.size; ++i) {
      const auto& n = un->via.array.ptr[i];
      if (n.type != msgpack::type::STR || n.via.str.size > limits::kEndpointBytesMax)
        return Status::Corruption("field 'unreachable' must hold node ids");
      b.unreachable.emplace_back(n.via.str.ptr, n.via.str.size);
    }
  }
  *body = std::move(b);
  return Status::OK();
}

Status ReadQueueSet(const MapReader& r, Body* body) {
  QueueSetRequest b;
  JOBNET_TRY(ReadFields(r, QueueUpdateFields(), &b.update));
  JOBNET_TRY(Validate(b.update));
  *body = std::move(b);
  return Status::OK();
}

Status ReadQueueList(const MapReader& r, Body* body) {
  QueueListReply b;
  JOBNET_TRY(ReadMaps(r, "queues", limits::kQueuesMax + limits::kQueueSettingsMax,
                      [&b](const MapReader& qr) {
                        QueueInfo q;
                        JOBNET_TRY(ReadSettings(qr, &q.settings));
                        JOBNET_TRY(qr.Str("node", &q.node, limits::kNodeIdBytesMax));
                        JOBNET_TRY(qr.Uint("queued", &q.queued));
                        JOBNET_TRY(qr.Uint("delayed", &q.delayed));
                        JOBNET_TRY(qr.Uint("running", &q.running));
                        JOBNET_TRY(qr.Uint("dead", &q.dead));
                        JOBNET_TRY(qr.Uint("oldest_wait_ms", &q.oldest_wait_ms));
                        b.queues.push_back(std::move(q));
                        return Status::OK();
                      }));
  *body = std::move(b);
  return Status::OK();
}

Status ReadQueueSync(const MapReader& r, Body* body) {
  QueueSync b;
  JOBNET_TRY(r.Str("node", &b.node, limits::kNodeIdBytesMax, true));
  JOBNET_TRY(ReadMaps(r, "queues", limits::kQueueSyncPerFrameMax, [&b](const MapReader& qr) {
    QueueSettings q;
    JOBNET_TRY(ReadSettings(qr, &q));
    b.queues.push_back(std::move(q));
    return Status::OK();
  }));
  *body = std::move(b);
  return Status::OK();
}

Status ReadEventList(const MapReader& r, Body* body) {
  EventListReply b;
  JOBNET_TRY(ReadMaps(r, "events", limits::kEventsPerReplyMax, [&b](const MapReader& er) {
    StateEvent e;
    bool present = false;
    JOBNET_TRY(er.Uint("seq", &e.seq, true));
    JOBNET_TRY(er.Str("id", &e.id, limits::kJobIdBytesMax, true));
    JOBNET_TRY(er.State("state", &e.state, &present));
    if (!present) return Status::InvalidArgument("missing field 'state'");
    JOBNET_TRY(er.Str("queue", &e.queue, limits::kQueueNameBytesMax));
    JOBNET_TRY(er.Str("type", &e.type, limits::kTypeNameBytesMax));
    JOBNET_TRY(er.Uint("at", &e.at_ms));
    JOBNET_TRY(er.Uint("attempt", &e.attempt));
    JOBNET_TRY(er.Str("node", &e.node, limits::kNodeIdBytesMax));
    JOBNET_TRY(er.Str("error", &e.error, limits::kErrorMessageBytesMax));
    std::string kind;  // absent: "state"
    JOBNET_TRY(er.Str("event", &kind, 16));
    if (kind == "progress") {
      e.progress_report = true;
      JOBNET_TRY(er.Uint("progress", &e.progress));
      if (e.progress > limits::kProgressPctMax)
        return Status::InvalidArgument("field 'progress' must be 0.." +
                                       std::to_string(limits::kProgressPctMax));
      JOBNET_TRY(er.Str("progress_message", &e.progress_message,
                        limits::kProgressMessageBytesMax));
    } else if (!kind.empty() && kind != "state") {
      return Status::InvalidArgument("field 'event' must be state or progress");
    }
    b.events.push_back(std::move(e));
    return Status::OK();
  }));
  JOBNET_TRY(r.Uint("next", &b.next));
  JOBNET_TRY(r.Uint("oldest", &b.oldest));
  JOBNET_TRY(r.Bool("gap", &b.gap));
  *body = std::move(b);
  return Status::OK();
}

Status ReadError(const MapReader& r, Body* body) {
  ErrorReply b;
  JOBNET_TRY(ReadError(r, &b));
  *body = std::move(b);
  return Status::OK();
}

// Every kind of message: its number, its name (logs, errors, the CLI) and its reader, in the
// order of the Body alternatives (KindOf indexes it). A new message kind is one row here, one
// alternative of Body and its encoding (a field table, or a BodyWriter overload).
struct KindInfo {
  Kind kind;
  const char* name;
  Status (*read)(const MapReader& r, Body* body);
};
constexpr KindInfo kKinds[] = {
    {Kind::kSubmit, "submit", ReadSubmit},
    {Kind::kStatus, "status", ReadDescribed<StatusRequest>},
    {Kind::kWait, "wait", ReadDescribed<WaitRequest>},
    {Kind::kCancel, "cancel", ReadDescribed<CancelRequest>},
    {Kind::kRetry, "retry", ReadDescribed<RetryRequest>},
    {Kind::kList, "list", ReadList},
    {Kind::kStats, "stats", ReadDescribed<StatsRequest>},
    {Kind::kAccepted, "accepted", ReadAccepted},
    {Kind::kJob, "job", ReadJob},
    {Kind::kJobList, "job_list", ReadJobList},
    {Kind::kStatsReply, "stats_reply", ReadStatsReply},
    {Kind::kError, "error", ReadError},
    {Kind::kHeartbeat, "heartbeat", ReadDescribed<Heartbeat>},
    {Kind::kRemoteRun, "remote_run", ReadDescribed<RemoteRun>},
    {Kind::kRemoteResult, "remote_result", ReadDescribed<RemoteResult>},
    {Kind::kRemoteAck, "remote_ack", ReadDescribed<RemoteAck>},
    {Kind::kSubmitBatch, "submit_batch", ReadSubmitBatch},
    {Kind::kBulk, "bulk", ReadBulk},
    {Kind::kTypes, "types", ReadDescribed<TypesRequest>},
    {Kind::kBatchAccepted, "batch_accepted", ReadBatchAccepted},
    {Kind::kBulkReply, "bulk_reply", ReadDescribed<BulkReply>},
    {Kind::kTypeList, "type_list", ReadTypeList},
    {Kind::kWorkers, "workers", ReadDescribed<WorkersRequest>},
    {Kind::kWorkersSet, "workers_set", ReadDescribed<WorkersSetRequest>},
    {Kind::kWorkerList, "worker_list", ReadWorkerList},
    {Kind::kRemoteCancel, "remote_cancel", ReadDescribed<RemoteCancel>},
    {Kind::kScheduleAdd, "schedule_add", ReadScheduleAdd},
    {Kind::kScheduleList, "schedule_list", ReadDescribed<ScheduleListRequest>},
    {Kind::kScheduleChange, "schedule_change", ReadScheduleChange},
    {Kind::kScheduleListReply, "schedule_list_reply", ReadScheduleListReply},
    {Kind::kQueueSet, "queue_set", ReadQueueSet},
    {Kind::kQueues, "queues", ReadDescribed<QueuesRequest>},
    {Kind::kQueueList, "queue_list", ReadQueueList},
    {Kind::kQueueSync, "queue_sync", ReadQueueSync},
    {Kind::kEvents, "events", ReadDescribed<EventsRequest>},
    {Kind::kEventList, "event_list", ReadEventList},
    {Kind::kBlobPut, "blob_put", ReadDescribed<BlobPutRequest>},
    {Kind::kBlobGet, "blob_get", ReadDescribed<BlobGetRequest>},
    {Kind::kBlobStored, "blob_stored", ReadDescribed<BlobStoredReply>},
    {Kind::kBlobData, "blob_data", ReadDescribed<BlobDataReply>},
    {Kind::kWorkerRegister, "worker_register", ReadWorkerRegister},
    {Kind::kWorkerPoll, "worker_poll", ReadDescribed<WorkerPollRequest>},
    {Kind::kWorkerHeartbeat, "worker_heartbeat", ReadWorkerHeartbeat},
    {Kind::kWorkerProgress, "worker_progress", ReadDescribed<WorkerProgressRequest>},
    {Kind::kWorkerComplete, "worker_complete", ReadDescribed<WorkerCompleteRequest>},
    {Kind::kWorkerFail, "worker_fail", ReadDescribed<WorkerFailRequest>},
    {Kind::kWorkerUnregister, "worker_unregister", ReadDescribed<WorkerUnregisterRequest>},
    {Kind::kWorkerRegistered, "worker_registered", ReadDescribed<WorkerRegisteredReply>},
    {Kind::kWorkerJobs, "worker_jobs", ReadWorkerJobs},
    {Kind::kWorkerBeat, "worker_beat", ReadWorkerBeat},
    {Kind::kWorkerAck, "worker_ack", ReadDescribed<WorkerAckReply>},
    {Kind::kPrincipals, "principals", ReadDescribed<PrincipalsRequest>},
    {Kind::kPrincipalList, "principal_list", ReadPrincipalList},
    {Kind::kWorkersAutoscale, "workers_autoscale", ReadDescribed<WorkersAutoscaleRequest>},
    {Kind::kParentWatch, "parent_watch", ReadDescribed<ParentWatch>},
    {Kind::kParentDone, "parent_done", ReadDescribed<ParentDone>},
    {Kind::kSubmitFlow, "submit_flow", ReadSubmitFlow},
    {Kind::kFlowAccepted, "flow_accepted", ReadFlowAccepted},
};
static_assert(sizeof(kKinds) / sizeof(kKinds[0]) == std::variant_size_v<Body>,
              "one kind per body alternative");

const KindInfo* FindKind(uint64_t k) {
  for (const auto& info : kKinds)
    if (static_cast<uint64_t>(info.kind) == k) return &info;
  return nullptr;
}

}  // namespace

Kind KindOf(const Body& body) { return kKinds[body.index()].kind; }

const char* KindName(Kind k) {
  const KindInfo* info = FindKind(static_cast<uint8_t>(k));
  return info != nullptr ? info->name : "unknown";
}

std::string Encode(const Envelope& env) {
  msgpack::sbuffer buf(256);
  Packer pk(&buf);
  pk.pack_array(4);
  pk.pack_uint32(env.version);
  pk.pack_uint32(static_cast<uint8_t>(KindOf(env.body)));
  pk.pack_uint64(env.corr_id);
  BodyWriter w{buf, pk};
  std::visit(w, env.body);
  return std::string(buf.data(), buf.size());
}

Status ValidateMsgpackValue(const std::string& bytes, std::size_t bytes_max) {
  msgpack::object_handle oh;
  return UnpackBounded(bytes.data(), bytes.size(), bytes_max, &oh);
}

namespace {

// A msgpack unsigned integer at data[*at], in any of its encodings; false if it is not one.
bool PeekUint(const unsigned char* data, std::size_t len, std::size_t* at, uint64_t* out) {
  if (*at >= len) return false;
  unsigned char tag = data[(*at)++];
  if (tag <= 0x7f) return *out = tag, true;
  std::size_t n = tag == 0xcc ? 1 : tag == 0xcd ? 2 : tag == 0xce ? 4 : tag == 0xcf ? 8 : 0;
  if (n == 0 || len - *at < n) return false;
  uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | data[(*at)++];
  *out = v;
  return true;
}

// The corr_id of a frame the decoder refused as a whole (too large, nested too deep, a broken
// body): its first bytes are still [version, kind, corr_id, ...], so the error reply can be
// matched by the client instead of leaving it to time out. 0 when even those do not parse.
uint64_t PeekCorrId(const char* data, std::size_t len) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  std::size_t at = 0;
  if (len == 0) return 0;
  if (p[0] == 0x94) {
    at = 1;
  } else if (len >= 3 && p[0] == 0xdc && p[1] == 0 && p[2] == 4) {
    at = 3;
  } else if (len >= 5 && p[0] == 0xdd && p[1] == 0 && p[2] == 0 && p[3] == 0 && p[4] == 4) {
    at = 5;
  } else {
    return 0;
  }
  uint64_t version = 0, kind = 0, corr = 0;
  if (!PeekUint(p, len, &at, &version) || !PeekUint(p, len, &at, &kind) ||
      !PeekUint(p, len, &at, &corr))
    return 0;
  return corr;
}

}  // namespace

Result<Envelope> Decode(const char* data, std::size_t len, uint64_t* corr_id,
                        std::size_t frame_bytes_max) {
  *corr_id = 0;
  msgpack::object_handle oh;
  Status s = UnpackBounded(data, len, frame_bytes_max, &oh);
  if (!s.ok()) {
    *corr_id = PeekCorrId(data, len);
    return s;
  }
  const msgpack::object& root = oh.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size != 4)
    return Status::Corruption("frame must be an array of 4: [version, kind, corr_id, body]");
  const msgpack::object* f = root.via.array.ptr;
  // corr_id first, so that every later error can still be matched by the client.
  if (f[2].type != msgpack::type::POSITIVE_INTEGER)
    return Status::Corruption("corr_id must be a non-negative integer");
  *corr_id = f[2].via.u64;
  if (f[0].type != msgpack::type::POSITIVE_INTEGER)
    return Status::Corruption("version must be a non-negative integer");
  if (f[0].via.u64 != limits::kProtocolVersion)
    return Status::UnsupportedVersion("protocol version " + std::to_string(f[0].via.u64) +
                                      " is not supported; this node speaks " +
                                      std::to_string(limits::kProtocolVersion));
  // A kind of the wrong msgpack type is a broken encoder (corruption, like every other field);
  // a well-formed number this node does not know is a kind it does not serve.
  if (f[1].type != msgpack::type::POSITIVE_INTEGER)
    return Status::Corruption("kind must be a non-negative integer");
  const KindInfo* kind = FindKind(f[1].via.u64);
  if (kind == nullptr)
    return Status::InvalidArgument("unknown message kind " + std::to_string(f[1].via.u64));
  if (f[3].type != msgpack::type::MAP) return Status::Corruption("body must be a map");
  Envelope env;
  env.version = static_cast<uint32_t>(f[0].via.u64);
  env.corr_id = *corr_id;
  s = kind->read(MapReader(f[3]), &env.body);
  if (!s.ok()) return s;
  return env;
}

}  // namespace jobnet::protocol
