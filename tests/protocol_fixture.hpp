// The protocol tests' fixture: round trips, hand-built frames and decoding a frame as an older
// sender (without one field) would have written it. Shared by protocol_test and
// protocol_feature_test.
#ifndef JOBNET_TESTS_PROTOCOL_FIXTURE_HPP_
#define JOBNET_TESTS_PROTOCOL_FIXTURE_HPP_

#include <gtest/gtest.h>

#include <msgpack.hpp>

#include <limits>
#include <random>

#include "protocol/codec.hpp"
#include "protocol/histograms.hpp"
#include "protocol/job_record.hpp"

namespace jobnet::protocol {

class ProtocolTest : public ::testing::Test {
 protected:
  static Envelope RoundTrip(const Envelope& in) {
    std::string bytes = Encode(in);
    uint64_t corr = 0;
    auto out = Decode(bytes.data(), bytes.size(), &corr, limits::kReplyFrameBytesMax);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(corr, in.corr_id);
    return out.ok() ? out.value() : Envelope{};
  }
  // Encodes `in` without the body field `field` (its key and value bytes), as a node built
  // before the field existed would send it, and decodes that. `entries` is the body map's size
  // with the field (a fixmap, < 16 entries).
  static Envelope DecodeWithout(const Envelope& in, const std::string& field, uint8_t entries) {
    std::string bytes = Encode(in);
    size_t at = bytes.find(field);
    EXPECT_NE(at, std::string::npos);
    if (at == std::string::npos) return Envelope{};
    bytes.erase(at, field.size());
    size_t header = bytes.rfind(static_cast<char>(0x80 | entries), at);
    EXPECT_NE(header, std::string::npos);
    if (header == std::string::npos) return Envelope{};
    bytes[header] = static_cast<char>(0x80 | (entries - 1));
    uint64_t corr = 0;
    auto old = Decode(bytes.data(), bytes.size(), &corr, limits::kReplyFrameBytesMax);
    EXPECT_TRUE(old.ok()) << old.status().ToString();
    return old.ok() ? old.value() : Envelope{};
  }
  static Status DecodeStatus(const std::string& bytes, uint64_t* corr = nullptr) {
    uint64_t c = 0;
    auto r = Decode(bytes.data(), bytes.size(), &c);
    if (corr) *corr = c;
    return r.ok() ? Status::OK() : r.status();
  }
  // Hand-built frame: [version, kind, corr, body] with a caller-packed body.
  template <class F>
  static std::string Frame(uint64_t version, uint64_t kind, uint64_t corr, F body) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(&buf);
    pk.pack_array(4);
    pk.pack(version);
    pk.pack(kind);
    pk.pack(corr);
    body(pk);
    return std::string(buf.data(), buf.size());
  }
  static std::string Packed(const std::string& s) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, s);
    return std::string(buf.data(), buf.size());
  }
};

}  // namespace jobnet::protocol

#endif  // JOBNET_TESTS_PROTOCOL_FIXTURE_HPP_
