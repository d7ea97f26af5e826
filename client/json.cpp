#include "client/json.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "jobnet/limits.h"
#include "protocol/descriptions.hpp"
#include "protocol/duration.hpp"
#include "protocol/messages.hpp"
#include "protocol/msgpack_bounded.hpp"

namespace jobnet::jsonio {
namespace {

using Event = nlohmann::json::parse_event_t;

// What one bounded parse met. nlohmann's parser keeps its own stacks (it does not recurse), and
// its callback sees each container before it is built, with its depth: a container past
// depth_max is refused there, so nothing deeper is built while the parser reads on to the end.
// For a batch body the guard also tells which spec lost a part: specs are the elements at
// items_depth (of the root array, or of root["jobs"]).
struct DepthGuard {
  uint32_t depth_max = 0;
  int items_depth = -1;           // -1: not a batch
  bool items_under_key = false;   // the elements of root["jobs"], not of the root
  bool in_items_key = false;      // the current top-level key is "jobs"
  uint32_t items_keys = 0;        // how often "jobs" came: twice would misplace the cuts
  size_t items = 0;               // specs begun so far
  bool cut_outside_items = false;
  std::vector<size_t> cut_items;  // ascending, each once

  bool cut() const { return cut_outside_items || !cut_items.empty(); }

  bool See(int depth, Event ev, const nlohmann::json& parsed) {
    if (ev == Event::key && depth == 1) {
      in_items_key = parsed.is_string() && parsed.get_ref<const std::string&>() == "jobs";
      items_keys += in_items_key ? 1 : 0;
    }
    const bool opens = ev == Event::object_start || ev == Event::array_start;
    const bool in_items = items_depth > 0 && (!items_under_key || in_items_key);
    if (in_items && depth == items_depth && (opens || ev == Event::value)) ++items;
    if (!opens || depth < static_cast<int>(depth_max)) return true;
    if (in_items && depth > items_depth && items > 0) {
      if (cut_items.empty() || cut_items.back() != items - 1) cut_items.push_back(items - 1);
    } else {
      cut_outside_items = true;
    }
    return false;  // not built; the parser skips it without recursing
  }
};

// Parses `text` under `guard`. kInvalidArgument (with nlohmann's position) for text that is not
// one JSON value; a cut is for the caller to judge.
Status ParseGuarded(const std::string& text, DepthGuard* guard, nlohmann::json* out) {
  try {
    *out = nlohmann::json::parse(
        text, [guard](int depth, Event ev, nlohmann::json& parsed) { return guard->See(depth, ev, parsed); });
  } catch (const nlohmann::json::parse_error& e) {
    std::string why = e.what();
    if (why.size() > 200) why = why.substr(0, 200) + "...";  // it quotes the last token read
    return Status::InvalidArgument("not valid JSON: " + why);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("cannot read the JSON: ") + e.what());
  }
  return Status::OK();
}

Status TooDeep(const std::string& what, uint32_t depth_max) {
  return Status::InvalidArgument(what + " nests deeper than " + std::to_string(depth_max) +
                                 " arrays/objects");
}

Status PayloadTooDeep() { return TooDeep("payload", limits::kPayloadDepthMax); }

// A spec from its parsed JSON, checked as the node would check it.
Result<JobSpec> CheckedSpec(const nlohmann::json& j) {
  auto spec = JobSpecFromJson(j);
  if (!spec.ok()) return spec;
  if (Status s = protocol::Validate(spec.value()); !s.ok()) return s;
  return spec;
}

// An array of at most `max` strings (defined below, with the other field readers).
Status Strings(const std::string& field, const nlohmann::json& v, size_t max, const char* what,
               std::vector<std::string>* out);

}  // namespace

Result<nlohmann::json> ParseJson(const std::string& text, uint32_t depth_max, const char* what) {
  DepthGuard guard;
  guard.depth_max = depth_max;
  nlohmann::json j;
  Status s = ParseGuarded(text, &guard, &j);
  if (!s.ok()) return Status::InvalidArgument(std::string(what) + " is " + s.message());
  if (guard.cut()) return TooDeep(what, depth_max);
  return j;
}

uint32_t JsonDepth(const nlohmann::json& value, uint32_t stop) {
  std::vector<std::pair<const nlohmann::json*, uint32_t>> todo{{&value, 0}};
  uint32_t deepest = 0;
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    deepest = std::max(deepest, depth + 1);
    if (deepest > stop) return stop + 1;
    for (const auto& child : *v) todo.emplace_back(&child, depth + 1);
  }
  return deepest;
}

