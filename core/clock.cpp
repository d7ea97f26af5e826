// The node's clocks: see clock.hpp.
#include "core/clock.hpp"

#include <algorithm>

#include "base/clock.hpp"

namespace jobnet::sched {

Now SystemNow() { return Now{base::WallMs(), base::SteadyMs()}; }

LoopClock::LoopClock(uint64_t stall_ms_min, Source wall, Source steady)
    : stall_ms_min_(stall_ms_min),
      wall_(wall ? std::move(wall) : Source(&base::WallMs)),
      steady_(steady ? std::move(steady) : Source(&base::SteadyMs)) {}

Now LoopClock::Read(uint64_t* stalled_ms) {
  uint64_t steady = steady_();
  uint64_t stalled = 0;
  if (last_steady_ms_ != 0 && steady > last_steady_ms_ + stall_ms_min_) {
    stalled = steady - last_steady_ms_;
    stalled_total_ms_ += stalled;
    stalls_++;
  }
  if (steady > last_steady_ms_) last_steady_ms_ = steady;
  if (stalled_ms != nullptr) *stalled_ms = stalled;
  // Never backwards, never zero (0 means "unset" in deadline fields).
  uint64_t mono = last_steady_ms_ > stalled_total_ms_ ? last_steady_ms_ - stalled_total_ms_ : 0;
  last_mono_ms_ = std::max({last_mono_ms_, mono, uint64_t{1}});
  return Now{wall_(), last_mono_ms_};
}

}  // namespace jobnet::sched
