// The unary calls of the etcd client: one HTTP POST per call with libcurl's easy interface,
// moving to the next endpoint when one cannot be reached, all inside one deadline.
#include "coord/etcd_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>

#include "base/base64.hpp"
#include "coord/etcd_json.hpp"

namespace jobnet::coord {

using nlohmann::json;

namespace {

// libcurl's global state is set up once per process; this is the first thing any client does.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Body {
  std::string text;
  size_t max = 0;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  if (body->text.size() + size * n > body->max) {
    body->too_large = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  body->text.append(data, size * n);
  return size * n;
}

const char* kTargetNames[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
const char* kOpNames[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
const char* kTargetFields[] = {"version", "create_revision", "mod_revision", "value", "lease"};

json CompareJson(const Compare& c) {
  json j = {{"key", base::Base64Encode(c.key)},
            {"target", kTargetNames[static_cast<int>(c.target)]},
            {"result", kOpNames[static_cast<int>(c.op)]}};
  const char* field = kTargetFields[static_cast<int>(c.target)];
  if (c.target == Compare::Target::kValue) {
    j[field] = base::Base64Encode(c.value);
  } else {
    j[field] = std::to_string(c.number);
  }
  return j;
}

json OpJson(const TxnOp& op) {
  json body = {{"key", base::Base64Encode(op.key)}};
  switch (op.kind) {
    case TxnOp::Kind::kPut:
      body["value"] = base::Base64Encode(op.value);
      if (op.lease != 0) body["lease"] = std::to_string(op.lease);
      return {{"request_put", body}};
    case TxnOp::Kind::kRange:
      if (!op.range_end.empty()) body["range_end"] = base::Base64Encode(op.range_end);
      return {{"request_range", body}};
    case TxnOp::Kind::kDelete:
      if (!op.range_end.empty()) body["range_end"] = base::Base64Encode(op.range_end);
      return {{"request_delete_range", body}};
  }
  return {};
}

// A reply body as a JSON object, or why not.
Result<json> Decode(const Result<std::string>& reply) {
  if (!reply.ok()) return reply.status();
  return etcd_json::Parse(reply.value());
}

}  // namespace

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();  // 0xff cannot be incremented: the range ends past the shorter prefix
  }
  return std::string(1, '\0');  // etcd's "every key from here on"
}

Status EtcdClient::Open(const EtcdOptions& options, std::unique_ptr<EtcdClient>* client) {
  if (options.endpoints.empty()) return Status::InvalidArgument("etcd: no endpoint given");
  for (const auto& e : options.endpoints) {
    if (e.rfind("http://", 0) != 0 || e.size() <= 7) {
      return Status::InvalidArgument("etcd endpoint '" + e + "' is not an http:// URL");
    }
  }
  if (options.request_timeout_ms == 0 || options.connect_timeout_ms == 0 ||
      options.response_bytes_max == 0) {
    return Status::InvalidArgument("etcd: timeouts and the response bound must be above zero");
  }
  InitCurlOnce();
  client->reset(new EtcdClient(options));
  return Status::OK();
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {
  // Endpoints without a trailing slash, so that endpoint + "/v3/..." is one URL.
  for (auto& e : options_.endpoints) {
    while (e.size() > 7 && e.back() == '/') e.pop_back();
  }
}

EtcdClient::~EtcdClient() {
  for (void* h : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* EtcdClient::TakeHandle() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_handles_.empty()) {
      void* h = idle_handles_.back();
      idle_handles_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void EtcdClient::GiveBack(void* handle) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_handles_.push_back(handle);
}

// What one POST to one endpoint came to. `try_next` says the next endpoint may be tried: the
// request did not reach etcd, or etcd said it cannot serve it (no leader).
struct EtcdClient::Attempt {
  Status status;
  std::string body;
  bool try_next = false;
};

EtcdClient::Attempt EtcdClient::PostOnce(const std::string& endpoint, const std::string& path,
                                         const std::string& body, long timeout_ms) {
  Attempt a;
  CURL* c = static_cast<CURL*>(TakeHandle());
  if (c == nullptr) {
    a.status = Status::Internal("etcd: libcurl could not make a handle");
    return a;
  }
  curl_easy_reset(c);  // keeps the open connections, forgets the last request's options
  const std::string url = endpoint + path;
  Body reply;
  reply.max = options_.response_bytes_max;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a threaded process
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   std::min<long>(timeout_ms, options_.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.response_bytes_max));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
  // libcurl's default Content-Type is a form's; the gateway reads JSON whatever it is told,
  // but saying so keeps proxies and logs honest. No "Expect: 100-continue" round trip.
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(c);
  long http = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  curl_off_t connect_us = 0;  // 0: the TCP connection never opened, so etcd saw nothing
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_slist_free_all(headers);
  const std::string where = "etcd " + endpoint + path;
  if (rc != CURLE_OK) {
    curl_easy_cleanup(c);  // its connection may be half-used: never reuse it
    if (reply.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      a.status = Status::TooLarge(where + ": reply over " + std::to_string(reply.max) + " bytes");
    } else if (rc == CURLE_OPERATION_TIMEDOUT && connect_us > 0) {
      // etcd may have applied the request: the caller must find out, not assume either way.
      a.status = Status::Timeout(where + ": no reply within " + std::to_string(timeout_ms) + " ms");
      a.try_next = true;
    } else {
      a.status = Status::Unavailable(where + ": " + curl_easy_strerror(rc));
      a.try_next = true;
    }
    return a;
  }
  GiveBack(c);
  if (http == 200) {
    a.body = std::move(reply.text);
    return a;
  }
  auto err = etcd_json::Parse(reply.text);
  if (!err.ok()) {
    a.status = Status::Internal(where + ": HTTP " + std::to_string(http));
    return a;
  }
  a.status = etcd_json::ErrorStatus(err.value(), where);
  a.try_next = a.status.IsUnavailable();
  return a;
}

Result<std::string> EtcdClient::Post(const std::string& path, const std::string& body) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.request_timeout_ms);
  const size_t n = options_.endpoints.size();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  Status last;
  for (size_t k = 0; k < n; ++k) {
    const long left_ms = static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left_ms <= 0) break;
    const size_t i = (first + k) % n;
    Attempt a = PostOnce(options_.endpoints[i], path, body, left_ms);
    if (a.status.ok()) {
      preferred_.store(i, std::memory_order_relaxed);
      return std::move(a.body);
    }
    if (!a.try_next) return a.status;
    last = a.status;
  }
  if (last.ok()) last = Status::Timeout("etcd " + path + ": no time left to try an endpoint");
  return Status(last.code(), last.message() + " (tried " + std::to_string(n) + " endpoint" +
                                 (n == 1 ? "" : "s") + " within " +
                                 std::to_string(options_.request_timeout_ms) + " ms)");
}

