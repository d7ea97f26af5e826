// The worker slots of one node as numbers, resizable while jobs run (`jobnet workers set`), and
// the choice of the pool size a node starts with. Pure: the scheduler core owns one SlotPool and
// keeps what each slot runs beside it; the scheduler actor keeps one worker thread per slot id.
#ifndef JOBNET_CORE_WORKER_POOL_HPP_
#define JOBNET_CORE_WORKER_POOL_HPP_

#include <cstdint>
#include <vector>

namespace jobnet::sched {

// Slots are numbered 0..count()-1. A shrink takes the idle slots past the new size away at once;
// a busy one there is retiring: it takes no new work and goes away when its run ends. A grow
// adds slots, or gives retiring ones back their work, and they take work at once. So count() is
// the size, plus the retiring slots up to the highest busy one.
class SlotPool {
 public:
  explicit SlotPool(uint32_t size);

  uint32_t size() const { return size_; }  // the slots that take work
  uint32_t count() const { return static_cast<uint32_t>(busy_.size()); }
  uint32_t busy() const { return busy_count_; }
  uint32_t free() const { return static_cast<uint32_t>(free_.size()); }
  bool IsBusy(uint32_t slot) const { return slot < count() && busy_[slot]; }
  // Shown in `jobnet workers`: a slot within the size, or a retiring one still running.
  bool IsListed(uint32_t slot) const { return slot < size_ || IsBusy(slot); }

  // Takes a free slot (the last one freed; at start the lowest). Requires free() > 0.
  uint32_t Take();
  // The run on busy `slot` ended: it takes work again, or, past the size, goes away.
  void Release(uint32_t slot);
  // 1 <= size (the caller checks the upper bound).
  void Resize(uint32_t size);

 private:
  void TrimRetired();  // drops idle slots at the end past the size

  uint32_t size_ = 0;
  std::vector<bool> busy_;      // by slot id, count() entries
  std::vector<uint32_t> free_;  // idle slots below size_, taken from the back
  uint32_t busy_count_ = 0;
};

// The pool size a node starts with, given its configured size (--workers or the config file)
// and what the journal holds from the last `workers set` (`set` = 0: none): the set size, with
// the configured size it replaced. The later operator action wins: the set size, unless the
// configured size has changed since that set (then the new configuration is the later action).
uint32_t StartingWorkers(uint32_t configured, uint32_t set, uint32_t set_over_configured);

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_WORKER_POOL_HPP_
