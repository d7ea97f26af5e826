// base/: the one reader of whole numbers and host:port text, and the one clock helper.
// Method: each reader at its bounds (max, max + 1, UINT64_MAX and one past it), on empty text,
// signs, spaces and trailing garbage; host:port with IPv4, names, bracketed IPv6 and bad ports;
// the clocks against std::chrono read around them.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "base/base64.hpp"
#include "base/clock.hpp"
#include "base/parse.hpp"

namespace jobnet::base {
namespace {

class BaseTest : public ::testing::Test {};

TEST_F(BaseTest, UintAtAndPastItsMax) {
  EXPECT_EQ(ParseUint("0"), 0u);
  EXPECT_EQ(ParseUint("42"), 42u);
  EXPECT_EQ(ParseUint("007"), 7u);  // leading zeros are the caller's to refuse
  EXPECT_EQ(ParseUint("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseUint("18446744073709551616"), std::nullopt);  // UINT64_MAX + 1
  EXPECT_EQ(ParseUint("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(ParseUint("64", 64), 64u);
  EXPECT_EQ(ParseUint("65", 64), std::nullopt);
  EXPECT_EQ(ParseUint("4294967295", UINT32_MAX), UINT32_MAX);
  EXPECT_EQ(ParseUint("4294967296", UINT32_MAX), std::nullopt);
}

TEST_F(BaseTest, UintRefusesAnythingButDigits) {
  for (const char* bad : {"", " ", " 1", "1 ", "+1", "-1", "1x", "x1", "1.0", "1e3", "0x10", "1,000"})
    EXPECT_EQ(ParseUint(bad), std::nullopt) << "'" << bad << "'";
}

TEST_F(BaseTest, PortIsOneTo65535) {
  EXPECT_EQ(ParsePort("1"), 1u);
  EXPECT_EQ(ParsePort("65535"), 65535u);
  EXPECT_EQ(ParsePort("0"), std::nullopt);
  EXPECT_EQ(ParsePort("65536"), std::nullopt);
  EXPECT_EQ(ParsePort(""), std::nullopt);
  EXPECT_EQ(ParsePort("-1"), std::nullopt);
}

TEST_F(BaseTest, HostPortReadsNamesIpv4AndBracketedIpv6) {
  struct Case {
    const char* text;
    const char* host;
    uint16_t port;
  };
  for (const Case& c : {Case{"127.0.0.1:7801", "127.0.0.1", 7801}, Case{"localhost:1", "localhost", 1},
                        Case{"[::1]:65535", "::1", 65535}, Case{"[2001:db8::7]:80", "2001:db8::7", 80}}) {
    auto hp = ParseHostPort(c.text);
    ASSERT_TRUE(hp) << c.text;
    EXPECT_EQ(hp->host, c.host) << c.text;
    EXPECT_EQ(hp->port, c.port) << c.text;
  }
}

TEST_F(BaseTest, HostPortRefusesBadPortsAndHosts) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":7801", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:80x", "127.0.0.1: 80", "[::1]", "[::1:80",
                          "::1]:80", "[]:80", "::1:80", "[a]b]:80", "host:99999999999999999999"})
    EXPECT_FALSE(ParseHostPort(bad)) << "'" << bad << "'";
}

TEST_F(BaseTest, ClocksReadTheSystemClocks) {
  auto wall_before = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  auto steady_before = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now().time_since_epoch()).count();
  uint64_t wall = WallMs();
  uint64_t steady = SteadyMs();
  EXPECT_GE(wall, static_cast<uint64_t>(wall_before));
  EXPECT_LT(wall, static_cast<uint64_t>(wall_before) + 1000);
  EXPECT_GE(steady, static_cast<uint64_t>(steady_before));
  EXPECT_LT(steady, static_cast<uint64_t>(steady_before) + 1000);
  EXPECT_GE(SteadyMs(), steady);  // never backwards
}

TEST_F(BaseTest, Base64RoundTripsEveryTailLength) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");  // RFC 4648 §10
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    EXPECT_EQ(Base64Decode(Base64Encode(all.substr(0, n))), all.substr(0, n)) << n;
  }
}

TEST_F(BaseTest, CommaListsSplitWithoutEmptyItemsAndJoinBack) {
  EXPECT_EQ(SplitCommas(""), std::vector<std::string>{});
  EXPECT_EQ(SplitCommas(",,"), std::vector<std::string>{});
  EXPECT_EQ(SplitCommas("read"), std::vector<std::string>{"read"});
  EXPECT_EQ(SplitCommas(",read,,write,"), (std::vector<std::string>{"read", "write"}));
  EXPECT_EQ(SplitCommas("a b,c"), (std::vector<std::string>{"a b", "c"}));
  EXPECT_EQ(JoinCommas({}), "");
  EXPECT_EQ(JoinCommas({"read", "write"}), "read,write");
  EXPECT_EQ(JoinCommas(SplitCommas("x,,y")), "x,y");
}

// base64url without padding, as JWTs and JWKs spell bytes (RFC 4648 §5, RFC 7515 §2).
TEST_F(BaseTest, Base64UrlDecodesUnpaddedUrlTextOnly) {
  EXPECT_EQ(Base64UrlDecode(""), "");
  EXPECT_EQ(Base64UrlDecode("Zg"), "f");
  EXPECT_EQ(Base64UrlDecode("Zm8"), "fo");
  EXPECT_EQ(Base64UrlDecode("Zm9v"), "foo");
  EXPECT_EQ(Base64UrlDecode("-_8"), std::string("\xfb\xff"));
  EXPECT_FALSE(Base64UrlDecode("Zg=="));  // padded
  EXPECT_FALSE(Base64UrlDecode("+/8"));   // the standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z"));     // no length leaves one character over
  EXPECT_FALSE(Base64UrlDecode("Zh"));    // bits left over that are not zero
  EXPECT_FALSE(Base64UrlDecode("Zm.v"));
}

TEST_F(BaseTest, Base64RefusesAnythingButCanonicalText) {
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_FALSE(Base64Decode("Zg="));     // length not a multiple of 4
  EXPECT_FALSE(Base64Decode("Z%=="));    // outside the alphabet
  EXPECT_FALSE(Base64Decode("Zg==Zg=="));  // padding before the end
  EXPECT_FALSE(Base64Decode("=Zg="));
  EXPECT_FALSE(Base64Decode("Zh=="));    // leftover bits set: not the canonical "Zg=="
  EXPECT_FALSE(Base64Decode("Zm9=\n"));
}

}  // namespace
}  // namespace jobnet::base
