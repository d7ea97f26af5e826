// The simulated cluster behind tests/sim/sim.hpp: its event queue, network, fake etcd, disks
// and nodes. world.cpp runs time, the network, etcd, faults, clients and the checks;
// node_model.cpp runs a node (its coordination, its shards as primary, its copies as backup).
#ifndef JOBNET_TESTS_SIM_WORLD_HPP_
#define JOBNET_TESTS_SIM_WORLD_HPP_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/scheduler_core.hpp"
#include "protocol/replication.hpp"
#include "tests/sim/sim.hpp"

namespace jobnet::sim {

// The node's timings (node/coordination.cpp, coord/coordinator.cpp, node/replica_shipper.cpp).
constexpr uint64_t kTtlMs = 2000;               // the lease TTL
constexpr uint64_t kKeepAliveMs = kTtlMs / 3;   // Coordinator::KeepAliveLoop
constexpr uint64_t kFenceMarginMs = 500;        // limits::kFenceMarginMs
constexpr uint64_t kRefreshMs = 100;            // the coordination loop
constexpr uint64_t kRetryMs = 500;              // a new lease after a lost one
constexpr uint64_t kStartWaitMs = 5000;         // a starting node waits out its old lease
constexpr uint64_t kGraceMs = 1000;             // takeover_grace_ms
constexpr uint64_t kAnswerTimeoutMs = 1000;     // ReplicaShipperOptions::answer_timeout_ms
constexpr uint64_t kDropAfterMs = 3000;         // ReplicaShipperOptions::drop_after_ms
constexpr uint64_t kRejoinEveryMs = 2000;
constexpr uint64_t kRejoinProbeMs = 100;
constexpr uint64_t kRefusedPauseMs = 200;
constexpr uint64_t kEtcdTimeoutMs = 1000;       // one etcd call's deadline
constexpr size_t kChunkJobs = 16;               // jobs per snapshot chunk

// ---- a journal on a simulated disk: what a synced write left ----
struct SimJournal {
  std::string history;
  uint64_t incarnation = 0;
  uint64_t next_seq = 0;
  std::map<uint64_t, std::string> records;   // seq -> protocol::EncodeJobRecord
  std::map<uint64_t, std::string> payloads;  // seq -> payload (as the journal's "p:" keys)
};

// One journal change, as shipped in a batch's or a chunk's data.
struct Op {
  enum Kind : uint8_t { kPut = 1, kDelete = 2, kNextSeq = 3, kIncarnation = 4, kHistory = 5 };
  uint8_t kind = kPut;
  uint64_t seq = 0;
  std::string record;   // kPut: the job record; kHistory: the history id
  std::string payload;  // kPut: the payload, if this write carries it
};
std::string EncodeOps(const std::vector<Op>& ops);
bool DecodeOps(const std::string& data, std::vector<Op>* ops);
void ApplyOps(const std::vector<Op>& ops, SimJournal* j);
// A journal as snapshot chunks (the data of each; the last may be empty).
std::vector<std::string> SnapshotOf(const SimJournal& j);

// ---- the fake etcd ----
struct InSync {
  int64_t epoch = 0;
  int primary = -1;          // the node that wrote it
  std::vector<int> backups;  // node indexes
};

class FakeEtcd {
 public:
  struct Holder {
    int node = -1;
    int64_t epoch = 0;  // the key's mod revision
    uint64_t lease = 0;
    std::string history;  // for the last win: the journal it was won with
  };
  bool up = true;
  int64_t rev = 1;
  std::map<std::string, Holder> shards;
  std::map<std::string, InSync> insync;
  std::map<std::string, Holder> last;  // no lease: it outlives every holder