Result<std::string> JsonToMsgpack(const std::string& json_text) {
  DepthGuard guard;
  guard.depth_max = limits::kPayloadDepthMax;
  nlohmann::json j;
  if (!ParseGuarded(json_text, &guard, &j).ok())
    return Status::InvalidArgument("payload is not valid JSON: " + json_text.substr(0, 80) +
                                   " (a string needs quotes: '\"hi\"')");
  if (guard.cut()) return PayloadTooDeep();
  return JsonValueToMsgpack(j);
}

Result<JobSpec> JobSpecFromJsonText(const std::string& text) {
  DepthGuard guard;
  guard.depth_max = limits::kPayloadDepthMax + 1;  // the spec object, then its payload
  nlohmann::json j;
  if (Status s = ParseGuarded(text, &guard, &j); !s.ok()) return s;
  // Only the payload may hold containers: a cut spec has a payload too deep (or a field of the
  // wrong type, which would be refused anyway).
  if (guard.cut()) return PayloadTooDeep();
  return CheckedSpec(j);
}

Result<std::vector<Result<JobSpec>>> BatchFromJsonText(const std::string& text) {
  DepthGuard guard;
  guard.depth_max = limits::kPayloadDepthMax + limits::kJsonSpecEnvelopeDepthMax;
  size_t first = text.find_first_not_of(" \t\r\n");
  const bool wrapped = first != std::string::npos && text[first] == '{';
  guard.items_depth = wrapped ? 2 : 1;
  guard.items_under_key = wrapped;
  nlohmann::json body;
  if (Status s = ParseGuarded(text, &guard, &body); !s.ok()) return s;
  if (guard.cut_outside_items) return TooDeep("the batch body outside its specs", guard.depth_max);
  if (wrapped) {
    for (auto it = body.begin(); it != body.end(); ++it)
      if (it.key() != "jobs")
        return Status::InvalidArgument("unknown field '" + it.key() + "' in a batch (known: jobs)");
    if (guard.items_keys > 1) return Status::InvalidArgument("field 'jobs' is given twice");
    nlohmann::json jobs = body.contains("jobs") ? std::move(body["jobs"]) : nlohmann::json();
    body = std::move(jobs);
  }
  if (!body.is_array() || body.empty())
    return Status::InvalidArgument("a batch is a JSON array of job specs (or {\"jobs\": [...]})");
  if (body.size() > limits::kBatchSpecsMax)
    return Status::TooLarge("a batch holds at most " + std::to_string(limits::kBatchSpecsMax) +
                            " specs, not " + std::to_string(body.size()));
  std::vector<Result<JobSpec>> out;
  out.reserve(body.size());
  auto cut = guard.cut_items.begin();
  for (size_t i = 0; i < body.size(); ++i) {
    if (cut != guard.cut_items.end() && *cut == i) {
      ++cut;
      out.emplace_back(Status::InvalidArgument(
          "this spec nests deeper than its payload may (" +
          std::to_string(limits::kPayloadDepthMax) + " arrays/objects)"));
    } else {
      out.push_back(CheckedSpec(body[i]));
    }
  }
  return out;
}

Result<std::vector<FlowJob>> FlowFromJsonText(const std::string& text) {
  DepthGuard guard;
  guard.depth_max = limits::kPayloadDepthMax + limits::kJsonSpecEnvelopeDepthMax;
  nlohmann::json body;
  if (Status s = ParseGuarded(text, &guard, &body); !s.ok()) return s;
  if (guard.cut()) return TooDeep("the flow", guard.depth_max);
  if (!body.is_object() || !body.contains("jobs") || !body["jobs"].is_object() ||
      body["jobs"].empty())
    return Status::InvalidArgument(
        "a flow is {\"jobs\": {\"name\": {job spec, \"after\": [names]}, ...}}");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "jobs")
      return Status::InvalidArgument("unknown field '" + it.key() + "' in a flow (known: jobs)");
  const nlohmann::json& jobs = body["jobs"];
  if (jobs.size() > limits::kFlowJobsMax)
    return Status::TooLarge("a flow holds at most " + std::to_string(limits::kFlowJobsMax) +
                            " jobs, not " + std::to_string(jobs.size()));
  std::vector<FlowJob> out;
  out.reserve(jobs.size());
  for (auto it = jobs.begin(); it != jobs.end(); ++it) {
    FlowJob job;
    job.name = it.key();
    nlohmann::json spec = it.value();
    auto named = [&job](const Status& s) {
      return Status(s.code(), "job '" + job.name.substr(0, 80) + "': " + s.message());
    };
    if (spec.is_object() && spec.contains("after")) {
      if (Status s = Strings("after", spec["after"], limits::kParentsMax, "names", &job.after);
          !s.ok())
        return named(s);
      spec.erase("after");
    }
    auto checked = CheckedSpec(spec);
    if (!checked.ok()) return named(checked.status());
    job.spec = std::move(checked.value());
    out.push_back(std::move(job));
  }
  return out;
}

