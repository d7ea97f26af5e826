// The progress display of `jobnet wait` and `submit --wait`: while jobs run, a live bar on a
// terminal (jobs done/total, the current job's percent and message, elapsed time), or plain
// progress lines on stderr when stdout is not a terminal (stdout keeps only the job rows).
#ifndef JOBNET_CLI_CLI_PROGRESS_HPP_
#define JOBNET_CLI_CLI_PROGRESS_HPP_

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "jobnet/client.h"

namespace jobnet::cli {

class WaitProgress {
 public:
  enum class Mode { kBar, kLines };
  // `probe` asks for the current job's status (a client of its own: the waits are pipelined on
  // the other one). `out` gets the bar (kBar) or the lines (kLines).
  WaitProgress(Mode mode, size_t total, std::unique_ptr<Client> probe, std::ostream& out);
  // How often Refresh should be called.
  uint32_t refresh_ms() const { return mode_ == Mode::kBar ? 250 : 1000; }
  // Reads the progress of `current` (the first unfinished job) and redraws.
  void Refresh(const std::string& current);
  // Erases the bar, so a job row can be printed on a clean line; Draw puts it back.
  void Clear();
  void Draw();
  void JobDone() { done_++; }

 private:
  Mode mode_;
  size_t total_;
  size_t done_ = 0;
  std::unique_ptr<Client> probe_;
  std::ostream& out_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool drawn_ = false;
  std::string id_;          // the job the figures are of
  std::string state_;
  uint32_t pct_ = 0;
  std::string message_;
  std::string last_line_;   // kLines: printed only when it changes
};

// A bar of `width` cells for `pct` percent: "[#####.....]".
std::string ProgressBar(uint32_t pct, size_t width);

}  // namespace jobnet::cli

#endif  // JOBNET_CLI_CLI_PROGRESS_HPP_