  uint64_t Grant(uint64_t now);
  bool KeepAlive(uint64_t lease, uint64_t now);  // false: not found
  void Revoke(uint64_t lease);
  // Ends leases past their TTL; the shard keys deleted, in order.
  std::vector<std::string> Expire(uint64_t now);
  bool LeaseAlive(uint64_t lease) const { return leases_.count(lease) > 0; }
  // Coordinator::Campaign: the winning revision (the epoch), or 0 when the key is held (*holder
  // set), -1 for a lease that does not exist, -2 when the shard's last win is no longer
  // `after` (someone won it since).
  int64_t Campaign(const std::string& shard, int node, uint64_t lease, int64_t after,
                   const std::string& history, Holder* holder);
  // The shard's last win (/jobnet/<cluster>/last/<shard>): node -1 if never won.
  Holder LastWin(const std::string& shard) const;
  bool SetInSync(const std::string& shard, int64_t epoch, int node, const InSync& set);
  // Deletes the shard's key if `node` holds it at `epoch` (Coordinator::Resign).
  bool Resign(const std::string& shard, int node, int64_t epoch);
  // etcd came back: every lease gets a full TTL again.
  void Restarted(uint64_t now);
  const Holder* Find(const std::string& shard) const;
  // Every win of each shard, in order (for the checks, not for the nodes).
  std::map<std::string, std::vector<Holder>> wins;

 private:
  std::map<uint64_t, uint64_t> leases_;  // id -> expiry, on etcd's clock
  uint64_t next_lease_ = 1;
};

// ---- a node ----
struct ClientReq {
  int client = 0;
  uint64_t req = 0;
  std::string key;
};

// A backup as its primary's shipper sees it (ReplicaShipper::Backup).
struct BackupLink {
  int node = 0;
  bool synced = false;
  bool in = true;
  uint64_t next_try = 0;  // sim ms: when a dropped backup is asked again
  uint64_t gen = 0;       // the socket: answers to an older one are dropped with it
  std::deque<std::string> inbox;
  std::function<void()> on_answer;  // the shipper waits on this backup
};

// What the shipper's wait for one backup's answer ended with: the answer, the backup dropped
// from the in-sync set, or the node holding its shard at a new epoch (start over there).
struct Reply {
  enum Kind : uint8_t { kAnswer, kDropped, kMoved };
  Kind kind = kAnswer;
  protocol::ReplAck ack;
};

// A batch for the journal: the effects of calls since the last one, in order.
struct Batch {
  sched::Effects fx;
  bool has_result = false;  // a run's success is in it
};

// A shard this node serves as its primary: the scheduler core, the shipper, the writer.
struct Primary {
  std::string shard;
  int node = 0;
  int64_t epoch = 0;  // the shipper's epoch (0: none yet)
  uint64_t seq = 0;   // batches shipped in this epoch
  bool in_sync_dirty = true;
  bool alive = true;    // false once the node crashed or gave the shard up
  bool serving = false; // recovered and synced: takes requests
  std::unique_ptr<sched::Scheduler> core;
  std::vector<BackupLink> backups;
  bool writing = false;
  Batch pending;
  std::map<sched::ReplyToken, ClientReq> tokens;
  sched::ReplyToken next_token = 1;
  std::vector<sched::Outcome> held_outcomes;   // arrived while fenced
  std::vector<sched::Dispatch> held_dispatches;
  uint64_t wait_id = 0;  // the shipper's current wait for an answer (a timer of another is void)
  std::function<void(bool)> after_sync;  // what the SyncNow under way goes on with
};
using PrimaryPtr = std::shared_ptr<Primary>;

// A copy of another node's shard (the replica server's Copy).
struct CopyState {
  SimJournal journal;          // durable
  protocol::ReplicaPosition pos;  // durable with it
  std::optional<SimJournal> staging;  // a snapshot coming in (lost on a crash)
  int64_t staging_epoch = 0;
};

struct Node {
  int index = 0;
  std::string id;
  bool up = true;
  bool paused = false;
  uint64_t inc = 0;      // bumps on every crash: what was under way is dropped
  std::vector<std::function<void()>> deferred;  // delivered while paused
  int64_t drift_ppm = 0;
  int64_t wall_offset_ms = 0;

  // Disk (survives a crash, not a wipe).
  std::map<std::string, SimJournal> journals;  // shards served: own, or taken over
  std::map<std::string, CopyState> copies;     // shards backed up
  std::set<std::string> taken;                 // markers of shards taken over

