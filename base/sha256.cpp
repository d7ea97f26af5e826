// SHA-256 through libcrypto's EVP interface.
#include "base/sha256.hpp"

#include <openssl/evp.h>

#include "base/check.hpp"

namespace jobnet::base {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(new Ctx) {
  ctx_->md = EVP_MD_CTX_new();
  // Out of memory or a libcrypto without SHA-256: nothing sensible can go on.
  JOBNET_CHECK(ctx_->md != nullptr && EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::Update(const char* data, std::size_t n) {
  JOBNET_CHECK(EVP_DigestUpdate(ctx_->md, data, n) == 1);
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  JOBNET_CHECK(EVP_DigestFinal_ex(ctx_->md, digest, &len) == 1);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

std::string Sha256Hex(const char* data, std::size_t n) {
  Sha256 h;
  h.Update(data, n);
  return h.HexDigest();
}

}  // namespace jobnet::base