Result<int64_t> EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  json req = {{"key", base::Base64Encode(key)}, {"value", base::Base64Encode(value)}};
  if (lease != 0) req["lease"] = std::to_string(lease);
  auto reply = Decode(Post("/v3/kv/put", req.dump()));
  if (!reply.ok()) return reply.status();
  int64_t revision = 0;
  Status s = etcd_json::ReadHeaderRevision(reply.value(), &revision);
  if (!s.ok()) return s;
  return revision;
}

Result<RangeResult> EtcdClient::Range(const std::string& key, const std::string& range_end,
                                      int64_t limit) {
  json req = {{"key", base::Base64Encode(key)}};
  if (!range_end.empty()) req["range_end"] = base::Base64Encode(range_end);
  if (limit > 0) req["limit"] = std::to_string(limit);
  auto reply = Decode(Post("/v3/kv/range", req.dump()));
  if (!reply.ok()) return reply.status();
  RangeResult out;
  Status s = etcd_json::ReadHeaderRevision(reply.value(), &out.revision);
  if (s.ok()) s = etcd_json::ReadKeyValues(reply.value(), "kvs", &out.kvs);
  if (!s.ok()) return s;
  return out;
}

Result<int64_t> EtcdClient::DeleteRange(const std::string& key, const std::string& range_end) {
  json req = {{"key", base::Base64Encode(key)}};
  if (!range_end.empty()) req["range_end"] = base::Base64Encode(range_end);
  auto reply = Decode(Post("/v3/kv/deleterange", req.dump()));
  if (!reply.ok()) return reply.status();
  int64_t deleted = 0;
  if (!etcd_json::Int64Field(reply.value(), "deleted", &deleted)) {
    return Status::Corruption("etcd deleterange reply: malformed 'deleted'");
  }
  return deleted;
}

