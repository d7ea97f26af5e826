// The node's journal: every accepted job and every state change, in RocksDB. No CAF here.
// Key layout (docs/journal.md mirrors it; all integers big-endian so keys sort numerically):
//
//   "m:format"                    -> "2"  (other values are refused)
//   "m:incarnation"               -> fixed64   bumped and synced on every read-write open
//   "m:next_seq"                  -> fixed64   next job sequence number to hand out
//   "m:history"                   -> 32 hex digits, random, written when the journal is made:
//                                    names its history, so a backup can tell a primary's
//                                    journal from one that replaced it (docs/failover.md §6)
//   "m:replica"                   -> a backup's copy only: the position it holds (ReplicaPosition)
//   "m:workers"                   -> fixed32(workers) fixed32(configured)   the pool size of the
//                                    last `workers set`, and the configured size it replaced
//   "j:" fixed64(seq)             -> job_record   (protocol/job_record.hpp), without the payload
//   "p:" fixed64(seq)             -> the payload: one msgpack value, written once with the job
//   "h:" fixed64(seq) fixed32(n)  -> event_record, the n-th state change of that job
//   "c:" fixed64(seq)             -> callback_record (protocol/job_record.hpp): the delivery of
//                                    the job's callback, first written in the batch that makes
//                                    the job final
//   "s:" name                     -> schedule_record (protocol/job_record.hpp), one per schedule
//   "q:" name                     -> queue_record (protocol/job_record.hpp): a queue's settings
//   "e:" fixed64(event seq)       -> stream_record: a run of consecutive events of the node-wide
//                                    event stream (jobnet/events.h), the key naming the first;
//                                    one event per "h:" record (and per progress report), in
//                                    records of up to limits::kStreamRecordEventsMax written in
//                                    the same batch; whole records beyond events_kept are trimmed
#ifndef JOBNET_STORAGE_JOURNAL_HPP_
#define JOBNET_STORAGE_JOURNAL_HPP_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jobnet/status.h"
#include "protocol/job_record.hpp"
#include "protocol/replication.hpp"

namespace rocksdb {
class DB;
class Iterator;
}

namespace jobnet {

struct JournalOptions {
  // Open without writing (the `jobnet journal` tool). A read-only open neither bumps the
  // incarnation nor takes the directory lock, so it refuses a journal a live node holds.
  bool read_only = false;
  // fsync every write batch (WriteOptions.sync). Only tests and benchmarks turn it off.
  bool sync = true;
  // Test seam: called before every write; a non-OK status is returned instead of writing
  // (simulates a full disk or a failed fsync).
  std::function<Status(size_t records)> before_write;
  // Where RocksDB's warnings and errors go, one line each. RocksDB's own LOG file is not used:
  // it would sit on the journal's disk, and on a full disk RocksDB 7.8 aborts (an assertion in
  // its file writer) when it logs again after a failed append. Empty: stderr.
  std::function<void(const std::string& line)> log;
  // Events of the event stream ("e:" keys) to keep: a write that takes the count past this by
  // limits::kEventsTrimChunk deletes the oldest (docs/journal.md "Event stream").
  uint64_t events_kept = limits::kEventsKeptDefault;
  // Synchronous replication (docs/failover.md §6): when set, Write hands each batch's bytes to
  // it with the local synced write to run; it returns OK only once the batch is durable here
  // and on every backup (it ships the batch, runs `write_local`, then awaits the backups).
  // Called on the writing thread only, between writes, so it may read the journal (a snapshot
  // for a backup that needs one sees exactly the batches written so far).
  std::function<Status(const std::string& batch, const std::function<Status()>& write_local)>
      replicate;
  // Open with RocksDB's automatic compactions off until EnableCompactions(): a node reads its
  // jobs back first and compacts after it serves. The L0 files a SIGKILL leaves would otherwise
  // be compacted during recovery, on one of the two cores recovery uses (1M jobs: about a third
  // of the CPU while recovering).
  bool defer_compactions = false;
};

// Where a backup's copy of a shard stands ("m:replica"): protocol/replication.hpp.
using protocol::ReplicaPosition;

// The worker pool size set at runtime (`jobnet workers set`), kept across restarts, with the
// configured size (--workers or the config file) in force when it was set: at start the set size
// wins unless the configured size has changed since (docs/operations.md). workers == 0: none.
struct PoolSetting {
  uint32_t workers = 0;
  uint32_t configured = 0;
};

struct JournalStats {
  uint64_t batches = 0;
  uint64_t records = 0;
  // The last write's time inside RocksDB's synced Write (append + fdatasync), without building
  // the batch: the part of a write the disk decides.
  uint64_t last_sync_us = 0;
};

class Journal {
 public:
  // Opens (creating if missing, unless read-only) the journal in `dir`. Returns kLocked if a
  // running node holds it; kCorruption if a write-ahead log is damaged anywhere but in its
  // unsynced tail (the message names the file and what RocksDB dropped); kStorageFull if the
  // disk is full; kStorage for any other RocksDB failure.
  static Status Open(const std::string& dir, const JournalOptions& options,
                     std::unique_ptr<Journal>* out);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // This open's incarnation (the bumped value; for a read-only open, the stored one).
  uint64_t incarnation() const { return incarnation_; }
  // The journal's history id ("m:history"); "" for a read-only open of a journal without one.
  const std::string& history() const { return history_; }

