// sha256: payload is a string or bin; result is its SHA-256 as lower-case hex.
#include <openssl/evp.h>

#include "handlers/registry.hpp"

namespace jobnet::handlers {
namespace {

HandlerResult Sha256(const msgpack::object& payload, HandlerContext&) {
  std::string data;
  if (!AsString(payload, &data)) return HandlerResult::Fail("sha256 wants a string payload");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    return HandlerResult::Fail("sha256: digest failed");
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return HandlerResult::Ok(hex);
}

JOBNET_HANDLER("sha256", Sha256,
               (PayloadRule{"data: a string (or bin)", "its SHA-256 as 64 lower-case hex digits",
                            CheckText}));

}  // namespace
}  // namespace jobnet::handlers
