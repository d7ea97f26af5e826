// Replication frames; see replication.hpp.
#include "protocol/replication.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <msgpack.hpp>

#include "jobnet/limits.h"
#include "protocol/msgpack_bounded.hpp"

namespace jobnet::protocol {
namespace {

constexpr uint32_t kFrameFields = 7;  // version, kind, shard, epoch, seq, history, data
constexpr uint32_t kAckFields = 7;    // version, code, shard, epoch, seq, complete, message

Status Bad(const std::string& what) { return Status::Corruption("replication frame: " + what); }

// The array of a frame or an ack with `fields` entries and this version.
Status OpenArray(const char* data, size_t size, uint32_t fields, msgpack::object_handle* oh,
                 const msgpack::object** items) {
  if (Status s = UnpackBounded(data, size, kReplicationFrameBytesMax, oh); !s.ok()) return s;
  const msgpack::object& o = oh->get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != fields)
    return Bad("not an array of " + std::to_string(fields));
  *items = o.via.array.ptr;
  if ((*items)[0].type != msgpack::type::POSITIVE_INTEGER ||
      (*items)[0].via.u64 != kReplicationVersion)
    return Bad("unknown version (this node speaks " + std::to_string(kReplicationVersion) + ")");
  return Status::OK();
}

bool ReadUint(const msgpack::object& o, uint64_t* out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
  *out = o.via.u64;
  return true;
}

bool ReadInt(const msgpack::object& o, int64_t* out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 > INT64_MAX) return false;
  *out = static_cast<int64_t>(o.via.u64);
  return true;
}

bool ReadBytes(const msgpack::object& o, std::string* out) {
  if (o.type == msgpack::type::BIN) {
    out->assign(o.via.bin.ptr, o.via.bin.size);
    return true;
  }
  if (o.type == msgpack::type::STR) {
    out->assign(o.via.str.ptr, o.via.str.size);
    return true;
  }
  return false;
}

template <typename Packer>
void PackHeader(Packer& pk, uint32_t fields, uint64_t kind_or_code, const std::string& shard,
                int64_t epoch, uint64_t seq) {
  pk.pack_array(fields);
  pk.pack_uint32(kReplicationVersion);
  pk.pack_uint64(kind_or_code);
  pk.pack_str(static_cast<uint32_t>(shard.size()));
  pk.pack_str_body(shard.data(), static_cast<uint32_t>(shard.size()));
  pk.pack_uint64(static_cast<uint64_t>(epoch < 0 ? 0 : epoch));
  pk.pack_uint64(seq);
}

}  // namespace

