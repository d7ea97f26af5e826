// The node's side of failover (docs/failover.md §5): with etcd configured, a node holds an etcd
// lease, registers itself as a member, and holds its own shard (its job ids' prefix) as
// primary. A thread keeps the shard's Fence in step with the lease: when the lease cannot be
// renewed the fence drops before the lease could end, and the thread then makes a new lease and
// wins the shard again, at a larger epoch.
#ifndef JOBNET_NODE_COORDINATION_HPP_
#define JOBNET_NODE_COORDINATION_HPP_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
  // Takeover (docs/failover.md §7); all optional. Whether this node holds a complete copy of
  // `shard` (it is one of its backups), and the history id the copy follows: asked when a
  // shard's key goes, and before a takeover.
  std::function<bool(const std::string& shard, std::string* history)> has_copy;
  // Serves a shard this node has just won: opens its copy, recovers it, starts its actors.
  // `fence` follows this node's lease at the shard's epoch. Called on the coordination thread;
  // on failure the shard is resigned so another backup may take it.
  std::function<Status(const std::string& shard, std::shared_ptr<const coord::Fence> fence)>
      take_over;
  // Each shard's holder as etcd says it, "" when none: for routing requests. Called on the
  // watch's thread (and once per shard at start).
  std::function<void(const std::string& shard, const std::string& holder, int64_t epoch)> on_holder;
  // Each other registered member, as etcd lists it (docs/failover.md §5 "Membership"): read at
  // start, before Start returns, and every second from then on, on the coordination
  // thread. Members that left are not reported: their links stay, and turn dead by silence.
  // `replication`: its replication endpoint, "" if it has none.
  std::function<void(const std::string& id, const std::string& endpoint,
                     const std::string& replication)>
      on_member;
  // How long a shard stays without a holder before a backup campaigns for it: its own primary,
  // restarting, wins it back in that time.
  uint32_t takeover_grace_ms = 1000;
  // Shards this node took over when it last ran (ReplicaServer::Taken): they are its to serve,
  // campaigned for at start and until won.
  std::vector<std::string> taken;
  // Shards this node keeps a copy of: one it won last (a takeover cut short by a crash before
  // it was served, or marked) is its own to serve, campaigned for at start like `taken`.
  std::vector<std::string> copies;
  // This node's replication endpoint: a shard is taken over only if it is in the shard's
  // in-sync set (or the shard has none). Empty: no takeovers.
  std::string replication_endpoint;
  // The history id of this node's journal ("m:history"): its shard is won back only with the
  // journal it was last won with (one lost or replaced has another history).
  std::string history;
};

class Coordination {
 public:
  // Blocks until this node holds its shard: grants a lease, registers, campaigns. A shard still
  // held under the lease of this node's previous process (killed less than a TTL ago) is waited
  // out; one held beyond that is another live process with this id: kConflict. kUnavailable
  // when etcd cannot be reached within the wait. A shard another node has won since (or won
  // with another journal) is not served: the node starts as a backup (own_lost()).

  static Status Start(CoordinationOptions options, std::unique_ptr<Coordination>* out);
  // Stops the thread and revokes the lease: the member and shard keys go at once.
  ~Coordination();
  Coordination(const Coordination&) = delete;
  Coordination& operator=(const Coordination&) = delete;

  std::shared_ptr<const coord::Fence> fence() const { return fence_; }
  // This node does not serve its own shard: another node has won it since this node did, or
  // this node's journal is not the one it was last won with (failover.md §7). Set at start,
  // before the node's journal is written, or later on the coordination thread.
  bool own_lost() const { return own_lost_.load(); }
  // Writes the in-sync set of `shard` (this node's, or one it took over) at `epoch`
  // (coord::PutInSync): the replication endpoints of the backups that hold every batch it has
  // acknowledged. Thread-safe (journal writers call it when a backup is dropped or rejoins).
  Status SetInSync(const std::string& shard, int64_t epoch,
                   const std::vector<std::string>& backups) {
    return coord::PutInSync(client_.get(), options_.cluster, shard, epoch, options_.node_id,
                            backups);
  }

 private:
  explicit Coordination(CoordinationOptions options) : options_(std::move(options)) {}
  // A new lease, registered, holding the shard; the fence follows it. Blocks up to `wait_ms`
  // while the shard is still held by a lease of this node's id.
  Status Acquire(uint32_t wait_ms);
  void Loop();
  // Reads every shard's holder and watches the shard keys from there (again after a watch
  // ends). Takeover candidates go to due_.
  void Follow();
  void OnShardEvents(const coord::WatchBatch& batch);
  // Campaigns for the shards whose grace has passed and serves the ones won.
  void TakeOverDue();
  // Whether this node may win `shard` back (its own, or one it took over): nobody else has won
  // it since this node did, and (with `history`) with the journal it holds now. *last is the
  // win to campaign after; kConflict says who took it over, or that the journal was replaced.
  // `own_journal`: with this node's own journal of its own shard, which may not win it back
  // once this node has won the shard with a copy (it took its own shard over after it was
  // deposed: the copy is the shard's, its own journal stale).
  Status MayWinBack(coord::Coordinator* c, const std::string& shard, const std::string& history,
                    coord::LastWin* last, bool own_journal = false);
  // Whether this node, a backup, may take `shard` over: it is in the in-sync set its last
  // winner wrote. *last is the win to campaign after; kConflict says why not.
  Status MayTakeOver(const std::string& shard, coord::LastWin* last, std::string* history);
  // Holds every adopted shard's fence at its epoch (re-won after a new lease).
  void HoldAdopted();
  // Lists the members and reports the others to on_member (when it is time: force = now).
  void ReadMembers(bool force);

  const CoordinationOptions options_;
  std::unique_ptr<coord::EtcdClient> client_;
  std::unique_ptr<coord::Coordinator> coordinator_;  // only the loop's thread touches it later
  int64_t epoch_ = 0;
  // Its own shard was taken over while this node ran without a lease: its fence is never held
  // again (the loop's thread only).
  std::atomic<bool> own_lost_{false};
  std::shared_ptr<coord::Fence> fence_ = std::make_shared<coord::Fence>();
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                                                 // guarded by mu_
  std::map<std::string, std::chrono::steady_clock::time_point> due_;  // guarded by mu_
  std::set<std::string> must_hold_;  // options_.taken not yet won; guarded by mu_
  bool refollow_ = false;            // guarded by mu_
  int64_t seen_revision_ = 0;        // of the last shard event handled; guarded by mu_
  bool first_follow_ = true;         // guarded by mu_
  struct AdoptedShard {
    int64_t epoch = 0;
    std::shared_ptr<coord::Fence> fence;
    bool rewin = false;   // the lease was replaced: campaign again before holding the fence
    bool failed = false;  // take_over failed: resign, forget
  };
  std::map<std::string, AdoptedShard> adopted_;  // guarded by mu_
  std::unique_ptr<coord::EtcdWatch> watch_;      // the loop's thread only
  std::chrono::steady_clock::time_point members_due_;  // the loop's thread only
  std::vector<std::thread> takeovers_;           // the loop's thread only; joined at the end
  std::thread thread_;
};

}  // namespace jobnet

#endif  // JOBNET_NODE_COORDINATION_HPP_
