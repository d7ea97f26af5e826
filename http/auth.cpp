#include "http/auth.hpp"

#include "http/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>

namespace jobnet::http {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<uint8_t, 32> Sha256(const std::string& data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

Result<Token> MakeToken(const std::string& name, const std::string& sha256_hex,
                        const std::vector<std::string>& scopes) {
  Token t;
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("an HTTP token needs a name (1..64 bytes)");
  t.name = name;
  if (sha256_hex.size() != 64)
    return Status::InvalidArgument("HTTP token '" + name + "': sha256 must be 64 hex digits (sha256sum of the secret)");
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexDigit(sha256_hex[2 * i]), lo = HexDigit(sha256_hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return Status::InvalidArgument("HTTP token '" + name + "': sha256 must be 64 hex digits");
    t.sha256[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if (scopes.empty()) return Status::InvalidArgument("HTTP token '" + name + "' has no scopes (read, write, admin)");
  for (const auto& s : scopes) {
    if (s == "read") t.scopes |= protocol::kScopeRead;
    else if (s == "write") t.scopes |= protocol::kScopeWrite;
    else if (s == "admin") t.scopes |= protocol::kScopeAdmin;
    else if (s == "worker") t.scopes |= protocol::kScopeWorker;
    else return Status::InvalidArgument("HTTP token '" + name + "': unknown scope '" + s + "' (read, write, admin, worker)");
  }
  return t;
}

Result<Token> MakeToken(const std::string& name, const std::string& sha256_hex, uint8_t scopes) {
  auto t = MakeToken(name, sha256_hex, std::vector<std::string>{"read"});
  if (t.ok()) t.value().scopes = scopes;
  return t;
}

Scope ScopeFor(const std::string& method, const std::string& path) {
  if (method == "GET" || method == "HEAD") return protocol::kScopeRead;
  if (path.rfind("/api/queues", 0) == 0 || path.rfind("/api/workers", 0) == 0 ||
      path.rfind("/api/schedules", 0) == 0)
    return protocol::kScopeAdmin;
  return protocol::kScopeWrite;
}

std::string BearerSecret(const std::string& authorization) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  size_t at = 0, end = authorization.size();
  while (at < end && blank(authorization[at])) ++at;
  while (end > at && blank(authorization[end - 1])) --end;
  static const char kScheme[] = "bearer";
  const size_t n = sizeof kScheme - 1;
  if (end - at <= n || !blank(authorization[at + n])) return "";
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[at + i])) != kScheme[i]) return "";
  at += n;
  while (at < end && blank(authorization[at])) ++at;
  return authorization.substr(at, end - at);
}

AuthResult Identify(const std::vector<Token>& tokens, const JwtVerifier* jwt,
                    const std::string& authorization, int64_t now_s, std::string* who,
                    uint8_t* scopes, std::string* why) {
  if (tokens.empty() && jwt == nullptr) {
    *scopes = protocol::kScopesAll;
    return AuthResult::kAllowed;
  }
  std::string secret = BearerSecret(authorization);
  if (secret.empty()) return AuthResult::kUnauthenticated;
  // A static token first (whatever its secret looks like), then a JWT.
  std::array<uint8_t, 32> h = Sha256(secret);
  for (const auto& t : tokens) {
    if (CRYPTO_memcmp(h.data(), t.sha256.data(), h.size()) != 0) continue;
    if (who) *who = t.name;
    *scopes = t.scopes;
    return AuthResult::kAllowed;
  }
  if (jwt != nullptr && JwtVerifier::LooksLikeJwt(secret)) {
    auto grant = jwt->Verify(secret, now_s);
    if (!grant.ok()) {
      if (why) *why = grant.status().message();
      return AuthResult::kUnauthenticated;
    }
    if (who) *who = "jwt:" + grant.value().subject;
    *scopes = grant.value().scopes;
    return AuthResult::kAllowed;
  }
  return AuthResult::kUnauthenticated;
}

AuthResult Authorize(const std::vector<Token>& tokens, const JwtVerifier* jwt,
                     const std::string& authorization, Scope needed, int64_t now_s,
                     std::string* who, std::string* why) {
  uint8_t scopes = 0;
  AuthResult r = Identify(tokens, jwt, authorization, now_s, who, &scopes, why);
  if (r != AuthResult::kAllowed) return r;
  return (scopes & needed) ? AuthResult::kAllowed : AuthResult::kForbidden;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace jobnet::http
