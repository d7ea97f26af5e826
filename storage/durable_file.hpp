// Small files that must survive a crash whole or not at all: written beside, synced, renamed
// over, the directory synced (a copy's callback secret, the principals added while a node
// runs). No RocksDB here.
#ifndef JOBNET_STORAGE_DURABLE_FILE_HPP_
#define JOBNET_STORAGE_DURABLE_FILE_HPP_

#include <sys/types.h>

#include <string>

#include "jobnet/status.h"

namespace jobnet::storage {

// Replaces `path` with `contents` (mode `mode`) so that a crash leaves the old file or the new
// one. kStorage naming the file when a step fails.
Status ReplaceFileDurably(const std::string& path, const std::string& contents, mode_t mode);
// Makes a rename in `dir` durable ("" is the current directory). Best effort.
void SyncDir(const std::string& dir);

}  // namespace jobnet::storage

#endif  // JOBNET_STORAGE_DURABLE_FILE_HPP_
