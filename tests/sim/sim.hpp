// A deterministic simulation of a replicated jobnet cluster (docs/failover.md §8): 3-5 nodes,
// each with the real scheduler core (core/scheduler_core) serving its shard, a journal on a
// simulated disk, and the real replication rules and frames (protocol/replication: DecideCopy,
// JudgeAck, the msgpack frames) between a shard's primary and its backup, over a simulated
// network that drops, delays, duplicates and reorders messages and can be partitioned. A fake
// etcd keeps etcd's guarantees (linearizable keys, leases that end after their TTL on etcd's
// clock, transactions on revisions). Nodes crash (what was not synced is lost), are paused past
// their lease, lose their disk, and their clocks drift and step.
//
// The node's coordination and shipping are modelled here step for step after node/coordination
// and node/replica_shipper (which need etcd and ZeroMQ): the same timeouts, the same order of
// calls, the same checks. One seed gives one schedule of events, replayed exactly.
//
// After every event it checks: no acknowledged job missing from the journal of the shard's
// current primary; nothing acknowledged (a submit, or a run's result) by a node that was not the
// shard's holder in etcd at that epoch at that moment; and, once every fault has healed, that
// every acknowledged job ends.
#ifndef JOBNET_TESTS_SIM_SIM_HPP_
#define JOBNET_TESTS_SIM_SIM_HPP_

#include <cstdint>
#include <string>
#include <vector>

namespace jobnet::sim {

struct SimOptions {
  uint64_t seed = 1;
  // 0: chosen by the seed (3..5).
  int nodes = 0;
  int jobs = 60;               // submitted by the clients during the fault phase
  uint64_t fault_ms = 12'000;  // faults start in [0, fault_ms); then everything heals
  uint64_t settle_ms = 40'000; // after that, every acknowledged job must end within this
  bool trace = false;          // keep every event's line (printed on failure)
};

struct SimReport {
  bool ok = true;
  std::string failure;              // the first invariant broken, with the time and the detail
  std::vector<std::string> trace;   // the last events before the end (all of them with trace)
  uint64_t events = 0;
  uint64_t sim_ms = 0;
  int nodes = 0;
  uint64_t acked = 0;               // jobs whose submit was acknowledged
  uint64_t ended = 0;               // of those, succeeded at the end
  uint64_t duplicates = 0;          // a key acknowledged under two job ids (a failure)
  uint64_t takeovers = 0;           // shards won by a node other than their last holder
  uint64_t crashes = 0, pauses = 0, partitions = 0, etcd_outages = 0, wipes = 0, clock_steps = 0;
  uint64_t snapshots = 0;           // snapshots completed on a backup
  uint64_t refused_stale = 0;       // frames a backup refused as from a deposed sender
  uint64_t fenced_answers = 0;      // durable batches whose answers became `unavailable`
  uint64_t deposed = 0;             // primaries stopped by a backup's stale-epoch answer
};

SimReport RunSimulation(const SimOptions& options);

}  // namespace jobnet::sim

#endif  // JOBNET_TESTS_SIM_SIM_HPP_
