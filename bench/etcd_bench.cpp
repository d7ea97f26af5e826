// jobnet_etcd_bench: round trips of the etcd calls that failover leans on, through the JSON
// gateway client (coord/): a lease keep-alive (a primary renews every TTL/3; its fence depends
// on the answer coming back well inside the TTL) and a winning shard campaign (one txn: how long
// a takeover spends in etcd). Prints p50/p99/max in microseconds per call.
// Usage: jobnet_etcd_bench --endpoints http://127.0.0.1:2379[,URL...] [--calls 1000]
// (a local etcd: etcd --data-dir /tmp/e --listen-client-urls http://127.0.0.1:2379
//  --advertise-client-urls http://127.0.0.1:2379)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coord/coordinator.hpp"
#include "coord/etcd_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Runs `call` n times; prints its latency percentiles. False (after printing why) on an error.
bool Measure(const char* name, uint32_t n, const std::function<jobnet::Status(uint32_t)>& call) {
  std::vector<double> us;
  us.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    jobnet::Status s = call(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!s.ok()) {
      std::fprintf(stderr, "%s: call %u failed: %s\n", name, i, s.ToString().c_str());
      return false;
    }
  }
  std::sort(us.begin(), us.end());
  auto at = [&us](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  std::printf("%-10s calls=%u p50=%.0fus p99=%.0fus max=%.0fus\n", name, n, at(0.50), at(0.99),
              us.back());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"jobnet_etcd_bench: etcd keep-alive and campaign round trips (us per call)"};
  std::vector<std::string> endpoints;
  uint32_t calls = 1000;
  app.add_option("--endpoints", endpoints, "etcd client URLs")->required()->delimiter(',');
  app.add_option("--calls", calls, "calls measured per figure (default 1000)");
  CLI11_PARSE(app, argc, argv);
  if (calls == 0) return 2;

  jobnet::coord::EtcdOptions options;
  options.endpoints = endpoints;
  std::unique_ptr<jobnet::coord::EtcdClient> client;
  jobnet::Status s = jobnet::coord::EtcdClient::Open(options, &client);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  jobnet::coord::CoordinatorOptions co;
  co.cluster = "bench-" + std::to_string(Clock::now().time_since_epoch().count());
  co.node_id = "bench";
  co.lease_ttl_s = 10;  // the coordinator's own keep-alives stay out of the way
  std::unique_ptr<jobnet::coord::Coordinator> coordinator;
  s = jobnet::coord::Coordinator::Start(client.get(), co, &coordinator);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  const int64_t lease = coordinator->lease();
  const bool ok =
      Measure("keepalive", calls,
              [&](uint32_t) {
                auto ttl = client->LeaseKeepAlive(lease);
                return ttl.ok() ? jobnet::Status::OK() : ttl.status();
              }) &&
      Measure("campaign", calls, [&](uint32_t i) {
        // A fresh shard each time: every call is a winning txn (compare, put under the lease).
        auto epoch = coordinator->Campaign("s" + std::to_string(i));
        return epoch.ok() ? jobnet::Status::OK() : epoch.status();
      });
  return ok ? 0 : 1;  // the coordinator revokes its lease: the bench's keys go with it
}
