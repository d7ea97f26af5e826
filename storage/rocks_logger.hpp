// RocksDB's info log for the stores in storage/ (the journal, the blob store): its warnings go
// to the caller's log sink instead of a LOG file on the data disk (a full disk must not also
// fill up with RocksDB's complaints about it). It also keeps RocksDB's reports of dropped WAL
// bytes: they name the damaged file, which the Status of a failed open does not.
#ifndef JOBNET_STORAGE_ROCKS_LOGGER_HPP_
#define JOBNET_STORAGE_ROCKS_LOGGER_HPP_

#include <cstdarg>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <rocksdb/env.h>

namespace jobnet::storage {

class RocksLogger : public rocksdb::Logger {
 public:
  using Sink = std::function<void(const std::string&)>;
  // Each line goes to `sink` as "<prefix>: <text>" (to stderr when sink is empty); only
  // warnings and worse are logged.
  RocksLogger(std::string prefix, Sink sink);

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;

  // The "dropping N bytes" reports seen so far, joined with "; " ("" if none).
  std::string Dropped();

 private:
  const std::string prefix_;
  const Sink sink_;
  std::mutex mu_;
  std::vector<std::string> dropped_;
};

}  // namespace jobnet::storage

#endif  // JOBNET_STORAGE_ROCKS_LOGGER_HPP_
