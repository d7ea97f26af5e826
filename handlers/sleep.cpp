// sleep: payload is a number of milliseconds (or {"ms": N}); sleeps, waking early to stop.
// Result: the milliseconds slept.
#include "handlers/registry.hpp"
#include "jobnet/limits.h"

namespace jobnet::handlers {
namespace {

// The milliseconds to sleep, or the problem with the payload (shared by the run and the check
// at submit, so the two cannot disagree).
std::string ReadMs(const msgpack::object& payload, uint64_t* ms) {
  const msgpack::object* o = &payload;
  if (o->type == msgpack::type::MAP) {
    o = nullptr;
    for (uint32_t i = 0; i < payload.via.map.size; ++i) {
      const auto& kv = payload.via.map.ptr[i];
      if (kv.key.type == msgpack::type::STR && kv.key.via.str.size == 2 &&
          std::string(kv.key.via.str.ptr, 2) == "ms")
        o = &kv.val;
    }
  }
  if (o == nullptr || o->type != msgpack::type::POSITIVE_INTEGER)
    return "sleep wants a payload of milliseconds, e.g. 250";
  if (o->via.u64 > limits::kTimeoutMsMax) return "sleep is longer than a day";
  *ms = o->via.u64;
  return "";
}

std::string CheckSleep(const msgpack::object& payload) {
  uint64_t ms = 0;
  return ReadMs(payload, &ms);
}

HandlerResult Sleep(const msgpack::object& payload, HandlerContext& ctx) {
  uint64_t ms = 0;
  if (std::string problem = ReadMs(payload, &ms); !problem.empty())
    return HandlerResult::Fail(problem);
  if (!ctx.SleepFor(ms)) return HandlerResult::Fail("sleep stopped: cancelled or timed out");
  return HandlerResult::Ok(ms);
}

JOBNET_HANDLER("sleep", Sleep,
               (PayloadRule{"milliseconds: an integer 0..86400000, or {\"ms\": N}",
                            "the milliseconds slept", CheckSleep}));

}  // namespace
}  // namespace jobnet::handlers
