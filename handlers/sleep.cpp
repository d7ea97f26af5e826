// sleep: payload is a number of milliseconds (or {"ms": N}); sleeps, waking early to stop.
// Result: the milliseconds slept.
#include "handlers/registry.hpp"
#include "jobnet/limits.h"

namespace jobnet::handlers {
namespace {

// The milliseconds to sleep, or the problem with the payload (shared by the run and the check
// at submit, so the two cannot disagree).
std::string ReadMs(const msgpack::object& payload, uint64_t* ms) {
  const msgpack::object* o = payload.type == msgpack::type::MAP ? Field(payload, "ms") : &payload;
  uint64_t v = 0;
  if (!ReadUint(o, &v)) return "sleep wants a payload of milliseconds, e.g. 250";
  if (v > limits::kTimeoutMsMax) return "sleep is longer than a day";
  *ms = v;
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
