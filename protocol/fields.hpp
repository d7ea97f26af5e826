// One description per message and record: a struct's msgpack map as a table of fields (key,
// member, bound, when it is written). The same table drives encoding (PackFields) and bounded
// decoding (ReadFields), for the wire and for the journal. Plain C++17 on msgpack-c, no CAF or
// ZeroMQ, so the codec stays buildable and fuzzable alone. Internal to jobnet.
//
//   Str("queue", &JobSpec::queue, limits::kQueueNameBytesMax)   a string of at most N bytes
//   Uint("priority", &JobSpec::priority)                        an unsigned of the member's width
//   Bool("reuse", &JobSpec::reuse, kIfSet)                       left out while false
//   Raw("payload", &JobSpec::payload, limits::kPayloadBytesMax)  any one msgpack value, as bytes
//   Custom<QueueSettings>("order", {PackOrder, ReadOrder})       anything else (enums as names)
//   ....When(HasCallback) / .Json()                              written with a group / JSON too
//
// Reading: unknown keys are skipped, an absent (or nil) field keeps the struct's default, a
// kRequired one is kInvalidArgument "missing field 'k'", a wrong msgpack type kCorruption and a
// string past its bound kTooLarge, each naming the field. A field may name an older key that is
// read when the current key is absent (journal records written before one spec encoding).
#ifndef JOBNET_PROTOCOL_FIELDS_HPP_
#define JOBNET_PROTOCOL_FIELDS_HPP_

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <msgpack.hpp>

#include "jobnet/job.h"
#include "jobnet/status.h"
#include "protocol/msgpack_bounded.hpp"
#include "protocol/try.hpp"

namespace jobnet::protocol {

using Packer = msgpack::packer<msgpack::sbuffer>;

// Typed access to the fields of one msgpack map; every accessor checks the msgpack type and
// says which field failed.
class MapReader {
 public:
  explicit MapReader(const msgpack::object& o) : keys_(o) {}

  const msgpack::object* Find(const char* key) const { return keys_.Find(key); }
  const msgpack::object& object() const { return keys_.map(); }

  Status Str(const char* key, std::string* out, uint32_t max_bytes, bool required = false) const;
  template <class T>
  Status Uint(const char* key, T* out, bool required = false) const {
    uint64_t v = 0;
    bool present = false;
    JOBNET_TRY(U64(key, &v, std::numeric_limits<T>::max(), required, &present));
    if (present) *out = static_cast<T>(v);
    return Status::OK();
  }
  Status Bool(const char* key, bool* out) const;
  // A bin (or str) field of at most max_bytes.
  Status Bin(const char* key, std::string* out, uint32_t max_bytes, bool required = false) const;
  // Any msgpack value, re-encoded to raw bytes, within max_bytes and the payload nesting bound.
  Status Raw(const char* key, std::string* out, uint32_t max_bytes) const;
  // A job state by name; *present = false when absent or empty.
  Status State(const char* key, JobState* out, bool* present) const;
  Status Counts(const char* key, std::map<std::string, uint64_t>* out) const;
  // An array of at most max_items strings of at most max_bytes each, appended to *out.
  Status Strs(const char* key, std::vector<std::string>* out, uint32_t max_items,
              uint32_t max_bytes) const;

