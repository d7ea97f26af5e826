// The paged job table (job_table.hpp).
#include "core/job_table.hpp"

#include <utility>

#include "base/check.hpp"

namespace jobnet::sched {

using protocol::Job;

const Job* JobTable::Find(uint64_t seq) const {
  auto it = pages_.find(seq / kPageSlots);
  return it == pages_.end() ? nullptr : it->second->slots[seq % kPageSlots].get();
}

Job* JobTable::Find(uint64_t seq) {
  return const_cast<Job*>(static_cast<const JobTable*>(this)->Find(seq));
}

const Job& JobTable::At(uint64_t seq) const {
  const Job* job = Find(seq);
  JOBNET_CHECK_MSG(job != nullptr, "no job with that seq");
  return *job;
}

Job& JobTable::At(uint64_t seq) {
  return const_cast<Job&>(static_cast<const JobTable*>(this)->At(seq));
}

Job& JobTable::Insert(uint64_t seq, Job job) {
  JOBNET_CHECK(seq != 0);
  // Seqs come in increasing order (submits, recovery): the new page, if any, goes at the end.
  auto it = pages_.lower_bound(seq / kPageSlots);
  if (it == pages_.end() || it->first != seq / kPageSlots)
    it = pages_.emplace_hint(it, seq / kPageSlots, std::make_unique<Page>());
  std::unique_ptr<Job>& slot = it->second->slots[seq % kPageSlots];
  JOBNET_CHECK_MSG(slot == nullptr, "a seq is held once");
  slot = std::make_unique<Job>(std::move(job));
  it->second->count++;
  size_++;
  return *slot;
}

void JobTable::Erase(uint64_t seq) {
  auto it = pages_.find(seq / kPageSlots);
  JOBNET_CHECK_MSG(it != pages_.end() && it->second->slots[seq % kPageSlots] != nullptr,
                   "erase of a job not held");
  it->second->slots[seq % kPageSlots].reset();
  size_--;
  if (--it->second->count == 0) pages_.erase(it);
}

uint64_t JobTable::NextFrom(uint64_t seq) const {
  for (auto it = pages_.lower_bound(seq / kPageSlots); it != pages_.end(); ++it) {
    uint64_t first = it->first * kPageSlots;
    for (uint64_t i = seq > first ? seq - first : 0; i < kPageSlots; i++)
      if (it->second->slots[i] != nullptr) return first + i;
  }
  return 0;
}

}  // namespace jobnet::sched
