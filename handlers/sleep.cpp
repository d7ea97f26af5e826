// sleep: payload is a number of milliseconds (or {"ms": N}); sleeps, waking early to stop.
// Result: the milliseconds slept.
#include "handlers/registry.hpp"
#include "jobnet/limits.h"

namespace jobnet::handlers {
namespace {

HandlerResult Sleep(const msgpack::object& payload, HandlerContext& ctx) {
  const msgpack::object* o = &payload;
  if (o->type == msgpack::type::MAP) {
    o = nullptr;
    for (uint32_t i = 0; i < payload.via.map.size; ++i) {
      const auto& kv = payload.via.map.ptr[i];
      if (kv.key.type == msgpack::type::STR && kv.key.as<std::string>() == "ms") o = &kv.val;
    }
  }
  if (o == nullptr || o->type != msgpack::type::POSITIVE_INTEGER)
    return HandlerResult::Fail("sleep wants a payload of milliseconds, e.g. 250");
  uint64_t ms = o->via.u64;
  if (ms > limits::kTimeoutMsMax) return HandlerResult::Fail("sleep is longer than a day");
  if (!ctx.SleepFor(ms)) return HandlerResult::Fail("sleep stopped: cancelled or timed out");
  return HandlerResult::Ok(ms);
}

JOBNET_HANDLER("sleep", Sleep);

}  // namespace
}  // namespace jobnet::handlers
