// jobnet_bench: measures durable throughput and latency of a running node (or cluster), and of
// beanstalkd under the same workload, so the two can be compared in one run.
//
// Closed loop (default): each of --clients threads keeps --window submits in flight (pipelined
// on one connection) until --jobs were acknowledged; acks come only after the journal fsync, so
// jobs/s is the durable rate. With --drain it then waits until every job has run (end to end).
// Open loop (--rate N): submits are sent on a fixed schedule of N jobs/s in total, and each job
// is waited for, so it reports submit-to-ack and submit-to-result latency percentiles measured
// from the scheduled send time (no coordinated omission).
// --beanstalkd HOST:PORT runs the closed loop against beanstalkd instead: producers put, as many
// consumer connections reserve and delete (the job "runs" when it is deleted).
// --batch N: each client sends submit_batch requests of N specs, one in flight at a time (the
// batch is the pipelining), so the figure compares with the closed loop's single submits.
// --fsync-probe DIR times small appends + fdatasync in DIR (the disk's durable-write latency).
// Scripts read the line "end to end (submitted and run): N jobs/s"; --json prints one object.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "cluster/beanstalk_client.hpp"
#include "jobnet/client.h"

using namespace jobnet;
using Clock = std::chrono::steady_clock;

namespace {

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
  size_t n = 0;
};
Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}
std::string PctJson(const Percentiles& p) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"max\":%.0f}", p.p50,
                p.p90, p.p99, p.max);
  return buf;
}

// A msgpack str of exactly `bytes` bytes in total (header included, at least 1 byte: nil).
std::string SleepPayload(uint32_t ms) {
  if (ms < 128) return std::string(1, static_cast<char>(ms));
  std::string p = "\xce";
  for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<char>((ms >> shift) & 0xff));
  return p;
}

std::string Payload(uint32_t bytes) {
  if (bytes <= 1) return std::string(1, '\xc0');
  std::string body;
  if (bytes <= 32) {
    body.push_back(static_cast<char>(0xa0 | (bytes - 1)));
    body.append(bytes - 1, 'x');
  } else if (bytes <= 255 + 2) {
    body.push_back('\xd9');
    body.push_back(static_cast<char>(bytes - 2));
    body.append(bytes - 2, 'x');
  } else if (bytes <= 65535 + 3) {
    uint32_t n = bytes - 3;
    body.push_back('\xda');
    body.push_back(static_cast<char>(n >> 8));
    body.push_back(static_cast<char>(n & 0xff));
    body.append(n, 'x');
  } else {
    uint32_t n = bytes - 5;
    body.push_back('\xdb');
    for (int s = 24; s >= 0; s -= 8) body.push_back(static_cast<char>((n >> s) & 0xff));
    body.append(n, 'x');
  }
  return body;
}

struct Options {
  std::vector<std::string> endpoints;
  uint32_t clients = 8, window = 64, payload_bytes = 6, consumers = 0;
  uint64_t jobs = 20000, delay_ms = 0;
  uint32_t sleep_ms = 0;  // > 0: `sleep` jobs of this many ms (the workers, not the CPU, limit)
  uint32_t batch = 0;     // > 0: submit_batch requests of this many specs
  double rate = 0;
  std::string type = "echo", beanstalkd, fsync_probe;
  bool drain = false, json = false;
};

struct NodeCounters {
  uint64_t batches = 0, records = 0;
};
NodeCounters SumCounters(const std::vector<std::unique_ptr<Client>>& admins) {
  NodeCounters c;
  for (auto& a : admins) {
    auto s = a->Stats();
    if (!s.ok()) continue;
    c.batches += s.value().counters["journal_batches"];
    c.records += s.value().counters["journal_records"];
  }
  return c;
}
// Jobs not yet final on every node (a job leased to a peer is still `running` on its owner).
Result<uint64_t> Unfinished(const std::vector<std::unique_ptr<Client>>& admins) {
  uint64_t n = 0;
  for (auto& a : admins) {
    auto s = a->Stats();
    if (!s.ok()) return s.status();
    auto& j = s.value().jobs;
    n += j["queued"] + j["running"] + j["delayed"];
  }
  return n;
}

