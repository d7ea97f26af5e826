// The machine's idle CPU share between two readings of /proc/stat (Linux), for the autoscaler
// (core/autoscaler.hpp): it grows a pool only while the machine has CPU to give.
#ifndef JOBNET_BASE_CPU_IDLE_HPP_
#define JOBNET_BASE_CPU_IDLE_HPP_

#include <cstdint>
#include <optional>
#include <utility>
#include <string>

namespace jobnet::base {

// Idle time (idle + iowait) per mille of all CPU time from the aggregate "cpu" line of a
// /proc/stat text, as (idle, total) jiffies; nullopt if the line is missing or malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseCpuLine(const std::string& stat);

class CpuIdle {
 public:
  // The idle share since the previous call, per mille; nullopt at the first call, when no time
  // passed, or when /proc/stat cannot be read.
  std::optional<uint32_t> Sample();
  // The same from a given /proc/stat text (tests).
  std::optional<uint32_t> SampleText(const std::string& stat);

 private:
  uint64_t idle_ = 0, total_ = 0;
  bool have_ = false;
};

}  // namespace jobnet::base

#endif  // JOBNET_BASE_CPU_IDLE_HPP_
