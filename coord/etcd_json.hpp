// Reading etcd's gateway JSON, shared by the unary calls and the watch stream. The gateway
// writes int64 fields as strings and leaves out fields at their zero value (proto3 JSON), and
// keys and values are base64: these helpers turn that into plain C++ values or a Status.
#ifndef JOBNET_COORD_ETCD_JSON_HPP_
#define JOBNET_COORD_ETCD_JSON_HPP_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coord/etcd_client.hpp"
#include "jobnet/status.h"

namespace jobnet::coord::etcd_json {

// `text` as JSON, refused (kCorruption) past kEtcdJsonDepthMax levels or when it is not JSON.
Result<nlohmann::json> Parse(const std::string& text);

// An int64 field that may be absent (0), a JSON number or a decimal string; false if it is
// anything else.
bool Int64Field(const nlohmann::json& obj, const char* name, int64_t* out);

// A base64 field that may be absent (""); false if it is not a base64 string.
bool BytesField(const nlohmann::json& obj, const char* name, std::string* out);

// An etcd mvccpb.KeyValue object.
Status ReadKeyValue(const nlohmann::json& obj, KeyValue* out);

// A list of KeyValue objects under obj[name] (absent: none).
Status ReadKeyValues(const nlohmann::json& obj, const char* name, std::vector<KeyValue>* out);

// The store revision in obj["header"]["revision"].
Status ReadHeaderRevision(const nlohmann::json& obj, int64_t* out);

// The Status for an error body {"error", "code", "message"} of the gateway, by gRPC code.
Status ErrorStatus(const nlohmann::json& body, const std::string& where);

}  // namespace jobnet::coord::etcd_json

#endif  // JOBNET_COORD_ETCD_JSON_HPP_
