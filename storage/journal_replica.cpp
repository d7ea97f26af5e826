// A journal as a backup's copy of a shard, and as the source of a snapshot for one
// (docs/failover.md §6). Part of class Journal (journal.hpp).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>

#include "storage/journal.hpp"
#include "storage/rocks_status.hpp"

namespace jobnet {
namespace {

using storage::FromRocks;

constexpr char kReplicaKey[] = "m:replica";
// Every journal key starts with a lower-case letter and ':' (journal.hpp), so this range holds
// them all.
constexpr char kAllBegin[] = "a";
constexpr char kAllEnd[] = "{";  // 'z' + 1

bool JournalKey(const rocksdb::Slice& key) {
  return key.size() >= 2 && key[0] >= 'a' && key[0] <= 'z' && key[1] == ':' &&
         key != rocksdb::Slice(kReplicaKey);
}

// A shipped batch is RocksDB's WriteBatch encoding (db/write_batch.cc): fixed64 sequence,
// fixed32 count, then `count` records of a tag byte and varint32-length-prefixed slices. The
// journal writes only puts, deletes and range deletes in the default column family. RocksDB's
// own WriteBatch::Iterate asserts on some malformed input (Debian builds it with assertions),
// so a shipped batch is parsed here, within its bytes, and copied into `out` record by record.
constexpr uint8_t kTagDelete = 0x0;       // key
constexpr uint8_t kTagPut = 0x1;          // key, value
constexpr uint8_t kTagDeleteRange = 0xF;  // begin key, end key
constexpr size_t kBatchHeader = 12;

bool ReadSlice(const char** p, const char* end, rocksdb::Slice* out) {
  uint32_t len = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (*p == end) return false;
    const uint8_t byte = static_cast<uint8_t>(*(*p)++);
    len |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (static_cast<size_t>(end - *p) < len) return false;
      *out = rocksdb::Slice(*p, len);
      *p += len;
      return true;
    }
  }
  return false;  // a varint32 of more than five bytes
}

Status CopyShippedBatch(const std::string& batch, rocksdb::WriteBatch* out) {
  if (batch.size() < kBatchHeader) return Status::Corruption("shorter than its header");
  uint32_t count = 0;
  for (int i = 0; i < 4; ++i)
    count |= static_cast<uint32_t>(static_cast<uint8_t>(batch[8 + i])) << (8 * i);
  const char* p = batch.data() + kBatchHeader;
  const char* const end = batch.data() + batch.size();
  uint32_t found = 0;
  while (p != end) {
    const uint8_t tag = static_cast<uint8_t>(*p++);
    rocksdb::Slice a, b;
    if (!ReadSlice(&p, end, &a)) return Status::Corruption("a record runs past the end");
    if (tag != kTagDelete && !ReadSlice(&p, end, &b))
      return Status::Corruption("a record runs past the end");
    if (!JournalKey(a) || (tag == kTagDeleteRange && !JournalKey(b)))
      return Status::Corruption("a write of a key that is no journal key: " + a.ToString(true));
    rocksdb::Status s;
    switch (tag) {
      case kTagPut:
        s = out->Put(a, b);
        break;
      case kTagDelete:
        s = out->Delete(a);
        break;
      case kTagDeleteRange:
        s = out->DeleteRange(a, b);
        break;
      default:
        return Status::Corruption("a record of kind " + std::to_string(tag) +
                                  ", which the journal never writes");
    }
    if (!s.ok()) return Status::Corruption(s.ToString());
    ++found;
  }
  if (found != count)
    return Status::Corruption("holds " + std::to_string(found) + " records, its header says " +
                              std::to_string(count));
  return Status::OK();
}

// fixed64 epoch, fixed64 seq, a complete byte, then the history id.
constexpr size_t kPositionBytes = 17;
constexpr size_t kHistoryBytesMax = 64;

std::string EncodePosition(const ReplicaPosition& p) {
  std::string v(kPositionBytes, '\0');
  for (int i = 0; i < 8; ++i) {
    v[i] = static_cast<char>(static_cast<uint64_t>(p.epoch) >> (56 - 8 * i));
    v[8 + i] = static_cast<char>(p.seq >> (56 - 8 * i));
  }
  v[16] = p.complete ? 1 : 0;
  return v + p.history.substr(0, kHistoryBytesMax);
}

}  // namespace

Status Journal::ApplyReplica(const std::string& batch, bool clear_first, const ReplicaPosition& pos,
                             bool sync) {
  if (options_.read_only) return Status::Internal("journal opened read-only");
  rocksdb::WriteBatch w;
  if (clear_first && !w.DeleteRange(kAllBegin, kAllEnd).ok())
    return Status::Internal("cannot clear the copy");
  if (!batch.empty()) {
    if (Status s = CopyShippedBatch(batch, &w); !s.ok())
      return Status::Corruption("shipped batch refused: " + s.message());
  }
  w.Put(kReplicaKey, EncodePosition(pos));
  rocksdb::WriteOptions wo;
  wo.sync = sync && options_.sync;
  return FromRocks(db_->Write(wo, &w), "apply a shipped batch");
}

Status Journal::LoadReplicaPosition(ReplicaPosition* out) const {
  *out = ReplicaPosition{};
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kReplicaKey, &v);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return FromRocks(s, "read the replica position");
  if (v.size() < kPositionBytes || v.size() > kPositionBytes + kHistoryBytesMax)
    return Status::Corruption("m:replica has a bad length");
  uint64_t epoch = 0, seq = 0;
  for (int i = 0; i < 8; ++i) {
    epoch = (epoch << 8) | static_cast<uint8_t>(v[i]);
    seq = (seq << 8) | static_cast<uint8_t>(v[8 + i]);
  }
  out->epoch = static_cast<int64_t>(epoch);
  out->seq = seq;
  out->complete = v[16] != 0;
  out->history = v.substr(kPositionBytes);
  return Status::OK();
}

Status Journal::SnapshotChunks(size_t chunk_bytes,
                               const std::function<Status(std::string, bool)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;                                        // a snapshot reads everything once
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));  // one point in time
  rocksdb::WriteBatch chunk;
  for (it->Seek(kAllBegin); it->Valid(); it->Next()) {
    if (!JournalKey(it->key())) continue;  // this journal's own copy position, if it is one
    if (chunk.GetDataSize() >= chunk_bytes) {
      if (Status s = fn(chunk.Data(), false); !s.ok()) return s;
      chunk.Clear();
    }
    chunk.Put(it->key(), it->value());
  }
  if (Status s = FromRocks(it->status(), "read the journal for a snapshot"); !s.ok()) return s;
  return fn(chunk.Count() == 0 ? std::string() : chunk.Data(), true);
}

}  // namespace jobnet
