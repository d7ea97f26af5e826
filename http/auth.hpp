// Who may use the HTTP face (docs/http.md §7): API tokens, each with a name, the SHA-256 of its
// secret (only the hash is configured or kept) and scopes; and JWT access tokens from an
// identity provider (http/jwt.hpp). Once either is configured, /api/ needs
// `Authorization: Bearer <secret or JWT>`. Scopes are the ones the ZeroMQ side checks
// (protocol/scopes.hpp).
#ifndef JOBNET_HTTP_AUTH_HPP_
#define JOBNET_HTTP_AUTH_HPP_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "jobnet/status.h"
#include "protocol/scopes.hpp"

namespace jobnet::http {

class JwtVerifier;
using protocol::Scope;

struct Token {
  std::string name;
  std::array<uint8_t, 32> sha256{};
  uint8_t scopes = 0;  // protocol::Scope bits
};

// A token from its config fields: `sha256_hex` is 64 hex digits, `scopes` any of "read",
// "write", "admin", "worker". kInvalidArgument naming the problem (never echoing the hash).
Result<Token> MakeToken(const std::string& name, const std::string& sha256_hex,
                        const std::vector<std::string>& scopes);
// The same from a scope set already parsed (a [[principals]] table's token_sha256).
Result<Token> MakeToken(const std::string& name, const std::string& sha256_hex, uint8_t scopes);

// The scope a request needs: GET/HEAD read; changes to queues, workers and schedules admin;
// other changes write.
Scope ScopeFor(const std::string& method, const std::string& path);

enum class AuthResult { kAllowed, kUnauthenticated, kForbidden };

// The secret of an `Authorization: Bearer <secret>` value, or "" if it is not one. The scheme is
// matched case-insensitively (RFC 9110 §11.1) and blanks around and after it are skipped.
std::string BearerSecret(const std::string& authorization);

// Who an `Authorization` header value names and the scope bits it holds (*scopes): kAllowed for
// a known static token or a valid JWT, else kUnauthenticated (`why` as for Authorize). With
// neither tokens nor a verifier everyone is allowed every scope.
AuthResult Identify(const std::vector<Token>& tokens, const JwtVerifier* jwt,
                    const std::string& authorization, int64_t now_s, std::string* who,
                    uint8_t* scopes, std::string* why);

// Checks an `Authorization` header value against the tokens (constant-time hash compare) and,
// for a bearer shaped as a JWT, against `jwt` (may be null) at wall time `now_s`. With neither
// every request is allowed. `who` gets the token's name ("jwt:<sub>" for a JWT), and for
// kUnauthenticated `why` says what was wrong with a JWT (empty for an unknown static token).
AuthResult Authorize(const std::vector<Token>& tokens, const JwtVerifier* jwt,
                     const std::string& authorization, Scope needed, int64_t now_s,
                     std::string* who, std::string* why);

// Whether an HTTP host is a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackHost(const std::string& host);

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_AUTH_HPP_
