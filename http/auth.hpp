// API tokens of the HTTP face (docs/http.md §7): each has a name, the SHA-256 of its secret
// (only the hash is configured or kept) and scopes. Once any token is configured, /api/ needs
// `Authorization: Bearer <secret>`.
#ifndef JOBNET_HTTP_AUTH_HPP_
#define JOBNET_HTTP_AUTH_HPP_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "jobnet/status.h"

namespace jobnet::http {

enum class Scope : uint8_t { kRead = 1, kWrite = 2, kAdmin = 4 };

struct Token {
  std::string name;
  std::array<uint8_t, 32> sha256{};
  uint8_t scopes = 0;  // Scope bits
};

// A token from its config fields: `sha256_hex` is 64 hex digits, `scopes` any of "read",
// "write", "admin". kInvalidArgument naming the problem (never echoing the hash).
Result<Token> MakeToken(const std::string& name, const std::string& sha256_hex,
                        const std::vector<std::string>& scopes);

// The scope a request needs: GET/HEAD read; changes to queues and workers admin; other changes
// write.
Scope ScopeFor(const std::string& method, const std::string& path);

enum class AuthResult { kAllowed, kUnauthenticated, kForbidden };

// The secret of an `Authorization: Bearer <secret>` value, or "" if it is not one. The scheme is
// matched case-insensitively (RFC 9110 §11.1) and blanks around and after it are skipped.
std::string BearerSecret(const std::string& authorization);

// Checks an `Authorization` header value against the tokens (constant-time hash compare). With
// no tokens every request is allowed. `who` gets the matching token's name (for logs).
AuthResult Authorize(const std::vector<Token>& tokens, const std::string& authorization,
                     Scope needed, std::string* who);

// Whether an HTTP host is a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackHost(const std::string& host);

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_AUTH_HPP_
