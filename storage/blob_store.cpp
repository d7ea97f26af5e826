// RocksDB blob store; key layout in blob_store.hpp.
#include "storage/blob_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>

#include "base/clock.hpp"
#include "base/sha256.hpp"
#include "protocol/try.hpp"
#include "storage/rocks_logger.hpp"
#include "storage/rocks_status.hpp"

namespace jobnet {
namespace {

constexpr uint64_t kChunk = limits::kBlobChunkBytesMax;

void PutFixed(std::string* s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t GetFixed(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string MetaKey(const std::string& hash) { return "B:" + hash; }
std::string ChunkKey(const std::string& hash, uint64_t index) {
  std::string k = "b:" + hash;
  PutFixed(&k, index, 4);
  return k;
}
// Chunks of a blob of `size` bytes (an empty blob has one empty chunk).
uint64_t ChunkCount(uint64_t size) { return size == 0 ? 1 : (size + kChunk - 1) / kChunk; }

// As storage::FromRocks, and a lock error (another process holds the store open) is kLocked.
Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.IsIOError() && !s.IsNoSpace() && s.ToString().find("lock") != std::string::npos)
    return Status::Locked(what + ": " + s.ToString());
  return storage::FromRocks(s, what);
}

std::string EncodeMeta(bool complete, uint64_t size, uint64_t received, uint64_t touched_ms) {
  std::string v(1, complete ? '\1' : '\0');
  PutFixed(&v, size, 8);
  PutFixed(&v, received, 8);
  PutFixed(&v, touched_ms, 8);
  return v;
}

}  // namespace

Status BlobStore::Open(const std::string& dir, const BlobStoreOptions& options,
                       std::unique_ptr<BlobStore>* out) {
  std::unique_ptr<BlobStore> store(new BlobStore());
  store->options_ = options;
  auto logger = std::make_shared<storage::RocksLogger>("rocksdb (blobs)", options.log);
  store->logger_ = logger;
  rocksdb::Options o;
  o.create_if_missing = true;
  o.info_log = logger;
  // BlobDB: values of 4 KiB and more (every chunk of a real image) live in blob files, so
  // compaction moves keys, not megabytes; the garbage of removed blobs is collected.
  o.enable_blob_files = true;
  o.min_blob_size = 4096;
  o.enable_blob_garbage_collection = true;
  o.keep_log_file_num = 2;
  // RocksDB would log an error probing for a directory that is not there yet.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Storage("create blob store " + dir + ": " + ec.message());
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(o, dir, &db);
  if (!s.ok()) return FromRocks(s, "open blob store " + dir);
  store->db_.reset(db);
  // Count what is there (a few thousand meta records at most: cheap).
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("B:"); it->Valid() && it->key().starts_with("B:"); it->Next()) {
    if (it->value().size() != 25) return Status::Corruption("blob meta " + it->key().ToString() + " is not 25 bytes");
    if (it->value()[0] == '\1') {
      store->stats_.blobs++;
      store->stats_.bytes += GetFixed(it->value().data() + 1, 8);
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan blob store " + dir);
  *out = std::move(store);
  return Status::OK();
}

BlobStore::~BlobStore() {
  if (db_) db_->Close().PermitUncheckedError();
}

uint64_t BlobStore::Now() const {
  if (options_.now_ms) return options_.now_ms();
  return base::WallMs();
}

Status BlobStore::LoadMeta(const std::string& hash, Meta* meta, bool* found) const {
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), MetaKey(hash), &v);
  if (s.IsNotFound()) {
    *found = false;
    return Status::OK();
  }
  if (!s.ok()) return FromRocks(s, "read blob " + hash);
  if (v.size() != 25) return Status::Corruption("blob meta of " + hash + " is not 25 bytes");
  *found = true;
  meta->complete = v[0] == '\1';
  meta->size = GetFixed(v.data() + 1, 8);
  meta->received = GetFixed(v.data() + 9, 8);
  meta->touched_ms = GetFixed(v.data() + 17, 8);
  return Status::OK();
}

Status BlobStore::ReadChunk(const std::string& hash, uint32_t index, std::string* out) const {
  auto s = db_->Get(rocksdb::ReadOptions(), ChunkKey(hash, index), out);
  if (s.IsNotFound())
    return Status::Corruption("blob " + hash + " lacks chunk " + std::to_string(index));
  return FromRocks(s, "read blob " + hash);
}

Status BlobStore::Remove(const std::string& hash) {
  rocksdb::WriteBatch b;
  auto s = b.DeleteRange(ChunkKey(hash, 0), ChunkKey(hash, 0xffffffffu));
  if (s.ok()) s = b.Delete(ChunkKey(hash, 0xffffffffu));
  if (s.ok()) s = b.Delete(MetaKey(hash));
  if (s.ok()) s = db_->Write(rocksdb::WriteOptions(), &b);
  return FromRocks(s, "remove blob " + hash);
}

Status BlobStore::Replicated(const std::string& hash, uint64_t size) const {
  if (!options_.replicate) return Status::OK();
  Status s = options_.replicate(hash, size);
  if (s.ok()) return s;
  return Status(s.code(), "blob " + hash + " is stored on this node but not on its shard's "
                          "backups (" + s.message() + "); put it again");
}

