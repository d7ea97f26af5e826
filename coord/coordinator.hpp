// A node's view of the cluster's consensus in etcd (docs/failover.md): its membership under a
// lease it keeps alive, the shards it campaigns for, and watches on both. Plain C++ on the etcd
// client: the node's actors will call it from their own threads (not wired in yet).
#ifndef JOBNET_COORD_COORDINATOR_HPP_
#define JOBNET_COORD_COORDINATOR_HPP_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coord/etcd_client.hpp"
#include "jobnet/status.h"

namespace jobnet::coord {

struct CoordinatorOptions {
  // Keys live under /jobnet/<cluster>/; two clusters may share one etcd. No '/' in it.
  std::string cluster = "default";
  // This node's id (as --id); the value of the shard keys it holds. No '/' in it.
  std::string node_id;
  // Seconds the lease outlives the last keep-alive: how long a dead node holds its shards, so
  // it bounds takeover time, and how long a live one may go without reaching etcd. 2 s:
  // takeover within seconds while a GC-free process renews far inside it.
  int64_t lease_ttl_s = 2;
  // Time between keep-alives; 0 means a third of the TTL, so two may fail before it ends.
  uint32_t keepalive_interval_ms = 0;
  // Called once, on the keep-alive thread, when the lease is known to be gone (etcd forgot it,
  // or its TTL passed without a renewal). A primary must stop acting before this: see
  // Coordinator::LeaseValidUntil.
  std::function<void()> on_lease_lost;
};

struct Member {
  std::string id;
  std::string endpoint;  // as registered (the node's ZeroMQ endpoint)
  std::string replication;  // its replication endpoint as primaries name it; "" if none
  int64_t lease = 0;
};

// Who holds a shard. The epoch is the shard key's mod_revision: the revision of the transaction
// that won it. etcd's revisions only grow, so a later winner always has a larger epoch.
struct ShardHolder {
  std::string primary;
  int64_t epoch = 0;
  int64_t lease = 0;
};

// The in-sync set of a shard (docs/failover.md §6): the replication endpoints of the backups
// that hold every batch its primary has acknowledged, as the primary wrote it at `epoch`.
// Only a backup in it may take the shard over. Kept at /jobnet/<cluster>/insync/<shard>,
// without a lease (it must outlive its writer).
struct InSyncSet {
  int64_t epoch = 0;
  std::string primary;  // the node that wrote it ("" in a set written before this field)
  std::vector<std::string> backups;
};
// Writes the set as `primary`'s, if `epoch` is still the shard's (one txn on the shard key's
// mod revision); kConflict when it is not (this node is no longer the shard's primary).
Status PutInSync(EtcdClient* client, const std::string& cluster, const std::string& shard,
                 int64_t epoch, const std::string& primary,
                 const std::vector<std::string>& backups);

// A shard's last win (docs/failover.md §7): kept at /jobnet/<cluster>/last/<shard> without a
// lease, so it outlives every holder, and written in the transaction of every win. A node that
// lost a shard to another can never win it back (it would serve a stale journal), and a backup
// takes a shard over only on an in-sync set written by its last winner.
struct LastWin {
  std::string primary;   // "" when the shard was never won
  int64_t revision = 0;  // the key's mod_revision: the epoch of that win (0: never won)
  // The history id of the journal it was won with ("m:history"; a backup's copy has its
  // primary's): a node whose journal was lost or replaced has another and may not win it back.
  std::string history;
  // Won with a copy of the shard (a takeover), not with the shard's own journal on its own
  // node: a node that took its own shard over from a copy never serves its own journal of it
  // again (failover.md §7).
  bool from_copy = false;
};
// The set; kNotFound when none was ever written (every configured backup is in sync).
Result<InSyncSet> GetInSync(EtcdClient* client, const std::string& cluster,
                            const std::string& shard);

// Thread-safe: every method may be called from any thread. Each etcd call blocks for at most
// the client's request_timeout_ms. One Coordinator holds one lease for its whole life: once the
// lease is lost it stays lost (campaigns fail with kConflict) and the node makes a new one.
class Coordinator {
 public:
  // Grants the lease (blocks for one etcd call) and starts the keep-alive thread. `client` must
  // outlive the coordinator. kInvalidArgument for a bad id or TTL; the client's errors else.
  static Status Start(EtcdClient* client, CoordinatorOptions options,
                      std::unique_ptr<Coordinator>* out);
  // Stops the keep-alives and revokes the lease (best effort, one call), which deletes this
  // node's member key and every shard key it holds at once: a clean stop hands over without
  // waiting out the TTL.
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  int64_t lease() const { return lease_; }
  // Until when the lease surely lives: the send time of the last successful keep-alive plus
  // the TTL (etcd counts from when it received it, later). A primary that reaches this time
  // without a renewal must already have stopped acting: that is the fence's clock.
  std::chrono::steady_clock::time_point LeaseValidUntil() const;
  bool LeaseLost() const { return lost_.load(); }

