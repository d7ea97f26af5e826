#include "client/json.hpp"

#include <limits>

#include "protocol/duration.hpp"

namespace jobnet::jsonio {

Result<std::string> JsonToMsgpack(const std::string& json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Status::InvalidArgument("payload is not valid JSON: " + json_text.substr(0, 80) +
                                   " (a string needs quotes: '\"hi\"')");
  return JsonValueToMsgpack(j);
}

std::string JsonValueToMsgpack(const nlohmann::json& value) {
  std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(value);
  return std::string(bytes.begin(), bytes.end());
}

nlohmann::json MsgpackToJson(const std::string& bytes) {
  if (bytes.empty()) return nullptr;
  try {
    return nlohmann::json::from_msgpack(bytes);
  } catch (const std::exception&) {
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : bytes) {
      hex.push_back(kHex[c >> 4]);
      hex.push_back(kHex[c & 15]);
    }
    return nlohmann::json{{"msgpack_hex", hex}};
  }
}

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
  // The current (or last) run's progress: 0..100 (100 once succeeded), and its message.
  o["progress"] = j.progress;
  o["progress_message"] = j.progress_message;
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
    } else {
      return Status::InvalidArgument(
          "unknown field '" + k +
          "' in job spec (known: type, payload, queue, priority, delay, run_at, max_attempts, "
          "backoff, timeout, key, callback, reuse)");
    }
  }
  return spec;
}

nlohmann::json ErrorToJson(const Status& s) {
  return nlohmann::json{{"error", {{"code", CodeName(s.code())}, {"message", s.message()}}}};
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
