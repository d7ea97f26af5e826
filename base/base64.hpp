// Standard base64 (RFC 4648 §4, with '=' padding): binary in text formats, such as a
// job's HTTP body in a result or etcd's keys and values in its JSON gateway.
#ifndef JOBNET_BASE_BASE64_HPP_
#define JOBNET_BASE_BASE64_HPP_

#include <optional>
#include <string>
#include <string_view>

namespace jobnet::base {

std::string Base64Encode(std::string_view in);

// The bytes `in` encodes; nullopt unless `in` is canonical padded base64 (length a multiple of
// 4, only the alphabet, '=' only as the last one or two characters). Bytes from the network
// are decoded here, so nothing but well-formed text gives a value.
std::optional<std::string> Base64Decode(std::string_view in);

// The bytes of unpadded base64url (RFC 4648 §5, as JWTs and JWKs spell binary: '-' and '_' for
// '+' and '/', no '='); nullopt for anything else, padded or standard-alphabet text included.
std::optional<std::string> Base64UrlDecode(std::string_view in);

}  // namespace jobnet::base

#endif  // JOBNET_BASE_BASE64_HPP_