  // Coordination (node/coordination.cpp).
  uint64_t lease = 0;
  bool lease_lost = true;
  bool own_lost = false;     // its own shard was taken over while it ran: a backup from now
  uint64_t valid_until = 0;  // on this node's steady clock
  int64_t epoch = 0;         // of its own shard
  bool coord_busy = false;   // an etcd call of the coordination thread is under way
  bool starting = false;
  uint64_t start_give_up = 0;
  bool follows = false;      // its watch is up
  // Watch events while it cannot reach etcd: its watch resumes from the last revision it
  // handled, so they come once it can again (lost with a crash).
  std::vector<std::function<void()>> watch_backlog;
  std::map<std::string, uint64_t> due;  // shard -> when to campaign (sim ms)
  std::set<std::string> must_hold;
  struct Adopted {
    int64_t epoch = 0;
    bool rewin = false;
  };
  std::map<std::string, Adopted> adopted;

  std::map<std::string, PrimaryPtr> primaries;
  uint64_t replica_busy_until = 0;
};

class World {
 public:
  explicit World(const SimOptions& o);
  // Breaks the cycles a primary's continuations make (they hold the primary), so a finished
  // simulation frees everything (LeakSanitizer, cluster/test.sh --sanitize).
  ~World();
  SimReport Run();

  // ---- time and events (world.cpp) ----
  uint64_t now() const { return now_; }
  void At(uint64_t t, std::function<void()> fn);
  void After(uint64_t d, std::function<void()> fn) { At(now_ + d, std::move(fn)); }
  // Runs fn on node n at time t if it is up and has not crashed since (deferred while paused).
  void AtNode(int n, uint64_t t, std::function<void()> fn);
  uint64_t Mono(int n) const;  // node n's steady clock
  sched::Now NowOf(int n) const;
  std::mt19937_64& rng() { return rng_; }
  uint64_t Between(uint64_t lo, uint64_t hi);
  bool Chance(double p);
  void Trace(const std::string& line);
  void Fail(const std::string& what);
  bool failed() const { return !report_.ok; }

  // ---- the network: a message from node a to node b runs fn on b ----
  // In order, as on one TCP connection; lost across a partition and now and then (a
  // reconnection loses what was queued).
  void Send(int a, int b, std::function<void()> fn);
  // An etcd call from node n: op runs at etcd; done(ok) runs on n (ok false after a timeout or
  // a lost message; a late answer is then dropped).
  void CallEtcd(int n, std::function<void()> op, std::function<void(bool)> done);
  uint64_t DiskMs();

  FakeEtcd& etcd() { return etcd_; }
  Node& node(int n) { return *nodes_[n]; }
  int nodes() const { return static_cast<int>(nodes_.size()); }
  SimReport& report() { return report_; }

  // ---- checks (world.cpp) ----
  // A node answers a client or makes a result durable at (shard, epoch): etcd's holder must be
  // that node now, and no other node may have won the shard since that epoch.
  void CheckActs(int n, const std::string& shard, int64_t epoch, const char* what);
  // A node's answer to a client's submit (through the network).
  void ClientAnswer(const ClientReq& r, bool accepted, const std::string& id);
  // etcd's watch: a shard key went, or was won.
  void ShardDeleted(const std::string& shard);
  void ShardWon(const std::string& shard, int node, int64_t epoch);
  void Watch(int m, std::function<void()> event);
  void EtcdReachable(int m);

  // ---- a node (node_model.cpp) ----
  // Whether node n may act for `shard` now: its fence (lease, margin, epoch held).
  bool Holds(int n, const std::string& shard) const;
  void StartNode(int n);
  void CrashNode(int n, bool wipe);
  void OnClientSubmit(int n, const std::string& shard, const ClientReq& r);
  void OnShardDeleted(int n, const std::string& shard);
  void OnFrame(int backup, int primary, const std::string& frame, uint64_t gen,
               const std::string& shard);
  void OnAnswer(int primary, const std::string& shard, int backup, uint64_t gen,
                const std::string& bytes);

