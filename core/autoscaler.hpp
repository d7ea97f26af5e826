// Elastic workers (`jobnet workers autoscale`, [workers] autoscale_*): the pool size that
// follows the load between a minimum and a maximum. Pure: the scheduler core feeds it what it
// sees at each tick (slots, busy ones, whether dispatchable jobs wait) and the machine's idle
// CPU share, and resizes the pool to what it answers. docs/operations.md §13.
#ifndef JOBNET_CORE_AUTOSCALER_HPP_
#define JOBNET_CORE_AUTOSCALER_HPP_

#include <cstdint>
#include <optional>

namespace jobnet::sched {

struct AutoscaleSettings {
  uint32_t min = 0;  // 0: autoscaling off
  uint32_t max = 0;
  // Grow while dispatchable jobs have waited this long with every slot busy...
  uint64_t target_wait_ms = 1000;
  // ...and the machine has at least this share of its CPU idle (per mille).
  uint32_t cpu_idle_min_permille = 200;
  // Shrink once slots have been idle and nothing has waited for this long.
  uint64_t quiet_ms = 30000;
  bool enabled() const { return min != 0; }
};

// What one tick sees.
struct AutoscaleInput {
  uint64_t mono_ms = 0;
  uint32_t size = 0;     // the pool's slots that take work
  uint32_t busy = 0;     // of those, running a job
  bool waiting = false;  // some job could be dispatched now if a slot were free
  // The machine's idle CPU share since the last tick, per mille; nullopt: not measured
  // (treated as idle enough, so a node that cannot read it still grows).
  std::optional<uint32_t> cpu_idle_permille;
};

class Autoscaler {
 public:
  // Changes the settings (nullopt-like: min 0 turns it off) and forgets what it had seen.
  void Configure(const AutoscaleSettings& s);
  const AutoscaleSettings& settings() const { return s_; }
  bool enabled() const { return s_.enabled(); }

  // The pool size to resize to now, if any (always within min..max): grow by half (at least
  // one slot) after target_wait_ms of backlog with CPU to give; shrink to the busy slots (at
  // least min) after quiet_ms without backlog and with idle slots; back inside min..max at
  // once if the pool is outside it.
  std::optional<uint32_t> Decide(const AutoscaleInput& in);

 private:
  AutoscaleSettings s_;
  uint64_t backlog_since_ = 0;  // mono ms the current backlog began; 0: none
  uint64_t quiet_since_ = 0;    // mono ms the current quiet began; 0: not quiet
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_AUTOSCALER_HPP_
