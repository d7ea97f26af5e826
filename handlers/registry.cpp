// Handler registry and the guarded call into a handler.
#include "handlers/registry.hpp"

#include <algorithm>
#include <thread>

#include "jobnet/limits.h"
#include "protocol/msgpack_bounded.hpp"

namespace jobnet::handlers {

bool HandlerContext::SleepFor(uint64_t ms) const {
  using Clock = std::chrono::steady_clock;
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until) {
    if (ShouldStop()) return false;
    // Wake at the deadline itself (a timeout is exact), and every kHandlerStopPollMs to see a
    // cancel: hundreds of sleeping slots must not cost hundreds of thousands of wakeups a second.
    auto now = Clock::now();
    auto wake = std::min({until, deadline, now + std::chrono::milliseconds(limits::kHandlerStopPollMs)});
    if (wake > now) std::this_thread::sleep_for(wake - now);
  }
  return true;
}

void HandlerContext::Progress(uint32_t pct, const std::string& message) {
  if (!progress_sink) return;
  auto now = std::chrono::steady_clock::now();
  if (progress_sent_at != std::chrono::steady_clock::time_point{} &&
      now - progress_sent_at < std::chrono::milliseconds(limits::kProgressIntervalMsMin))
    return;
  progress_sent_at = now;
  progress_sink(std::min(pct, limits::kProgressPctMax),
                message.substr(0, limits::kProgressMessageBytesMax));
}

Registry& Registry::Global() {
  static Registry r;
  return r;
}

void Registry::Add(const std::string& type, HandlerFn fn, PayloadRule rule) {
  handlers_[type] = Entry{std::move(fn), rule};
}

const HandlerFn* Registry::Find(const std::string& type) const {
  auto it = handlers_.find(type);
  return it == handlers_.end() ? nullptr : &it->second.fn;
}

std::vector<HandlerInfo> Registry::Describe() const {
  std::vector<HandlerInfo> out;
  for (const auto& [type, e] : handlers_) out.push_back(HandlerInfo{type, e.rule.payload, e.rule.result});
  return out;
}

Status Registry::CheckPayload(const std::string& type, const std::string& payload) const {
  auto it = handlers_.find(type);
  if (it == handlers_.end() || it->second.rule.check == nullptr) return Status::OK();
  msgpack::object_handle oh;
  Status s = protocol::UnpackBounded(payload.data(), payload.size(), limits::kPayloadBytesMax, &oh);
  if (!s.ok()) return Status::InvalidArgument("payload of job type '" + type + "': " + s.message());
  std::string problem = it->second.rule.check(oh.get());
  if (problem.empty()) return Status::OK();
  return Status::InvalidArgument("payload of job type '" + type + "': " + problem + " (it takes " +
                                 it->second.rule.payload + ")");
}

std::vector<std::string> Registry::Types() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : handlers_) out.push_back(k);
  return out;
}

HandlerResult Run(const std::string& type, const std::string& payload, HandlerContext& ctx) {
  const HandlerFn* fn = Registry::Global().Find(type);
  if (fn == nullptr) return HandlerResult::Fail("no handler for job type '" + type + "'");
  msgpack::object_handle oh;
  Status s = protocol::UnpackBounded(payload.data(), payload.size(), limits::kPayloadBytesMax, &oh);
  if (!s.ok()) return HandlerResult::Fail("payload of job type '" + type + "': " + s.ToString());
  try {
    return (*fn)(oh.get(), ctx);
  } catch (const std::exception& e) {
    return HandlerResult::Fail(std::string("handler '") + type + "' threw: " + e.what());
  }
}

std::string CheckText(const msgpack::object& o) {
  if (o.type == msgpack::type::STR || o.type == msgpack::type::BIN) return "";
  return "not a string";
}

std::string ReadFields(const msgpack::object& payload, const std::string& type,
                       const std::string& not_a_map, const FieldFn& field) {
  if (payload.type != msgpack::type::MAP) return not_a_map;
  for (uint32_t i = 0; i < payload.via.map.size; ++i) {
    const auto& kv = payload.via.map.ptr[i];
    std::string key;
    if (!AsString(kv.key, &key)) return type + ": map keys must be strings";
    if (std::string problem = field(key, kv.val); !problem.empty()) return problem;
  }
  return "";
}

const msgpack::object* Field(const msgpack::object& map, const char* key) {
  return map.type == msgpack::type::MAP ? protocol::FindKey(map, key) : nullptr;
}

bool ReadString(const msgpack::object* o, std::string* out) {
  if (o == nullptr || o->type != msgpack::type::STR) return false;
  out->assign(o->via.str.ptr, o->via.str.size);
  return true;
}

bool ReadUint(const msgpack::object* o, uint64_t* out) {
  if (o == nullptr || o->type != msgpack::type::POSITIVE_INTEGER) return false;
  *out = o->via.u64;
  return true;
}

bool ReadNumber(const msgpack::object* o, double* out) {
  if (o == nullptr) return false;
  if (o->type == msgpack::type::POSITIVE_INTEGER) {
    *out = static_cast<double>(o->via.u64);
  } else if (o->type == msgpack::type::NEGATIVE_INTEGER) {
    *out = static_cast<double>(o->via.i64);
  } else if (o->type == msgpack::type::FLOAT32 || o->type == msgpack::type::FLOAT64) {
    *out = o->via.f64;
  } else {
    return false;
  }
  return true;
}

bool ReadBool(const msgpack::object* o, bool* out) {
  if (o == nullptr || o->type != msgpack::type::BOOLEAN) return false;
  *out = o->via.boolean;
  return true;
}

bool AsString(const msgpack::object& o, std::string* out) {
  if (o.type == msgpack::type::STR) {
    out->assign(o.via.str.ptr, o.via.str.size);
    return true;
  }
  if (o.type == msgpack::type::BIN) {
    out->assign(o.via.bin.ptr, o.via.bin.size);
    return true;
  }
  return false;
}

}  // namespace jobnet::handlers
