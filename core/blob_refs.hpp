// Which blobs the node's jobs refer to: the input blobs their payloads name and the result
// blobs their results name, counted per blob. The scheduler core keeps it up to date (submit,
// recovery, success, purge); the blob store's sweep asks it before removing a blob. It lives in
// memory only and is rebuilt from the journal's jobs at every start, so it cannot disagree with
// them after a crash. Thread-safe: the scheduler writes it, the blob sweep reads it.
#ifndef JOBNET_CORE_BLOB_REFS_HPP_
#define JOBNET_CORE_BLOB_REFS_HPP_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobnet::sched {

class BlobRefs {
 public:
  // The blobs a payload or result (raw msgpack) names: the values of its top-level keys
  // "image" and "blob" that are SHA-256 hex strings (docs/protocol.md "Blobs").
  static std::vector<std::string> Named(const std::string& msgpack);

  // Job `seq` came in (submit or recovery) with this payload; it holds the blobs it names
  // until it is purged.
  void AddJob(uint64_t seq, const std::string& payload);
  // Job `seq` succeeded with this result; it also holds the blobs the result names.
  void AddResult(uint64_t seq, const std::string& result);
  // Job `seq` is gone (purged): its blobs lose a reference each.
  void RemoveJob(uint64_t seq);

  bool Referenced(const std::string& hash) const;
  size_t blobs() const;

 private:
  struct Held {
    std::vector<std::string> inputs;
    std::vector<std::string> results;
  };
  void Ref(const std::vector<std::string>& hashes);    // caller holds mu_
  void Unref(const std::vector<std::string>& hashes);  // caller holds mu_

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Held> by_job_;  // only jobs that hold a blob
  std::unordered_map<std::string, uint32_t> counts_;
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_BLOB_REFS_HPP_
