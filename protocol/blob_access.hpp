// What a job handler may do with the node's blob store: read an input blob, store a result blob.
// An interface here (std only) so handlers/ and storage/, which must not meet, share it: the
// store implements it, the node hands it to the handlers (HandlerContext::blobs).
#ifndef JOBNET_PROTOCOL_BLOB_ACCESS_HPP_
#define JOBNET_PROTOCOL_BLOB_ACCESS_HPP_

#include <cstdint>
#include <string>

#include "jobnet/status.h"

namespace jobnet::protocol {

class BlobAccess {
 public:
  virtual ~BlobAccess() = default;
  // The whole blob named `hash`. kNotFound if this node does not hold it (complete); kStorage
  // or kCorruption if it cannot be read. Thread-safe; blocks for the reads.
  virtual Result<std::string> ReadBlob(const std::string& hash) = 0;
  // The size of blob `hash` without reading it. kNotFound as ReadBlob.
  virtual Result<uint64_t> BlobSize(const std::string& hash) = 0;
  // Stores `data` durably (synced) and returns its hash. kTooLarge over the node's blob limit;
  // kStorage / kStorageFull if the write fails. Storing bytes that are already there is cheap
  // and restarts their grace period. Thread-safe; blocks for the write.
  virtual Result<std::string> WriteBlob(const std::string& data) = 0;
};

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_BLOB_ACCESS_HPP_