 private:
  Status U64(const char* key, uint64_t* out, uint64_t max, bool required, bool* present) const;
  KeyFinder keys_;
};

// The entries of msgpack map `m` (of field `field`), each a string to a count, into `out`.
Status ReadCounts(const msgpack::object& m, const std::string& field,
                  std::map<std::string, uint64_t>* out);

void PackStr(Packer& pk, const std::string& s);
void PackKey(Packer& pk, const char* key);
// Raw msgpack bytes (payload, result) as they are (a msgpack value is self-delimiting); empty
// bytes as nil.
void PackRaw(msgpack::sbuffer& buf, const std::string& raw);

// When a field is written, and what its absence means on read.
enum class Presence : uint8_t {
  kAlways,    // always written; absent: the default
  kRequired,  // always written; absent: kInvalidArgument
  kIfSet,     // written only when it is not the default (older readers never see it); an
              // optional<> member: when it holds a value
};
constexpr Presence kAlways = Presence::kAlways;
constexpr Presence kRequired = Presence::kRequired;
constexpr Presence kIfSet = Presence::kIfSet;

enum class FieldType : uint8_t { kStr, kBin, kRaw, kUint, kBool, kCustom };

// A field no table type covers (an enum written as its name, a nested list): its own three
// functions. `present` may be null (always written).
template <class T>
struct CustomCodec {
  void (*pack)(msgpack::sbuffer& buf, Packer& pk, const T& v) = nullptr;
  Status (*read)(const MapReader& r, const char* key, T* v) = nullptr;
  bool (*present)(const T& v) = nullptr;
};

template <class T>
struct Field {
  using Member = std::variant<std::string T::*, uint32_t T::*, uint64_t T::*, bool T::*,
                              std::optional<uint32_t> T::*, std::optional<bool> T::*,
                              CustomCodec<T>>;
  const char* key;
  FieldType type;
  Member member;
  uint32_t bytes_max;  // strings, bin and raw
  Presence presence;
  const char* old_key;  // read when `key` is absent; nullptr: none
  // Written only when this says so (a group of fields that go together); null: by presence.
  bool (*when)(const T& v) = nullptr;
  // Its JSON (client/json.cpp: the HTTP face and the CLI) is derived from this row: the same key,
  // a string, number or boolean, left out when not written. Rows without it have their JSON
  // written by hand (other keys, durations, null for "").
  bool json = false;