  // Writes /jobnet/<cluster>/members/<node_id> = {"endpoint": endpoint[, "replication":
  // replication]} under the lease.
  Status Register(const std::string& endpoint, const std::string& replication = {});
  // Every registered member, ordered by id.
  Result<std::vector<Member>> Members();

  // One transaction: if /jobnet/<cluster>/shard/<shard> does not exist (never held, or its
  // holder's lease ended) and the shard's last win is still `after` (as read by LastWinOf: no
  // node has won it since), write {"primary": node_id} under this node's lease, and this win as
  // the last (with `history`, the journal's it is won with). Returns the epoch won. kConflict (the message names the holder, or the node that
  // won since) otherwise; if this node already holds it (a retried campaign), its epoch.
  Result<int64_t> Campaign(const std::string& shard, const LastWin& after,
                           const std::string& history = {}, bool from_copy = false);
  // A campaign after whatever the last win was (benchmarks and tests).
  Result<int64_t> Campaign(const std::string& shard);
  Result<LastWin> LastWinOf(const std::string& shard);
  // The shard's holder; kNotFound when none holds it.
  Result<ShardHolder> Holder(const std::string& shard);
  // Every shard's holder, by shard id, and the store revision they were read at (to watch on
  // from the next one).
  struct ShardTable {
    std::vector<std::pair<std::string, ShardHolder>> shards;
    int64_t revision = 0;
  };
  Result<ShardTable> Shards();
  // The holder named by a shard key as read or watched (primary "" for a value not ours).
  static ShardHolder HolderOfKey(const KeyValue& kv);
  // Deletes the shard key if it is still at `epoch` (so a node never deletes a successor's
  // key). kConflict when the key has moved on or is gone.
  Status Resign(const std::string& shard, int64_t epoch);

  // Watches of the member and shard prefixes from start_revision (0: from now); see
  // EtcdClient::Watch. Keys in the events are full etcd keys (MembersPrefix() + id, ...).
  std::unique_ptr<EtcdWatch> WatchMembers(int64_t start_revision,
                                          std::function<void(const WatchBatch&)> on_batch);
  std::unique_ptr<EtcdWatch> WatchShards(int64_t start_revision,
                                         std::function<void(const WatchBatch&)> on_batch);

  std::string MemberKey(const std::string& id) const { return MembersPrefix() + id; }
  std::string ShardKey(const std::string& shard) const { return ShardsPrefix() + shard; }
  std::string MembersPrefix() const { return "/jobnet/" + options_.cluster + "/members/"; }
  std::string ShardsPrefix() const { return "/jobnet/" + options_.cluster + "/shard/"; }
  std::string LastKey(const std::string& shard) const {
    return "/jobnet/" + options_.cluster + "/last/" + shard;
  }

 private:
  Coordinator(EtcdClient* client, CoordinatorOptions options, int64_t lease,
              std::chrono::steady_clock::time_point valid_until);
  void KeepAliveLoop();
  void MarkLost();

  EtcdClient* const client_;
  const CoordinatorOptions options_;
  const int64_t lease_;
  mutable std::mutex mu_;
  std::chrono::steady_clock::time_point valid_until_;  // guarded by mu_
  bool stop_ = false;                                  // guarded by mu_
  std::condition_variable wake_;
  std::atomic<bool> lost_{false};
  std::thread keepalive_;
};

}  // namespace jobnet::coord

#endif  // JOBNET_COORD_COORDINATOR_HPP_
