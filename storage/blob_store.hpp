// The node's content-addressed blob store: images and other large inputs and results, named by
// their SHA-256. A RocksDB of its own in <data>/blobs, beside the journal, with BlobDB's blob
// files on (large values are not rewritten by compaction). No CAF here.
// Key layout (docs/journal.md "Blob store" mirrors it; integers big-endian):
//
//   "B:" hash                   -> blob_meta := state: u8 (0 partial, 1 complete)
//                                               size: fixed64  received: fixed64
//                                               touched_ms: fixed64 (last put, chunk or touch)
//   "b:" hash fixed32(chunk)    -> that chunk's bytes: kBlobChunkBytesMax each but the last
//
// hash is the 64 hex digits. Which blobs are in use is not stored: the jobs in the journal name
// them (core/blob_refs.hpp), so it can never disagree with the jobs after a crash. Sweep()
// removes a blob no job refers to once its grace period since the last put has passed.
#ifndef JOBNET_STORAGE_BLOB_STORE_HPP_
#define JOBNET_STORAGE_BLOB_STORE_HPP_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jobnet/limits.h"
#include "jobnet/status.h"
#include "protocol/blob_access.hpp"
#include "protocol/messages.hpp"

namespace rocksdb {
class DB;
}

namespace jobnet {

struct BlobStoreOptions {
  // Larger blobs are refused with kTooLarge (the node's --blob-mb-max).
  uint64_t blob_bytes_max = limits::kBlobBytesMaxDefault;
  // A blob no job refers to, or a partial upload, is removed this long after its last put.
  uint64_t grace_ms = limits::kBlobGraceMsDefault;
  // fsync the write that completes a blob. Only tests turn it off.
  bool sync = true;
  // The clock (ms since the epoch): a seam for tests. Unset: the system clock.
  std::function<uint64_t()> now_ms;
  // RocksDB's warnings and errors, one line each (as JournalOptions::log). Unset: stderr.
  std::function<void(const std::string& line)> log;
  // With backups (docs/failover.md §6): puts blob `hash` of `size` bytes, complete here, on
  // every backup of the shard; a put or write answers complete only once this has succeeded
  // (its error otherwise: the blob stays here, and a put of it again ships it again). Called
  // without the store's lock, on the writer's thread.
  std::function<Status(const std::string& hash, uint64_t size)> replicate;
  // Told the blobs a sweep removed (so that the backups remove theirs). Unset: nobody.
  std::function<void(const std::vector<std::string>& hashes)> removed;
};

struct BlobStoreStats {
  uint64_t blobs = 0;  // complete blobs held
  uint64_t bytes = 0;  // their bytes
  uint64_t removed = 0;  // blobs and partial uploads removed by sweeps since open
};

class BlobStore : public protocol::BlobAccess {
 public:
  // Opens (creating if missing) the store in `dir`. kLocked if another process holds it;
  // kStorage / kCorruption otherwise.
  static Status Open(const std::string& dir, const BlobStoreOptions& options,
                     std::unique_ptr<BlobStore>* out);
  ~BlobStore() override;
  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Takes one chunk of an upload (protocol::BlobPutRequest has the rules). The chunk that
  // completes the blob is checked against the hash and written synced before this returns
  // complete. A chunk for a blob already complete is not written again: the answer is complete
  // and the grace period restarts. kInvalidArgument for a chunk out of order (received says
  // where to go on) or content that does not match the hash (the upload is dropped);
  // kTooLarge over blob_bytes_max; kStorage / kStorageFull when the write fails.
  Result<protocol::BlobStoredReply> PutChunk(const protocol::BlobPutRequest& r);
  // Up to r.length bytes (0: kBlobChunkBytesMax) from r.offset of a complete blob.
  // kNotFound if there is no such complete blob; kInvalidArgument for an offset past its end.
  Result<protocol::BlobDataReply> GetChunk(const protocol::BlobGetRequest& r);

  // protocol::BlobAccess: whole blobs, for handlers.
  Result<std::string> ReadBlob(const std::string& hash) override;
  Result<uint64_t> BlobSize(const std::string& hash) override;
  Result<std::string> WriteBlob(const std::string& data) override;

  // Removes every complete blob that `referenced` says no job names and whose grace period is
  // over, and every partial upload untouched for the grace period. Returns how many it removed.
  // The deletes are not synced: one a crash undoes is done again by the next sweep.
  Result<uint64_t> Sweep(const std::function<bool(const std::string& hash)>& referenced);

  // Where an upload of `hash` stands here: received = the bytes held from 0 (0 if none, or if
  // the upload under way is of another size than `size`), complete once it is whole.
  Result<protocol::BlobStoredReply> Progress(const std::string& hash, uint64_t size) const;
  // Removes these blobs, complete or partial, at once (a backup's copy, told of a sweep).
  Status Forget(const std::vector<std::string>& hashes);
  // Calls `each` with the hash and size of every complete blob, in hash order, until it fails.
  Status ForEachComplete(
      const std::function<Status(const std::string& hash, uint64_t size)>& each) const;

  BlobStoreStats stats() const;
  uint64_t blob_bytes_max() const { return options_.blob_bytes_max; }

 private:
  struct Meta {
    bool complete = false;
    uint64_t size = 0;
    uint64_t received = 0;
    uint64_t touched_ms = 0;
  };
  BlobStore() = default;
  uint64_t Now() const;
  Result<protocol::BlobStoredReply> PutChunkHere(const protocol::BlobPutRequest& r);
  Result<std::string> WriteBlobHere(const std::string& data);
  // Runs options_.replicate for a blob complete here.
  Status Replicated(const std::string& hash, uint64_t size) const;
  // *found = false if there is no meta record for `hash`.
  Status LoadMeta(const std::string& hash, Meta* meta, bool* found) const;
  // Reads chunk `index` of `hash` into *out.
  Status ReadChunk(const std::string& hash, uint32_t index, std::string* out) const;
  // Deletes the chunks and meta of `hash` (not synced). Caller holds mu_.
  Status Remove(const std::string& hash);

  std::unique_ptr<rocksdb::DB> db_;
  std::shared_ptr<void> logger_;  // rocksdb::Logger, kept alive with the db
  BlobStoreOptions options_;
  // Serialises writers: chunk uploads, handler writes and sweeps read-modify-write meta records.
  // Readers (ReadBlob, GetChunk) do not take it.
  mutable std::mutex mu_;
  BlobStoreStats stats_;  // guarded by mu_
};

}  // namespace jobnet

#endif  // JOBNET_STORAGE_BLOB_STORE_HPP_