nlohmann::json FlowResultToJson(const FlowResult& r) {
  return nlohmann::json{{"flow", r.flow}, {"ids", r.ids}};
}

std::string JsonValueToMsgpack(const nlohmann::json& value) {
  std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(value);
  return std::string(bytes.begin(), bytes.end());
}

nlohmann::json MsgpackToJson(const std::string& bytes) {
  if (bytes.empty()) return nullptr;
  // nlohmann's msgpack reader recurses: only values within the one nesting bound go to it
  // (every payload and result is); anything else is shown as its bytes.
  if (protocol::CheckNesting(bytes.data(), bytes.size(), limits::kPayloadDepthMax, "value").ok()) {
    try {
      return nlohmann::json::from_msgpack(bytes);
    } catch (const std::exception&) {
      // a value JSON cannot hold (binary, ext, a non-string key): its bytes below
    }
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return nlohmann::json{{"msgpack_hex", hex}};
}

namespace {

// The rows of a table marked Json(): their JSON is the row's key and the member's value, and is
// left out when the wire leaves the field out.
template <class T>
void DerivedToJson(const protocol::Fields<T>& fields, const T& v, nlohmann::json* o) {
  for (const auto& f : fields) {
    if (!f.json || !protocol::IsWritten(f, v)) continue;
    std::visit(
        [&](auto m) {
          if constexpr (std::is_member_object_pointer_v<decltype(m)>) {
            using U = std::decay_t<decltype(v.*m)>;
            if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, uint32_t> ||
                          std::is_same_v<U, uint64_t> || std::is_same_v<U, bool>)
              (*o)[f.key] = v.*m;
          }
        },
        f.member);
  }
}

}  // namespace

nlohmann::json JobToJson(const JobInfo& j) {
  nlohmann::json o;
  o["id"] = j.id;
  o["type"] = j.type;
  o["queue"] = j.queue;
  o["state"] = JobStateName(j.state);
  o["result"] = MsgpackToJson(j.result);
  o["error"] = j.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(j.error);
  o["attempts"] = j.attempts;
  o["max_attempts"] = j.max_attempts;
  o["priority"] = j.priority;
  o["created_at"] = j.created_at_ms;
  o["started_at"] = j.started_at_ms;
  o["finished_at"] = j.finished_at_ms;
  o["run_at"] = j.run_at_ms;
  if (!j.key.empty()) o["key"] = j.key;
  if (!j.callback.empty()) {  // the callback and its delivery (docs/http.md "Callbacks")
    o["callback"] = j.callback;
    o["callback_state"] = CallbackStateName(j.callback_state);
    o["callback_attempts"] = j.callback_attempts;
    o["callback_next_at"] = j.callback_next_at_ms;
    o["callback_error"] =
        j.callback_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(j.callback_error);
  }
  if (!j.reused_from.empty()) o["reused_from"] = j.reused_from;  // result reuse
  if (!j.depends_on.empty()) {  // dependencies
    o["depends_on"] = j.depends_on;
    o["on_parent_failure"] = j.run_on_parent_failure ? "run" : "cancel";
    if (j.state == JobState::kWaiting) o["parents_waiting"] = j.parents_waiting;
  }
  // The current (or last) run's progress: 0..100 (100 once succeeded), and its message.
  o["progress"] = j.progress;
  o["progress_message"] = j.progress_message;
  DerivedToJson(protocol::JobInfoFields(), j, &o);
  return o;
}

nlohmann::json SubmitResultToJson(const SubmitResult& r) {
  nlohmann::json o{{"id", r.id}, {"state", JobStateName(r.state)}, {"duplicate", r.duplicate}};
  if (!r.reused_from.empty()) o["reused_from"] = r.reused_from;
  if (r.coalesced) o["coalesced"] = true;
  return o;
}