Result<protocol::BlobStoredReply> BlobStore::PutChunk(const protocol::BlobPutRequest& r) {
  auto reply = PutChunkHere(r);
  if (reply.ok() && reply.value().complete)
    JOBNET_TRY(Replicated(r.hash, reply.value().size));
  return reply;
}

Result<std::string> BlobStore::WriteBlob(const std::string& data) {
  auto hash = WriteBlobHere(data);
  if (hash.ok()) JOBNET_TRY(Replicated(hash.value(), data.size()));
  return hash;
}

Result<protocol::BlobStoredReply> BlobStore::Progress(const std::string& hash,
                                                      uint64_t size) const {
  Meta m;
  bool found = false;
  JOBNET_TRY(LoadMeta(hash, &m, &found));
  protocol::BlobStoredReply reply{hash, size, 0, false};
  if (!found || (!m.complete && m.size != size)) return reply;
  reply.size = m.size;
  reply.received = m.received;
  reply.complete = m.complete;
  return reply;
}

Status BlobStore::Forget(const std::vector<std::string>& hashes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& hash : hashes) {
    Meta m;
    bool found = false;
    JOBNET_TRY(LoadMeta(hash, &m, &found));
    if (!found) continue;
    JOBNET_TRY(Remove(hash));
    if (m.complete) {
      stats_.blobs--;
      stats_.bytes -= m.size;
    }
    stats_.removed++;
  }
  return Status::OK();
}

Status BlobStore::ForEachComplete(
    const std::function<Status(const std::string& hash, uint64_t size)>& each) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("B:"); it->Valid() && it->key().starts_with("B:"); it->Next()) {
    if (it->value().size() != 25 || it->value()[0] != 1) continue;  // partial
    JOBNET_TRY(each(it->key().ToString().substr(2), GetFixed(it->value().data() + 1, 8)));
  }
  return FromRocks(it->status(), "scan blobs");
}

