#include "base/cpu_idle.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace jobnet::base {

std::optional<std::pair<uint64_t, uint64_t>> ParseCpuLine(const std::string& stat) {
  std::istringstream in(stat);
  std::string label;
  if (!(in >> label) || label != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
  uint64_t v[8] = {};
  int n = 0;
  while (n < 8 && in >> v[n]) ++n;
  if (n < 4) return std::nullopt;
  uint64_t total = 0;
  for (int i = 0; i < n; ++i) total += v[i];
  return std::make_pair(v[3] + (n > 4 ? v[4] : 0), total);
}

std::optional<uint32_t> CpuIdle::SampleText(const std::string& stat) {
  auto now = ParseCpuLine(stat);
  if (!now) return std::nullopt;
  std::optional<uint32_t> out;
  if (have_ && now->second > total_ && now->first >= idle_) {
    const uint64_t idle = now->first - idle_, total = now->second - total_;
    out = static_cast<uint32_t>(std::min<uint64_t>(1000, idle * 1000 / total));
  }
  idle_ = now->first;
  total_ = now->second;
  have_ = true;
  return out;
}

std::optional<uint32_t> CpuIdle::Sample() {
  std::ifstream f("/proc/stat");
  std::string line;
  if (!f || !std::getline(f, line)) return std::nullopt;
  return SampleText(line);
}

}  // namespace jobnet::base
