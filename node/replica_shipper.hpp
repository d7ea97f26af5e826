// A primary's side of replication (docs/failover.md §6): each journal batch goes to every
// backup of the shard before a client hears of it. Runs on the journal's writing thread
// (JournalOptions::replicate) and, for blobs, on the blob store's writers, one at a time (a
// lock), with one ZeroMQ DEALER socket per backup used strictly as
// request and answer; a socket that does not answer in time is replaced and the frame sent
// again (the backup takes a batch it already holds as a no-op).
//
// A backup whose copy does not end where the next batch begins (a new epoch, a wiped or new
// backup, a gap) is sent a snapshot of the whole journal first. A backup that answers that it
// has seen a later epoch, or has taken the shard over, means this node has been deposed: the
// write fails and the node stops (the scheduler stops on a failed journal write).
//
// While a backup cannot be reached, writes wait for it, for up to drop_after_ms: then it is
// dropped from the shard's in-sync set in etcd (set_in_sync), and only once that write has
// succeeded do batches go on without it. A dropped backup can no longer take the shard over
// (its copy may lack batches). It is asked again every 2 s, and once it answers it gets a
// snapshot and rejoins the set. Without set_in_sync a silent backup is waited for forever.
#ifndef JOBNET_NODE_REPLICA_SHIPPER_HPP_
#define JOBNET_NODE_REPLICA_SHIPPER_HPP_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "jobnet/keys.h"
#include "jobnet/status.h"
#include "protocol/replication.hpp"

namespace jobnet {

class Journal;

struct ReplicaShipperOptions {
  std::string shard;                 // this node's id
  std::vector<std::string> backups;  // their replication endpoints
  // The epoch this node holds its shard at now (coord::Fence::epoch); read before each batch.
  std::function<int64_t()> epoch;
  // How long a backup may take to answer one frame before it is sent again on a new socket.
  uint32_t answer_timeout_ms = 1000;
  // Writes the shard's in-sync set at an epoch (Coordination::SetInSync); kConflict when this
  // node no longer holds the shard at that epoch.
  std::function<Status(int64_t epoch, const std::vector<std::string>& backups)> set_in_sync;
  // How long a silent backup is waited for before it is dropped from the in-sync set.
  uint32_t drop_after_ms = 3000;
  // With a keypair: CURVE to each backup, whose public key server_key gives by its endpoint
  // ("" if unknown: that backup is not used). Empty: plain ZeroMQ.
  CurveKeys curve;
  std::function<std::string(const std::string& endpoint)> server_key;
};

// The shard's blob store, as the shipper reads it (storage/blob_store.hpp).
struct BlobSource {
  // Calls `each` with the hash and size of every complete blob, until it fails.
  std::function<Status(const std::function<Status(const std::string& hash, uint64_t size)>& each)>
      each;
  // Up to kBlobChunkBytesMax bytes of complete blob `hash` from `offset`.
  std::function<Result<std::string>(const std::string& hash, uint64_t offset)> read;
  // Whether blob `hash` is complete here.
  std::function<bool(const std::string& hash)> has;
};

struct ReplicaShipperStats {
  std::atomic<uint64_t> batches{0};     // batches durable on every backup
  std::atomic<uint64_t> snapshots{0};   // snapshots sent to a backup
  std::atomic<uint64_t> resends{0};     // frames sent again after a silent backup
  std::atomic<uint64_t> bytes{0};       // bytes shipped, snapshots included
  std::atomic<uint64_t> waiting_us{0};  // time spent past the local write, waiting on backups
  std::atomic<uint64_t> dropped{0};     // backups dropped from the in-sync set
  std::atomic<uint64_t> rejoined{0};    // dropped backups back in it
  std::atomic<uint32_t> in_sync{0};     // backups in the in-sync set now
  std::atomic<uint64_t> blobs{0};       // blobs held by every in-sync backup before their ack
  std::atomic<uint64_t> blob_bytes{0};  // blob bytes shipped, catch-up included
};

class ReplicaShipper {
 public:
  static Status Create(ReplicaShipperOptions options, std::unique_ptr<ReplicaShipper>* out);
  ~ReplicaShipper();
  ReplicaShipper(const ReplicaShipper&) = delete;
  ReplicaShipper& operator=(const ReplicaShipper&) = delete;

