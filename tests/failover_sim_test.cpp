// The deterministic simulation of failover (tests/sim/sim.hpp), over many seeds. Each ctest
// case runs one block of seeds; a failing seed prints its failure, the events before it and the
// command that replays it with every event traced:
//   JOBNET_SIM_SEED=<seed> build/tests/failover_sim_test --gtest_filter='*Block/0'
// A longer run: JOBNET_SIM_SEEDS=<seeds per block> (docs/failover.md §8).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/sim/sim.hpp"

namespace jobnet::sim {
namespace {

constexpr int kBlocks = 8;
constexpr uint64_t kSeedsPerBlock = 500;

uint64_t EnvNumber(const char* name, uint64_t otherwise) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return otherwise;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  return end != nullptr && *end == '\0' ? n : otherwise;
}

class FailoverSim : public ::testing::TestWithParam<int> {};

TEST_P(FailoverSim, Block) {
  const uint64_t replay = EnvNumber("JOBNET_SIM_SEED", 0);
  const uint64_t per_block = EnvNumber("JOBNET_SIM_SEEDS", kSeedsPerBlock);
  uint64_t first = 1 + static_cast<uint64_t>(GetParam()) * per_block;
  uint64_t count = per_block;
  if (replay != 0) {
    if (GetParam() != 0) return;
    first = replay;
    count = 1;
  }
  SimReport total;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.trace = replay != 0;
    const SimReport r = RunSimulation(o);
    if (replay != 0 || !r.ok) {
      const size_t from = replay != 0 || r.trace.size() < 80 ? 0 : r.trace.size() - 80;
      for (size_t i = from; i < r.trace.size(); ++i) std::cout << r.trace[i] << "\n";
    }
    ASSERT_TRUE(r.ok) << "seed " << seed << " (" << r.nodes << " nodes): " << r.failure
                      << "\nreplay: JOBNET_SIM_SEED=" << seed
                      << " build/tests/failover_sim_test --gtest_filter='*Block/0'";
    total.acked += r.acked;
    total.ended += r.ended;
    total.duplicates += r.duplicates;
    total.takeovers += r.takeovers;
    total.crashes += r.crashes;
    total.pauses += r.pauses;
    total.partitions += r.partitions;
    total.etcd_outages += r.etcd_outages;
    total.wipes += r.wipes;
    total.clock_steps += r.clock_steps;
    total.snapshots += r.snapshots;
    total.refused_stale += r.refused_stale;
    total.fenced_answers += r.fenced_answers;
    total.deposed += r.deposed;
    total.events += r.events;
  }
  std::cout << "seeds " << first << ".." << first + count - 1 << ": " << total.events
            << " events; " << total.acked << " jobs acknowledged, " << total.ended
            << " succeeded, 0 lost; " << total.duplicates << " duplicates; faults: "
            << total.crashes << " kills (" << total.wipes << " with the disk), " << total.pauses
            << " pauses, " << total.partitions << " partitions, " << total.etcd_outages
            << " etcd outages, " << total.clock_steps << " clock steps; " << total.takeovers
            << " takeovers, " << total.deposed << " primaries deposed, " << total.snapshots
            << " snapshots, " << total.refused_stale << " stale frames refused, "
            << total.fenced_answers << " answers fenced\n";
}

INSTANTIATE_TEST_SUITE_P(Seeds, FailoverSim, ::testing::Range(0, kBlocks));

}  // namespace
}  // namespace jobnet::sim
