// Callback URLs, the allow-list and the retry schedule (contract in callbacks.hpp).
#include "core/callbacks.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "base/parse.hpp"

namespace jobnet::sched {
namespace {

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// A DNS name as the allow-list and URLs may hold it: letters, digits, dots and dashes. No
// percent-escapes or other characters, so the name the node checks is the name curl resolves.
bool IsHostName(const std::string& s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

bool PrefixMatches(const IpAddress& a, const IpAddress& base, uint32_t prefix) {
  if (a.v6 != base.v6) return false;
  for (uint32_t i = 0; i < prefix / 8; ++i)
    if (a.bytes[i] != base.bytes[i]) return false;
  if (prefix % 8 == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix % 8));
  return (a.bytes[prefix / 8] & mask) == (base.bytes[prefix / 8] & mask);
}

}  // namespace

Result<CallbackUrl> ParseCallbackUrl(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("callback '" + text.substr(0, 200) + "' " + why);
  };
  if (text.size() > limits::kCallbackUrlBytesMax)
    return Status::InvalidArgument("callback must be at most " +
                                   std::to_string(limits::kCallbackUrlBytesMax) + " bytes");
  for (char c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad("has a space or control character (percent-encode it)");
  size_t sep = text.find("://");
  if (sep == std::string::npos) return bad("is not an absolute URL (want http://host/path)");
  CallbackUrl u;
  u.scheme = Lower(text.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https")
    return bad("has scheme '" + u.scheme + "': only http and https callbacks are sent");
  if (text.find('#') != std::string::npos) return bad("has a fragment, which is never sent");
  size_t start = sep + 3;
  size_t end = text.find_first_of("/?", start);
  std::string authority = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  u.target = end == std::string::npos ? "/" : text.substr(end);
  if (u.target.front() == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string::npos)
    return bad("has user info (user@host): put credentials in the path or rely on the signature");
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return bad("has an unclosed [IPv6] host");
    u.host = authority.substr(1, close - 1);
    std::string rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad("has text after its [IPv6] host");
    if (!rest.empty()) port = rest.substr(1);
    auto ip = ParseIpAddress(u.host);
    // (an IPv4-mapped address reads as IPv4, but is written as IPv6 here)
    if (!ip || u.host.find(':') == std::string::npos)
      return bad("has a bracketed host that is not an IPv6 address");
  } else {
    size_t colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  u.host = Lower(u.host);
  if (u.host.empty()) return bad("has no host");
  if (!ParseIpAddress(u.host) && !IsHostName(u.host))
    return bad("has host '" + u.host + "', which is neither a DNS name nor an IP address");
  u.port = u.scheme == "https" ? 443 : 80;
  if (authority.find(':') != std::string::npos && authority.back() != ']') {
    auto p = base::ParsePort(port);
    if (!p) return bad("has a bad port '" + port + "'");
    u.port = *p;
  }
  return u;
}

std::optional<IpAddress> ParseIpAddress(const std::string& text) {
  IpAddress a;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    std::memcpy(a.bytes.data(), &v4, 4);
    return a;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = v6;
    return IpAddressFromSockaddr(&sa, sizeof sa);
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddressFromSockaddr(const void* sockaddr, size_t len) {
  IpAddress a;
  sa_family_t family = 0;
  if (len < sizeof family) return std::nullopt;
  std::memcpy(&family, static_cast<const char*>(sockaddr) + offsetof(struct sockaddr, sa_family),
              sizeof family);
  if (family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in sa;
    std::memcpy(&sa, sockaddr, sizeof sa);
    std::memcpy(a.bytes.data(), &sa.sin_addr, 4);
    return a;
  }
  if (family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sa;
    std::memcpy(&sa, sockaddr, sizeof sa);
    const uint8_t* b = sa.sin6_addr.s6_addr;
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMapped, 12) == 0) {  // an IPv4 address in IPv6 clothing
      std::memcpy(a.bytes.data(), b + 12, 4);
      return a;
    }
    a.v6 = true;
    std::memcpy(a.bytes.data(), b, 16);
    return a;
  }
  return std::nullopt;
}

std::string ToString(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf);
  return buf;
}

CallbackAllowList CallbackAllowList::Loopback() {
  auto l = Parse({"127.0.0.0/8", "::1", "localhost"});
  return l.value();
}

Result<CallbackAllowList> CallbackAllowList::Parse(const std::vector<std::string>& entries) {
  if (entries.size() > limits::kCallbackAllowEntriesMax)
    return Status::InvalidArgument("callbacks.allow has more than " +
                                   std::to_string(limits::kCallbackAllowEntriesMax) + " entries");
  CallbackAllowList l;
  for (const std::string& raw : entries) {
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("callbacks.allow entry '" + raw + "': " + why);
    };
    std::string e = Lower(raw);
    size_t slash = e.find('/');
    auto ip = ParseIpAddress(e.substr(0, slash));
    if (slash != std::string::npos) {
      if (!ip) return bad("a CIDR needs an IP address before the '/'");
      std::string bits = e.substr(slash + 1);
      unsigned max = ip->v6 ? 128 : 32;
      auto prefix = base::ParseUint(bits, max);
      if (!prefix) return bad("the prefix length must be 0.." + std::to_string(max));
      l.cidrs_.push_back(Cidr{*ip, static_cast<unsigned>(*prefix)});
    } else if (ip) {
      l.cidrs_.push_back(Cidr{*ip, ip->v6 ? 128u : 32u});
    } else if (IsHostName(e)) {
      l.names_.insert(e);
    } else {
      return bad("want a host name (hooks.example.com), an address or a CIDR (10.0.0.0/8)");
    }
  }
  return l;
}

bool CallbackAllowList::AllowsAddress(const IpAddress& a) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(),
                     [&](const Cidr& c) { return PrefixMatches(a, c.base, c.prefix); });
}

Status CallbackAllowList::Check(const std::string& url) const {
  auto u = ParseCallbackUrl(url);
  if (!u.ok()) return u.status();
  const std::string& host = u.value().host;
  if (auto ip = ParseIpAddress(host)) {
    if (AllowsAddress(*ip)) return Status::OK();
    return Status::InvalidArgument("callback address " + host +
                                   " is not on this node's callback allow-list (" + Describe() +
                                   "; [callbacks] allow in the node config)");
  }
  if (AllowsName(host)) return Status::OK();
  return Status::InvalidArgument("callback host '" + host +
                                 "' is not on this node's callback allow-list (" + Describe() +
                                 "; [callbacks] allow in the node config)");
}

std::string CallbackAllowList::Describe() const {
  std::string out;
  for (const Cidr& c : cidrs_)
    out += (out.empty() ? "" : ", ") + ToString(c.base) + "/" + std::to_string(c.prefix);
  for (const std::string& n : names_) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "empty: no callbacks" : out;
}

}  // namespace jobnet::sched
