#include "core/autoscaler.hpp"

#include <algorithm>

namespace jobnet::sched {

void Autoscaler::Configure(const AutoscaleSettings& s) {
  s_ = s;
  backlog_since_ = quiet_since_ = 0;
}

std::optional<uint32_t> Autoscaler::Decide(const AutoscaleInput& in) {
  if (!s_.enabled()) return std::nullopt;
  // 0 stands for "not started": a tick at mono 0 (tests) counts from 1.
  const uint64_t now = std::max<uint64_t>(in.mono_ms, 1);
  if (in.size < s_.min || in.size > s_.max) {
    backlog_since_ = quiet_since_ = 0;
    return std::clamp(in.size, s_.min, s_.max);
  }
  const bool backlog = in.waiting && in.busy >= in.size;
  const bool quiet = !in.waiting && in.busy < in.size;
  if (!backlog) backlog_since_ = 0;
  if (!quiet) quiet_since_ = 0;
  if (backlog) {
    if (backlog_since_ == 0) backlog_since_ = now;
    const bool cpu = !in.cpu_idle_permille || *in.cpu_idle_permille >= s_.cpu_idle_min_permille;
    if (now - backlog_since_ >= s_.target_wait_ms && cpu && in.size < s_.max) {
      backlog_since_ = now;  // the next step waits a whole target_wait again
      return std::min(s_.max, in.size + std::max<uint32_t>(1, in.size / 2));
    }
    return std::nullopt;
  }
  if (quiet) {
    if (quiet_since_ == 0) quiet_since_ = now;
    const uint32_t want = std::max(s_.min, in.busy);
    if (now - quiet_since_ >= s_.quiet_ms && want < in.size) {
      quiet_since_ = now;
      return want;
    }
  }
  return std::nullopt;
}

}  // namespace jobnet::sched
