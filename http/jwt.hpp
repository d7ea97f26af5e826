// OAuth 2.0 access tokens on the HTTP face (docs/operations.md "Securing a cluster", JWT): a
// bearer token that is a JWT (RFC 7519) signed RS256 or ES256 by an identity provider whose
// public keys come as a JWKS (RFC 7517), from a file or an http(s) URL fetched and cached. The
// signature is checked by Debian's libjwt; this file picks the key (by `kid`, never by trusting
// the token's choice of algorithm beyond RS256/ES256) and checks the claims: `exp` (required),
// `nbf`, `iss`, `aud`, with a small leeway for clock skew, and maps the `scope` claim to jobnet's
// scopes.
#ifndef JOBNET_HTTP_JWT_HPP_
#define JOBNET_HTTP_JWT_HPP_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jobnet/status.h"

namespace jobnet::http {

struct JwtOptions {
  // A JWKS: a file's path, or an http:// or https:// URL. Empty: no JWTs are taken.
  std::string jwks;
  std::string issuer;    // required: the token's `iss` must be exactly this
  std::string audience;  // required: the token's `aud` (a string or an array) must hold this
  uint64_t leeway_ms = 60'000;  // clock skew allowed on exp and nbf
  // The claim holding the granted scopes: a space-separated string (RFC 8693 `scope`) or an
  // array of strings (`scp`, as some providers send it).
  std::string scope_claim = "scope";
  // A provider's scope names -> jobnet scope bits (protocol/scopes.hpp). Empty: the names
  // read, write, admin and worker stand for themselves. `peer` is never granted by a token.
  std::map<std::string, uint8_t> scope_map;
  uint64_t refresh_ms = 300'000;  // a JWKS URL is fetched again this often
  bool enabled() const { return !jwks.empty(); }
};

// Checks the options alone (issuer and audience set, no `peer` in the map); kInvalidArgument.
Status CheckJwtOptions(const JwtOptions& options);

// What a valid token grants.
struct JwtGrant {
  std::string subject;  // `sub` (else `client_id`, else "?"), at most 64 bytes, for logs
  uint8_t scopes = 0;   // protocol::Scope bits
  int64_t expires_s = 0;
};

// One signing key of a JWKS, as a PEM public key libjwt takes.
struct JwkKey {
  std::string kid;  // may be empty
  std::string alg;  // "RS256" or "ES256"
  std::string pem;
};

// The RS256 and ES256 (P-256) signing keys of a JWKS document; keys of other types, curves,
// algorithms or uses are skipped. kInvalidArgument for malformed JSON or no usable key.
Result<std::vector<JwkKey>> ParseJwks(const std::string& json);

class JwtVerifier {
 public:
  // Loads the JWKS once: a file must load (kInvalidArgument says why); a URL that cannot be
  // fetched yet is retried in the background, tokens being refused meanwhile.
  static Result<std::unique_ptr<JwtVerifier>> Make(const JwtOptions& options);
  ~JwtVerifier();

  // Whether a bearer secret has a JWT's shape (three base64url parts), so it is not a static
  // token's secret.
  static bool LooksLikeJwt(const std::string& bearer);

  // The grant of `token` at wall time `now_s`, or kPermissionDenied with the reason (expired,
  // not yet valid, wrong issuer or audience, unknown key, bad signature...): never the token.
  Result<JwtGrant> Verify(const std::string& token, int64_t now_s) const;

  // How many signing keys are loaded now.
  size_t KeyCount() const;

 private:
  struct Impl;
  explicit JwtVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_JWT_HPP_
