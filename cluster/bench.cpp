// jobnet_bench: measures durable submit throughput and latency against a running node.
// Each of --clients threads keeps --window submits in flight (pipelined on one DEALER) until
// --jobs in total were acknowledged; acks come only after the journal fsync, so jobs/s is the
// durable rate. With --drain it then waits until the node has run them all (end-to-end rate).
// Prints jobs/s, latency percentiles and jobs per fsync (from the node's journal counters).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <unordered_map>

#include "jobnet/client.h"

using namespace jobnet;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"jobnet_bench: durable submit throughput and latency"};
  std::string to = "tcp://127.0.0.1:7701", type = "echo";
  uint32_t clients = 8, window = 64;
  uint64_t jobs = 20000;
  bool drain = false;
  uint64_t delay_ms = 0;
  app.add_option("--to", to, "node endpoint");
  app.add_option("--clients", clients, "client threads (default 8)");
  app.add_option("--window", window, "submits in flight per client (default 64)");
  app.add_option("--jobs", jobs, "jobs to submit (default 20000)");
  app.add_option("--type", type, "job type (default echo)");
  app.add_flag("--drain", drain, "also wait until every job has run");
  app.add_option("--delay-ms", delay_ms, "submit delayed jobs (fills a journal without running them)");
  CLI11_PARSE(app, argc, argv);
  if (clients == 0 || window == 0 || jobs == 0) {
    std::fprintf(stderr, "clients, window and jobs must be positive\n");
    return 2;
  }

  ClientOptions opt;
  opt.endpoints = {to};
  opt.request_timeout_ms = 10000;
  std::unique_ptr<Client> admin;
  if (Status s = Client::Connect(opt, &admin); !s.ok()) {
    std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
    return 3;
  }
  auto before = admin->Stats();
  if (!before.ok()) return 3;

  std::atomic<uint64_t> issued{0}, errors{0};
  std::vector<std::vector<double>> lat(clients);
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (uint32_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::unique_ptr<Client> cl;
      if (!Client::Connect(opt, &cl).ok()) {
        errors++;
        return;
      }
      JobSpec spec;
      spec.type = type;
      spec.payload = std::string("\xa5hello", 6);  // msgpack "hello"
      spec.delay_ms = delay_ms;
      std::unordered_map<uint64_t, Clock::time_point> sent;
      for (;;) {
        while (sent.size() < window && issued.fetch_add(1) < jobs) {
          auto corr = cl->SendSubmit(spec);
          if (!corr.ok()) {
            errors++;
            continue;
          }
          sent[corr.value()] = Clock::now();
        }
        if (sent.empty()) break;
        auto env = cl->Receive(10000);
        if (!env.ok()) {
          errors += sent.size();
          break;
        }
        auto it = sent.find(env.value().corr_id);
        if (it == sent.end()) continue;
        if (!env.value().status.ok()) errors++;
        lat[c].push_back(std::chrono::duration<double, std::micro>(Clock::now() - it->second).count());
        sent.erase(it);
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  auto after = admin->Stats();
  uint64_t batches = 0, records = 0;
  if (after.ok()) {
    batches = after.value().counters["journal_batches"] - before.value().counters["journal_batches"];
    records = after.value().counters["journal_records"] - before.value().counters["journal_records"];
  }
  std::printf("submitted %zu jobs (%llu errors) with %u clients x %u in flight in %.2f s\n",
              all.size(), static_cast<unsigned long long>(errors.load()), clients, window, secs);
  std::printf("durable submit rate: %.0f jobs/s\n", all.size() / secs);
  std::printf("ack latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", pct(0.50), pct(0.90),
              pct(0.99), all.empty() ? 0.0 : all.back());
  std::printf("journal: %llu synced batches, %llu records, %.1f records and %.1f acked submits "
              "per fsync\n",
              static_cast<unsigned long long>(batches), static_cast<unsigned long long>(records),
              batches ? static_cast<double>(records) / batches : 0.0,
              batches ? static_cast<double>(all.size()) / batches : 0.0);
  if (drain) {
    for (;;) {
      auto s = admin->Stats();
      if (!s.ok()) return 3;
      auto& j = s.value().jobs;
      if (j["queued"] + j["running"] + j["delayed"] == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    double total = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("end to end (submitted and run): %.0f jobs/s over %.2f s\n", all.size() / total,
                total);
  }
  return errors.load() == 0 ? 0 : 1;
}
