// Callbacks without I/O: which URLs a job may name (parsing and the node's allow-list), when a
// failed delivery is tried again, and the messages between the scheduler and the deliverer
// (http/callbacks.hpp does the POSTs). docs/http.md "Callbacks" states the rules for users.
#ifndef JOBNET_CORE_CALLBACKS_HPP_
#define JOBNET_CORE_CALLBACKS_HPP_

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "jobnet/job.h"
#include "jobnet/limits.h"
#include "jobnet/status.h"

namespace jobnet::sched {

// The parts of a callback URL the node checks: scheme://host[:port][/target].
struct CallbackUrl {
  std::string scheme;  // "http" or "https", lowercased
  std::string host;    // lowercased; an IPv6 literal without its brackets
  uint16_t port = 0;   // as given, or 80 / 443
  std::string target;  // path and query, "/" when absent
};

// Parses an absolute http or https URL. kInvalidArgument (saying what is wrong) for anything
// else: another scheme, no host, user info ("user:pass@"), a fragment, a bad port, spaces or
// control characters, or more than limits::kCallbackUrlBytesMax bytes.
Result<CallbackUrl> ParseCallbackUrl(const std::string& text);

// An IPv4 or IPv6 address; IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are read as IPv4.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4
  bool operator==(const IpAddress& o) const { return v6 == o.v6 && bytes == o.bytes; }
};
std::optional<IpAddress> ParseIpAddress(const std::string& text);
// From a socket address (AF_INET / AF_INET6); nullopt for another family.
std::optional<IpAddress> IpAddressFromSockaddr(const void* sockaddr, size_t len);
std::string ToString(const IpAddress& a);

// The destinations callbacks may go to ([callbacks] allow in the node config):
//   - host names ("hooks.example.com", "localhost"): a URL whose host is that name, compared
//     case-insensitively and exactly (no wildcards). Whatever the name resolves to is trusted:
//     listing a name is trusting its DNS.
//   - addresses and CIDRs ("10.0.0.0/8", "::1", "fd00::/8"): a URL whose host is an IP literal
//     inside one of them. At delivery the address actually connected to must be inside one of
//     them too, unless the host was allowed by name; so a name cannot smuggle a forbidden address
//     through DNS (and a URL is never sent through a proxy: the node connects itself).
// A URL naming a host that is neither listed nor an address inside a listed CIDR is refused at
// submit: names are not resolved then (the scheduler does no I/O).
class CallbackAllowList {
 public:
  // The default when [callbacks] allow is not configured: loopback only.
  static CallbackAllowList Loopback();
  // kInvalidArgument naming a bad entry (empty, a bad CIDR prefix, a malformed name), or more
  // than limits::kCallbackAllowEntriesMax entries.
  static Result<CallbackAllowList> Parse(const std::vector<std::string>& entries);

  // The submit check: OK, or kInvalidArgument saying why the URL is refused.
  Status Check(const std::string& url) const;
  // The host (lowercased) is listed by name: its connections are not checked by address.
  bool AllowsName(const std::string& host) const { return names_.count(host) != 0; }
  bool AllowsAddress(const IpAddress& a) const;
  // "127.0.0.0/8, ::1/128, localhost": for messages.
  std::string Describe() const;

 private:
  struct Cidr {
    IpAddress base;
    uint32_t prefix = 0;
  };
  std::set<std::string> names_;
  std::vector<Cidr> cidrs_;
};

// Delivery settings of a node ([callbacks] in its config).
struct CallbackOptions {
  CallbackAllowList allow = CallbackAllowList::Loopback();
  uint32_t attempts_max = limits::kCallbackAttemptsDefault;  // then the delivery fails
  uint64_t backoff_ms = limits::kCallbackBackoffMsDefault;
  uint64_t backoff_max_ms = limits::kCallbackBackoffMaxMsDefault;
  uint32_t in_flight_max = limits::kCallbacksInFlightMax;
  uint32_t pending_max = limits::kCallbacksPendingMax;
};

// One POST to make: the scheduler's request to the deliverer.
struct CallbackSend {
  uint64_t seq = 0;
  std::string delivery;  // X-Jobnet-Delivery
  std::string url;
  uint32_t attempt = 0;  // 1-based
  JobInfo job;           // the body is this job's JSON
};

// How that POST went: the deliverer's answer to the scheduler.
struct CallbackResult {
  uint64_t seq = 0;
  std::string delivery;
  bool ok = false;      // a 2xx answer
  std::string error;    // otherwise: "HTTP 500", "connect: ...", "timed out after ...", ...
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_CALLBACKS_HPP_