  // Turns RocksDB's automatic compactions on after an open with defer_compactions.
  Status EnableCompactions();

  // Writes one atomic, synced batch: job records with their events, purges, and next_seq
  // (when non-zero). A job's payload is written with its first record (the write that carries
  // event 0). Blocks for the fsync. kStorageFull when the disk is full: nothing of the batch is
  // durable, the journal refuses writes, and a later Write (the same batch again) first asks
  // RocksDB to resume; it succeeds once space returns. Any other failure is kStorage.
  // `pool` (when pool.workers != 0) goes into the same batch; schedule records are put or
  // deleted after the jobs, in their order; `queues` are queue settings, each replacing the
  // queue's record.
  // Every event of `writes` also gets the next event-stream seq, and the batch's events go in
  // "e:" records of up to limits::kStreamRecordEventsMax each; when `events` is not null, the events the batch made durable are appended to it (in
  // seq order). A failed write hands out no seqs: the same batch written again gets the same.
  Status Write(const std::vector<protocol::JobWrite>& writes, const std::vector<uint64_t>& deletes,
               uint64_t next_seq, const PoolSetting& pool = PoolSetting{},
               const std::vector<protocol::ScheduleWrite>& schedules = {},
               const std::vector<protocol::QueueSettings>& queues = {},
               std::vector<protocol::StateEvent>* events = nullptr);
  // A backup's copy (docs/failover.md §6). Applies one write batch shipped by the shard's
  // primary (RocksDB WriteBatch bytes) with the new position, as one atomic write, synced when
  // `sync`; with `clear_first` the copy is emptied in the same write (a snapshot's first
  // chunk). kCorruption if `batch` is not a well-formed batch of puts and deletes of journal
  // keys (checked before anything is written).
  Status ApplyReplica(const std::string& batch, bool clear_first, const ReplicaPosition& pos,
                      bool sync);
  // The copy's position; all zero for a journal that is no copy.
  Status LoadReplicaPosition(ReplicaPosition* out) const;
  // The whole journal as write batches of about `chunk_bytes` each (a snapshot for a backup),
  // read at one point in time; `fn` gets each batch's bytes and whether it is the last (a
  // journal always yields at least one, possibly empty). Stops at fn's first error.
  Status SnapshotChunks(size_t chunk_bytes,
                        const std::function<Status(std::string batch, bool last)>& fn) const;

  // The last pool size written (workers == 0 if none). kCorruption if the record is damaged.
  Status LoadPoolSetting(PoolSetting* out) const;
  // Hands every schedule to `fn`, in name order (recovery). kCorruption names the key.
  Status LoadSchedules(const std::function<void(protocol::Schedule&&)>& fn) const;
  // Every queue's settings, by name (recovery: before the jobs). kCorruption names the key.
  Status LoadQueues(std::vector<protocol::QueueSettings>* out) const;

