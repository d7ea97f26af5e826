// Ack stage figures for jobnet_bench, from the nodes' stats histograms.
#include "bench/stages.hpp"

#include <algorithm>
#include <cstdio>

#include "protocol/histograms.hpp"

namespace jobnet::bench {
namespace {

// The value below which a fraction `q` of the histogram's count falls, in microseconds: linear
// inside the bucket that holds it; past the last bound, that bound (all that is known).
double QuantileUs(const Histogram& h, double q) {
  if (h.count == 0) return 0;
  const double want = q * static_cast<double>(h.count);
  double seen = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    const double c = static_cast<double>(h.counts[i]);
    if (c > 0 && seen + c >= want) {
      if (i >= h.bounds.size()) return h.bounds.empty() ? 0 : h.bounds.back() * 1e6;
      const double lo = i == 0 ? 0 : h.bounds[i - 1], hi = h.bounds[i];
      return (lo + (hi - lo) * (want - seen) / c) * 1e6;
    }
    seen += c;
  }
  return h.bounds.empty() ? 0 : h.bounds.back() * 1e6;
}

// after - before, bucket by bucket (a node restarted in between gives what it has).
Histogram Minus(const Histogram& after, const Histogram* before) {
  if (before == nullptr || before->counts.size() != after.counts.size() ||
      before->count > after.count)
    return after;
  Histogram d = after;
  for (size_t i = 0; i < d.counts.size(); ++i)
    d.counts[i] -= std::min(d.counts[i], before->counts[i]);
  d.count -= before->count;
  d.sum -= before->sum;
  return d;
}

}  // namespace

StageHistograms ReadStages(const std::vector<std::unique_ptr<Client>>& admins) {
  StageHistograms sum;
  for (auto& a : admins) {
    auto s = a->Stats();
    if (!s.ok()) continue;
    for (const char* name : protocol::AckStageNames()) {
      auto it = s.value().histograms.find(name);
      if (it == s.value().histograms.end()) continue;
      auto [at, fresh] = sum.emplace(name, it->second);
      if (fresh || at->second.counts.size() != it->second.counts.size()) continue;
      for (size_t i = 0; i < at->second.counts.size(); ++i)
        at->second.counts[i] += it->second.counts[i];
      at->second.count += it->second.count;
      at->second.sum += it->second.sum;
    }
  }
  return sum;
}

std::vector<StageFigures> StagesBetween(const StageHistograms& before,
                                        const StageHistograms& after) {
  std::vector<StageFigures> out;
  for (const char* name : protocol::AckStageNames()) {
    auto a = after.find(name);
    if (a == after.end()) continue;
    auto b = before.find(name);
    Histogram d = Minus(a->second, b == before.end() ? nullptr : &b->second);
    std::string stage = name;
    stage = stage.substr(4, stage.size() - 4 - 8);  // "ack_" ... "_seconds"
    out.push_back(StageFigures{stage, d.count, QuantileUs(d, 0.50), QuantileUs(d, 0.99),
                               d.count ? d.sum / static_cast<double>(d.count) * 1e6 : 0});
  }
  return out;
}

std::string StagesJson(const std::vector<StageFigures>& stages) {
  std::string j = "{";
  for (const auto& s : stages) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "%s\"%s\":{\"count\":%llu,\"p50\":%.0f,\"p99\":%.0f,\"mean\":%.0f}",
                  j.size() > 1 ? "," : "", s.stage.c_str(),
                  static_cast<unsigned long long>(s.count), s.p50_us, s.p99_us, s.mean_us);
    j += buf;
  }
  return j + "}";
}

void PrintStages(const std::vector<StageFigures>& stages) {
  if (stages.empty()) return;
  std::printf("ack stages in the node, us (from its histograms; node = frame read to reply "
              "sent):\n");
  for (const auto& s : stages)
    std::printf("  %-12s p50 %6.0f  p99 %6.0f  mean %6.0f  (%llu)\n", s.stage.c_str(), s.p50_us,
                s.p99_us, s.mean_us, static_cast<unsigned long long>(s.count));
}

}  // namespace jobnet::bench
