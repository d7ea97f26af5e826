// JWT access tokens on the HTTP face (http/jwt.hpp): keys from a JWKS (file and URL), RS256 and
// ES256 signatures made here with OpenSSL (not by the library under test), every claim check,
// the attacks a verifier must refuse (alg none and HS256 with the public key, a forged or
// tampered signature, an unknown key), and a real node taking JWTs and token principals.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/base64.hpp"
#include "base/clock.hpp"
#include "http/auth.hpp"
#include "http/jwt.hpp"
#include "node/config.hpp"
#include "node_harness.hpp"

namespace jobnet {
namespace {

using Json = nlohmann::json;
using http::JwtOptions;
using http::JwtVerifier;

std::string B64Url(const std::string& bytes) {
  std::string s = base::Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

std::string Bn(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(pad ? pad : BN_num_bytes(bn), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

// A signing key of an identity provider, made here.
struct Signer {
  std::string alg, kid;
  EVP_PKEY* key = nullptr;
  Signer(std::string a, std::string k) : alg(std::move(a)), kid(std::move(k)) {
    key = alg == "RS256" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  }
  ~Signer() { EVP_PKEY_free(key); }
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  Json Jwk() const {
    if (alg == "RS256")
      return {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", "RS256"},
              {"n", B64Url(Bn(key, OSSL_PKEY_PARAM_RSA_N))}, {"e", B64Url(Bn(key, OSSL_PKEY_PARAM_RSA_E))}};
    return {{"kty", "EC"}, {"kid", kid}, {"crv", "P-256"},
            {"x", B64Url(Bn(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", B64Url(Bn(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  }

  std::string PublicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
  }

  // header.payload signed: RS256 is PKCS#1 v1.5 over SHA-256; ES256 is r||s, 32 bytes each
  // (RFC 7518 §3.4), not OpenSSL's DER.
  std::string Sign(const Json& claims, Json header = Json::object()) const {
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid") && !kid.empty()) header["kid"] = kid;
    header["typ"] = "JWT";
    std::string input = B64Url(header.dump()) + "." + B64Url(claims.dump());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (alg == "ES256") {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(es);
      sig = raw;
    }
    return input + "." + B64Url(sig);
  }
};

constexpr int64_t kNow = 1'800'000'000;

Json Claims(const std::string& scope = "read write", int64_t exp = kNow + 600) {
  return {{"iss", "https://idp.example/"}, {"aud", "jobnet"}, {"sub", "alice"},
          {"exp", exp}, {"iat", kNow}, {"scope", scope}};
}

class JwtTest : public testing::DirTest {
 protected:
  Signer rsa_{"RS256", "r1"}, ec_{"ES256", "e1"};

  std::string WriteJwks(const std::vector<Json>& keys) {
    std::filesystem::create_directories(dir_);
    std::string path = dir_ + "/jwks.json";
    std::ofstream(path) << Json{{"keys", keys}}.dump();
    return path;
  }

  std::unique_ptr<JwtVerifier> Verifier(JwtOptions o = {}) {
    o.jwks = WriteJwks({rsa_.Jwk(), ec_.Jwk(), {{"kty", "oct"}, {"k", "c2VjcmV0"}}});
    o.issuer = "https://idp.example/";
    o.audience = "jobnet";
    auto v = JwtVerifier::Make(o);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v.value()) : nullptr;
  }

  static std::string Why(const JwtVerifier& v, const std::string& token, int64_t now = kNow) {
    auto g = v.Verify(token, now);
    return g.ok() ? "ok" : g.status().message();
  }
};

TEST_F(JwtTest, RsaAndEcKeysVerifyAndGrantTheirScopes) {
  auto v = Verifier();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->KeyCount(), 2u);  // the symmetric key is skipped
  for (const Signer* s : {&rsa_, &ec_}) {
    auto g = v->Verify(s->Sign(Claims()), kNow);
    ASSERT_TRUE(g.ok()) << s->alg << ": " << g.status().ToString();
    EXPECT_EQ(g.value().subject, "alice");
    EXPECT_EQ(g.value().scopes, protocol::kScopeRead | protocol::kScopeWrite);
    EXPECT_EQ(g.value().expires_s, kNow + 600);
  }
  // No kid: every key of the token's algorithm is tried.
  Json header = {{"kid", ""}};
  EXPECT_EQ(Why(*v, rsa_.Sign(Claims(), header)), "ok");
  // An array scope claim (`scp`), and `peer` is never granted by a token.
  JwtOptions o;
  o.scope_claim = "scp";
  auto scp = Verifier(o);
  Json c = Claims();
  c["scp"] = {"admin", "peer", 7};
  auto g = scp->Verify(ec_.Sign(c), kNow);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g.value().scopes, protocol::kScopeAdmin);
}

TEST_F(JwtTest, EveryClaimIsChecked) {
  auto v = Verifier();
  ASSERT_TRUE(v);
  // exp, within and beyond the default 60 s leeway; a token without exp.
  EXPECT_EQ(Why(*v, rsa_.Sign(Claims("read", kNow - 30))), "ok");
  EXPECT_NE(Why(*v, rsa_.Sign(Claims("read", kNow - 61))).find("expired"), std::string::npos);
  Json c = Claims();
  c.erase("exp");
  EXPECT_NE(Why(*v, rsa_.Sign(c)).find("exp"), std::string::npos);
  c["exp"] = "tomorrow";
  EXPECT_NE(Why(*v, rsa_.Sign(c)).find("exp"), std::string::npos);
  c["exp"] = 1e300;  // out of int64's range: refused, not undefined
  EXPECT_NE(Why(*v, rsa_.Sign(c)).find("exp"), std::string::npos);
  // nbf in the future beyond the leeway.
  c = Claims();
  c["nbf"] = kNow + 120;
  EXPECT_NE(Why(*v, rsa_.Sign(c)).find("not valid yet"), std::string::npos);
  c["nbf"] = kNow + 30;
  EXPECT_EQ(Why(*v, rsa_.Sign(c)), "ok");
  // iss and aud; aud may be an array holding ours.
  c = Claims();
  c["iss"] = "https://evil.example/";
  EXPECT_NE(Why(*v, rsa_.Sign(c)).find("issuer"), std::string::npos);
  c = Claims();
  c["aud"] = "other";
  EXPECT_NE(Why(*v, rsa_.Sign(c)).find("audience"), std::string::npos);
  c["aud"] = {"other", "jobnet"};
  EXPECT_EQ(Why(*v, rsa_.Sign(c)), "ok");
  c.erase("aud");
  EXPECT_NE(Why(*v, rsa_.Sign(c)).find("audience"), std::string::npos);
  // A provider's scope names mapped to ours; unknown ones grant nothing.
  JwtOptions o;
  o.scope_map = {{"jobs:read", protocol::kScopeRead}, {"jobs:all", protocol::kScopeRead | protocol::kScopeWrite}};
  auto mapped = Verifier(o);
  auto g = mapped->Verify(ec_.Sign(Claims("jobs:read read write")), kNow);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g.value().scopes, protocol::kScopeRead);
}

TEST_F(JwtTest, ForgedTokensAreRefused) {
  auto v = Verifier();
  ASSERT_TRUE(v);
  const std::string good = rsa_.Sign(Claims("read"));
  const size_t d1 = good.find('.'), d2 = good.rfind('.');
  // alg none, with and without a signature.
  Json none_header = {{"alg", "none"}, {"typ", "JWT"}};
  std::string body = B64Url(Claims("admin").dump());
  EXPECT_NE(Why(*v, B64Url(none_header.dump()) + "." + body + "."), "ok");
  EXPECT_NE(Why(*v, B64Url(none_header.dump()) + "." + body + "." + good.substr(d2 + 1)), "ok");
  // HS256 with the provider's public key (PEM) as the HMAC secret: the classic confusion.
  for (const std::string& secret : {rsa_.PublicPem(), ec_.PublicPem()}) {
    std::string input = B64Url(Json{{"alg", "HS256"}, {"kid", "r1"}}.dump()) + "." + body;
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    EXPECT_NE(Why(*v, input + "." + B64Url(std::string(reinterpret_cast<char*>(mac), len))).find("only RS256"),
              std::string::npos);
  }
  // The payload changed under a good signature (scope raised to admin).
  EXPECT_NE(Why(*v, good.substr(0, d1) + "." + body + good.substr(d2)).find("signature"), std::string::npos);
  // Signed by a key that is not the provider's, under the provider's kid.
  Signer mallory("RS256", "r1");
  EXPECT_NE(Why(*v, mallory.Sign(Claims("admin"))).find("signature"), std::string::npos);
  // ES256 signed, RS256 claimed: no key of the kid for that algorithm.
  Json wrong_alg = {{"alg", "RS256"}, {"kid", "e1"}};
  EXPECT_NE(Why(*v, ec_.Sign(Claims(), wrong_alg)).find("key id"), std::string::npos);
  Signer stranger("ES256", "unknown");
  EXPECT_NE(Why(*v, stranger.Sign(Claims())).find("key id 'unknown'"), std::string::npos);
  // Not JWTs at all, and random bytes shaped like one: refused, never a crash.
  for (const std::string& t : {std::string(""), std::string("a.b"), std::string("..."),
                               std::string("a.b.c.d"), std::string(20000, 'a') + ".b.c",
                               std::string("e30.e30.e30"), std::string("W10.W10.AA")})
    EXPECT_NE(Why(*v, t), "ok") << t.substr(0, 40);
  std::mt19937 rng(7);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  for (int i = 0; i < 2000; ++i) {
    std::string t = good;
    for (int k = 0; k < 3; ++k) t[rng() % t.size()] = alphabet[rng() % alphabet.size()];
    if (t != good) {
      EXPECT_NE(Why(*v, t), "ok");
    }
  }
}

// A coordinate with its leading zero byte dropped (as PyJWT 2.6 writes one key in 128) is
// still the key: found by making keys until one has such an x.
TEST_F(JwtTest, AnEcKeyWithAShortCoordinateIsTaken) {
  for (int i = 0; i < 20000; ++i) {
    Signer s("ES256", "short");
    if (Bn(s.key, OSSL_PKEY_PARAM_EC_PUB_X, 32)[0] != '\0') continue;
    Json jwk = s.Jwk();
    jwk["x"] = B64Url(Bn(s.key, OSSL_PKEY_PARAM_EC_PUB_X));  // 31 bytes or fewer
    ASSERT_LT(base::Base64UrlDecode(jwk["x"].get<std::string>())->size(), 32u);
    JwtOptions o;
    o.jwks = WriteJwks({jwk});
    o.issuer = "https://idp.example/";
    o.audience = "jobnet";
    auto v = JwtVerifier::Make(o);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(Why(*v.value(), s.Sign(Claims())), "ok");
    return;
  }
  FAIL() << "no key with a leading zero in x among 20000";
}

TEST_F(JwtTest, AJwksMustHoldAUsableKeyAndTheOptionsAreChecked) {
  EXPECT_FALSE(http::ParseJwks("not json").ok());
  EXPECT_FALSE(http::ParseJwks(R"({"keys": 3})").ok());
  EXPECT_FALSE(http::ParseJwks(R"({"keys": [{"kty": "oct", "k": "AA"}]})").ok());
  Signer small("RS256", "s");
  EVP_PKEY_free(small.key);
  small.key = EVP_RSA_gen(1024);
  EXPECT_FALSE(http::ParseJwks(Json{{"keys", {small.Jwk()}}}.dump()).ok()) << "RSA under 2048 bits";
  Json bad_point = ec_.Jwk();
  bad_point["y"] = bad_point["x"];  // not on the curve
  EXPECT_FALSE(http::ParseJwks(Json{{"keys", {bad_point}}}.dump()).ok());
  Json enc = rsa_.Jwk();
  enc["use"] = "enc";
  EXPECT_FALSE(http::ParseJwks(Json{{"keys", {enc}}}.dump()).ok());
  EXPECT_EQ(http::ParseJwks(Json{{"keys", {enc, ec_.Jwk()}}}.dump()).value().size(), 1u);

  JwtOptions o;
  o.jwks = dir_ + "/missing.json";
  o.issuer = "i";
  o.audience = "a";
  EXPECT_TRUE(JwtVerifier::Make(o).status().IsInvalidArgument());
  o.audience.clear();
  EXPECT_NE(http::CheckJwtOptions(o).message().find("audience"), std::string::npos);
  o.audience = "a";
  o.scope_map = {{"x", protocol::kScopePeer}};
  EXPECT_NE(http::CheckJwtOptions(o).message().find("peer"), std::string::npos);
}

// A JWKS served over HTTP once per connection by a thread: the keys a URL gives, fetched at
// start and again when a token names a key id not loaded (the provider rotated its keys).
class JwksServer {
 public:
  explicit JwksServer(std::string body) : body_(std::move(body)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~JwksServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/jwks.json"; }
  void Set(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = std::move(body);
  }
  int served() const { return served_; }

 private:
  void Serve() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      (void)!read(c, buf, sizeof buf);
      std::string body;
      {
        std::lock_guard<std::mutex> lock(mu_);
        body = body_;
      }
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      (void)!write(c, resp.data(), resp.size());
      close(c);
      ++served_;
    }
  }
  std::mutex mu_;
  std::string body_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

TEST_F(JwtTest, AJwksUrlIsFetchedAndFetchedAgainForANewKeyId) {
  JwksServer server(Json{{"keys", {rsa_.Jwk()}}}.dump());
  JwtOptions o;
  o.jwks = server.url();
  o.issuer = "https://idp.example/";
  o.audience = "jobnet";
  auto v = JwtVerifier::Make(o);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v.value()->KeyCount(), 1u);
  EXPECT_EQ(Why(*v.value(), rsa_.Sign(Claims())), "ok");
  // The provider adds an EC key: the first token naming it is refused and starts a fetch; the
  // key is there soon after.
  server.Set(Json{{"keys", {rsa_.Jwk(), ec_.Jwk()}}}.dump());
  const std::string token = ec_.Sign(Claims());
  EXPECT_NE(Why(*v.value(), token).find("key id"), std::string::npos);
  EXPECT_TRUE(testing::Eventually([&] { return Why(*v.value(), token) == "ok"; }));
  EXPECT_EQ(server.served(), 2);
}

// A node taking JWTs next to a principal's static token: 401 with the reason for a bad JWT,
// 403 for a scope it lacks, 2xx within its scopes, and no token in the log.
TEST_F(JwtTest, ANodeTakesJwtsAndTokenPrincipals) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string jwks = WriteJwks({rsa_.Jwk(), ec_.Jwk()});
  const std::string principals = dir_ + "/principals.toml";
  std::ofstream(principals) << "[[principals]]\nname = \"ops\"\ntoken_sha256 = \""
                            << testing::kReaderSecretSha256 << "\"\nscopes = [\"read\"]\n";
  int port = testing::FreePort();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  testing::NodeProcess n("n1", dir_ + "/n1", 1,
                         {"--http", "127.0.0.1:" + std::to_string(port), "--principals", principals,
                          "--http-jwks", jwks, "--http-jwt-issuer", "https://idp.example/",
                          "--http-jwt-audience", "jobnet"});
  ASSERT_TRUE(n.Start());
  auto call = [&](const std::string& method, const std::string& path, const std::string& bearer,
                  std::string* www = nullptr) {
    CURL* c = curl_easy_init();
    std::string body, headers;
    curl_easy_setopt(c, CURLOPT_URL, (base + path).c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "POST") curl_easy_setopt(c, CURLOPT_POSTFIELDS, R"({"type":"echo","payload":"x"})");
    curl_slist* h = bearer.empty() ? nullptr : curl_slist_append(nullptr, ("Authorization: Bearer " + bearer).c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    auto keep = +[](char* d, size_t s, size_t k, void* out) {
      static_cast<std::string*>(out)->append(d, s * k);
      return s * k;
    };
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (www) *www = headers;
    return status;
  };
  ASSERT_TRUE(testing::Eventually([&] { return call("GET", "/healthz", "") == 200; }));
  const int64_t now = static_cast<int64_t>(base::WallMs() / 1000);
  auto claims = [&](const std::string& scope, int64_t exp) {
    Json c = Claims(scope, exp);
    c["iat"] = now;
    return c;
  };
  const std::string reader = ec_.Sign(claims("read", now + 300));
  const std::string writer = rsa_.Sign(claims("read write", now + 300));
  const std::string expired = rsa_.Sign(claims("read write", now - 3600));
  EXPECT_EQ(call("GET", "/api/jobs", ""), 401);
  EXPECT_EQ(call("GET", "/api/jobs", reader), 200);
  EXPECT_EQ(call("POST", "/api/jobs", reader), 403);
  EXPECT_EQ(call("POST", "/api/jobs", writer), 201);
  std::string www;
  EXPECT_EQ(call("GET", "/api/jobs", expired, &www), 401);
  EXPECT_NE(www.find("error=\"invalid_token\""), std::string::npos) << www;
  EXPECT_NE(www.find("expired"), std::string::npos) << www;
  EXPECT_EQ(call("GET", "/api/jobs", writer.substr(0, writer.size() - 4) + "AAAA"), 401);
  // The principal with a token hash reads and may not write.
  EXPECT_EQ(call("GET", "/api/jobs", "reader-secret"), 200);
  EXPECT_EQ(call("POST", "/api/jobs", "reader-secret"), 403);
  EXPECT_EQ(call("GET", "/readyz", ""), 200);
  std::ifstream log(n.log_path());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(writer.substr(writer.rfind('.'))), std::string::npos);
  EXPECT_EQ(text.find("reader-secret"), std::string::npos);
  curl_global_cleanup();
}

// A static token is matched before a bearer is taken for a JWT: a secret shaped like one
// ("a.b.c") still works next to [http.jwt].
TEST_F(JwtTest, AStaticTokenShapedLikeAJwtIsStillAStaticToken) {
  auto v = Verifier();
  ASSERT_TRUE(v);
  auto token = http::MakeToken("dotted", "bc7b18b2e2c9e3a2e9b1d0ec8a1d2c5e3b61db4b6b2c8cfb2f1f0dbb1ea47437",
                               std::vector<std::string>{"read"});
  ASSERT_TRUE(token.ok());
  unsigned char sha[32];
  unsigned int len = 0;
  const std::string secret = "a.b.c";
  EVP_Digest(secret.data(), secret.size(), sha, &len, EVP_sha256(), nullptr);
  token.value().sha256 = {};
  std::copy(sha, sha + 32, token.value().sha256.begin());
  std::string who, why;
  EXPECT_EQ(http::Authorize({token.value()}, v.get(), "Bearer a.b.c", protocol::kScopeRead, kNow,
                            &who, &why),
            http::AuthResult::kAllowed);
  EXPECT_EQ(who, "dotted");
  EXPECT_EQ(http::Authorize({token.value()}, v.get(), "Bearer " + rsa_.Sign(Claims()),
                            protocol::kScopeWrite, kNow, &who, &why),
            http::AuthResult::kAllowed);
  EXPECT_EQ(who, "jwt:alice");
  EXPECT_EQ(http::Authorize({token.value()}, v.get(), "Bearer x.y.z", protocol::kScopeRead, kNow,
                            &who, &why),
            http::AuthResult::kUnauthenticated);
  EXPECT_FALSE(why.empty());
}

// Secure by default: beyond loopback, JWTs alone are enough for the HTTP face.
TEST_F(JwtTest, ANonLoopbackFaceStartsWithJwtsAlone) {
  NodeConfig cfg;
  cfg.http = "0.0.0.0:7801";
  EXPECT_TRUE(cfg.Validate().IsInvalidArgument());
  cfg.http_jwt.jwks = "/etc/jobnet/jwks.json";
  cfg.http_jwt.issuer = "https://idp.example/";
  EXPECT_NE(cfg.Validate().message().find("audience"), std::string::npos);
  cfg.http_jwt.audience = "jobnet";
  EXPECT_TRUE(cfg.Validate().ok()) << cfg.Validate().ToString();
}

}  // namespace
}  // namespace jobnet
