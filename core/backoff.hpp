// Retry delays: the one formula for every backoff in the node (a job's next attempt, a callback's
// next try, the pause of a peer that left a run unacknowledged), so that each doubles, caps and
// spreads the same way. Pure arithmetic: the caller brings the random value.
#ifndef JOBNET_CORE_BACKOFF_HPP_
#define JOBNET_CORE_BACKOFF_HPP_

#include <cstdint>

namespace jobnet::sched {

// The n-th delay (n = 1 for the first): base_ms * 2^(n-1), capped at max_ms. 0 when n, base_ms
// or max_ms is 0. Never overflows, whatever n.
uint64_t DoublingMs(uint32_t n, uint64_t base_ms, uint64_t max_ms);

// The one jitter rule: `d` ± 10 %, i.e. d - d/10 + (random mod (d/5 + 1)), with `random` any
// uniformly distributed 64-bit value. Many retries that failed together (a burst of jobs, a
// receiver that was down) spread over a fifth of their delay instead of coming back at once,
// and each still waits about the delay it asked for. It may exceed the cap by a tenth.
uint64_t JitterMs(uint64_t d, uint64_t random);

// A jittered backoff: JitterMs(DoublingMs(n, base_ms, max_ms), random), never above max_ms (a
// maximum the user set stays a maximum; at the cap the jitter only shortens). A job's retries and
// a callback's tries use it; a suspended peer's pause is DoublingMs alone (one timer per peer, no
// burst to spread, and a deterministic probe schedule).
inline uint64_t BackoffMs(uint32_t n, uint64_t base_ms, uint64_t max_ms, uint64_t random) {
  const uint64_t d = JitterMs(DoublingMs(n, base_ms, max_ms), random);
  return d < max_ms ? d : max_ms;
}

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_BACKOFF_HPP_
