// The one reader of whole numbers, of "host:port" text and of comma-separated lists (flags,
// config, query parameters, ids, replies). std only: each caller words its own error, these only say whether it parsed.
#ifndef JOBNET_BASE_PARSE_HPP_
#define JOBNET_BASE_PARSE_HPP_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobnet::base {

// A whole number in 0..max written in decimal digits that fill `text` entirely: no sign, no
// space, no unit. nullopt for empty text, any other character, or a value above max (including
// one past UINT64_MAX). Leading zeros are accepted ("007" is 7); callers that need one spelling
// per number check for them.
std::optional<uint64_t> ParseUint(std::string_view text, uint64_t max = UINT64_MAX);

// A TCP port: a whole number 1..65535.
std::optional<uint16_t> ParsePort(std::string_view text);

struct HostPort {
  std::string host;  // without brackets: "127.0.0.1", "::1", "localhost"
  uint16_t port = 0;
};

// "HOST:PORT", or "[IPV6]:PORT" for a host with colons in it (RFC 3986 authority form); the
// brackets are removed from host. nullopt when the host is empty, a bracket is unmatched, an
// unbracketed host has a colon (an unbracketed IPv6 address is ambiguous), or the port is not
// 1..65535. The host itself is not resolved or checked further.
std::optional<HostPort> ParseHostPort(std::string_view text);

// "a,b,,c" -> {"a", "b", "c"}: the items of a comma-separated list, empty ones dropped (no
// trimming: a blank is part of its item).
std::vector<std::string> SplitCommas(std::string_view text);
// {"a", "b"} -> "a,b".
std::string JoinCommas(const std::vector<std::string>& items);

}  // namespace jobnet::base

#endif  // JOBNET_BASE_PARSE_HPP_
