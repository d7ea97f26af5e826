// A backup's side of replication (docs/failover.md §6): one ZeroMQ ROUTER socket on the
// node's replication endpoint, owned by one thread, taking its primaries' journal batches and
// snapshot chunks and applying each, synced, to its copy of their shard
// (<data>/replicas/<shard>, a journal like any other). Every frame is answered with the
// position the copy holds. A frame from an epoch older than one already seen for the shard is
// refused (its sender has been deposed), as is everything for a shard this node has taken over.
#ifndef JOBNET_NODE_REPLICA_SERVER_HPP_
#define JOBNET_NODE_REPLICA_SERVER_HPP_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobnet/keys.h"
#include "jobnet/status.h"
#include "node/principals.hpp"
#include "storage/journal.hpp"

namespace jobnet {

struct ReplicaServerOptions {
  std::string listen;  // tcp://HOST:PORT
  std::string dir;     // copies go in dir/<shard>
  // Shards this server keeps copies of at once; a frame for one more is refused.
  uint32_t shards_max = 64;
  // With principals: CURVE with this keypair, and only keys of principals with scope `peer`
  // get through (docs/operations.md "Securing a cluster"). Null: plain ZeroMQ.
  std::shared_ptr<const PrincipalTable> principals;
  CurveKeys curve;
};

struct ReplicaServerStats {
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> batches_applied{0};
  std::atomic<uint64_t> snapshots_completed{0};
  std::atomic<uint64_t> refused{0};  // bad frames, stale epochs, released shards
  std::atomic<uint64_t> bytes_applied{0};
  std::atomic<uint64_t> blobs_stored{0};     // blobs of its primaries' shards, whole here
  std::atomic<uint64_t> blobs_forgotten{0};  // removed as their primaries' sweeps said
};

class ReplicaServer {
 public:
  // Binds and starts the thread. kUnavailable if the endpoint cannot be bound.
  static Status Start(ReplicaServerOptions options, std::unique_ptr<ReplicaServer>* out);
  ~ReplicaServer();  // stops the thread, closes the copies
  ReplicaServer(const ReplicaServer&) = delete;
  ReplicaServer& operator=(const ReplicaServer&) = delete;

  // Whether the copy of `shard` is complete (a snapshot has been completed into it); its
  // position in *pos. A copy on disk from an earlier run counts. Thread-safe.
  bool HasCompleteCopy(const std::string& shard, ReplicaPosition* pos);
  // This node takes `shard` over: its copy is closed (so it can be opened as the shard's
  // journal, at *dir) and every later frame for it is refused as from a deposed primary. This
  // is durable (a marker file, <dir>/<shard>.taken): after a restart the shard is still this
  // node's to serve (Taken). Thread-safe; blocks while a frame for the shard is being applied.
  Status Release(const std::string& shard, std::string* dir);
  // The shards this node had taken over when it last ran (their markers), and since.
  std::vector<std::string> Taken();
  // The shards it keeps a copy of on disk (taken over or not).
  std::vector<std::string> Copies();
  // The shards marked taken over in a replica directory (its <shard>.taken files): for the
  // server at start, and for tools that read a stopped node's journals.
  static std::vector<std::string> TakenIn(const std::string& dir);
  const std::string& endpoint() const { return options_.listen; }
  const ReplicaServerStats& stats() const { return stats_; }

 private:
  struct Impl;
  explicit ReplicaServer(ReplicaServerOptions options);
  void Loop();

  const ReplicaServerOptions options_;
  std::unique_ptr<Impl> impl_;
  ReplicaServerStats stats_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace jobnet

#endif  // JOBNET_NODE_REPLICA_SERVER_HPP_
