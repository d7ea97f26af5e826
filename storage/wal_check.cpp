// WAL damage check; see wal_check.hpp. The log format (RocksDB db/log_format.h, legacy records:
// we never turn on WAL recycling or compression):
//
//   file     := block*                      each block 32768 bytes, the last one may be short
//   block    := record* trailer?            trailer: < 7 zero bytes that cannot hold a header
//   record   := checksum: fixed32 (little-endian, masked crc32c of type and payload)
//               length: fixed16 (little-endian) type: uint8 payload: byte[length]
//   type     := 1 full | 2 first | 3 middle | 4 last   (fragments of one write batch)
#include "storage/wal_check.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "base/parse.hpp"

namespace jobnet {
namespace {

constexpr size_t kBlockBytes = 32768;
constexpr size_t kHeaderBytes = 7;
constexpr uint8_t kFullType = 1;
constexpr uint8_t kFirstType = 2;
constexpr uint8_t kLastType = 4;

// crc32c (Castagnoli), as RocksDB's util/crc32c (not a public header), table-driven.
uint32_t Crc32c(const uint8_t* p, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// RocksDB stores crc rotated and offset, so a crc of data holding crcs is not trivially zero.
uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

// Length of the record starting at `p` (with `avail` bytes left in its block) if its header and
// checksum are valid; otherwise nothing.
std::optional<size_t> ValidRecord(const uint8_t* p, size_t avail, uint8_t* type) {
  if (avail < kHeaderBytes) return std::nullopt;
  *type = p[6];
  if (*type < kFullType || *type > kLastType) return std::nullopt;
  size_t length = p[4] | (size_t{p[5]} << 8);
  if (kHeaderBytes + length > avail) return std::nullopt;
  uint32_t stored = p[0] | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
  if (Crc32c(p + 6, length + 1) != Unmask(stored)) return std::nullopt;
  return kHeaderBytes + length;
}

}  // namespace

Status CheckWalFiles(const std::string& dir) {
  std::map<uint64_t, std::filesystem::path> wals;  // by file number
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const auto& path = it->path();
    std::string stem = path.stem().string();
    if (auto number = base::ParseUint(stem); path.extension() == ".log" && number)
      wals[*number] = path;
  }
  if (ec) return Status::Storage("cannot list " + dir + ": " + ec.message());

  std::string damaged_file;  // where the first damage is, if any
  uint64_t damaged_at = 0;
  std::vector<uint8_t> block(kBlockBytes);
  for (const auto& [number, path] : wals) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return Status::Storage("cannot read " + path.string());
    for (uint64_t block_start = 0;; block_start += kBlockBytes) {
      f.read(reinterpret_cast<char*>(block.data()), kBlockBytes);
      size_t n = static_cast<size_t>(f.gcount());
      if (n == 0) break;
      size_t pos = 0;
      while (pos + kHeaderBytes <= n) {
        uint8_t type = 0;
        if (auto len = ValidRecord(block.data() + pos, n - pos, &type)) {
          if (!damaged_file.empty() && (type == kFullType || type == kFirstType))
            return Status::Corruption(
                damaged_file + " is damaged at byte " + std::to_string(damaged_at) +
                ", before a write that was synced after it (a whole record at byte " +
                std::to_string(block_start + pos) + " of " + path.filename().string() + ")");
          pos += *len;
          continue;
        }
        // Not a valid record: damage, or the end torn by a crash. Look for the next whole record
        // byte by byte (a damaged length says nothing about where it is).
        if (damaged_file.empty()) {
          damaged_file = path.filename().string();
          damaged_at = block_start + pos;
        }
        ++pos;
      }
      if (n < kBlockBytes) break;
    }
    if (f.bad()) return Status::Storage("cannot read " + path.string());
  }
  return Status::OK();
}

}  // namespace jobnet