  // The journal snapshots are read from: set once, after it is opened, before its first write.
  void SetJournal(const Journal* journal);
  // The shard's blob store and callback secret (each backup keeps both beside its copy): set
  // once, before the first write. Without a blob source no blob is shipped.
  void SetBlobs(BlobSource source);
  void SetCallbackSecret(std::string secret);
  // Puts complete blob `hash` of `size` bytes on every backup in the in-sync set, and returns
  // once each holds it (parts of kBlobChunkBytesMax, from where the backup's copy ends), or has
  // been dropped from the set (silent, or unable to store it): so a blob acknowledged to its
  // writer is on every node that may take the shard over. kConflict if this node has been
  // deposed. Thread-safe: it waits for a journal batch under way, and batches wait for it.
  Status ShipBlob(const std::string& hash, uint64_t size);
  // Tells the in-sync backups that the sweep removed these blobs here (those not put here again
  // meanwhile). Best effort: a backup that misses it keeps the blobs until it serves the shard,
  // whose sweep removes them. Thread-safe.
  void ForgetBlobs(const std::vector<std::string>& hashes);
  // JournalOptions::replicate: ships `batch`, runs the local write, waits for every backup.
  // Returns the local write's error if it failed; kConflict if a backup says this node has
  // been deposed. Only the journal's writing thread calls it (it holds the shipper's lock).
  Status Replicate(const std::string& batch, const std::function<Status()>& write_local);
  // Brings every backup up to date now (a snapshot where needed) and writes the in-sync set,
  // instead of at the first batch: for a shard just taken over, whose backups hold nothing of
  // it yet. Thread-safe.
  Status SyncNow();
  const ReplicaShipperStats& stats() const { return stats_; }
  // One more backup (thread-safe; false, and no effect, if it is one already or past
  // kPeersMax): the
  // shard's own node, come back after it was deposed (failover.md §7). It starts out of the
  // in-sync set, is asked at the next SyncNow or write (and every 2 s while silent) and, once
  // it answers, is filled by snapshot and joins the set, as a dropped backup rejoins.
  bool AddBackup(const std::string& endpoint);
  // This journal is no longer its shard's (the node does not serve it, failover.md §7): its
  // writes stay local, and no backup hears of them. For good.
  void Disable() { disabled_ = true; }

 private:
  struct Backup;
  explicit ReplicaShipper(ReplicaShipperOptions options);
  // Sends `frame` to backup `b` and waits for its answer, sending again on a new socket
  // after each silent answer_timeout_ms. kUnavailable once `b` has been dropped (b.in false);
  // other failures only when the node is deposed.
  Status Ask(Backup& b, const std::string& frame, std::string* answer);
  Status Await(Backup& b, const std::string& frame, std::string* answer);
  // Makes backup `b` hold this journal at (epoch_, seq_): asks where it stands, and sends a
  // snapshot if it is not there.
  Status Sync(Backup& b);
  Status SendSnapshot(Backup& b);
  // A frame of this shard, epoch and journal history.
  std::string Frame(protocol::ReplKind kind, uint64_t seq, std::string data = {}) const;
  // Drops `b` from the in-sync set (etcd first). False if the set could not be written.
  bool Drop(Backup& b);
  // A dropped backup that answers a probe is synced and put back in the set.
  Status TryRejoin(Backup& b);
  // Writes the in-sync set if it changed and was not written yet; kConflict if deposed.
  Status WriteInSync();
  // This node holds its shard at another epoch than the one being shipped (it lost its lease
  // and won the shard again): what is under way starts over at the new epoch.
  bool EpochMoved() const { return options_.epoch && options_.epoch() != epoch_; }

  // Backups added by AddBackup, taken into backups_ by the writing thread.
  void TakeAdded();
  Status SyncLocked();
  // Puts blob `hash` on backup `b`: OK once it holds it or has been dropped from the set.
  Status ShipBlobTo(Backup& b, const std::string& hash, uint64_t size);
  // Every complete blob, to a backup being filled by a snapshot (before its last chunk).
  Status ShipAllBlobsTo(Backup& b);

  const ReplicaShipperOptions options_;
  // Held by every operation on the backups (batches, syncs, blobs, forgets): one at a time.
  std::mutex work_mu_;
  BlobSource blobs_;
  std::string callback_secret_;  // sent with each probe
  std::mutex added_mu_;
  std::vector<std::string> added_;  // guarded by added_mu_
  std::set<std::string> known_;     // every backup, configured or added; guarded by added_mu_
  const Journal* journal_ = nullptr;
  std::string history_;  // the journal's history id, sent with every frame
  std::vector<std::unique_ptr<Backup>> backups_;
  int64_t epoch_ = 0;
  uint64_t seq_ = 0;           // the last batch written in this epoch
  bool in_sync_dirty_ = true;  // the in-sync set changed since it was last written
  std::atomic<bool> disabled_{false};
  ReplicaShipperStats stats_;
};

}  // namespace jobnet

#endif  // JOBNET_NODE_REPLICA_SHIPPER_HPP_
