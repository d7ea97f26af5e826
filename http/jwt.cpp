#include "http/jwt.hpp"

#include <curl/curl.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/base64.hpp"
#include "base/clock.hpp"
#include "protocol/scopes.hpp"

namespace jobnet::http {
namespace {

using Json = nlohmann::json;

constexpr size_t kJwksBytesMax = 1 << 20;  // a JWKS document
constexpr size_t kJwksKeysMax = 64;        // signing keys kept from one
constexpr size_t kTokenBytesMax = 16 << 10;
constexpr size_t kHeaderBytesMax = 2 << 10;
constexpr size_t kSubjectBytesMax = 64;
constexpr uint64_t kRetryMs = 10'000;      // a JWKS URL that failed is tried again after this
constexpr uint64_t kNudgeMinMs = 10'000;   // an unknown `kid` refetches at most this often

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using JwtPtr = std::unique_ptr<jwt_t, Deleter<jwt_t, jwt_free>>;

// A public key from OpenSSL parameters, as PEM (SubjectPublicKeyInfo); "" if OpenSSL refuses it.
std::string PemOf(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return "";
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) return "";
  PkeyPtr key(raw);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) return "";
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

std::string Field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// An RSA JWK (n, e) as PEM; "" if malformed or under 2048 bits.
std::string RsaPem(const Json& jwk) {
  auto n = base::Base64UrlDecode(Field(jwk, "n"));
  auto e = base::Base64UrlDecode(Field(jwk, "e"));
  if (!n || !e || n->size() < 256 || n->size() > 1024 || e->empty() || e->size() > 8) return "";
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  BnPtr be(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  BldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn || !be || !bld || BN_num_bits(bn.get()) < 2048 ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get()))
    return "";
  return PemOf("RSA", bld.get());
}

// A P-256 JWK (x, y) as PEM; "" if malformed or not on the curve. A coordinate shorter than
// 32 bytes is taken as the number it spells: RFC 7518 §6.2.1.2 wants the full length, but some
// libraries (PyJWT 2.6 among them) drop leading zero bytes, once in 128 keys.
std::string EcPem(const Json& jwk) {
  auto x = base::Base64UrlDecode(Field(jwk, "x"));
  auto y = base::Base64UrlDecode(Field(jwk, "y"));
  if (!x || !y || x->empty() || y->empty() || x->size() > 32 || y->size() > 32) return "";
  x->insert(0, 32 - x->size(), '\0');
  y->insert(0, 32 - y->size(), '\0');
  std::string point = "\x04" + *x + *y;  // uncompressed (SEC 1 §2.3.3)
  BldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    return "";
  return PemOf("EC", bld.get());
}

size_t KeepBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kJwksBytesMax) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

bool IsUrl(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

// libcurl's progress callback: a non-zero answer aborts the transfer (the node is stopping).
int AbortWhenStopping(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

// The JWKS text at a file or URL; a URL's transfer ends early once *stop is set.
Result<std::string> FetchJwks(const std::string& where, std::atomic<bool>* stop) {
  if (!IsUrl(where)) {
    std::ifstream in(where, std::ios::binary);
    if (!in) return Status::InvalidArgument("cannot read the JWKS file " + where);
    std::string text;
    text.resize(kJwksBytesMax + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kJwksBytesMax)
      return Status::InvalidArgument("the JWKS file " + where + " is over 1 MiB");
    return text;
  }
  std::unique_ptr<CURL, Deleter<CURL, curl_easy_cleanup>> curl(curl_easy_init());
  if (!curl) return Status::Unavailable("libcurl could not start");
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, where.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, KeepBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, AbortWhenStopping);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, stop);
  CURLcode rc = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    return Status::Unavailable("fetching the JWKS " + where + ": " + curl_easy_strerror(rc));
  if (status != 200)
    return Status::Unavailable("fetching the JWKS " + where + ": HTTP " + std::to_string(status));
  return body;
}

std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, kSubjectBytesMax)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

// A NumericDate claim (RFC 7519 §2) as whole seconds; false for anything else, or beyond the
// year 9999 (a float out of int64's range would be undefined to convert).
bool NumericDate(const Json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > 253402300799ull) return false;
    *out = static_cast<int64_t>(v.get<uint64_t>());
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return *out >= 0 && *out <= 253402300799ll;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!(d >= 0 && d <= 253402300799.0)) return false;
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

bool AudienceHas(const Json& aud, const std::string& want) {
  if (aud.is_string()) return aud.get<std::string>() == want;
  if (!aud.is_array()) return false;
  for (const auto& a : aud)
    if (a.is_string() && a.get<std::string>() == want) return true;
  return false;
}

}  // namespace

