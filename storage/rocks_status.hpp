// A RocksDB status as one of ours, for the stores in storage/ (the journal, the blob store).
#ifndef JOBNET_STORAGE_ROCKS_STATUS_HPP_
#define JOBNET_STORAGE_ROCKS_STATUS_HPP_

#include <string>

#include <rocksdb/status.h>

#include "jobnet/status.h"

namespace jobnet::storage {

// OK; kStorageFull for a full disk, kCorruption for damaged files, else kStorage; `what` says
// what was being done.
inline Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  if (s.IsNoSpace()) return Status::StorageFull(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::Storage(what + ": " + s.ToString());
}

}  // namespace jobnet::storage

#endif  // JOBNET_STORAGE_ROCKS_STATUS_HPP_