nlohmann::json QueueToJson(const QueueInfo& q) {
  const QueueSettings& s = q.settings;
  return nlohmann::json{{"node", q.node},
                        {"name", s.name},
                        {"order", QueueOrderName(s.order)},
                        {"queued", q.queued},
                        {"delayed", q.delayed},
                        {"running", q.running},
                        {"dead", q.dead},
                        {"oldest_wait_ms", q.oldest_wait_ms},
                        {"concurrency", s.concurrency},
                        {"rate", s.rate},
                        {"weight", s.weight},
                        {"paused", s.paused},
                        {"updated_at", s.updated_at_ms},
                        {"origin", s.origin}};
}

nlohmann::json WorkerSlotToJson(const WorkerSlot& w) {
  return nlohmann::json{{"id", w.id},     {"state", w.busy ? "busy" : "idle"},
                        {"job", w.job},   {"queue", w.queue},
                        {"type", w.type}, {"since", w.since_ms},
                        {"retiring", w.retiring}};
}

nlohmann::json ExternalWorkerToJson(const ExternalWorkerInfo& w) {
  return nlohmann::json{{"id", w.id},           {"name", w.name},         {"types", w.types},
                        {"capacity", w.capacity}, {"lease_ms", w.lease_ms}, {"polling", w.polling},
                        {"running", w.running},   {"jobs", w.jobs}};
}

namespace {

// A non-negative integer field no larger than `max`.
Result<uint64_t> Unsigned(const std::string& field, const nlohmann::json& v, uint64_t max) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    return Status::InvalidArgument(field + " must be a non-negative integer");
  uint64_t n = v.get<uint64_t>();
  if (n > max)
    return Status::InvalidArgument(field + " must be at most " + std::to_string(max));
  return n;
}

// Milliseconds as a number, or a duration string ("250ms", "5s", "2m", "1h").
Result<uint64_t> Duration(const std::string& field, const nlohmann::json& v) {
  if (v.is_string()) {
    auto d = ParseDurationMs(v.get<std::string>());
    if (!d.ok()) return Status::InvalidArgument(field + ": " + d.status().message());
    return d.value();
  }
  if (v.is_number_integer() || v.is_number_unsigned())
    return Unsigned(field, v, std::numeric_limits<uint64_t>::max());
  return Status::InvalidArgument(field + " must be milliseconds (a number) or a duration such as \"5s\"");
}

Result<std::string> String(const std::string& field, const nlohmann::json& v) {
  if (!v.is_string()) return Status::InvalidArgument(field + " must be a string");
  return v.get<std::string>();
}

// An array of at most `max` strings (`what` names them in the error).
Status Strings(const std::string& field, const nlohmann::json& v, size_t max, const char* what,
               std::vector<std::string>* out) {
  if (!v.is_array() || v.size() > max)
    return Status::InvalidArgument(field + " must be an array of at most " + std::to_string(max) +
                                   " " + what);
  for (const auto& e : v) {
    auto s = String("each of " + field, e);
    if (!s.ok()) return s.status();
    out->push_back(s.value());
  }
  return Status::OK();
}

// A spec field whose row is marked Json() (descriptions.cpp), read as the wire reads it: a
// string, a non-negative integer of the member's width or a boolean. False: no such row.
bool DerivedFromJson(const std::string& k, const nlohmann::json& v, JobSpec* spec, Status* s) {
  for (const auto& f : protocol::JobSpecFields()) {
    if (!f.json || k != f.key) continue;
    std::visit(
        [&](auto m) {
          if constexpr (std::is_member_object_pointer_v<decltype(m)>) {
            using U = std::decay_t<decltype(spec->*m)>;
            if constexpr (std::is_same_v<U, std::string>) {
              auto r = String(k, v);
              *s = r.status();
              if (r.ok()) spec->*m = r.value();
            } else if constexpr (std::is_same_v<U, bool>) {
              *s = v.is_boolean() ? Status::OK() : Status::InvalidArgument(k + " must be true or false");
              if (s->ok()) spec->*m = v.get<bool>();
            } else if constexpr (std::is_same_v<U, uint32_t> || std::is_same_v<U, uint64_t>) {
              auto n = Unsigned(k, v, std::numeric_limits<U>::max());
              *s = n.status();
              if (n.ok()) spec->*m = static_cast<U>(n.value());
            }
          }
        },
        f.member);
    return true;
  }
  return false;
}

// The keys of the spec rows marked Json(), for the unknown-field error.
std::string DerivedKeys() {
  std::string keys;
  for (const auto& f : protocol::JobSpecFields())
    if (f.json) keys += std::string(", ") + f.key;
  return keys;
}

}  // namespace

