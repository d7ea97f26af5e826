// etcd gateway JSON → C++ values; nlohmann's exceptions stop here.
#include "coord/etcd_json.hpp"

#include "base/base64.hpp"
#include "base/parse.hpp"

namespace jobnet::coord::etcd_json {

Result<nlohmann::json> Parse(const std::string& text) {
  using Event = nlohmann::json::parse_event_t;
  bool too_deep = false;
  // The callback sees each container as it opens, with its depth: refusing it there means a
  // hostile nesting is never built (the parser still reads on to the end, in constant memory).
  auto guard = [&too_deep](int depth, Event ev, nlohmann::json&) {
    if ((ev == Event::object_start || ev == Event::array_start) && depth >= kEtcdJsonDepthMax) {
      too_deep = true;
      return false;
    }
    return true;
  };
  nlohmann::json out = nlohmann::json::parse(text, guard, /*allow_exceptions=*/false);
  if (too_deep) {
    return Status::Corruption("etcd reply nests deeper than " + std::to_string(kEtcdJsonDepthMax));
  }
  if (out.is_discarded() || !out.is_object()) {
    return Status::Corruption("etcd reply is not a JSON object");
  }
  return out;
}

bool Int64Field(const nlohmann::json& obj, const char* name, int64_t* out) {
  *out = 0;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return true;
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return true;
  }
  if (!it->is_string()) return false;
  const std::string& s = it->get_ref<const std::string&>();
  const bool negative = !s.empty() && s[0] == '-';
  auto v = base::ParseUint(negative ? std::string_view(s).substr(1) : std::string_view(s),
                           static_cast<uint64_t>(INT64_MAX));
  if (!v) return false;
  *out = negative ? -static_cast<int64_t>(*v) : static_cast<int64_t>(*v);
  return true;
}

bool BytesField(const nlohmann::json& obj, const char* name, std::string* out) {
  out->clear();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  auto bytes = base::Base64Decode(it->get_ref<const std::string&>());
  if (!bytes) return false;
  *out = std::move(*bytes);
  return true;
}

Status ReadKeyValue(const nlohmann::json& obj, KeyValue* out) {
  if (!obj.is_object()) return Status::Corruption("etcd key-value is not an object");
  if (!BytesField(obj, "key", &out->key) || !BytesField(obj, "value", &out->value) ||
      !Int64Field(obj, "create_revision", &out->create_revision) ||
      !Int64Field(obj, "mod_revision", &out->mod_revision) ||
      !Int64Field(obj, "version", &out->version) || !Int64Field(obj, "lease", &out->lease)) {
    return Status::Corruption("etcd key-value has a malformed field");
  }
  return Status::OK();
}

Status ReadKeyValues(const nlohmann::json& obj, const char* name, std::vector<KeyValue>* out) {
  out->clear();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_array()) return Status::Corruption(std::string("etcd reply's ") + name + " is not a list");
  out->reserve(it->size());
  for (const auto& item : *it) {
    KeyValue kv;
    Status s = ReadKeyValue(item, &kv);
    if (!s.ok()) return s;
    out->push_back(std::move(kv));
  }
  return Status::OK();
}

Status ReadHeaderRevision(const nlohmann::json& obj, int64_t* out) {
  auto it = obj.find("header");
  if (it == obj.end() || !it->is_object() || !Int64Field(*it, "revision", out)) {
    return Status::Corruption("etcd reply has no readable header");
  }
  return Status::OK();
}

Status ErrorStatus(const nlohmann::json& body, const std::string& where) {
  int64_t code = 0;
  std::string message = "etcd error";
  auto it = body.find("message");
  if (it == body.end() || !it->is_string()) it = body.find("error");
  if (it != body.end() && it->is_string()) message = it->get<std::string>();
  if (!Int64Field(body, "code", &code)) code = 2;  // gRPC UNKNOWN
  message = where + ": " + message;
  // gRPC status codes (google.golang.org/grpc/codes): what the caller should do about each.
  switch (code) {
    case 3: case 11: return Status::InvalidArgument(message);  // INVALID_ARGUMENT, OUT_OF_RANGE
    case 4: return Status::Timeout(message);                    // DEADLINE_EXCEEDED
    case 5: return Status::NotFound(message);                   // NOT_FOUND (lease not found)
    case 6: case 9: case 10: return Status::Conflict(message);  // ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED
    case 8: return Status::Overloaded(message);                 // RESOURCE_EXHAUSTED
    case 14: return Status::Unavailable(message);               // UNAVAILABLE (no leader...)
    default: return Status::Internal(message);
  }
}

}  // namespace jobnet::coord::etcd_json
