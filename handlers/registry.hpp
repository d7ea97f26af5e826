// Job handlers: the interface, the registry, and helpers to read payloads and build results.
// Adding a handler is one file: implement a HandlerFn, describe its payload and result in a
// PayloadRule, and register both with JOBNET_HANDLER.
// Handlers run on worker threads, never on CAF's scheduler threads; they may block, but should
// poll ctx.ShouldStop() (cancel or timeout) when they run long.
#ifndef JOBNET_HANDLERS_REGISTRY_HPP_
#define JOBNET_HANDLERS_REGISTRY_HPP_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "jobnet/job.h"
#include "jobnet/limits.h"
#include "jobnet/status.h"
#include "protocol/blob_access.hpp"

namespace jobnet::handlers {

// Node configuration that handlers may read.
struct HandlerConfig {
  // exec: command name -> argv. Only these can be run.
  std::map<std::string, std::vector<std::string>> exec_allow;
  // The node's blob store (image handlers read inputs and write results there). Null: none.
  protocol::BlobAccess* blobs = nullptr;
  // The blobs of a peer's job running here (a hosted run), which live on its owner: given the
  // job id, an access the worker uses instead of `blobs` for that run. Null: `blobs` for all.
  std::function<std::unique_ptr<protocol::BlobAccess>(const std::string& job_id)> hosted_blobs;
  // Image handlers refuse an input whose header claims more pixels (--image-pixels-max).
  uint64_t image_pixels_max = limits::kImagePixelsMaxDefault;
  // http_request: the hosts (names or addresses, as written in URLs) it may reach, and whether
  // loopback (localhost, 127.0.0.1, ::1) is allowed besides them.
  std::set<std::string> http_allow;
  bool http_allow_loopback = true;
  // The node's data directory (simulate_backup copies into a temporary directory under it);
  // empty: no copies.
  std::string data_dir;
};

struct HandlerContext {
  std::string job_id;
  uint32_t attempt = 0;
  std::chrono::steady_clock::time_point deadline;
  const std::atomic<bool>* cancelled = nullptr;
  const HandlerConfig* config = nullptr;
  // The node's blobs, from config->blobs (null: this node has no blob store).
  protocol::BlobAccess* blobs = nullptr;
  // A job submitted with depends_on: its parents' results, a msgpack map of parent job id to
  // result (raw bytes; nil or empty when it has none). docs/handlers.md "Parents' results".
  std::string parents;

  // Reports this run's progress: `pct` 0..100 (larger is taken as 100) and a short message
  // (cut to limits::kProgressMessageBytesMax), shown in `jobnet status` and `jobnet wait`. Cheap
  // to call often: at most one update per limits::kProgressIntervalMsMin goes to the node, the
  // others are dropped here.
  void Progress(uint32_t pct, const std::string& message = {});
  // Where Progress sends (set by the worker that runs the handler; null: progress is dropped).
  std::function<void(uint32_t pct, std::string message)> progress_sink;
  std::chrono::steady_clock::time_point progress_sent_at{};  // the last update sent

  bool ShouldStop() const {
    return (cancelled != nullptr && cancelled->load(std::memory_order_relaxed)) ||
           std::chrono::steady_clock::now() >= deadline;
  }
  // Sleeps up to `ms`, waking early to stop. Returns false if it was told to stop.
  bool SleepFor(uint64_t ms) const;
};

struct HandlerResult {
  bool ok = false;
  std::string result;  // one msgpack value when ok
  std::string error;   // why not, when !ok

  template <class T>
  static HandlerResult Ok(const T& value) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, value);
    return HandlerResult{true, std::string(buf.data(), buf.size()), {}};
  }
  static HandlerResult OkRaw(std::string msgpack_bytes) {
    return HandlerResult{true, std::move(msgpack_bytes), {}};
  }
  static HandlerResult Fail(std::string error) { return HandlerResult{false, {}, std::move(error)}; }
};

// `payload` is the job's payload, decoded; it lives as long as the call.
using HandlerFn = std::function<HandlerResult(const msgpack::object& payload, HandlerContext& ctx)>;

// What a handler accepts and returns, declared next to its registration. The node checks each
// submitted payload with `check`, so a payload no run could accept is refused at submit
// (kInvalidArgument) instead of failing every attempt.
struct PayloadRule {
  const char* payload = "any msgpack value";  // in words, for `jobnet types` and docs
  const char* result = "";
  // The problem with `payload` that no run could get past, or "" if it may be valid. Null:
  // any value. Must not throw; it runs on the scheduler's thread, so it must be cheap.
  std::string (*check)(const msgpack::object& payload) = nullptr;
};

class Registry {
 public:
  // The registry of every handler linked into this binary.
  static Registry& Global();
  void Add(const std::string& type, HandlerFn fn, PayloadRule rule);
  const HandlerFn* Find(const std::string& type) const;
  std::vector<std::string> Types() const;
  // Every handler with its payload and result, by type.
  std::vector<HandlerInfo> Describe() const;
  // OK if `payload` (raw msgpack) may be valid for `type`, or if no handler here has that type
  // (another node may run it: the node's known types decide). Otherwise kInvalidArgument
  // naming the type and the problem.
  Status CheckPayload(const std::string& type, const std::string& payload) const;

 private:
  struct Entry {
    HandlerFn fn;
    PayloadRule rule;
  };
  std::map<std::string, Entry> handlers_;
};

// Runs the handler for `type` on raw msgpack `payload`, turning every failure (unknown type,
// undecodable payload, an exception from the handler) into a failed HandlerResult.
HandlerResult Run(const std::string& type, const std::string& payload, HandlerContext& ctx);

struct Registrar {
  Registrar(const char* type, HandlerFn fn, PayloadRule rule) {
    Registry::Global().Add(type, std::move(fn), rule);
  }
};

#define JOBNET_HANDLER_CAT2(a, b) a##b
#define JOBNET_HANDLER_CAT(a, b) JOBNET_HANDLER_CAT2(a, b)
#define JOBNET_HANDLER(type, fn, rule) \
  static ::jobnet::handlers::Registrar JOBNET_HANDLER_CAT(jobnet_handler_, __LINE__)(type, fn, rule)

// ---- The payload reader: every handler reads its payload with these (a PayloadRule check runs
// them on the scheduler's thread, so they are cheap and never throw). ----
// A string or bin value.
bool AsString(const msgpack::object& o, std::string* out);
// The value of `key` in a map payload; null when `map` is not a map or has no such key.
const msgpack::object* Field(const msgpack::object& map, const char* key);
// Reads an optional field's value (null: absent) of that type into *out; false (and *out left
// as it was) when it is absent or of another type. ReadString takes str only, not bin.
bool ReadString(const msgpack::object* o, std::string* out);
bool ReadUint(const msgpack::object* o, uint64_t* out);
bool ReadNumber(const msgpack::object* o, double* out);  // any integer or float
bool ReadBool(const msgpack::object* o, bool* out);
// A string or bin payload (a PayloadRule check).
std::string CheckText(const msgpack::object& o);
// Reads a map payload one field at a time: `field(key, value)` returns "" or the problem with
// that field, and the first problem stops the reading. A payload that is not a map gives
// `not_a_map`; a key that is not a string, a problem naming `type`. Returns "" when every field
// was read.
using FieldFn = std::function<std::string(const std::string& key, const msgpack::object& value)>;
std::string ReadFields(const msgpack::object& payload, const std::string& type,
                       const std::string& not_a_map, const FieldFn& field);

}  // namespace jobnet::handlers

#endif  // JOBNET_HANDLERS_REGISTRY_HPP_
