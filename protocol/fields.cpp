// The typed map reader and the packing helpers behind the field tables (fields.hpp).
#include "protocol/fields.hpp"

namespace jobnet::protocol {

void PackStr(Packer& pk, const std::string& s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

void PackKey(Packer& pk, const char* key) {
  auto n = static_cast<uint32_t>(std::char_traits<char>::length(key));
  pk.pack_str(n);
  pk.pack_str_body(key, n);
}

void PackRaw(msgpack::sbuffer& buf, const std::string& raw) {
  if (raw.empty()) {
    buf.write("\xc0", 1);
  } else {
    buf.write(raw.data(), raw.size());
  }
}

Status ReadCounts(const msgpack::object& m, const std::string& field,
                  std::map<std::string, uint64_t>* out) {
  for (uint32_t i = 0; i < m.via.map.size; ++i) {
    const auto& kv = m.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::POSITIVE_INTEGER)
      return Status::Corruption("field '" + field + "' must map strings to counts");
    (*out)[std::string(kv.key.via.str.ptr, kv.key.via.str.size)] = kv.val.via.u64;
  }
  return Status::OK();
}

namespace {

Status Missing(const char* key) {
  return Status::InvalidArgument(std::string("missing field '") + key + "'");
}

Status Longer(const char* key, uint32_t max_bytes) {
  return Status::TooLarge(std::string("field '") + key + "' is longer than " +
                          std::to_string(max_bytes) + " bytes");
}

}  // namespace

Status MapReader::Str(const char* key, std::string* out, uint32_t max_bytes, bool required) const {
  const auto* v = Find(key);
  if (v == nullptr || v->type == msgpack::type::NIL) return required ? Missing(key) : Status::OK();
  if (v->type != msgpack::type::STR)
    return Status::Corruption(std::string("field '") + key + "' must be a string");
  if (v->via.str.size > max_bytes) return Longer(key, max_bytes);
  out->assign(v->via.str.ptr, v->via.str.size);
  return Status::OK();
}

Status MapReader::Strs(const char* key, std::vector<std::string>* out, uint32_t max_items,
                       uint32_t max_bytes) const {
  const auto* a = Find(key);
  if (a == nullptr || a->type == msgpack::type::NIL) return Status::OK();
  if (a->type != msgpack::type::ARRAY || a->via.array.size > max_items)
    return Status::Corruption(std::string("field '") + key + "' must be an array of at most " +
                              std::to_string(max_items) + " strings");
  for (uint32_t i = 0; i < a->via.array.size; ++i) {
    const msgpack::object& v = a->via.array.ptr[i];
    if (v.type != msgpack::type::STR)
      return Status::Corruption(std::string("each of '") + key + "' must be a string");
    if (v.via.str.size > max_bytes)
      return Status::TooLarge(std::string("an entry of '") + key + "' is longer than " +
                              std::to_string(max_bytes) + " bytes");
    out->emplace_back(v.via.str.ptr, v.via.str.size);
  }
  return Status::OK();
}

Status MapReader::U64(const char* key, uint64_t* out, uint64_t max, bool required,
                      bool* present) const {
  *present = false;
  const auto* v = Find(key);
  if (v == nullptr || v->type == msgpack::type::NIL) return required ? Missing(key) : Status::OK();
  if (v->type != msgpack::type::POSITIVE_INTEGER)
    return Status::Corruption(std::string("field '") + key + "' must be a non-negative integer");
  if (v->via.u64 > max)
    return Status::InvalidArgument(std::string("field '") + key + "' is out of range");
  *out = v->via.u64;
  *present = true;
  return Status::OK();
}

Status MapReader::Bool(const char* key, bool* out) const {
  const auto* v = Find(key);
  if (v == nullptr || v->type == msgpack::type::NIL) return Status::OK();
  if (v->type != msgpack::type::BOOLEAN)
    return Status::Corruption(std::string("field '") + key + "' must be a boolean");
  *out = v->via.boolean;
  return Status::OK();
}

Status MapReader::Bin(const char* key, std::string* out, uint32_t max_bytes, bool required) const {
  const auto* v = Find(key);
  if (v == nullptr || v->type == msgpack::type::NIL) return required ? Missing(key) : Status::OK();
  if (v->type != msgpack::type::BIN && v->type != msgpack::type::STR)
    return Status::Corruption(std::string("field '") + key + "' must be bytes (bin)");
  uint32_t n = v->type == msgpack::type::BIN ? v->via.bin.size : v->via.str.size;
  const char* p = v->type == msgpack::type::BIN ? v->via.bin.ptr : v->via.str.ptr;
  if (n > max_bytes) return Longer(key, max_bytes);
  out->assign(p, n);
  return Status::OK();
}

Status MapReader::Raw(const char* key, std::string* out, uint32_t max_bytes) const {
  const auto* v = Find(key);
  if (v == nullptr) return Status::OK();
  // Sized for the common nil or small value (the default 8 KiB buffer is one 8 KiB malloc).
  msgpack::sbuffer buf(64);
  msgpack::pack(buf, *v);
  if (buf.size() > max_bytes)
    return Status::TooLarge(std::string("field '") + key + "' is " + std::to_string(buf.size()) +
                            " bytes; the limit is " + std::to_string(max_bytes));
  // Payloads and results share one nesting bound wherever they travel (limits.h).
  std::string what = std::string("field '") + key + "'";
  JOBNET_TRY(CheckNesting(buf.data(), buf.size(), limits::kPayloadDepthMax, what.c_str()));
  out->assign(buf.data(), buf.size());
  return Status::OK();
}

Status MapReader::State(const char* key, JobState* out, bool* present) const {
  std::string name;
  *present = false;
  if (Find(key) == nullptr) return Status::OK();
  JOBNET_TRY(Str(key, &name, 16));
  if (name.empty()) return Status::OK();
  auto st = ParseJobState(name);
  if (!st) return Status::InvalidArgument("unknown job state '" + name + "'");
  *out = *st;
  *present = true;
  return Status::OK();
}

Status MapReader::Counts(const char* key, std::map<std::string, uint64_t>* out) const {
  const auto* v = Find(key);
  if (v == nullptr) return Status::OK();
  if (v->type != msgpack::type::MAP)
    return Status::Corruption(std::string("field '") + key + "' must be a map");
  return ReadCounts(*v, key, out);
}

}  // namespace jobnet::protocol
