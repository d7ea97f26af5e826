// SHA-256 in lower-case hex: the name of a blob (storage, client, handlers all compute it).
// OpenSSL's libcrypto does the work; this wrapper keeps its types out of the callers.
#ifndef JOBNET_BASE_SHA256_HPP_
#define JOBNET_BASE_SHA256_HPP_

#include <cstddef>
#include <memory>
#include <string>

namespace jobnet::base {

// An incremental digest: Update any number of times, then HexDigest once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const char* data, std::size_t n);
  // 64 lower-case hex digits. The object is spent afterwards.
  std::string HexDigest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string Sha256Hex(const char* data, std::size_t n);
inline std::string Sha256Hex(const std::string& data) { return Sha256Hex(data.data(), data.size()); }

}  // namespace jobnet::base

#endif  // JOBNET_BASE_SHA256_HPP_