Status CheckJwtOptions(const JwtOptions& o) {
  if (!o.enabled()) return Status::OK();
  if (o.issuer.empty())
    return Status::InvalidArgument("http.jwt needs issuer (the identity provider's `iss`)");
  if (o.audience.empty())
    return Status::InvalidArgument("http.jwt needs audience (this cluster's `aud` at the identity provider)");
  if (o.leeway_ms > 600'000) return Status::InvalidArgument("http.jwt.leeway is at most 10m");
  if (o.refresh_ms < 10'000) return Status::InvalidArgument("http.jwt.refresh is at least 10s");
  if (o.scope_claim.empty()) return Status::InvalidArgument("http.jwt.scope_claim is empty");
  for (const auto& [name, bits] : o.scope_map) {
    if (bits & protocol::kScopePeer)
      return Status::InvalidArgument("http.jwt.scopes: '" + name + "' maps to peer, which no token is granted");
    if (bits == 0) return Status::InvalidArgument("http.jwt.scopes: '" + name + "' maps to no scope");
  }
  return Status::OK();
}

Result<std::vector<JwkKey>> ParseJwks(const std::string& text) {
  if (text.size() > kJwksBytesMax) return Status::InvalidArgument("the JWKS is over 1 MiB");
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return Status::InvalidArgument("a JWKS is a JSON object with a \"keys\" array (RFC 7517 §5)");
  std::vector<JwkKey> keys;
  for (const auto& jwk : doc["keys"]) {
    if (!jwk.is_object() || keys.size() == kJwksKeysMax) continue;
    const std::string kty = Field(jwk, "kty"), use = Field(jwk, "use"), alg = Field(jwk, "alg");
    if (!use.empty() && use != "sig") continue;
    JwkKey key;
    key.kid = Field(jwk, "kid");
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
      key.alg = "RS256";
      key.pem = RsaPem(jwk);
    } else if (kty == "EC" && Field(jwk, "crv") == "P-256" && (alg.empty() || alg == "ES256")) {
      key.alg = "ES256";
      key.pem = EcPem(jwk);
    }
    if (!key.pem.empty()) keys.push_back(std::move(key));
  }
  if (keys.empty())
    return Status::InvalidArgument("the JWKS holds no usable signing key (RSA of 2048+ bits for RS256, EC P-256 for ES256)");
  return keys;
}

struct JwtVerifier::Impl {
  JwtOptions opt;
  mutable std::mutex mu;
  std::shared_ptr<const std::vector<JwkKey>> keys;  // under mu; null until loaded
  mutable std::condition_variable cv;
  mutable bool nudged = false;
  mutable uint64_t last_nudge_ms = 0;
  std::atomic<bool> stopping{false};  // set under mu (the refresher waits on cv)
  std::string last_error;  // under mu: why the URL could not be loaded (for messages)
  std::thread refresher;

  std::shared_ptr<const std::vector<JwkKey>> Keys() const {
    std::lock_guard<std::mutex> lock(mu);
    return keys;
  }

  Status Load() {
    auto text = FetchJwks(opt.jwks, &stopping);
    Status s = text.status();
    if (s.ok()) {
      auto parsed = ParseJwks(text.value());
      if (parsed.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        keys = std::make_shared<const std::vector<JwkKey>>(std::move(parsed.value()));
        last_error.clear();
        return Status::OK();
      }
      s = Status::InvalidArgument(opt.jwks + ": " + parsed.status().message());
    }
    std::lock_guard<std::mutex> lock(mu);
    last_error = s.message();
    return s;
  }

  // A URL's keys: fetched again every refresh_ms (every kRetryMs while failing), and soon after
  // a token names a key id not loaded (the provider rotated its keys).
  void Refresh() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      uint64_t wait = keys && last_error.empty() ? opt.refresh_ms : kRetryMs;
      cv.wait_for(lock, std::chrono::milliseconds(wait), [&] { return stopping || nudged; });
      if (stopping) break;
      nudged = false;
      lock.unlock();
      (void)Load();  // a failure keeps the keys loaded before
      lock.lock();
    }
  }

  void Nudge() const {
    if (!IsUrl(opt.jwks)) return;
    std::lock_guard<std::mutex> lock(mu);
    uint64_t now = base::SteadyMs();
    if (last_nudge_ms != 0 && now - last_nudge_ms < kNudgeMinMs) return;
    last_nudge_ms = now;
    nudged = true;
    cv.notify_all();
  }
};

JwtVerifier::JwtVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

JwtVerifier::~JwtVerifier() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->refresher.joinable()) impl_->refresher.join();
}

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::Make(const JwtOptions& options) {
  if (Status s = CheckJwtOptions(options); !s.ok()) return s;
  if (!options.enabled()) return Status::InvalidArgument("http.jwt needs jwks (a file or a URL)");
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  Status loaded = impl->Load();
  if (!IsUrl(options.jwks) && !loaded.ok()) return loaded;
  std::unique_ptr<JwtVerifier> v(new JwtVerifier(std::move(impl)));
  if (IsUrl(options.jwks)) v->impl_->refresher = std::thread([p = v->impl_.get()] { p->Refresh(); });
  return v;
}

