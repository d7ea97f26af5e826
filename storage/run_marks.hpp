// Run marks: which job each worker slot is running right now, in a small memory-mapped file
// beside the journal. A worker marks its slot before it starts a job and clears it after; the
// pages belong to the kernel, so the marks outlive a crash of the process (SIGKILL, a handler
// that brings the node down), though not a crash of the machine. On restart the marks say which
// attempts were under way even when their `running` record had not reached the journal yet, so
// a job that kills its node every time still uses up its attempts and ends `dead`. This lets a
// worker start a job without waiting for an fsync. File format: docs/journal.md §"Run marks".
#ifndef JOBNET_STORAGE_RUN_MARKS_HPP_
#define JOBNET_STORAGE_RUN_MARKS_HPP_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "jobnet/status.h"
#include "protocol/job_record.hpp"

namespace jobnet {

struct RunMark {
  uint32_t slot = 0;
  uint64_t seq = 0;      // the owner's job sequence number (this node's jobs only)
  uint32_t attempt = 0;  // the attempt number that started
};

class RunMarks {
 public:
  // Opens DIR/run.marks (creating it) and reads the marks the previous process left, without
  // changing them: if recovery fails, the next start still finds them. kStorage if the file
  // cannot be opened or read.
  static Status Open(const std::string& dir, std::unique_ptr<RunMarks>* out);
  // Once recovery has counted the marks: sizes the file for `slots` slots, all clear, and maps
  // it for Mark and Clear. Call once, before any worker starts. kStorage if it cannot.
  Status Arm(uint32_t slots);
  ~RunMarks();
  RunMarks(const RunMarks&) = delete;
  RunMarks& operator=(const RunMarks&) = delete;

  // The marks found at open: the runs that were under way when the previous process ended.
  const std::vector<RunMark>& left() const { return left_; }
  uint32_t slots() const { return slots_; }

  // Thread-safe for distinct slots (each worker owns its slot). Plain stores into shared pages:
  // no system call, no fsync.
  void Mark(uint32_t slot, uint64_t seq, uint32_t attempt);
  void Clear(uint32_t slot);

  // The highest attempt the marks prove was started, by job seq. Built once, so recovery can
  // check each job as it streams out of the journal without holding them all.
  using StartedRuns = std::unordered_map<uint64_t, uint32_t>;
  static StartedRuns Started(const std::vector<RunMark>& marks);

  // Counts the attempts the marks prove were started: a job that is not final and whose
  // journaled attempt count is below the mark's becomes `running` with the mark's attempt, so
  // recovery treats it as a run interrupted by the restart. Returns true if the job changed.
  static bool ApplyTo(const StartedRuns& started, protocol::Job* job);

 private:
  RunMarks() = default;
  std::string path_;
  int fd_ = -1;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  uint32_t slots_ = 0;
  std::vector<RunMark> left_;
};

}  // namespace jobnet

#endif  // JOBNET_STORAGE_RUN_MARKS_HPP_
