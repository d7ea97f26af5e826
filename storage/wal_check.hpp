// Tells a WAL torn by a crash from a WAL damaged before its last synced write, which RocksDB's
// recovery modes cannot: point-in-time recovery drops everything after the first bad record,
// and "tolerate corrupted tail" both refuses some torn tails and passes some damage.
#ifndef JOBNET_STORAGE_WAL_CHECK_HPP_
#define JOBNET_STORAGE_WAL_CHECK_HPP_

#include <cstdint>
#include <string>

#include "jobnet/status.h"

namespace jobnet {

// Reads the write-ahead logs (NNNNNN.log) of the RocksDB directory `dir` in file-number order,
// record by record (RocksDB's log format, docs/journal.md). Every write is synced before the
// next begins, so a crash can only damage the end of the last write: damage with nothing whole
// after it is a torn tail and is OK. If a whole record (checksum valid, the first or only
// fragment of a write) begins anywhere after damage, that write was synced after the damaged
// one and recovery would drop it: returns kCorruption naming the file and offset of the damage
// and where the next whole record is. kStorage if a file cannot be read.
Status CheckWalFiles(const std::string& dir);

}  // namespace jobnet

#endif  // JOBNET_STORAGE_WAL_CHECK_HPP_
