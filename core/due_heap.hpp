// Entries (due instant, job seq), earliest first, for the jobs waiting on a clock. A binary heap
// of 16-byte entries: a std::set costs about 64 bytes an entry, and a node holds a million
// delayed jobs. Erasing is lazy: an erased entry is remembered until it reaches the top, and the
// heap is rebuilt when erased entries outnumber the live ones, so memory stays proportional to
// what is live.
#ifndef JOBNET_CORE_DUE_HEAP_HPP_
#define JOBNET_CORE_DUE_HEAP_HPP_

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobnet::sched {

class DueHeap {
 public:
  using Entry = std::pair<uint64_t, uint64_t>;  // (due, seq)

  void Add(uint64_t due, uint64_t seq);
  // Removes an entry that was added and is still there (checked).
  void Erase(uint64_t due, uint64_t seq);
  // Removes and returns the earliest live entry; the heap must not be empty.
  Entry Pop();

  bool empty() const { return live_ == 0; }
  size_t size() const { return live_; }
  // The earliest live entry; the heap must not be empty.
  const Entry& top() const { return heap_.front(); }

 private:
  struct EntryHash {
    size_t operator()(const Entry& e) const {
      return std::hash<uint64_t>()(e.second ^ (e.first * 0x9E3779B97F4A7C15ull));
    }
  };
  void PopTop();
  void DropErasedTop();  // keeps the top live
  void Rebuild();

  std::vector<Entry> heap_;  // std::push_heap with std::greater: a min-heap
  std::unordered_map<Entry, uint32_t, EntryHash> erased_;  // erased, still in heap_: how often
  size_t erased_count_ = 0;
  size_t live_ = 0;
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_DUE_HEAP_HPP_
