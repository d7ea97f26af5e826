// Bounded msgpack decoding shared by everything that reads untrusted bytes (wire frames,
// journal records, job payloads): one value, within limits.hpp's size, depth and container
// bounds, never throwing. Internal to jobnet; clients use codec.hpp.
#ifndef JOBNET_PROTOCOL_MSGPACK_BOUNDED_HPP_
#define JOBNET_PROTOCOL_MSGPACK_BOUNDED_HPP_

#include <cstddef>
#include <cstdint>

#include <msgpack.hpp>

#include "jobnet/status.h"

namespace jobnet::protocol {

// Unpacks exactly one msgpack value of at most `bytes_max` bytes, nesting at most
// limits::kDepthMax arrays/maps (msgpack-c's unpacker keeps its own stack: it does not recurse).
// kCorruption for bytes that are not one value (empty, malformed, trailing bytes), kTooLarge past
// a size bound, kInvalidArgument past the depth bound.
Status UnpackBounded(const char* data, std::size_t len, std::size_t bytes_max,
                     msgpack::object_handle* out);
// The same into `zone`, which the caller owns and may clear and reuse (a reader of many small
// values, such as recovery, then allocates nothing per value); *out lives as long as the zone's
// contents.
Status UnpackBounded(const char* data, std::size_t len, std::size_t bytes_max,
                     msgpack::zone* zone, msgpack::object* out);

// Checks that `len` bytes hold exactly one msgpack value nesting at most `depth_max` arrays and
// maps, walking it without building it (no recursion, no allocation but the parser's own stack,
// and it stops at the first container past the bound). kInvalidArgument naming `what` when it
// nests deeper, kCorruption for bytes that are not one value.
Status CheckNesting(const char* data, std::size_t len, uint32_t depth_max, const char* what);

// The value under string key `key` in msgpack map `map`, or nullptr.
const msgpack::object* FindKey(const msgpack::object& map, const char* key);

// FindKey for reading many keys of one map: each search starts at the last match and wraps
// around, so a map read in the order it was written (every record and message: their field
// tables write and read in one order) finds each key within two comparisons, and a key looked up
// twice at once. The same answers as FindKey whatever the order.
class KeyFinder {
 public:
  explicit KeyFinder(const msgpack::object& map) : map_(map) {}
  const msgpack::object* Find(const char* key) const;
  const msgpack::object& map() const { return map_; }

 private:
  const msgpack::object& map_;
  mutable uint32_t next_ = 0;  // the last match: where the next search starts
};

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_MSGPACK_BOUNDED_HPP_