  Field When(bool (*w)(const T& v)) const {
    Field f = *this;
    f.when = w;
    return f;
  }
  Field Json() const {
    Field f = *this;
    f.json = true;
    return f;
  }
};

template <class T>
using Fields = std::vector<Field<T>>;

template <class T>
Field<T> Str(const char* key, std::string T::*m, uint32_t bytes_max, Presence p = kAlways,
             const char* old_key = nullptr) {
  return {key, FieldType::kStr, m, bytes_max, p, old_key};
}
template <class T>
Field<T> Bin(const char* key, std::string T::*m, uint32_t bytes_max, Presence p = kAlways) {
  return {key, FieldType::kBin, m, bytes_max, p, nullptr};
}
template <class T>
Field<T> Raw(const char* key, std::string T::*m, uint32_t bytes_max, Presence p = kAlways) {
  return {key, FieldType::kRaw, m, bytes_max, p, nullptr};
}
template <class T, class U>
Field<T> Uint(const char* key, U T::*m, Presence p = kAlways, const char* old_key = nullptr) {
  return {key, FieldType::kUint, m, 0, p, old_key};
}
template <class T, class U>
Field<T> Bool(const char* key, U T::*m, Presence p = kAlways) {
  return {key, FieldType::kBool, m, 0, p, nullptr};
}
template <class T>
Field<T> Custom(const char* key, CustomCodec<T> codec, Presence p = kAlways) {
  return {key, FieldType::kCustom, codec, 0, p, nullptr};
}

// Each visit below is compiled for every member type of the variant, also those a small struct
// does not have (a uint64_t member of an empty request): GCC's -Warray-bounds then warns about
// code that no table can reach (no such row exists). Silenced here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif

namespace detail {

template <class T, class U>
bool IsSet(const T& v, U T::*m) {
  static const T kDefault{};
  return v.*m != kDefault.*m;
}
template <class T, class U>
bool IsSet(const T& v, std::optional<U> T::*m) {
  return (v.*m).has_value();
}

template <class T>
bool Written(const Field<T>& f, const T& v) {
  if (f.when != nullptr) return f.when(v);
  if (const auto* c = std::get_if<CustomCodec<T>>(&f.member))
    return c->present == nullptr || c->present(v);
  if (f.presence != kIfSet) return true;
  return std::visit(
      [&v](auto m) {
        if constexpr (std::is_member_object_pointer_v<decltype(m)>) {
          return IsSet(v, m);
        } else {
          return true;
        }
      },
      f.member);
}

inline void PackValue(msgpack::sbuffer& buf, Packer& pk, FieldType type, const std::string& s) {
  if (type == FieldType::kRaw) {
    PackRaw(buf, s);
  } else if (type == FieldType::kBin) {
    pk.pack_bin(static_cast<uint32_t>(s.size()));
    pk.pack_bin_body(s.data(), static_cast<uint32_t>(s.size()));
  } else {
    PackStr(pk, s);
  }
}
inline void PackValue(msgpack::sbuffer&, Packer& pk, FieldType, uint32_t x) { pk.pack_uint32(x); }
inline void PackValue(msgpack::sbuffer&, Packer& pk, FieldType, uint64_t x) {
  pk.pack_uint64(x);
}
inline void PackValue(msgpack::sbuffer&, Packer& pk, FieldType, bool x) { pk.pack(x); }
template <class U>
void PackValue(msgpack::sbuffer& buf, Packer& pk, FieldType type, const std::optional<U>& x) {
  PackValue(buf, pk, type, *x);
}

inline Status ReadValue(const MapReader& r, const char* key, FieldType type, uint32_t bytes_max,
                        bool required, std::string* out) {
  switch (type) {
    case FieldType::kRaw: return r.Raw(key, out, bytes_max);
    case FieldType::kBin: return r.Bin(key, out, bytes_max, required);
    default: return r.Str(key, out, bytes_max, required);
  }
}
template <class U>
Status ReadValue(const MapReader& r, const char* key, FieldType, uint32_t, bool required, U* out) {
  if constexpr (std::is_same_v<U, bool>) {
    return r.Bool(key, out);
  } else {
    return r.Uint(key, out, required);
  }
}
// An optional<> member: set only when the field is there (and not nil).
template <class U>
Status ReadValue(const MapReader& r, const char* key, FieldType type, uint32_t bytes_max,
                 bool required, std::optional<U>* out) {
  const auto* v = r.Find(key);
  if (v == nullptr || v->type == msgpack::type::NIL) return Status::OK();
  U x{};
  JOBNET_TRY(ReadValue(r, key, type, bytes_max, required, &x));
  *out = x;
  return Status::OK();
}

}  // namespace detail

// Whether PackFields writes field `f` of `v`.
template <class T>
bool IsWritten(const Field<T>& f, const T& v) {
  return detail::Written(f, v);
}

// How many of `fields` PackFields writes for `v`.
template <class T>
uint32_t CountFields(const Fields<T>& fields, const T& v) {
  uint32_t n = 0;
  for (const auto& f : fields) n += detail::Written(f, v) ? 1 : 0;
  return n;
}

// The key/value pairs of `v`, in table order, into a map the caller opened.
template <class T>
void PackFields(msgpack::sbuffer& buf, Packer& pk, const Fields<T>& fields, const T& v) {
  for (const auto& f : fields) {
    if (!detail::Written(f, v)) continue;
    PackKey(pk, f.key);
    std::visit(
        [&](auto m) {
          if constexpr (std::is_member_object_pointer_v<decltype(m)>) {
            detail::PackValue(buf, pk, f.type, v.*m);
          } else {
            m.pack(buf, pk, v);
          }
        },
        f.member);
  }
}

// `v` as a map of its fields and `extra` more pairs, which the caller writes next.
template <class T>
void PackMap(msgpack::sbuffer& buf, Packer& pk, const Fields<T>& fields, const T& v,
             uint32_t extra = 0) {
  pk.pack_map(CountFields(fields, v) + extra);
  PackFields(buf, pk, fields, v);
}

// Reads every field of the table from `r` into *v (see the top of this file for the rules).
template <class T>
Status ReadFields(const MapReader& r, const Fields<T>& fields, T* v) {
  for (const auto& f : fields) {
    const char* key = f.old_key != nullptr && r.Find(f.key) == nullptr ? f.old_key : f.key;
    const bool required = f.presence == kRequired;
    JOBNET_TRY(std::visit(
        [&](auto m) -> Status {
          if constexpr (std::is_member_object_pointer_v<decltype(m)>) {
            return detail::ReadValue(r, key, f.type, f.bytes_max, required, &(v->*m));
          } else {
            return m.read(r, key, v);
          }
        },
        f.member));
  }
  return Status::OK();
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_FIELDS_HPP_