Result<protocol::BlobStoredReply> BlobStore::PutChunkHere(const protocol::BlobPutRequest& r) {
  JOBNET_TRY(protocol::Validate(r, options_.blob_bytes_max));
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t now = Now();
  Meta m;
  bool found = false;
  JOBNET_TRY(LoadMeta(r.hash, &m, &found));
  protocol::BlobStoredReply reply{r.hash, r.size, 0, false};
  if (found && m.complete) {
    // Already here (the same bytes, by their hash): only the grace period restarts.
    auto s = db_->Put(rocksdb::WriteOptions(), MetaKey(r.hash),
                      EncodeMeta(true, m.size, m.size, now));
    JOBNET_TRY(FromRocks(s, "touch blob " + r.hash));
    reply.size = reply.received = m.size;
    reply.complete = true;
    return reply;
  }
  if (!found || m.size != r.size) {
    // A new upload (or one that claims another size for this hash: start it again).
    if (r.offset != 0)
      return Status::InvalidArgument("no upload of blob " + r.hash +
                                     " is under way: send its first chunk (offset 0) first");
    if (found) JOBNET_TRY(Remove(r.hash));
    m = Meta{false, r.size, 0, now};
  }
  if (r.offset > m.received)
    return Status::InvalidArgument("blob " + r.hash + ": chunk at offset " +
                                   std::to_string(r.offset) + " is out of order; the node has " +
                                   std::to_string(m.received) + " bytes");
  const uint64_t received = std::max(m.received, r.offset + r.data.size());
  const bool last = received == r.size;
  rocksdb::WriteBatch b;
  auto s = b.Put(ChunkKey(r.hash, r.offset / kChunk), r.data);
  if (s.ok()) s = b.Put(MetaKey(r.hash), EncodeMeta(false, r.size, received, now));
  if (s.ok()) s = db_->Write(rocksdb::WriteOptions(), &b);
  JOBNET_TRY(FromRocks(s, "write blob " + r.hash));
  reply.received = received;
  if (!last) return reply;
  // The last chunk: the bytes must be what the hash names before anyone can use them.
  base::Sha256 h;
  std::string chunk;
  for (uint64_t i = 0; i < ChunkCount(r.size); ++i) {
    JOBNET_TRY(ReadChunk(r.hash, static_cast<uint32_t>(i), &chunk));
    h.Update(chunk.data(), chunk.size());
  }
  if (h.HexDigest() != r.hash) {
    JOBNET_TRY(Remove(r.hash));
    return Status::InvalidArgument("the " + std::to_string(r.size) +
                                   " bytes uploaded do not have the SHA-256 " + r.hash +
                                   "; the upload is dropped");
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;  // durable, with every chunk written before it
  s = db_->Put(wo, MetaKey(r.hash), EncodeMeta(true, r.size, r.size, now));
  JOBNET_TRY(FromRocks(s, "complete blob " + r.hash));
  stats_.blobs++;
  stats_.bytes += r.size;
  reply.complete = true;
  return reply;
}

Result<protocol::BlobDataReply> BlobStore::GetChunk(const protocol::BlobGetRequest& r) {
  Meta m;
  bool found = false;
  JOBNET_TRY(LoadMeta(r.hash, &m, &found));
  if (!found || !m.complete) return Status::NotFound("blob " + r.hash + " is not on this node");
  if (r.offset > m.size)
    return Status::InvalidArgument("offset " + std::to_string(r.offset) + " is past the end of blob " +
                                   r.hash + " (" + std::to_string(m.size) + " bytes)");
  uint64_t want = std::min<uint64_t>(r.length == 0 ? kChunk : std::min<uint64_t>(r.length, kChunk),
                                     m.size - r.offset);
  protocol::BlobDataReply out{r.hash, m.size, r.offset, {}};
  uint64_t at = r.offset;
  std::string chunk;
  while (out.data.size() < want) {
    JOBNET_TRY(ReadChunk(r.hash, static_cast<uint32_t>(at / kChunk), &chunk));
    uint64_t from = at % kChunk;
    if (from >= chunk.size()) return Status::Corruption("blob " + r.hash + " has a short chunk");
    uint64_t n = std::min<uint64_t>(chunk.size() - from, want - out.data.size());
    out.data.append(chunk, from, n);
    at += n;
  }
  return out;
}

Result<std::string> BlobStore::ReadBlob(const std::string& hash) {
  Meta m;
  bool found = false;
  JOBNET_TRY(LoadMeta(hash, &m, &found));
  if (!found || !m.complete) return Status::NotFound("blob " + hash + " is not on this node");
  std::string out, chunk;
  out.reserve(m.size);
  for (uint64_t i = 0; i < ChunkCount(m.size); ++i) {
    JOBNET_TRY(ReadChunk(hash, static_cast<uint32_t>(i), &chunk));
    out += chunk;
  }
  if (out.size() != m.size)
    return Status::Corruption("blob " + hash + " has " + std::to_string(out.size()) +
                              " bytes; its record says " + std::to_string(m.size));
  return out;
}

Result<uint64_t> BlobStore::BlobSize(const std::string& hash) {
  Meta m;
  bool found = false;
  JOBNET_TRY(LoadMeta(hash, &m, &found));
  if (!found || !m.complete) return Status::NotFound("blob " + hash + " is not on this node");
  return m.size;
}

Result<std::string> BlobStore::WriteBlobHere(const std::string& data) {
  if (data.size() > options_.blob_bytes_max)
    return Status::TooLarge("blob of " + std::to_string(data.size()) + " bytes; the limit is " +
                            std::to_string(options_.blob_bytes_max));
  std::string hash = base::Sha256Hex(data);
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t now = Now();
  Meta m;
  bool found = false;
  JOBNET_TRY(LoadMeta(hash, &m, &found));
  rocksdb::WriteBatch b;
  rocksdb::Status s;
  if (!found || !m.complete) {
    if (found) JOBNET_TRY(Remove(hash));
    for (uint64_t i = 0; s.ok() && i < ChunkCount(data.size()); ++i) {
      uint64_t off = i * kChunk;
      s = b.Put(ChunkKey(hash, i),
                rocksdb::Slice(data.data() + off, std::min<uint64_t>(kChunk, data.size() - off)));
    }
  }
  if (s.ok()) s = b.Put(MetaKey(hash), EncodeMeta(true, data.size(), data.size(), now));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync && !(found && m.complete);  // a touch need not be durable
  if (s.ok()) s = db_->Write(wo, &b);
  JOBNET_TRY(FromRocks(s, "write blob " + hash));
  if (!(found && m.complete)) {
    stats_.blobs++;
    stats_.bytes += data.size();
  }
  return hash;
}

Result<uint64_t> BlobStore::Sweep(const std::function<bool(const std::string& hash)>& referenced) {
  // Collect first, then remove each under the lock after looking again: an upload or a touch
  // between the scan and the removal keeps its blob.
  std::vector<std::string> candidates;
  {
    const uint64_t now = Now();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("B:"); it->Valid() && it->key().starts_with("B:"); it->Next()) {
      if (it->value().size() != 25) continue;  // Open refused such a store; a bug elsewhere
      uint64_t touched = GetFixed(it->value().data() + 17, 8);
      if (now >= touched + options_.grace_ms) candidates.push_back(it->key().ToString().substr(2));
    }
    JOBNET_TRY(FromRocks(it->status(), "scan blobs"));
  }
  uint64_t removed = 0;
  std::vector<std::string> gone;
  for (const auto& hash : candidates) {
    if (referenced(hash)) continue;
    std::lock_guard<std::mutex> lock(mu_);
    Meta m;
    bool found = false;
    JOBNET_TRY(LoadMeta(hash, &m, &found));
    if (!found || Now() < m.touched_ms + options_.grace_ms) continue;
    JOBNET_TRY(Remove(hash));
    if (m.complete) {
      stats_.blobs--;
      stats_.bytes -= m.size;
    }
    stats_.removed++;
    removed++;
    gone.push_back(hash);
  }
  if (!gone.empty() && options_.removed) options_.removed(gone);
  return removed;
}

BlobStoreStats BlobStore::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace jobnet
