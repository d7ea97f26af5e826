// A blob store in memory for unit tests of code that takes a protocol::BlobAccess.
#ifndef JOBNET_TESTS_MEMORY_BLOBS_HPP_
#define JOBNET_TESTS_MEMORY_BLOBS_HPP_

#include <map>
#include <mutex>
#include <string>

#include "base/sha256.hpp"
#include "protocol/blob_access.hpp"

namespace jobnet::testing {

class MemoryBlobs : public protocol::BlobAccess {
 public:
  Result<std::string> ReadBlob(const std::string& hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blobs_.find(hash);
    if (it == blobs_.end()) return Status::NotFound("blob " + hash + " is not on this node");
    return it->second;
  }
  Result<uint64_t> BlobSize(const std::string& hash) override {
    auto r = ReadBlob(hash);
    if (!r.ok()) return r.status();
    return static_cast<uint64_t>(r.value().size());
  }
  Result<std::string> WriteBlob(const std::string& data) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string h = base::Sha256Hex(data);
    blobs_[h] = data;
    return h;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> blobs_;
};

}  // namespace jobnet::testing

#endif  // JOBNET_TESTS_MEMORY_BLOBS_HPP_