Result<JobSpec> JobSpecFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("a job spec must be a JSON object");
  if (!j.contains("type")) return Status::InvalidArgument("type is required");
  JobSpec spec;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    if (k == "type") {
      auto s = String(k, v);
      if (!s.ok()) return s.status();
      spec.type = s.value();
    } else if (k == "payload") {
      // Checked before the conversion, which recurses.
      if (JsonDepth(v, limits::kPayloadDepthMax) > limits::kPayloadDepthMax) return PayloadTooDeep();
      spec.payload = JsonValueToMsgpack(v);
    } else if (k == "queue") {
      auto s = String(k, v);
      if (!s.ok()) return s.status();
      spec.queue = s.value();
    } else if (k == "key") {
      auto s = String(k, v);
      if (!s.ok()) return s.status();
      spec.key = s.value();
    } else if (k == "callback") {
      auto s = String(k, v);
      if (!s.ok()) return s.status();
      spec.callback = s.value();
    } else if (k == "priority") {
      auto n = Unsigned(k, v, 255);
      if (!n.ok()) return n.status();
      spec.priority = static_cast<uint32_t>(n.value());
    } else if (k == "max_attempts") {
      auto n = Unsigned(k, v, std::numeric_limits<uint32_t>::max());
      if (!n.ok()) return n.status();
      spec.max_attempts = static_cast<uint32_t>(n.value());
    } else if (k == "run_at") {
      auto n = Unsigned(k, v, std::numeric_limits<uint64_t>::max());
      if (!n.ok()) return n.status();
      spec.run_at_ms = n.value();
    } else if (k == "delay" || k == "timeout" || k == "backoff") {
      auto d = Duration(k, v);
      if (!d.ok()) return d.status();
      (k == "delay" ? spec.delay_ms : k == "timeout" ? spec.timeout_ms : spec.backoff_ms) = d.value();
    } else if (k == "reuse") {
      if (!v.is_boolean()) return Status::InvalidArgument("reuse must be true or false");
      spec.reuse = v.get<bool>();
    } else if (k == "depends_on") {
      if (Status s = Strings(k, v, limits::kParentsMax, "job ids", &spec.depends_on); !s.ok())
        return s;
    } else if (k == "on_parent_failure") {
      if (v != "cancel" && v != "run")
        return Status::InvalidArgument("on_parent_failure must be \"cancel\" or \"run\"");
      spec.run_on_parent_failure = v == "run";
    } else if (Status s; DerivedFromJson(k, v, &spec, &s)) {
      if (!s.ok()) return s;
    } else {
      return Status::InvalidArgument(
          "unknown field '" + k +
          "' in job spec (known: type, payload, queue, priority, delay, run_at, max_attempts, "
          "backoff, timeout, key, callback, reuse, depends_on, on_parent_failure" +
          DerivedKeys() + ")");
    }
  }
  return spec;
}

nlohmann::json ErrorToJson(const Status& s) {
  return nlohmann::json{{"error", {{"code", CodeName(s.code())}, {"message", s.message()}}}};
}

namespace {

// "30s", "5m", "1h30m" style, for an interval in whole units where it has them.
std::string FormatEvery(uint64_t ms) {
  if (ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

std::string ScheduleSpecText(const ScheduleInfo& s) {
  return s.cron.empty() ? "every " + FormatEvery(s.every_ms) : s.cron;
}

nlohmann::json ScheduleToJson(const ScheduleInfo& s) {
  nlohmann::json o{{"name", s.name},          {"node", s.node},
                   {"spec", ScheduleSpecText(s)},     {"type", s.type},
                   {"queue", s.queue},        {"paused", s.paused},
                   {"next_fire", s.next_fire_ms}, {"last_fire", s.last_fire_ms},
                   {"last_job", s.last_job_id},   {"fires", s.fires}};
  if (s.cron.empty()) {
    o["every_ms"] = s.every_ms;
  } else {
    o["cron"] = s.cron;
  }
  return o;
}

nlohmann::json StateEventToJson(const StateEvent& e) {
  nlohmann::json j{{"seq", e.seq},     {"id", e.id},     {"state", JobStateName(e.state)},
                   {"queue", e.queue}, {"type", e.type}, {"at", e.at_ms},
                   {"attempt", e.attempt}};
  if (!e.node.empty()) j["node"] = e.node;
  if (!e.error.empty()) j["error"] = e.error;
  j["event"] = e.progress_report ? "progress" : "state";
  if (e.progress_report) {
    j["progress"] = e.progress;
    j["progress_message"] = e.progress_message;
  }
  return j;
}

}  // namespace jobnet::jsonio
