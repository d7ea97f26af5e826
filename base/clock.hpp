// The process's two clocks in milliseconds, read in one place (docs/architecture.md "Time"): the
// wall clock names instants (journaled times, expiry), the steady clock measures durations
// (deadlines, timeouts) and never jumps. Code that must be tested against a fake clock takes a
// source instead (core/clock.hpp LoopClock, storage BlobStore's now_ms) and defaults to these.
#ifndef JOBNET_BASE_CLOCK_HPP_
#define JOBNET_BASE_CLOCK_HPP_

#include <chrono>
#include <cstdint>

namespace jobnet::base {

// Milliseconds since the Unix epoch (CLOCK_REALTIME): may step back or forward.
inline uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Milliseconds on CLOCK_MONOTONIC (std::chrono::steady_clock on Linux), from an arbitrary origin:
// never backwards, and it stops while the machine is suspended (CLOCK_BOOTTIME would not), so a
// suspended host's sleep counts as nobody's silence. Only differences mean anything.
inline uint64_t SteadyMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Microseconds on the same clock as SteadyMs, for timing the stages of one request across
// threads (a CAF mailbox hop is a few microseconds: milliseconds would show nothing).
inline uint64_t SteadyUs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace jobnet::base

#endif  // JOBNET_BASE_CLOCK_HPP_