Result<TxnResult> EtcdClient::Txn(const TxnRequest& txn) {
  json req = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : txn.compare) req["compare"].push_back(CompareJson(c));
  for (const auto& op : txn.success) req["success"].push_back(OpJson(op));
  for (const auto& op : txn.failure) req["failure"].push_back(OpJson(op));
  auto reply = Decode(Post("/v3/kv/txn", req.dump()));
  if (!reply.ok()) return reply.status();
  const json& j = reply.value();
  TxnResult out;
  Status s = etcd_json::ReadHeaderRevision(j, &out.revision);
  if (!s.ok()) return s;
  auto ok = j.find("succeeded");
  out.succeeded = ok != j.end() && ok->is_boolean() && ok->get<bool>();
  auto responses = j.find("responses");
  if (responses == j.end()) return out;
  if (!responses->is_array()) return Status::Corruption("etcd txn reply: 'responses' is not a list");
  for (const auto& r : *responses) {
    out.ranges.emplace_back();
    if (!r.is_object()) return Status::Corruption("etcd txn reply: a response is not an object");
    auto range = r.find("response_range");
    if (range == r.end()) continue;
    s = etcd_json::ReadKeyValues(*range, "kvs", &out.ranges.back());
    if (!s.ok()) return s;
  }
  return out;
}

Result<int64_t> EtcdClient::LeaseGrant(int64_t ttl_s) {
  auto reply = Decode(Post("/v3/lease/grant", json{{"TTL", std::to_string(ttl_s)}}.dump()));
  if (!reply.ok()) return reply.status();
  int64_t id = 0;
  if (!etcd_json::Int64Field(reply.value(), "ID", &id) || id == 0) {
    std::string error;
    auto e = reply.value().find("error");
    if (e != reply.value().end() && e->is_string()) error = e->get<std::string>();
    return Status::Internal("etcd lease grant gave no lease id" + (error.empty() ? "" : ": " + error));
  }
  return id;
}

Result<int64_t> EtcdClient::LeaseKeepAlive(int64_t lease) {
  // The gateway maps the keep-alive stream to one request → one streamed message
  // {"result": {...}} and then closes it.
  auto reply = Decode(Post("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump()));
  if (!reply.ok()) return reply.status();
  auto result = reply.value().find("result");
  if (result == reply.value().end() || !result->is_object()) {
    auto error = reply.value().find("error");
    if (error != reply.value().end() && error->is_object()) {
      return etcd_json::ErrorStatus(*error, "etcd lease keepalive");
    }
    return Status::Corruption("etcd lease keepalive reply has no result");
  }
  int64_t ttl = 0;
  if (!etcd_json::Int64Field(*result, "TTL", &ttl)) {
    return Status::Corruption("etcd lease keepalive reply: malformed TTL");
  }
  // etcd answers a lease it does not know with TTL 0 (absent), not with an error.
  if (ttl <= 0) return Status::NotFound("etcd lease " + std::to_string(lease) + " has expired");
  return ttl;
}

Status EtcdClient::LeaseRevoke(int64_t lease) {
  auto reply = Decode(Post("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump()));
  return reply.ok() ? Status::OK() : reply.status();
}

}  // namespace jobnet::coord
