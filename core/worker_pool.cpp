// Slot numbers of a resizable worker pool; see worker_pool.hpp.
#include "core/worker_pool.hpp"

#include <algorithm>

#include "base/check.hpp"

namespace jobnet::sched {

SlotPool::SlotPool(uint32_t size) { Resize(size); }

uint32_t SlotPool::Take() {
  JOBNET_CHECK(!free_.empty());
  uint32_t slot = free_.back();
  free_.pop_back();
  JOBNET_CHECK(slot < size_ && !busy_[slot]);
  busy_[slot] = true;
  busy_count_++;
  return slot;
}

void SlotPool::Release(uint32_t slot) {
  JOBNET_CHECK(IsBusy(slot));
  busy_[slot] = false;
  busy_count_--;
  if (slot < size_) {
    free_.push_back(slot);
  } else {
    TrimRetired();
  }
}

void SlotPool::Resize(uint32_t size) {
  JOBNET_CHECK(size >= 1);
  if (size < size_) {
    free_.erase(std::remove_if(free_.begin(), free_.end(), [size](uint32_t s) { return s >= size; }),
                free_.end());
    size_ = size;
    TrimRetired();
    return;
  }
  uint32_t old = size_;
  size_ = size;
  if (busy_.size() < size) busy_.resize(size, false);
  // Highest first, so the lowest new slot is taken first. Retiring slots in this range that
  // still run are busy: they take work again once their run ends.
  for (uint32_t i = size; i > old; --i)
    if (!busy_[i - 1]) free_.push_back(i - 1);
}

void SlotPool::TrimRetired() {
  while (busy_.size() > size_ && !busy_.back()) busy_.pop_back();
}

uint32_t StartingWorkers(uint32_t configured, uint32_t set, uint32_t set_over_configured) {
  if (set == 0 || set_over_configured != configured) return configured;
  return set;
}

}  // namespace jobnet::sched
