// The fence of a shard's primary (docs/failover.md §5): until when this node may act for its
// shard, and with which epoch. The node's coordination thread sets it from its etcd lease; the
// scheduler reads it before acknowledging, dispatching or completing anything. Lock-free: two
// atomics, read on every batch.
#ifndef JOBNET_COORD_FENCE_HPP_
#define JOBNET_COORD_FENCE_HPP_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace jobnet::coord {

class Fence {
 public:
  using Clock = std::chrono::steady_clock;

  // The shard is held at `epoch` while the lease surely lives, until `until`
  // (Coordinator::LeaseValidUntil).
  void Hold(Clock::time_point until, int64_t epoch) {
    epoch_.store(epoch, std::memory_order_relaxed);
    until_.store(until.time_since_epoch().count(), std::memory_order_release);
  }
  // The lease is gone (or never was): nothing may be acted on until Hold again.
  void Drop() { until_.store(0, std::memory_order_release); }
  // For good: another node has won the shard since this node held it (failover.md §7), so it
  // is never held here again.
  void Lose() {
    lost_.store(true, std::memory_order_release);
    Drop();
  }
  bool lost() const { return lost_.load(std::memory_order_acquire); }

  // Whether the node may still act at `now`: the lease lives at least `margin` longer, so an
  // acknowledgement decided now reaches the client before another node could win the shard.
  bool Holds(Clock::time_point now, std::chrono::milliseconds margin) const {
    const Clock::rep until = until_.load(std::memory_order_acquire);
    return until != 0 && (now + margin).time_since_epoch().count() < until;
  }
  // The epoch of the last Hold (0: never held).
  int64_t epoch() const { return epoch_.load(std::memory_order_relaxed); }

 private:
  std::atomic<Clock::rep> until_{0};  // Clock ticks since its epoch; 0 = not held
  std::atomic<int64_t> epoch_{0};
  std::atomic<bool> lost_{false};
};

}  // namespace jobnet::coord

#endif  // JOBNET_COORD_FENCE_HPP_
