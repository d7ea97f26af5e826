// Bounded msgpack decoding: see msgpack_bounded.hpp.
#include "protocol/msgpack_bounded.hpp"

#include <exception>
#include <new>
#include <string>

#include "jobnet/limits.h"

namespace jobnet::protocol {

namespace {

// Runs `unpack` (one call of msgpack-c's unpack within `bytes_max`) and turns what msgpack-c
// throws into a Status; `off` is where the value ended.
template <class Unpack>
Status UnpackChecked(std::size_t len, std::size_t bytes_max, Unpack unpack) {
  if (len == 0) return Status::Corruption("empty frame");
  if (len > bytes_max)
    return Status::TooLarge("frame is " + std::to_string(len) + " bytes; the limit is " +
                            std::to_string(bytes_max));
  msgpack::unpack_limit limit(limits::kContainerItemsMax, limits::kContainerItemsMax, bytes_max,
                              bytes_max, bytes_max, limits::kDepthMax);
  std::size_t off = 0;
  try {
    unpack(limit, off);
  } catch (const msgpack::depth_size_overflow&) {  // derives from size_overflow: catch first
    return Status::InvalidArgument(
        "frame nests deeper than " + std::to_string(limits::kDepthMax) +
        " arrays/maps: a payload or result may nest at most " +
        std::to_string(limits::kPayloadDepthMax));
  } catch (const msgpack::size_overflow& e) {
    return Status::TooLarge(std::string("frame exceeds a decoder limit: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Status::TooLarge("frame needs too much memory to decode");
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("not a msgpack value: ") + e.what());
  }
  if (off != len)
    return Status::Corruption("trailing bytes after the msgpack value (" +
                              std::to_string(len - off) + ")");
  return Status::OK();
}

}  // namespace

Status UnpackBounded(const char* data, std::size_t len, std::size_t bytes_max,
                     msgpack::object_handle* out) {
  return UnpackChecked(len, bytes_max, [&](const msgpack::unpack_limit& limit, std::size_t& off) {
    *out = msgpack::unpack(data, len, off, nullptr, nullptr, limit);
  });
}

Status UnpackBounded(const char* data, std::size_t len, std::size_t bytes_max,
                     msgpack::zone* zone, msgpack::object* out) {
  return UnpackChecked(len, bytes_max, [&](const msgpack::unpack_limit& limit, std::size_t& off) {
    *out = msgpack::unpack(*zone, data, len, off, nullptr, nullptr, limit);
  });
}

namespace {

// Follows nesting as msgpack-c's parser walks a value and stops the walk at the first container
// past the bound. The parser keeps its own stack, so a hostile value cannot make this recurse.
struct NestingVisitor : msgpack::null_visitor {
  explicit NestingVisitor(uint32_t max) : depth_max(max) {}
  bool Enter() {
    if (++depth <= depth_max) return true;
    too_deep = true;
    return false;
  }
  bool Leave() {
    --depth;
    return true;
  }
  bool start_array(uint32_t) { return Enter(); }
  bool end_array() { return Leave(); }
  bool start_map(uint32_t) { return Enter(); }
  bool end_map() { return Leave(); }
  void parse_error(size_t, size_t) { malformed = true; }
  void insufficient_bytes(size_t, size_t) { malformed = true; }
  uint32_t depth_max;
  uint32_t depth = 0;
  bool too_deep = false;
  bool malformed = false;
};

}  // namespace

Status CheckNesting(const char* data, std::size_t len, uint32_t depth_max, const char* what) {
  NestingVisitor v(depth_max);
  std::size_t off = 0;
  bool parsed = false;
  try {
    parsed = len != 0 && msgpack::parse(data, len, off, v);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string(what) + " is not a msgpack value: " + e.what());
  }
  if (v.too_deep)
    return Status::InvalidArgument(std::string(what) + " nests deeper than " +
                                   std::to_string(depth_max) + " arrays/maps");
  if (!parsed || v.malformed || off != len)
    return Status::Corruption(std::string(what) + " is not exactly one msgpack value");
  return Status::OK();
}

const msgpack::object* FindKey(const msgpack::object& map, const char* key) {
  const std::size_t n = std::char_traits<char>::length(key);
  if (n == 0) return nullptr;  // no table asks for an empty key
  // Keys are short and mostly differ in their first byte: comparing it inline first spares a
  // memcmp call per key passed over (a quarter of decoding a job record was these calls).
  for (uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& k = map.via.map.ptr[i].key;
    if (k.type == msgpack::type::STR && k.via.str.size == n && k.via.str.ptr[0] == key[0] &&
        std::char_traits<char>::compare(k.via.str.ptr + 1, key + 1, n - 1) == 0)
      return &map.via.map.ptr[i].val;
  }
  return nullptr;
}

const msgpack::object* KeyFinder::Find(const char* key) const {
  const std::size_t n = std::char_traits<char>::length(key);
  const uint32_t size = map_.via.map.size;
  if (n == 0 || size == 0) return nullptr;
  if (next_ >= size) next_ = 0;
  const msgpack::object_kv* kv = map_.via.map.ptr;
  for (uint32_t step = 0, i = next_; step < size; ++step, i = i + 1 == size ? 0 : i + 1) {
    const auto& k = kv[i].key;
    if (k.type == msgpack::type::STR && k.via.str.size == n && k.via.str.ptr[0] == key[0] &&
        std::char_traits<char>::compare(k.via.str.ptr + 1, key + 1, n - 1) == 0) {
      next_ = i;  // a field read twice (is it there? then read it) is found at once again
      return &kv[i].val;
    }
  }
  return nullptr;
}

}  // namespace jobnet::protocol
