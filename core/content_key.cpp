// SHA-256 content key (content_key.hpp), with OpenSSL's libcrypto.
#include "core/content_key.hpp"

#include <openssl/evp.h>

#include "base/check.hpp"

namespace jobnet::sched {

std::string ContentKey(const std::string& type, const std::string& payload) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  JOBNET_CHECK(ctx != nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const char zero = '\0';
  // SHA-256 over memory cannot fail short of an allocation failure inside OpenSSL.
  bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, type.data(), type.size()) == 1 &&
            EVP_DigestUpdate(ctx, &zero, 1) == 1 &&
            EVP_DigestUpdate(ctx, payload.data(), payload.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, digest, &len) == 1;
  EVP_MD_CTX_free(ctx);
  JOBNET_CHECK(ok && len == 32);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

}  // namespace jobnet::sched
