// The two clocks of a node (docs/architecture.md "Time"): the wall clock names instants (journaled
// times, run_at, cron ticks, retention), the loop's steady clock measures durations (leases, run
// timeouts, failure detection, waits, backoff, intervals, rate limits), so a wall-clock step
// (NTP, a VM resume, an operator) moves what a user named and nothing else.
#ifndef JOBNET_CORE_CLOCK_HPP_
#define JOBNET_CORE_CLOCK_HPP_

#include <cstdint>
#include <functional>

namespace jobnet::sched {

// One reading of both clocks, in milliseconds. wall_ms: since the Unix epoch (CLOCK_REALTIME).
// mono_ms: the node's running time, CLOCK_MONOTONIC less the stalls of its own loop
// (LoopClock): it never jumps, and time the node could not observe is not held against anyone.
struct Now {
  uint64_t wall_ms = 0;
  uint64_t mono_ms = 0;
  constexpr Now() = default;
  constexpr Now(uint64_t wall, uint64_t mono) : wall_ms(wall), mono_ms(mono) {}
  // Both clocks at one value: a clock whose wall never steps (most unit tests).
  constexpr Now(uint64_t both_ms) : wall_ms(both_ms), mono_ms(both_ms) {}  // NOLINT: implicit

  // The steady time at which the wall clock reaches `wall_instant`, as of this reading, but
  // never more than `ahead_max` from now: how a journaled instant that stands for a duration
  // (a backoff, an interval's next fire) is turned back into a deadline.
  constexpr uint64_t MonoAt(uint64_t wall_instant, uint64_t ahead_max = UINT64_MAX) const {
    const uint64_t ahead = wall_instant > wall_ms ? wall_instant - wall_ms : 0;
    return mono_ms + (ahead < ahead_max ? ahead : ahead_max);
  }
};

// Both system clocks now, unadjusted: for a reading outside the scheduler's loop (recovery,
// before the loop's LoopClock runs).
Now SystemNow();

// Reads both clocks for the scheduler's loop and notices when the loop itself did not run: a
// gap between two reads longer than `stall_ms_min` (the process was stopped with SIGSTOP, its VM
// paused, or one message took that long). The gap is left out of mono_ms, so nothing the node
// judges by elapsed time (a peer's silence, a lease, a worker's lease) counts the stall, and
// the caller is told so it can give peers a fresh grace period before it judges anyone.
// The loop reads it at least every tick, so a quiet node does not look stalled.
class LoopClock {
 public:
  using Source = std::function<uint64_t()>;
  // Sources default to the system's clocks; tests inject their own.
  explicit LoopClock(uint64_t stall_ms_min, Source wall = {}, Source steady = {});

  // The clocks now. *stalled_ms (if given) is set to the stall this read ended (0: none).
  Now Read(uint64_t* stalled_ms = nullptr);
  uint64_t stalls() const { return stalls_; }
  uint64_t stalled_ms_total() const { return stalled_total_ms_; }

 private:
  uint64_t stall_ms_min_;
  Source wall_;
  Source steady_;
  uint64_t last_steady_ms_ = 0;  // the previous read's raw steady time (0: none yet)
  uint64_t stalled_total_ms_ = 0;
  uint64_t stalls_ = 0;
  uint64_t last_mono_ms_ = 0;
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_CLOCK_HPP_