  // Reads the stored next_seq (0 if none), then hands every job to `fn` in seq order
  // (recovery). `fn` may move from the job: recovery streams a million jobs straight into the
  // scheduler instead of holding them all twice. kCorruption names the key.
  Status LoadAll(uint64_t* next_seq, const std::function<void(protocol::Job&&)>& fn) const;
  // The same, collected into *jobs (tests, small journals).
  Status LoadAll(std::vector<protocol::Job>* jobs, uint64_t* next_seq) const;
  // Calls fn for each job in seq order until it returns false; fn may move from the job.
  Status ForEachJob(const std::function<bool(protocol::Job&)>& fn) const;

  // ForEachJob in two stages, so decoding can be shared between threads (recovery): ScanJobs
  // hands each job's records, undecoded, in seq order until fn returns false; a JobDecoder
  // (one per thread) turns each into the job ForEachJob would have given. For a journal nobody
  // writes meanwhile (recovery, the offline tools).
  struct ScannedJob {
    uint64_t seq = 0;  // from the record's key
    std::string record;
    bool has_payload = false;
    std::string payload;
    bool has_callback = false;
    std::string callback;  // its delivery record
  };
  class JobDecoder {
   public:
    explicit JobDecoder(const Journal& journal);
    ~JobDecoder();
    JobDecoder(const JobDecoder&) = delete;
    JobDecoder& operator=(const JobDecoder&) = delete;
    // kCorruption names the record that does not decode or does not belong where it is.
    Result<protocol::Job> Decode(ScannedJob&& scanned);

   private:
    const Journal& journal_;
    std::unique_ptr<rocksdb::Iterator> events_;  // opened at the first job with a history
  };
  Status ScanJobs(const std::function<bool(ScannedJob&&)>& fn) const;
  // The stored next_seq (0 if none).
  Status LoadNextSeq(uint64_t* next_seq) const;
  Result<protocol::Job> Get(uint64_t seq) const;
  // The payload of job `seq` (its "p:" record); kNotFound if there is none. Thread-safe: the
  // scheduler reads payloads it dropped while the writer writes.
  Result<std::string> LoadPayload(uint64_t seq) const;
  // The event stream: the seq the next event gets (1 for a new journal; recovered at open from
  // the last "e:" key), and the oldest event still kept (== next_event_seq() when none is).
  // Safe to call from any thread while another writes.
  uint64_t next_event_seq() const { return next_event_seq_.load(std::memory_order_acquire); }
  uint64_t oldest_event_seq() const { return oldest_event_seq_.load(std::memory_order_acquire); }
  // Hands the kept events with from_seq <= seq <= to_seq to `fn`, in seq order, until fn
  // returns false or scan_max events were read. *covered_to is the seq up to which the range
  // was looked at: to_seq when it was read to the end, else the last event handed to fn.
  // kCorruption names a record that does not decode. Any thread.
  Status ReadEvents(uint64_t from_seq, uint64_t to_seq, uint32_t scan_max,
                    const std::function<bool(protocol::StateEvent&&)>& fn,
                    uint64_t* covered_to) const;
  Status History(uint64_t seq, std::vector<std::pair<uint32_t, protocol::JobEvent>>* out) const;
  // Checks every block checksum of the stored files, every record decodes, every job's events exist and are numbered 0..n-1, no event
  // belongs to a missing job, and next_seq is past every job. Problems go to *problems.
  Status Verify(std::vector<std::string>* problems, uint64_t* jobs_checked) const;

  const JournalStats& stats() const { return stats_; }

  // True if another process holds the journal's lock (a running node).
  static bool IsLocked(const std::string& dir);

 private:
  Journal() = default;
  std::unique_ptr<rocksdb::DB> db_;
  JournalOptions options_;
  uint64_t incarnation_ = 0;
  std::string history_;
  JournalStats stats_;
  bool full_ = false;  // the last write failed for want of space: resume before the next
  // Written by the one writing thread, read by event readers.
  std::atomic<uint64_t> next_event_seq_{1};
  std::atomic<uint64_t> oldest_event_seq_{1};
};

}  // namespace jobnet

#endif  // JOBNET_STORAGE_JOURNAL_HPP_
