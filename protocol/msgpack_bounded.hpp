// Bounded msgpack decoding shared by everything that reads untrusted bytes (wire frames,
// journal records, job payloads): one value, within limits.hpp's size, depth and container
// bounds, never throwing. Internal to jobnet; clients use codec.hpp.
#ifndef JOBNET_PROTOCOL_MSGPACK_BOUNDED_HPP_
#define JOBNET_PROTOCOL_MSGPACK_BOUNDED_HPP_

#include <cstddef>

#include <msgpack.hpp>

#include "jobnet/status.h"

namespace jobnet::protocol {

// Unpacks exactly one msgpack value of at most `bytes_max` bytes. kCorruption for bytes that
// are not one value (empty, malformed, trailing bytes), kTooLarge past a bound.
Status UnpackBounded(const char* data, std::size_t len, std::size_t bytes_max,
                     msgpack::object_handle* out);

// The value under string key `key` in msgpack map `map`, or nullptr.
const msgpack::object* FindKey(const msgpack::object& map, const char* key);

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_MSGPACK_BOUNDED_HPP_