bool ValidShardId(const std::string& id) {
  if (id.empty() || id.size() > kShardIdBytesMax || id == "." || id == "..") return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

std::string EncodeReplFrame(const ReplFrame& f) {
  msgpack::sbuffer buf(f.data.size() + 64);
  msgpack::packer<msgpack::sbuffer> pk(buf);
  PackHeader(pk, kFrameFields, static_cast<uint64_t>(f.kind), f.shard, f.epoch, f.seq);
  pk.pack_str(static_cast<uint32_t>(f.history.size()));
  pk.pack_str_body(f.history.data(), static_cast<uint32_t>(f.history.size()));
  pk.pack_bin(static_cast<uint32_t>(f.data.size()));
  pk.pack_bin_body(f.data.data(), static_cast<uint32_t>(f.data.size()));
  return std::string(buf.data(), buf.size());
}

Status DecodeReplFrame(const char* data, size_t size, ReplFrame* out) {
  msgpack::object_handle oh;
  const msgpack::object* it = nullptr;
  if (Status s = OpenArray(data, size, kFrameFields, &oh, &it); !s.ok()) return s;
  uint64_t kind = 0;
  if (!ReadUint(it[1], &kind) || kind < static_cast<uint64_t>(ReplKind::kBatch) ||
      kind > static_cast<uint64_t>(ReplKind::kBlobForget))
    return Bad("unknown kind");
  out->kind = static_cast<ReplKind>(kind);
  if (!ReadBytes(it[2], &out->shard) || !ValidShardId(out->shard)) return Bad("bad shard id");
  if (!ReadInt(it[3], &out->epoch) || out->epoch == 0) return Bad("bad epoch");
  if (!ReadUint(it[4], &out->seq)) return Bad("bad seq");
  if (!ReadBytes(it[5], &out->history) || out->history.size() > kHistoryIdBytesMax)
    return Bad("bad history id");
  if (!ReadBytes(it[6], &out->data)) return Bad("bad data");
  if (out->kind == ReplKind::kBatch && (out->seq == 0 || out->data.empty()))
    return Bad("a batch needs a seq from 1 and data");
  if (out->kind == ReplKind::kProbe && out->data.size() > kSecretBytesMax)
    return Bad("a probe's callback secret is longer than " + std::to_string(kSecretBytesMax));
  if (out->kind == ReplKind::kBlob) {
    ReplBlobPart part;
    if (Status s = DecodeBlobPart(out->data, &part); !s.ok()) return s;
  }
  if (out->kind == ReplKind::kBlobForget) {
    std::vector<std::string> hashes;
    if (Status s = DecodeBlobHashes(out->data, &hashes); !s.ok()) return s;
  }
  return Status::OK();
}

std::string EncodeReplAck(const ReplAck& a) {
  msgpack::sbuffer buf(128 + a.message.size());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  PackHeader(pk, kAckFields, static_cast<uint64_t>(a.code), a.shard, a.epoch, a.seq);
  pk.pack(a.complete);
  const std::string msg = a.message.substr(0, kReplicationMessageBytesMax);
  pk.pack_str(static_cast<uint32_t>(msg.size()));
  pk.pack_str_body(msg.data(), static_cast<uint32_t>(msg.size()));
  return std::string(buf.data(), buf.size());
}

Status DecodeReplAck(const char* data, size_t size, ReplAck* out) {
  msgpack::object_handle oh;
  const msgpack::object* it = nullptr;
  if (Status s = OpenArray(data, size, kAckFields, &oh, &it); !s.ok()) return s;
  uint64_t code = 0;
  if (!ReadUint(it[1], &code) || code > static_cast<uint64_t>(ReplCode::kRefused))
    return Bad("unknown answer code");
  out->code = static_cast<ReplCode>(code);
  if (!ReadBytes(it[2], &out->shard) || !ValidShardId(out->shard)) return Bad("bad shard id");
  if (!ReadInt(it[3], &out->epoch)) return Bad("bad epoch");
  if (!ReadUint(it[4], &out->seq)) return Bad("bad seq");
  if (it[5].type != msgpack::type::BOOLEAN) return Bad("bad complete flag");
  out->complete = it[5].via.boolean;
  if (!ReadBytes(it[6], &out->message) || out->message.size() > kReplicationMessageBytesMax)
    return Bad("bad message");
  return Status::OK();
}

namespace {

bool IsBlobHash(const std::string& h) {
  if (h.size() != limits::kBlobHashHexBytes) return false;
  for (char c : h)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string EncodeBlobPart(const ReplBlobPart& p) {
  msgpack::sbuffer buf(p.bytes.size() + 96);
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(4);
  pk.pack_str(static_cast<uint32_t>(p.hash.size()));
  pk.pack_str_body(p.hash.data(), static_cast<uint32_t>(p.hash.size()));
  pk.pack_uint64(p.size);
  pk.pack_uint64(p.offset);
  pk.pack_bin(static_cast<uint32_t>(p.bytes.size()));
  pk.pack_bin_body(p.bytes.data(), static_cast<uint32_t>(p.bytes.size()));
  return std::string(buf.data(), buf.size());
}

Status DecodeBlobPart(const std::string& data, ReplBlobPart* out) {
  msgpack::object_handle oh;
  if (Status s = UnpackBounded(data.data(), data.size(), kReplicationFrameBytesMax, &oh); !s.ok())
    return s;
  const msgpack::object& o = oh.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) return Bad("not a blob part");
  const msgpack::object* it = o.via.array.ptr;
  if (!ReadBytes(it[0], &out->hash) || !IsBlobHash(out->hash)) return Bad("bad blob hash");
  if (!ReadUint(it[1], &out->size) || !ReadUint(it[2], &out->offset)) return Bad("bad blob size");
  if (!ReadBytes(it[3], &out->bytes) || out->bytes.size() > limits::kBlobChunkBytesMax)
    return Bad("bad blob bytes");
  if (out->size > limits::kBlobBytesMaxMax || out->offset > out->size ||
      out->bytes.size() > out->size - out->offset)
    return Bad("a blob part beyond its blob");
  return Status::OK();
}

std::string EncodeBlobHashes(const std::vector<std::string>& hashes) {
  msgpack::sbuffer buf(hashes.size() * 66 + 8);
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(static_cast<uint32_t>(hashes.size()));
  for (const auto& h : hashes) {
    pk.pack_str(static_cast<uint32_t>(h.size()));
    pk.pack_str_body(h.data(), static_cast<uint32_t>(h.size()));
  }
  return std::string(buf.data(), buf.size());
}

Status DecodeBlobHashes(const std::string& data, std::vector<std::string>* out) {
  msgpack::object_handle oh;
  if (Status s = UnpackBounded(data.data(), data.size(), kReplicationFrameBytesMax, &oh); !s.ok())
    return s;
  const msgpack::object& o = oh.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size > kBlobForgetMax)
    return Bad("not a list of at most " + std::to_string(kBlobForgetMax) + " blob hashes");
  out->clear();
  for (uint32_t i = 0; i < o.via.array.size; ++i) {
    std::string h;
    if (!ReadBytes(o.via.array.ptr[i], &h) || !IsBlobHash(h)) return Bad("bad blob hash");
    out->push_back(std::move(h));
  }
  return Status::OK();
}

CopyDecision DecideCopy(const CopyState& c, const ReplFrame& f) {
  auto answer = [](ReplCode code, std::string message = {}) {
    return CopyDecision{CopyStep::kAnswer, code, std::move(message)};
  };
  const ReplicaPosition& pos = c.pos;
  if (c.released)
    return answer(ReplCode::kStaleEpoch,
                  "this node has taken shard " + f.shard + " over: its sender is deposed");
  const int64_t seen = std::max(pos.epoch, c.staging_epoch);
  if (f.epoch < seen)
    return answer(ReplCode::kStaleEpoch, "this backup has seen epoch " + std::to_string(seen) +
                                             " of shard " + f.shard + ": a sender at epoch " +
                                             std::to_string(f.epoch) + " has been deposed");
  if (pos.complete && !pos.history.empty() && f.history != pos.history)
    return answer(ReplCode::kStaleEpoch,
                  "this backup holds shard " + f.shard + " as journal " + pos.history +
                      ", which the sender's journal " + f.history +
                      " does not continue (its data was lost or replaced): it must not "
                      "overwrite the copy; the copy's node takes the shard over once the "
                      "sender stops");
  switch (f.kind) {
    case ReplKind::kProbe:
      if (!f.data.empty()) return CopyDecision{CopyStep::kKeepSecret, ReplCode::kApplied, {}};
      return answer(ReplCode::kApplied);
    case ReplKind::kBlob:
      return CopyDecision{CopyStep::kApplyBlob, ReplCode::kApplied, {}};
    case ReplKind::kBlobForget:
      return CopyDecision{CopyStep::kForgetBlobs, ReplCode::kApplied, {}};
    case ReplKind::kBatch:
      if (pos.complete && pos.epoch == f.epoch && f.seq <= pos.seq)
        return answer(ReplCode::kApplied);  // a resend of what is applied
      if (!pos.complete || pos.epoch != f.epoch || f.seq != pos.seq + 1)
        return answer(ReplCode::kNeedSnapshot, "the copy does not end where it begins");
      return CopyDecision{CopyStep::kApplyBatch, ReplCode::kApplied, {}};
    case ReplKind::kSnapshotFirst:
      // A snapshot fills a staging copy beside the current one, which stays complete (and may
      // still be taken over) until the last chunk has been applied.
      return CopyDecision{CopyStep::kBeginSnapshot, ReplCode::kApplied, {}};
    case ReplKind::kSnapshotChunk:
    case ReplKind::kSnapshotLast: {
      const bool under_way = c.staging_epoch == f.epoch;
      if (!under_way && f.kind == ReplKind::kSnapshotLast && pos.complete &&
          pos.epoch == f.epoch && pos.seq == f.seq && pos.history == f.history)
        return answer(ReplCode::kApplied);  // a resend of the last chunk, applied
      if (!under_way)
        return answer(ReplCode::kNeedSnapshot, "no snapshot of this epoch under way");
      return CopyDecision{
          f.kind == ReplKind::kSnapshotLast ? CopyStep::kFinishSnapshot : CopyStep::kApplyChunk,
          ReplCode::kApplied,
          {}};
    }
  }
  return answer(ReplCode::kRefused, "unknown frame kind");
}

AckVerdict JudgeAck(const ReplAck& a, int64_t epoch, uint64_t seq) {
  switch (a.code) {
    case ReplCode::kStaleEpoch:
      return AckVerdict::kDeposed;
    case ReplCode::kRefused:
      return AckVerdict::kRefused;
    case ReplCode::kApplied:
      if (a.complete && a.epoch == epoch && a.seq == seq) return AckVerdict::kHolds;
      return AckVerdict::kNeedSnapshot;
    case ReplCode::kNeedSnapshot:
      return AckVerdict::kNeedSnapshot;
  }
  return AckVerdict::kRefused;
}

}  // namespace jobnet::protocol