 private:
  // node_model.cpp
  void CoordLoop(int n);
  void KeepAlive(int n);
  void Acquire(int n);
  void CampaignOwn(int n, uint64_t lease);
  void OwnCampaigned(int n, uint64_t lease, bool ok, int64_t won, const FakeEtcd::Holder& holder);
  // The node cannot hold its own shard any more (another node won it since, or its journal
  // is not the one it was last won with): it goes on as a backup, at start too.
  void OwnLost(int n, const std::string& why);
  // At start: a copy of a shard this node won last is its own to serve (a takeover cut short).
  void CheckCopyWon(int n, const std::string& shard);
  void ReadLastWin(int n, const std::string& shard, std::function<void(bool, FakeEtcd::Holder)> k);
  void Adopt(int n, const std::string& shard, int64_t epoch);
  void TakeOverDue(int n);
  void CampaignFor(int n, const std::string& shard, bool must);
  void TakeOver(int n, const std::string& shard);
  void HoldAdopted(int n);
  void RewinAdopted(int n, std::vector<std::string> shards, size_t i);
  int64_t FenceEpoch(int n, const std::string& shard) const;
  PrimaryPtr ServeShard(int n, const std::string& shard, SimJournal* j, bool own);
  void Drive(const PrimaryPtr& p);
  void TickPrimary(const PrimaryPtr& p);
  void Pump(const PrimaryPtr& p);
  void StartBatch(const PrimaryPtr& p);
  void SyncNow(const PrimaryPtr& p, size_t i, std::function<void(bool)> k);
  void Sync(const PrimaryPtr& p, size_t i, std::function<void(bool)> k);
  void SendSnapshot(const PrimaryPtr& p, size_t i, std::function<void(bool)> k);
  void SendChunks(const PrimaryPtr& p, size_t i, std::shared_ptr<std::vector<std::string>> chunks,
                  size_t c, std::function<void(bool)> k);
  void TryRejoin(const PrimaryPtr& p, size_t i, std::function<void(bool)> k);
  void WriteInSync(const PrimaryPtr& p, std::function<void(bool)> k);
  void Ship(const PrimaryPtr& p, std::shared_ptr<Batch> b);
  void AwaitBatch(const PrimaryPtr& p, std::shared_ptr<Batch> b, std::string frame, size_t i);
  // Sends frame to backup i and waits for its answer (Ask/Await).
  void Ask(const PrimaryPtr& p, size_t i, const std::string& frame,
           std::function<void(Reply)> k);
  void Await(const PrimaryPtr& p, size_t i, std::string frame, uint64_t start,
             std::function<void(Reply)> k);
  void SendFrame(const PrimaryPtr& p, size_t i, const std::string& frame);
  std::string Frame(const PrimaryPtr& p, protocol::ReplKind kind, uint64_t seq,
                    std::string data = {}) const;
  void Durable(const PrimaryPtr& p, std::shared_ptr<Batch> b);
  void Execute(const PrimaryPtr& p, sched::Effects& fx, bool fenced);
  void RunJob(const PrimaryPtr& p, const sched::Dispatch& d);
  void Deposed(const PrimaryPtr& p, const std::string& why);

  // world.cpp
  void ScheduleFaults();
  void Fault();
  void Resume(int n, uint64_t inc);
  void Heal();
  void StartClients();
  void ClientSend(int client, const std::string& key, const std::string& shard, uint64_t req);
  // Every acknowledged job of `shard` is in the journal of its serving primary, if it has one.
  void CheckShard(const std::string& shard);
  // Every submit acknowledged, and every acknowledged job final on its shard's primary.
  bool AllEnded(std::string* why);
  void TraceState();  // every node and shard, after a failure

  SimOptions o_;
  std::mt19937_64 rng_;
  uint64_t now_ = 0;
  uint64_t next_event_ = 0;
  std::map<std::pair<uint64_t, uint64_t>, std::function<void()>> events_;
  FakeEtcd etcd_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::weak_ptr<Primary>> primaries_made_;  // every primary, for ~World
  std::set<std::pair<int, int>> cut_;  // node pairs that cannot reach each other (a < b)
  std::set<int> etcd_cut_;             // nodes that cannot reach etcd
  std::map<std::pair<int, int>, uint64_t> link_last_;  // (a, b): the last delivery scheduled
  bool healed_ = false;
  int wipes_left_ = 1;

  // The ledger, kept outside the nodes: what clients were told.
  struct Ledger {
    std::string shard;
    std::string id;     // the acknowledged job id ("" until acked)
    uint64_t req = 0;   // the request whose answer counts
    int client = 0;
  };
  std::map<std::string, Ledger> ledger_;  // by idempotency key
  std::set<std::string> dirty_;  // shards to check after this event
  SimReport report_;
  std::deque<std::string> trace_;
};

}  // namespace jobnet::sim

#endif  // JOBNET_TESTS_SIM_WORLD_HPP_
