// Blobs for a peer's job running here (a hosted run): the job's input blobs live on its owner,
// and its result blob must be there when the result arrives (`jobnet result --out` asks the
// owner). HostedBlobs wraps this node's store for one hosted run: a read of a blob missing here
// fetches it from the owner and keeps it (the sweep removes it after its grace period, since no
// job of this node refers to it); a write also pushes the blob to the owner before it returns.
#ifndef JOBNET_NODE_HOSTED_BLOBS_HPP_
#define JOBNET_NODE_HOSTED_BLOBS_HPP_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jobnet/client.h"
#include "node/principals.hpp"
#include "protocol/blob_access.hpp"

namespace jobnet {

// The node's peer links: their endpoints by link index (the configured peers, then the members
// found in etcd, docs/failover.md §5), and which node is behind which, learned from the
// scheduler's peer table (a heartbeat names the node behind link i). Thread-safe: the
// coordination thread adds links, the scheduler names them, hosted runs on the worker threads
// read.
class PeerEndpoints {
 public:
  // Told each link added, in order: its index and endpoint (called under the table's lock).
  using Listener = std::function<void(uint32_t link, const std::string& endpoint)>;
  PeerEndpoints(std::vector<std::string> endpoints, size_t max)
      : endpoints_(std::move(endpoints)), max_(max) {}
  // A link to `endpoint`, unless one exists: false when the table already has `max` links.
  bool Add(const std::string& endpoint);
  // From now on the links added are told to `listener`, first those from index `known` on
  // (added before it listened). Null: nobody is told.
  void Listen(size_t known, Listener listener);
  size_t size() const;
  void Set(uint32_t link, const std::string& node);
  // The endpoint of `node`, or "" if no link has named it.
  std::string Find(const std::string& node) const;
  // With CURVE: this node's keypair, and who knows the others' keys (set once, before use).
  void SetCurve(CurveKeys key, std::shared_ptr<const PrincipalTable> principals) {
    key_ = std::move(key);
    principals_ = std::move(principals);
  }
  // Client options for one request to the node at `endpoint`.
  ClientOptions ClientFor(const std::string& endpoint, uint32_t timeout_ms) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> endpoints_;  // by link; guarded by mu_
  const size_t max_;
  Listener listener_;                           // guarded by mu_
  std::map<std::string, std::string> by_node_;  // guarded by mu_
  CurveKeys key_;
  std::shared_ptr<const PrincipalTable> principals_;
};

class HostedBlobs : public protocol::BlobAccess {
 public:
  // `local` is this node's store (outlives this); `job_id` the hosted job, whose id names its
  // owner; `timeout_ms` bounds each request to the owner.
  HostedBlobs(protocol::BlobAccess* local, const PeerEndpoints* peers, std::string job_id,
              uint32_t timeout_ms)
      : local_(local), peers_(peers), job_id_(std::move(job_id)), timeout_ms_(timeout_ms) {}

  // Local, else fetched from the owner (GetBlob with the job id, so the owner checks the job
  // names it) and stored here. kUnavailable if the owner cannot be reached.
  Result<std::string> ReadBlob(const std::string& hash) override;
  Result<uint64_t> BlobSize(const std::string& hash) override;
  // Stored here, then on the owner; an error if the owner does not take it.
  Result<std::string> WriteBlob(const std::string& data) override;

 private:
  Result<std::string> OwnerEndpoint() const;

  protocol::BlobAccess* const local_;
  const PeerEndpoints* const peers_;
  const std::string job_id_;
  const uint32_t timeout_ms_;
};

}  // namespace jobnet

#endif  // JOBNET_NODE_HOSTED_BLOBS_HPP_