int FsyncProbe(const Options& o) {
  std::string path = o.fsync_probe + "/jobnet-fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0600);
  if (fd < 0) {
    std::perror("fsync probe");
    return 2;
  }
  std::vector<double> us;
  std::string rec(128, 'r');
  uint64_t n = std::max<uint64_t>(o.jobs, 1);
  for (uint64_t i = 0; i < n; ++i) {
    auto t = Clock::now();
    if (::write(fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("fsync probe");
      ::close(fd);
      return 2;
    }
    us.push_back(Us(Clock::now() - t));
  }
  ::close(fd);
  ::unlink(path.c_str());
  auto p = Summarize(us);
  if (o.json)
    std::printf("{\"mode\":\"fsync\",\"count\":%zu,\"latency_us\":%s}\n", p.n, PctJson(p).c_str());
  else
    std::printf("fdatasync of a 128-byte append: p50 %.0f us  p90 %.0f us  p99 %.0f us  max %.0f "
                "us (%zu writes)\n", p.p50, p.p90, p.p99, p.max, p.n);
  return 0;
}

int Beanstalkd(const Options& o) {
  std::string body(std::max<uint32_t>(o.payload_bytes, 1), 'x');
  uint32_t consumers = o.consumers ? o.consumers : o.clients;
  std::atomic<uint64_t> issued{0}, done{0}, errors{0};
  std::vector<std::vector<double>> lat(o.clients);
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  std::atomic<bool> producers_done{false};
  Clock::time_point acked_at;
  std::mutex mu;
  uint32_t producers_left = o.clients;
  for (uint32_t c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      bench::BeanstalkClient bc;
      if (!bc.Connect(o.beanstalkd).ok()) {
        errors++;
      } else {
        std::vector<Clock::time_point> sent;  // FIFO: beanstalkd answers in order
        size_t head = 0;
        for (;;) {
          while (sent.size() - head < o.window && issued.fetch_add(1) < o.jobs) {
            if (!bc.SendPut(0, 60, body).ok()) {
              errors++;
              break;
            }
            sent.push_back(Clock::now());
          }
          if (head == sent.size()) break;
          if (!bc.ReadPut().ok()) errors++;
          lat[c].push_back(Us(Clock::now() - sent[head++]));
        }
      }
      std::lock_guard<std::mutex> l(mu);
      if (--producers_left == 0) {
        acked_at = Clock::now();
        producers_done = true;
      }
    });
  }
  for (uint32_t c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      bench::BeanstalkClient bc;
      if (!bc.Connect(o.beanstalkd).ok()) {
        errors++;
        return;
      }
      std::string got;
      while (done.load() < o.jobs) {
        auto id = bc.Reserve(1, &got);
        if (!id.ok()) {
          if (id.status().IsTimeout() && !(producers_done && done.load() >= o.jobs)) continue;
          if (!id.status().IsTimeout()) errors++;
          return;
        }
        if (bc.Delete(id.value()).ok()) done++; else errors++;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto end = Clock::now();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  auto p = Summarize(all);
  double submit_rate = p.n / Secs(acked_at - t0), e2e = done.load() / Secs(end - t0);
  if (o.json) {
    std::printf("{\"mode\":\"beanstalkd\",\"jobs\":%llu,\"errors\":%llu,\"clients\":%u,"
                "\"window\":%u,\"consumers\":%u,\"submit_jobs_per_s\":%.0f,\"ack_latency_us\":%s,"
                "\"e2e_jobs_per_s\":%.0f}\n",
                static_cast<unsigned long long>(done.load()),
                static_cast<unsigned long long>(errors.load()), o.clients, o.window, consumers,
                submit_rate, PctJson(p).c_str(), e2e);
  } else {
    std::printf("beanstalkd %s: put %zu jobs with %u clients x %u in flight, %u consumers\n",
                o.beanstalkd.c_str(), p.n, o.clients, o.window, consumers);
    std::printf("durable submit rate: %.0f jobs/s\n", submit_rate);
    std::printf("ack latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", p.p50, p.p90, p.p99,
                p.max);
    std::printf("end to end (submitted and run): %.0f jobs/s over %.2f s\n", e2e, Secs(end - t0));
  }
  return errors.load() == 0 && done.load() == o.jobs ? 0 : 1;
}

// --batch: closed loop of submit_batch requests; every spec acknowledged after its fsync.
int JobnetBatch(const Options& o, const std::vector<std::unique_ptr<Client>>& admins) {
  NodeCounters before = SumCounters(admins);
  std::atomic<uint64_t> issued{0}, errors{0}, acked{0};
  std::vector<std::vector<double>> lat(o.clients);
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (uint32_t c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      ClientOptions co = ClientOptions::Single(o.endpoints[c % o.endpoints.size()], 10000);
      co.auto_idempotency_key = false;  // as the pipelined single submits: no keys
      std::unique_ptr<Client> cl;
      if (!Client::Connect(co, &cl).ok()) {
        errors++;
        return;
      }
      JobSpec spec;
      spec.type = o.sleep_ms > 0 ? "sleep" : o.type;
      spec.payload = o.sleep_ms > 0 ? SleepPayload(o.sleep_ms) : Payload(o.payload_bytes);
      spec.delay_ms = o.delay_ms;
      for (;;) {
        uint64_t first = issued.fetch_add(o.batch);
        if (first >= o.jobs) break;
        std::vector<JobSpec> specs(std::min<uint64_t>(o.batch, o.jobs - first), spec);
        auto sent = Clock::now();
        auto r = cl->SubmitBatch(specs);
        if (!r.ok()) {
          errors += specs.size();
          continue;
        }
        lat[c].push_back(Us(Clock::now() - sent));
        for (const auto& item : r.value()) (item.status.ok() ? acked : errors)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = Secs(Clock::now() - t0);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  auto p = Summarize(all);
  NodeCounters after = SumCounters(admins);
  uint64_t batches = after.batches - before.batches, records = after.records - before.records;
  if (o.json) {
    std::printf("{\"mode\":\"batch\",\"batch\":%u,\"jobs\":%llu,\"errors\":%llu,\"clients\":%u,"
                "\"submit_jobs_per_s\":%.0f,\"batch_latency_us\":%s,\"journal_fsyncs\":%llu,"
                "\"journal_records\":%llu}\n",
                o.batch, static_cast<unsigned long long>(acked.load()),
                static_cast<unsigned long long>(errors.load()), o.clients, acked.load() / secs,
                PctJson(p).c_str(), static_cast<unsigned long long>(batches),
                static_cast<unsigned long long>(records));
  } else {
    std::printf("submitted %llu jobs (%llu errors) in batches of %u with %u clients in %.2f s\n",
                static_cast<unsigned long long>(acked.load()),
                static_cast<unsigned long long>(errors.load()), o.batch, o.clients, secs);
    std::printf("durable submit rate: %.0f jobs/s\n", acked.load() / secs);
    std::printf("batch latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", p.p50, p.p90,
                p.p99, p.max);
    std::printf("journal: %llu synced batches, %llu records\n",
                static_cast<unsigned long long>(batches), static_cast<unsigned long long>(records));
  }
  return errors.load() == 0 ? 0 : 1;
}

int Jobnet(const Options& o) {
  std::vector<std::unique_ptr<Client>> admins;
  for (const auto& ep : o.endpoints) {
    std::unique_ptr<Client> a;
    if (Status s = Client::Connect(ClientOptions::Single(ep, 10000), &a); !s.ok()) {
      std::fprintf(stderr, "jobnet_bench: %s\n", s.ToString().c_str());
      return 3;
    }
    admins.push_back(std::move(a));
  }
  if (o.batch > 0) return JobnetBatch(o, admins);
  NodeCounters before = SumCounters(admins);

  std::atomic<uint64_t> issued{0}, errors{0};
  std::vector<std::vector<double>> ack_lat(o.clients), result_lat(o.clients);
  std::vector<std::thread> threads;
  const bool open_loop = o.rate > 0;
  const double per_client_gap_us = open_loop ? 1e6 * o.clients / o.rate : 0;
  auto t0 = Clock::now();
  for (uint32_t c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      std::unique_ptr<Client> cl;
      // Clients spread over the endpoints: a cluster run submits through every node.
      if (!Client::Connect(ClientOptions::Single(o.endpoints[c % o.endpoints.size()], 10000), &cl)
               .ok()) {
        errors++;
        return;
      }
      JobSpec spec;
      spec.type = o.sleep_ms > 0 ? "sleep" : o.type;
      // A positive fixint or uint32: what the sleep handler reads as milliseconds.
      spec.payload = o.sleep_ms > 0 ? SleepPayload(o.sleep_ms) : Payload(o.payload_bytes);
      spec.delay_ms = o.delay_ms;
      std::unordered_map<uint64_t, Clock::time_point> submits, waits;  // corr -> scheduled time
      uint64_t k = 0;  // this client's send count (open loop schedule)
      // Open loop: this client's k-th submit is due at t0 + k gaps, offset so that the clients
      // interleave evenly.
      auto due = [&](uint64_t n) {
        return t0 + std::chrono::microseconds(static_cast<int64_t>(
                        per_client_gap_us * static_cast<double>(n) +
                        per_client_gap_us * c / o.clients));
      };
      for (;;) {
        auto now = Clock::now();
        while (submits.size() < o.window) {
          Clock::time_point at = now;
          if (open_loop) {
            at = due(k);
            if (at > now) break;  // not yet due
          }
          if (issued.fetch_add(1) >= o.jobs) break;
          ++k;
          auto corr = cl->SendSubmit(spec);
          if (!corr.ok()) {
            errors++;
            continue;
          }
          submits[corr.value()] = at;
        }
        if (submits.empty() && waits.empty() && issued.load() >= o.jobs) break;
        uint32_t timeout_ms = 10000;
        if (open_loop) {
          auto next = due(k);
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
          timeout_ms = static_cast<uint32_t>(std::clamp<int64_t>(left.count(), 0, 10000));
          if (submits.empty() && waits.empty()) {
            std::this_thread::sleep_until(next);  // pacing the offered load, not synchronisation
            continue;
          }
        }
        auto reply = cl->Receive(timeout_ms);
        if (!reply.ok()) {
          if (reply.status().IsTimeout() && open_loop && timeout_ms < 10000) continue;
          errors += submits.size() + waits.size();
          break;
        }
        const Reply& r = reply.value();
        if (auto it = submits.find(r.corr_id); it != submits.end()) {
          ack_lat[c].push_back(Us(Clock::now() - it->second));
          if (!r.status.ok()) {
            errors++;
          } else if (open_loop) {
            auto w = cl->SendWait(r.submitted.id, 60000);
            if (w.ok()) waits[w.value()] = it->second; else errors++;
          }
          submits.erase(it);
        } else if (auto wt = waits.find(r.corr_id); wt != waits.end()) {
          if (r.status.ok()) result_lat[c].push_back(Us(Clock::now() - wt->second));
          else errors++;
          waits.erase(wt);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto acked = Clock::now();
  std::vector<double> acks, results;
  for (auto& v : ack_lat) acks.insert(acks.end(), v.begin(), v.end());
  for (auto& v : result_lat) results.insert(results.end(), v.begin(), v.end());
  auto pa = Summarize(acks), pr = Summarize(results);
  NodeCounters after = SumCounters(admins);
  uint64_t batches = after.batches - before.batches, records = after.records - before.records;

  double e2e = 0, total = 0;
  if (o.drain || open_loop) {
    for (;;) {  // polling the nodes' counts every 5 ms: the end time is known to 5 ms
      auto n = Unfinished(admins);
      if (!n.ok()) return 3;
      if (n.value() == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    total = Secs(Clock::now() - t0);
    e2e = pa.n / total;
  }
  double secs = Secs(acked - t0);
  if (o.json) {
    std::printf("{\"mode\":\"%s\",\"endpoints\":%zu,\"jobs\":%zu,\"errors\":%llu,\"clients\":%u,"
                "\"window\":%u,\"type\":\"%s\",\"payload_bytes\":%u,\"offered_jobs_per_s\":%.0f,"
                "\"submit_jobs_per_s\":%.0f,\"ack_latency_us\":%s,\"result_latency_us\":%s,"
                "\"journal_fsyncs\":%llu,\"journal_records\":%llu,\"acked_per_fsync\":%.1f,"
                "\"e2e_jobs_per_s\":%.0f}\n",
                open_loop ? "rate" : "closed", o.endpoints.size(), pa.n,
                static_cast<unsigned long long>(errors.load()), o.clients, o.window,
                o.type.c_str(), o.payload_bytes, o.rate, pa.n / secs, PctJson(pa).c_str(),
                PctJson(pr).c_str(), static_cast<unsigned long long>(batches),
                static_cast<unsigned long long>(records),
                batches ? static_cast<double>(pa.n) / batches : 0.0, e2e);
  } else {
    std::printf("submitted %zu jobs (%llu errors) to %zu node(s) with %u clients x %u in flight "
                "in %.2f s\n", pa.n, static_cast<unsigned long long>(errors.load()),
                o.endpoints.size(), o.clients, o.window, secs);
    if (open_loop) std::printf("offered rate: %.0f jobs/s\n", o.rate);
    std::printf("durable submit rate: %.0f jobs/s\n", pa.n / secs);
    std::printf("ack latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", pa.p50, pa.p90,
                pa.p99, pa.max);
    if (open_loop)
      std::printf("result latency us (submit to final): p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n",
                  pr.p50, pr.p90, pr.p99, pr.max);
    std::printf("journal: %llu synced batches, %llu records, %.1f records and %.1f acked submits "
                "per fsync\n",
                static_cast<unsigned long long>(batches), static_cast<unsigned long long>(records),
                batches ? static_cast<double>(records) / batches : 0.0,
                batches ? static_cast<double>(pa.n) / batches : 0.0);
    if (o.drain || open_loop)
      std::printf("end to end (submitted and run): %.0f jobs/s over %.2f s\n", e2e, total);
  }
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"jobnet_bench: durable throughput and latency of jobnet (or beanstalkd)"};
  Options o;
  std::string to = "tcp://127.0.0.1:7701", cluster;
  app.add_option("--to", to, "node endpoint (default tcp://127.0.0.1:7701)");
  app.add_option("--cluster", cluster,
                 "comma-separated endpoints: clients spread over them, drain waits on all");
  app.add_option("--clients", o.clients, "client threads (default 8)")->check(CLI::Range(1, 1024));
  app.add_option("--window", o.window, "submits in flight per client (default 64)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--jobs", o.jobs, "jobs to submit (default 20000)")->check(CLI::PositiveNumber);
  app.add_option("--type", o.type, "job type (default echo)");
  app.add_option("--batch", o.batch,
                 "submit in submit_batch requests of this many specs, one in flight per client")
      ->check(CLI::Range(1u, limits::kBatchSpecsMax));
  app.add_option("--sleep-ms", o.sleep_ms,
                 "submit `sleep` jobs of this many ms instead (worker-bound, not CPU-bound)")
      ->check(CLI::Range(1u, 60000u));
  app.add_option("--payload-bytes", o.payload_bytes,
                 "payload size in bytes, a msgpack string (default 6)")
      ->check(CLI::Range(1u, 1u << 20));
  app.add_flag("--drain", o.drain, "also wait until every job has run (end-to-end rate)");
  app.add_option("--delay-ms", o.delay_ms, "submit delayed jobs (fills a journal without running them)");
  app.add_option("--rate", o.rate, "open loop: offer this many jobs/s in total, wait for each")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", o.json, "print one JSON object instead of text lines");
  app.add_option("--beanstalkd", o.beanstalkd, "HOST:PORT: run the closed loop against beanstalkd");
  app.add_option("--consumers", o.consumers,
                 "beanstalkd consumer connections (default: as many as --clients)");
  app.add_option("--fsync-probe", o.fsync_probe,
                 "DIR: time --jobs appends + fdatasync there (default 20000 is a lot: use ~2000)");
  CLI11_PARSE(app, argc, argv);
  if (!o.fsync_probe.empty()) return FsyncProbe(o);
  if (!o.beanstalkd.empty()) return Beanstalkd(o);
  std::stringstream ss(cluster.empty() ? to : cluster);
  for (std::string ep; std::getline(ss, ep, ',');)
    if (!ep.empty()) o.endpoints.push_back(ep);
  if (o.endpoints.empty()) {
    std::fprintf(stderr, "jobnet_bench: no endpoint\n");
    return 2;
  }
  return Jobnet(o);
}
