// RocksDB's info log to our sink: see rocks_logger.hpp.
#include "storage/rocks_logger.hpp"

#include <cstdio>
#include <cstring>
#include <iostream>

namespace jobnet::storage {

RocksLogger::RocksLogger(std::string prefix, Sink sink)
    : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL),
      prefix_(std::move(prefix)),
      sink_(std::move(sink)) {}

void RocksLogger::Logv(const char* format, va_list ap) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, format, ap);
  std::string line = prefix_ + ": " + buf;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::strstr(buf, "dropping") != nullptr) dropped_.push_back(buf);
  }
  if (sink_) {
    sink_(line);
  } else {
    std::cerr << line << "\n";
  }
}

std::string RocksLogger::Dropped() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& d : dropped_) out += (out.empty() ? "" : "; ") + d;
  return out;
}

}  // namespace jobnet::storage
