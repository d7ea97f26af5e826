// libFuzzer target for the HTTP face's JWT check (http/jwt.cpp): bearer tokens as a stranger
// sends them. The first byte picks the mode: even, the rest is the token as is (header
// parsing, key choice, libjwt's decoding); odd, the rest is a claims payload this harness signs
// with the JWKS's own ES256 key, so the claim checks behind a valid signature are reached too.
// Invariants: no input crashes; a grant comes only from a signed token, never holds `peer`, and
// is refused again once past its exp plus the leeway.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "base/base64.hpp"
#include "http/jwt.hpp"
#include "protocol/scopes.hpp"

namespace {

std::string B64Url(const std::string& bytes) {
  std::string s = jobnet::base::Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

std::string Coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(32, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_free(bn);
  return out;
}

struct Harness {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  std::unique_ptr<jobnet::http::JwtVerifier> verifier;
  Harness() {
    char path[] = "/tmp/jwt_fuzz.XXXXXX";
    int fd = mkstemp(path);
    nlohmann::json jwks = {{"keys",
                            {{{"kty", "EC"}, {"crv", "P-256"}, {"kid", "k"},
                              {"x", B64Url(Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X))},
                              {"y", B64Url(Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y))}}}}};
    const std::string text = jwks.dump();
    if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
    close(fd);
    jobnet::http::JwtOptions o;
    o.jwks = path;
    o.issuer = "i";
    o.audience = "a";
    auto v = jobnet::http::JwtVerifier::Make(o);
    std::remove(path);
    if (!v.ok()) std::abort();
    verifier = std::move(v.value());
  }
  // header.payload signed ES256 (r || s) with the JWKS's key.
  std::string Sign(const std::string& payload) const {
    std::string input = B64Url(R"({"alg":"ES256","kid":"k"})") + "." + B64Url(payload);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string der(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return input + "." + B64Url(raw);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness h;
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool signed_here = data[0] & 1;
  const std::string token = signed_here ? h.Sign(rest) : rest;
  constexpr int64_t kNow = 1'800'000'000;
  auto grant = h.verifier->Verify(token, kNow);
  if (!grant.ok()) return 0;
  if (!signed_here) std::abort();  // a stranger's bytes verified: only our key signs
  if (grant.value().scopes & jobnet::protocol::kScopePeer) std::abort();
  if (h.verifier->Verify(token, grant.value().expires_s + 61).ok()) std::abort();
  return 0;
}
