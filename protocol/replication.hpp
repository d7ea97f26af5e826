// The replication channel between a shard's primary and its backups (docs/failover.md §6):
// the primary sends its journal's write batches, in order, each tagged with the shard, the
// primary's epoch and a batch sequence number; a backup applies each one synced to its copy of
// the shard and answers with the position it now holds. A backup that cannot apply a batch (a
// gap, an epoch it has not seen from the start) answers kNeedSnapshot, and the primary sends
// its whole journal as a snapshot in chunks, then goes on with the next batch.
//
// Frames are one msgpack array each; this file encodes and decodes them within bounds, without
// ZeroMQ or RocksDB, so they can be fuzzed. What `data` holds (a RocksDB WriteBatch's bytes) is
// checked by the storage layer that applies it.
#ifndef JOBNET_PROTOCOL_REPLICATION_HPP_
#define JOBNET_PROTOCOL_REPLICATION_HPP_

#include <cstdint>
#include <string>
#include <vector>

#include "jobnet/status.h"

namespace jobnet::protocol {

// Version 1 of the replication frames; a frame of another version is refused.
constexpr uint32_t kReplicationVersion = 1;
// A shipped batch is one journal write batch: at most a submit batch of large payloads. A
// frame past this is refused before it is decoded.
constexpr uint64_t kReplicationFrameBytesMax = 512ull << 20;
// Snapshot chunks: big enough that 1M jobs go in a few hundred round trips, small enough that
// a backup holds little of one in memory.
constexpr uint64_t kSnapshotChunkBytes = 4ull << 20;
// A shard id is a node id: letters, digits, '_', '-', '.'; at most this long.
constexpr size_t kShardIdBytesMax = 64;
// A journal's history id: at most this long.
constexpr size_t kHistoryIdBytesMax = 64;
// An answer's message is cut to this.
constexpr size_t kReplicationMessageBytesMax = 1024;

enum class ReplKind : uint8_t {
  kBatch = 1,          // one journal batch: applies on top of position (epoch, seq - 1)
  kSnapshotFirst = 2,  // the first chunk of a snapshot: the copy is emptied, then filled
  kSnapshotChunk = 3,  // a further chunk
  kSnapshotLast = 4,   // the last chunk: the copy is complete at (epoch, seq)
  kProbe = 5,          // asks for the backup's position (a primary starting); data: the
                       // shard's callback secret (or empty), kept beside the copy
  kBlob = 6,           // data: a ReplBlobPart of a blob of the shard's blob store
  kBlobForget = 7,     // data: EncodeBlobHashes of blobs the primary's sweep removed
};

// A shard's blobs (payloads and results stored as blobs) go to its backups too: a blob is
// acknowledged to its writer only once every backup in the in-sync set holds it (as a journal
// batch is), so the jobs that name it find it on whichever node takes the shard over. A part
// with no bytes asks whether the backup holds the blob; the answer to a kBlob frame is kApplied
// with `complete` = the blob is whole there and `seq` = the bytes it holds from 0 (where the
// next part begins), or a refusal as for any frame.
struct ReplBlobPart {
  std::string hash;  // SHA-256, 64 lower-case hex digits
  uint64_t size = 0;  // of the whole blob
  uint64_t offset = 0;
  std::string bytes;  // at most kBlobChunkBytesMax
};
std::string EncodeBlobPart(const ReplBlobPart& p);
// kCorruption unless it is a part with a well-formed hash, within the blob and the chunk limit.
Status DecodeBlobPart(const std::string& data, ReplBlobPart* out);
// At most this many hashes in one kBlobForget frame.
constexpr size_t kBlobForgetMax = 4096;
std::string EncodeBlobHashes(const std::vector<std::string>& hashes);
Status DecodeBlobHashes(const std::string& data, std::vector<std::string>* out);
// A probe carries a callback secret of at most this many bytes.
constexpr size_t kSecretBytesMax = 1024;

struct ReplFrame {
  ReplKind kind = ReplKind::kBatch;
  std::string shard;
  int64_t epoch = 0;  // the primary's epoch (its shard key's mod_revision in etcd)
  uint64_t seq = 0;   // the batch's number in this epoch; a snapshot's position
  // The history id of the primary's journal ("m:history"): a backup whose complete copy
  // follows another history refuses the frame (the sender's journal replaced the one it copied).
  std::string history;
  std::string data;   // a RocksDB WriteBatch's bytes (empty for a probe)
};

enum class ReplCode : uint8_t {
  kApplied = 0,       // applied, synced: the backup holds (epoch, seq)
  kNeedSnapshot = 1,  // the backup cannot apply it on what it holds: send a snapshot
  kStaleEpoch = 2,    // the backup has seen a later epoch of the shard: the sender is deposed
  kRefused = 3,       // anything else (bad data, the backup holds the shard itself, a full disk)
};

struct ReplAck {
  ReplCode code = ReplCode::kApplied;
  std::string shard;
  int64_t epoch = 0;  // the position the backup holds after this frame
  uint64_t seq = 0;
  bool complete = false;  // false while no snapshot has been completed into the copy
  std::string message;
};

std::string EncodeReplFrame(const ReplFrame& f);
// kTooLarge past kReplicationFrameBytesMax, kCorruption for anything that is not a frame of
// this version (with a valid shard id and kind).
Status DecodeReplFrame(const char* data, size_t size, ReplFrame* out);
std::string EncodeReplAck(const ReplAck& a);
Status DecodeReplAck(const char* data, size_t size, ReplAck* out);

// Where a backup's copy of a shard stands ("m:replica" in the copy's journal): the last batch
// applied, as the primary numbered it in its epoch. complete is false until a snapshot has been
// completed into the copy (a copy that is being filled must never be served).
struct ReplicaPosition {
  int64_t epoch = 0;
  uint64_t seq = 0;
  bool complete = false;
  std::string history;  // the primary journal's history id ("m:history") the copy follows
};

// ---- the rules both ends follow (the node's replica server and shipper, and the simulator in
// tests/sim run these same functions) ----

// What a backup keeps of one shard that decides what a frame does to it.
struct CopyState {
  ReplicaPosition pos;        // the copy
  int64_t staging_epoch = 0;  // a snapshot of this epoch is being filled beside it (0: none)
  bool released = false;      // this node has taken the shard over
};

enum class CopyStep : uint8_t {
  kAnswer,          // nothing to apply: answer `code` with the copy's position
  kApplyBatch,      // apply `data` on top of the copy, synced; it then holds (epoch, seq)
  kBeginSnapshot,   // start an empty staging copy at the frame's epoch, then apply `data` to it
  kApplyChunk,      // apply `data` to the staging copy
  kFinishSnapshot,  // apply `data` to the staging copy, which replaces the copy, complete at
                    // (epoch, seq)
  kApplyBlob,       // store the blob part in the shard's copy of its blobs (or say what it holds)
  kForgetBlobs,     // remove these blobs from it
  kKeepSecret,      // keep the probe's callback secret beside the copy, then answer the probe
};

struct CopyDecision {
  CopyStep step = CopyStep::kAnswer;
  ReplCode code = ReplCode::kApplied;  // for kAnswer; the other steps answer kApplied once done
  std::string message;
};

// What frame `f` does to a backup's copy `c` of its shard: refused from a deposed sender (an
// epoch older than any seen, a history other than the one a complete copy follows, a shard
// this node took over), a resend of what is applied, a gap (kNeedSnapshot), or a step to apply.
CopyDecision DecideCopy(const CopyState& c, const ReplFrame& f);

// How a primary reads a backup's answer to a frame it sent at (epoch, seq): the backup holds
// exactly that position now (kHolds), the sender has been deposed, the backup could not write
// (send again later), or it needs a snapshot.
enum class AckVerdict : uint8_t { kHolds, kDeposed, kRefused, kNeedSnapshot };
AckVerdict JudgeAck(const ReplAck& a, int64_t epoch, uint64_t seq);

// Whether `id` may name a shard (and so a directory under the backup's data dir).
bool ValidShardId(const std::string& id);

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_REPLICATION_HPP_
