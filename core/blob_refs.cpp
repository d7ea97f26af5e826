// Blob reference counts by job; see blob_refs.hpp.
#include "core/blob_refs.hpp"

#include <cstring>

#include <msgpack.hpp>

#include "jobnet/limits.h"
#include "protocol/messages.hpp"
#include "protocol/msgpack_bounded.hpp"

namespace jobnet::sched {

std::vector<std::string> BlobRefs::Named(const std::string& msgpack) {
  std::vector<std::string> out;
  // Most payloads name no blob: skip the decode unless a key could be there (recovery runs this
  // for every job in the journal).
  if (memmem(msgpack.data(), msgpack.size(), "image", 5) == nullptr &&
      memmem(msgpack.data(), msgpack.size(), "blob", 4) == nullptr)
    return out;
  msgpack::object_handle oh;
  if (!protocol::UnpackBounded(msgpack.data(), msgpack.size(), limits::kReplyFrameBytesMax, &oh).ok())
    return out;
  const msgpack::object& o = oh.get();
  if (o.type != msgpack::type::MAP) return out;
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::STR) continue;
    std::string key(kv.key.via.str.ptr, kv.key.via.str.size);
    if (key != "image" && key != "blob") continue;
    std::string val(kv.val.via.str.ptr, kv.val.via.str.size);
    if (protocol::IsBlobHash(val)) out.push_back(std::move(val));
  }
  return out;
}

void BlobRefs::Ref(const std::vector<std::string>& hashes) {
  for (const auto& h : hashes) counts_[h]++;
}

void BlobRefs::Unref(const std::vector<std::string>& hashes) {
  for (const auto& h : hashes) {
    auto it = counts_.find(h);
    if (it == counts_.end()) continue;
    if (--it->second == 0) counts_.erase(it);
  }
}

void BlobRefs::AddJob(uint64_t seq, const std::string& payload) {
  auto named = Named(payload);
  if (named.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  Held& h = by_job_[seq];
  Ref(named);
  h.inputs.insert(h.inputs.end(), named.begin(), named.end());
}

void BlobRefs::AddResult(uint64_t seq, const std::string& result) {
  auto named = Named(result);
  if (named.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  Held& h = by_job_[seq];
  Unref(h.results);  // a job has one result: a second success replaces the first
  h.results = named;
  Ref(named);
}

void BlobRefs::RemoveJob(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_job_.find(seq);
  if (it == by_job_.end()) return;
  Unref(it->second.inputs);
  Unref(it->second.results);
  by_job_.erase(it);
}

bool BlobRefs::Referenced(const std::string& hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_.count(hash) != 0;
}

size_t BlobRefs::blobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_.size();
}

}  // namespace jobnet::sched
