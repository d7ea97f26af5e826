#include "core/due_heap.hpp"

#include <algorithm>
#include <functional>

#include "base/check.hpp"

namespace jobnet::sched {

namespace {
// Erased entries are dropped from the middle of the heap once there are this many and more of
// them than live ones: the rebuild is linear, so its cost is paid by the erases that caused it.
constexpr size_t kRebuildErasedMin = 1024;
}  // namespace

void DueHeap::Add(uint64_t due, uint64_t seq) {
  heap_.emplace_back(due, seq);
  std::push_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
  ++live_;
}

void DueHeap::Erase(uint64_t due, uint64_t seq) {
  JOBNET_CHECK(live_ > 0);
  ++erased_[Entry{due, seq}];
  ++erased_count_;
  --live_;
  if (erased_count_ >= kRebuildErasedMin && erased_count_ > live_) {
    Rebuild();
  } else {
    DropErasedTop();
  }
}

DueHeap::Entry DueHeap::Pop() {
  JOBNET_CHECK(live_ > 0);
  Entry e = heap_.front();
  PopTop();
  --live_;
  DropErasedTop();
  return e;
}

void DueHeap::PopTop() {
  std::pop_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
  heap_.pop_back();
}

void DueHeap::DropErasedTop() {
  while (!heap_.empty()) {
    auto it = erased_.find(heap_.front());
    if (it == erased_.end()) return;
    if (--it->second == 0) erased_.erase(it);
    --erased_count_;
    PopTop();
  }
}

void DueHeap::Rebuild() {
  std::vector<Entry> kept;
  kept.reserve(live_);
  for (const Entry& e : heap_) {
    auto it = erased_.find(e);
    if (it == erased_.end()) {
      kept.push_back(e);
    } else if (--it->second == 0) {
      erased_.erase(it);
    }
  }
  JOBNET_CHECK(erased_.empty() && kept.size() == live_);  // every erased entry was in the heap
  erased_count_ = 0;
  std::make_heap(kept.begin(), kept.end(), std::greater<Entry>());
  heap_.swap(kept);
}

}  // namespace jobnet::sched
