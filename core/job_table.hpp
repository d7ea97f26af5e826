// The scheduler's jobs by seq, in seq order, for a million of them. Seqs are handed out densely
// and in order, so a job's slot is found by arithmetic: pages of kPageSlots pointers, a page per
// kPageSlots consecutive seqs, made with its first job and freed with its last. A job costs its
// allocation and one pointer; a std::map node cost 48 bytes more (tree links, key, header).
// Jobs never move once inserted: pointers and references to them stay valid until erased.
#ifndef JOBNET_CORE_JOB_TABLE_HPP_
#define JOBNET_CORE_JOB_TABLE_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "protocol/job_record.hpp"

namespace jobnet::sched {

class JobTable {
 public:
  // Small pages: a page lives as long as any of its jobs, so a job that waits long (a delay of
  // days among short jobs) keeps at most this many pointers alive with it.
  static constexpr uint64_t kPageSlots = 64;

  // The job with `seq`, or null.
  protocol::Job* Find(uint64_t seq);
  const protocol::Job* Find(uint64_t seq) const;
  // The job with `seq`, which must be held (checked).
  protocol::Job& At(uint64_t seq);
  const protocol::Job& At(uint64_t seq) const;
  bool Contains(uint64_t seq) const { return Find(seq) != nullptr; }
  // Holds `job` under `seq` (> 0, not held yet: checked).
  protocol::Job& Insert(uint64_t seq, protocol::Job job);
  // Drops the job with `seq`, which must be held (checked).
  void Erase(uint64_t seq);
  // The lowest seq held that is >= `seq`, or 0 if there is none: walks the jobs in seq order.
  uint64_t NextFrom(uint64_t seq) const;
  // The lowest seq held that is > `seq`, or 0: the step of that walk.
  uint64_t After(uint64_t seq) const { return seq == UINT64_MAX ? 0 : NextFrom(seq + 1); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Page {
    std::array<std::unique_ptr<protocol::Job>, kPageSlots> slots;
    uint32_t count = 0;
  };
  std::map<uint64_t, std::unique_ptr<Page>> pages_;  // by seq / kPageSlots
  size_t size_ = 0;
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_JOB_TABLE_HPP_