size_t JwtVerifier::KeyCount() const {
  auto keys = impl_->Keys();
  return keys ? keys->size() : 0;
}

bool JwtVerifier::LooksLikeJwt(const std::string& bearer) {
  size_t dots = 0;
  for (char c : bearer) {
    if (c == '.') ++dots;
    else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return dots == 2;
}

Result<JwtGrant> JwtVerifier::Verify(const std::string& token, int64_t now_s) const {
  auto deny = [](const std::string& why) { return Status::PermissionDenied("the JWT " + why); };
  if (token.size() > kTokenBytesMax) return deny("is over 16 KiB");
  if (!LooksLikeJwt(token)) return deny("is not header.payload.signature in base64url");
  const size_t d1 = token.find('.'), d2 = token.find('.', d1 + 1);
  auto header_text = base::Base64UrlDecode(std::string_view(token).substr(0, d1));
  auto payload_text = base::Base64UrlDecode(std::string_view(token).substr(d1 + 1, d2 - d1 - 1));
  if (!header_text || !payload_text || header_text->size() > kHeaderBytesMax)
    return deny("header or payload is not base64url");
  Json header = Json::parse(*header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return deny("header is not a JSON object");
  // Only the asymmetric algorithms: a token saying HS256 would have the public key used as an
  // HMAC secret, which anyone holds.
  const std::string alg = Field(header, "alg"), kid = Field(header, "kid");
  if (alg != "RS256" && alg != "ES256") return deny("is signed " + Printable(alg) + "; only RS256 and ES256 are taken");
  auto keys = impl_->Keys();
  if (!keys) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return Status::Unavailable("no JWKS loaded yet (" + impl_->last_error + ")");
  }
  const jwt_alg_t want = alg == "RS256" ? JWT_ALG_RS256 : JWT_ALG_ES256;
  bool candidate = false, verified = false;
  for (const auto& key : *keys) {
    if (key.alg != alg || (!kid.empty() && key.kid != kid)) continue;
    candidate = true;
    jwt_t* raw = nullptr;
    int rc = jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key.pem.data()),
                        static_cast<int>(key.pem.size()));
    JwtPtr jwt(raw);
    if (rc == 0 && jwt && jwt_get_alg(jwt.get()) == want) {
      verified = true;
      break;
    }
  }
  if (!candidate) {
    impl_->Nudge();
    return deny("names key id '" + Printable(kid) + "', which the JWKS does not hold for " + alg);
  }
  if (!verified) return deny("signature does not verify");
  Json claims = Json::parse(*payload_text, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) return deny("payload is not a JSON object");
  const auto& o = impl_->opt;
  const int64_t leeway = static_cast<int64_t>(o.leeway_ms / 1000);
  auto exp = claims.find("exp");
  JwtGrant g;
  if (exp == claims.end() || !NumericDate(*exp, &g.expires_s)) return deny("has no valid exp");
  if (now_s > g.expires_s + leeway) return deny("expired at " + std::to_string(g.expires_s));
  auto nbf = claims.find("nbf");
  int64_t not_before = 0;
  if (nbf != claims.end() && (!NumericDate(*nbf, &not_before) || now_s + leeway < not_before))
    return deny("is not valid yet (nbf)");
  if (Field(claims, "iss") != o.issuer) return deny("is from issuer '" + Printable(Field(claims, "iss")) + "'");
  auto aud = claims.find("aud");
  if (aud == claims.end() || !AudienceHas(*aud, o.audience))
    return deny("is not for audience '" + o.audience + "'");
  std::vector<std::string> granted;
  auto sc = claims.find(o.scope_claim);
  if (sc != claims.end() && sc->is_string()) {
    std::istringstream words(sc->get<std::string>());
    for (std::string w; words >> w;) granted.push_back(w);
  } else if (sc != claims.end() && sc->is_array()) {
    for (const auto& w : *sc)
      if (w.is_string()) granted.push_back(w.get<std::string>());
  }
  for (const auto& w : granted) {
    if (o.scope_map.empty()) {
      if (w == "read") g.scopes |= protocol::kScopeRead;
      else if (w == "write") g.scopes |= protocol::kScopeWrite;
      else if (w == "admin") g.scopes |= protocol::kScopeAdmin;
      else if (w == "worker") g.scopes |= protocol::kScopeWorker;
    } else if (auto it = o.scope_map.find(w); it != o.scope_map.end()) {
      g.scopes |= it->second;
    }
  }
  g.scopes &= static_cast<uint8_t>(~protocol::kScopePeer);
  std::string sub = Field(claims, "sub");
  if (sub.empty()) sub = Field(claims, "client_id");
  g.subject = sub.empty() ? "?" : Printable(sub);
  return g;
}

}  // namespace jobnet::http
