// Retry delays: see backoff.hpp.
#include "core/backoff.hpp"

#include <algorithm>

namespace jobnet::sched {

uint64_t DoublingMs(uint32_t n, uint64_t base_ms, uint64_t max_ms) {
  if (n == 0 || base_ms == 0 || max_ms == 0) return 0;
  const uint32_t shift = n - 1;
  if (shift >= 63 || base_ms > (max_ms >> shift)) return max_ms;
  return std::min(base_ms << shift, max_ms);
}

uint64_t JitterMs(uint64_t d, uint64_t random) {
  if (d == 0) return 0;
  return d - d / 10 + random % (d / 5 + 1);
}

}  // namespace jobnet::sched
