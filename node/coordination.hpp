// The node's side of failover (docs/failover.md §5): with etcd configured, a node holds an etcd
// lease, registers itself as a member, and holds its own shard (its job ids' prefix) as
// primary. A thread keeps the shard's Fence in step with the lease: when the lease cannot be
// renewed the fence drops before the lease could end, and the thread then makes a new lease and
// wins the shard again, at a larger epoch.
#ifndef JOBNET_NODE_COORDINATION_HPP_
#define JOBNET_NODE_COORDINATION_HPP_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coord/coordinator.hpp"
#include "coord/etcd_client.hpp"
#include "coord/fence.hpp"
#include "jobnet/status.h"

namespace jobnet {

struct CoordinationOptions {
  std::vector<std::string> etcd;  // client URLs
  std::string cluster;            // keys under /jobnet/<cluster>/
  std::string node_id;            // also the shard this node is primary of
  std::string endpoint;           // registered for peers to find
};

class Coordination {
 public:
  // Blocks until this node holds its shard: grants a lease, registers, campaigns. A shard still
  // held under the lease of this node's previous process (killed less than a TTL ago) is waited
  // out; one held beyond that is another live process with this id: kConflict. kUnavailable
  // when etcd cannot be reached within the wait.
  static Status Start(CoordinationOptions options, std::unique_ptr<Coordination>* out);
  // Stops the thread and revokes the lease: the member and shard keys go at once.
  ~Coordination();
  Coordination(const Coordination&) = delete;
  Coordination& operator=(const Coordination&) = delete;

  std::shared_ptr<const coord::Fence> fence() const { return fence_; }

 private:
  explicit Coordination(CoordinationOptions options) : options_(std::move(options)) {}
  // A new lease, registered, holding the shard; the fence follows it. Blocks up to `wait_ms`
  // while the shard is still held by a lease of this node's id.
  Status Acquire(uint32_t wait_ms);
  void Loop();

  const CoordinationOptions options_;
  std::unique_ptr<coord::EtcdClient> client_;
  std::unique_ptr<coord::Coordinator> coordinator_;  // only the loop's thread touches it later
  int64_t epoch_ = 0;
  std::shared_ptr<coord::Fence> fence_ = std::make_shared<coord::Fence>();
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace jobnet

#endif  // JOBNET_NODE_COORDINATION_HPP_
