// Where an ack's time goes inside the node: jobnet_bench reads the nodes' ack stage histograms
// (protocol/histograms.hpp) before and after a run and prints what the run added, so the
// figure belongs to the run and not to the node's whole life.
#ifndef JOBNET_BENCH_STAGES_HPP_
#define JOBNET_BENCH_STAGES_HPP_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jobnet/client.h"

namespace jobnet::bench {

using StageHistograms = std::map<std::string, Histogram>;

// The ack stage histograms of every node, summed by name; nodes that fail to answer or have
// none (older nodes) add nothing.
StageHistograms ReadStages(const std::vector<std::unique_ptr<Client>>& admins);

struct StageFigures {
  std::string stage;  // the histogram's name without "ack_" and "_seconds": "sync"
  uint64_t count = 0;
  double p50_us = 0, p99_us = 0, mean_us = 0;
};
// What each stage added between `before` and `after`, in the order an ack passes them.
// Percentiles are read off the buckets (interpolated inside the one that holds them).
std::vector<StageFigures> StagesBetween(const StageHistograms& before,
                                        const StageHistograms& after);

// "{"receive":{"count":N,"p50":..,"p99":..,"mean":..},...}" in microseconds.
std::string StagesJson(const std::vector<StageFigures>& stages);
// One line per stage, under a heading line.
void PrintStages(const std::vector<StageFigures>& stages);

}  // namespace jobnet::bench

#endif  // JOBNET_BENCH_STAGES_HPP_
