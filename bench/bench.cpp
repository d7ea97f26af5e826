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
// --http URL runs the closed loop against the node's HTTP face instead (POST /api/jobs, libcurl
// multi, keep-alive: --clients threads x --window connections); same summary lines.
// --http URL --held N holds N concurrent `POST /api/jobs?wait=true` of `sleep --job-ms` jobs, one
// connection each, and reports the answers, the time until all were answered, the peak held
// count (from /metrics) and, with --node-pid, the node's peak RSS.
// Scripts read the line "end to end (submitted and run): N jobs/s"; --json prints one object.
#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "base/check.hpp"
#include "client/json.hpp"
#include "bench/beanstalk_client.hpp"
#include "bench/stages.hpp"
#include "jobnet/client.h"
#include "jobnet/keys.h"

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

// A positive fixint or uint32: what the sleep handler reads as milliseconds.
std::string SleepPayload(uint32_t ms) {
  if (ms < 128) return std::string(1, static_cast<char>(ms));
  std::string p = "\xce";
  for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<char>((ms >> shift) & 0xff));
  return p;
}

// A msgpack str of exactly `bytes` bytes in total (header included, at least 1 byte: nil).
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
  CurveKeys key;           // --key-file: a node with principals (docs/operations.md §21)
  std::string server_key;  // --server-key: the node's public key, for every endpoint
  uint32_t clients = 8, window = 64, payload_bytes = 6, consumers = 0;
  uint64_t jobs = 20000, delay_ms = 0;
  uint32_t sleep_ms = 0;  // > 0: `sleep` jobs of this many ms (the workers, not the CPU, limit)
  uint32_t batch = 0;     // > 0: submit_batch requests of this many specs
  double rate = 0;
  std::string type = "echo", beanstalkd, fsync_probe;
  bool drain = false, json = false;
  std::string http;           // base URL of a node's HTTP face: the HTTP modes
  uint32_t held = 0;          // > 0: hold this many wait=true requests at once
  uint32_t job_ms = 500;      // the held requests' sleep jobs
  uint32_t wait_timeout_s = 120;
  int node_pid = 0;           // > 0: sample this process's RSS while the requests run
};

// One node's client options, with the bench's CURVE keys (one server key for every node).
ClientOptions SingleFor(const Options& o, const std::string& endpoint) {
  ClientOptions keys;
  if (!o.key.empty()) {
    keys.key = o.key;
    keys.server_keys[endpoint] = o.server_key;
  }
  return keys.Narrowed(endpoint, 10000);
}

// The job every bench client submits: `sleep` jobs of --sleep-ms, else --type jobs with a
// --payload-bytes payload; delayed by --delay-ms.
JobSpec BenchSpec(const Options& o) {
  JobSpec spec;
  spec.type = o.sleep_ms > 0 ? "sleep" : o.type;
  spec.payload = o.sleep_ms > 0 ? SleepPayload(o.sleep_ms) : Payload(o.payload_bytes);
  spec.delay_ms = o.delay_ms;
  return spec;
}

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
      ClientOptions co = SingleFor(o, o.endpoints[c % o.endpoints.size()]);
      co.auto_idempotency_key = false;  // as the pipelined single submits: no keys
      std::unique_ptr<Client> cl;
      if (!Client::Connect(co, &cl).ok()) {
        errors++;
        return;
      }
      const JobSpec spec = BenchSpec(o);
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

// --- HTTP face ------------------------------------------------------------------------------

// Every connection is one fd in this process: lift the soft limit to the hard one.
void RaiseFdLimit(uint64_t fds_wanted) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < fds_wanted + 64)
    std::fprintf(stderr, "jobnet_bench: only %llu fds for %llu connections (ulimit -Hn)\n",
                 static_cast<unsigned long long>(rl.rlim_cur),
                 static_cast<unsigned long long>(fds_wanted));
}

size_t DiscardBody(char*, size_t size, size_t n, void*) { return size * n; }
size_t AppendBody(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// A POST handle; `body` and `headers` must outlive it. Reused for the next request, so its
// connection stays open in the multi handle's pool (keep-alive).
CURL* NewPost(const std::string& url, const std::string& body, curl_slist* headers, void* owner,
              long timeout_s) {
  CURL* e = curl_easy_init();
  JOBNET_CHECK(e != nullptr);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(e, CURLOPT_PRIVATE, owner);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 60L);  // a full listen backlog retries SYNs
  return e;
}

// The sums over all label sets of the named series in the node's /metrics.
std::map<std::string, double> Scrape(CURL* e, const std::string& base,
                                     const std::vector<std::string>& names) {
  std::string text;
  curl_easy_setopt(e, CURLOPT_URL, (base + "/metrics").c_str());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &text);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
  std::map<std::string, double> out;
  if (curl_easy_perform(e) != CURLE_OK) return out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    for (const auto& n : names) {
      if (line.compare(0, n.size(), n) != 0 || line.size() <= n.size()) continue;
      if (line[n.size()] != '{' && line[n.size()] != ' ') continue;
      out[n] += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  return out;
}

// VmRSS and VmHWM of a process in KiB (0 when it cannot be read).
std::pair<uint64_t, uint64_t> RssKib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  uint64_t rss = 0, hwm = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::strtoull(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return {rss, hwm};
}

// Samples, every 100 ms until stopped, the node's held HTTP requests and waiters (/metrics) and
// its RSS: the peaks are what the held run reports.
class NodeSampler {
 public:
  NodeSampler(std::string base, int pid) : base_(std::move(base)), pid_(pid) {
    thread_ = std::thread([this] { Run(); });
  }
  ~NodeSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  double held_max = 0, waiters_max = 0;
  uint64_t rss_kib_max = 0, rss_kib_before = 0;

 private:
  void Run() {
    CURL* e = curl_easy_init();
    if (pid_ > 0) rss_kib_before = RssKib(pid_).first;
    while (!stop_) {
      auto m = Scrape(e, base_, {"jobnet_http_requests_held", "jobnet_waiters"});
      held_max = std::max(held_max, m["jobnet_http_requests_held"]);
      waiters_max = std::max(waiters_max, m["jobnet_waiters"]);
      if (pid_ > 0) rss_kib_max = std::max(rss_kib_max, RssKib(pid_).first);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a sampling period
    }
    curl_easy_cleanup(e);
  }
  std::string base_;
  int pid_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Runs `multi` until no transfer is left; `done` gets each finished handle, its result and HTTP
// status, and returns whether it re-added the handle (the next request on its connection).
template <typename Done>
void RunMulti(CURLM* multi, size_t active, Done done) {
  while (active > 0) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* e = msg->easy_handle;
      CURLcode result = msg->data.result;  // msg dies with the removal below
      long code = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      curl_multi_remove_handle(multi, e);
      --active;
      if (done(e, result, code)) ++active;
    }
    if (active > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
}

void ReportHttpError(CURLcode result, long code) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  if (result != CURLE_OK)
    std::fprintf(stderr, "jobnet_bench: first error: %s\n", curl_easy_strerror(result));
  else
    std::fprintf(stderr, "jobnet_bench: first error: HTTP %ld\n", code);
}

// Closed loop over HTTP: as the ZeroMQ mode, but each in-flight submit is its own keep-alive
// connection (HTTP/1.1 answers in order, one request at a time per connection).
int HttpSubmit(const Options& o) {
  RaiseFdLimit(static_cast<uint64_t>(o.clients) * o.window);
  CURL* admin = curl_easy_init();
  const std::vector<std::string> journal = {"jobnet_journal_batches_total",
                                            "jobnet_journal_records_total"};
  auto before = Scrape(admin, o.http, journal);
  // The ZeroMQ mode's job as the JSON job spec: the node re-encodes the payload to the same
  // msgpack bytes.
  const JobSpec spec = BenchSpec(o);
  nlohmann::json j{{"type", spec.type}, {"payload", jsonio::MsgpackToJson(spec.payload)}};
  if (spec.delay_ms != 0) j["delay"] = spec.delay_ms;
  const std::string body = j.dump();
  std::string url = o.http + "/api/jobs";
  std::atomic<uint64_t> issued{0}, errors{0};
  std::vector<std::vector<double>> lat(o.clients);
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (uint32_t c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
      headers = curl_slist_append(headers, "Expect:");
      CURLM* multi = curl_multi_init();
      curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(o.window));
      std::vector<Clock::time_point> sent(o.window);
      std::vector<CURL*> easy(o.window);
      auto start = [&](size_t i) {
        if (issued.fetch_add(1) >= o.jobs) return false;
        sent[i] = Clock::now();
        curl_multi_add_handle(multi, easy[i]);
        return true;
      };
      size_t active = 0;
      for (size_t i = 0; i < o.window; ++i) {
        easy[i] = NewPost(url, body, headers, reinterpret_cast<void*>(i), 30);
        if (start(i)) ++active;
      }
      RunMulti(multi, active, [&](CURL* e, CURLcode result, long code) {
        char* owner = nullptr;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &owner);
        size_t i = reinterpret_cast<size_t>(owner);
        if (result == CURLE_OK && code == 201) {
          lat[c].push_back(Us(Clock::now() - sent[i]));
        } else {
          ReportHttpError(result, code);
          errors++;
        }
        return start(i);
      });
      for (CURL* e : easy) curl_easy_cleanup(e);
      curl_multi_cleanup(multi);
      curl_slist_free_all(headers);
    });
  }
  for (auto& t : threads) t.join();
  double secs = Secs(Clock::now() - t0);
  auto after = Scrape(admin, o.http, journal);
  curl_easy_cleanup(admin);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  auto pa = Summarize(all);
  auto batches = static_cast<unsigned long long>(after[journal[0]] - before[journal[0]]);
  auto records = static_cast<unsigned long long>(after[journal[1]] - before[journal[1]]);
  if (o.json) {
    std::printf("{\"mode\":\"http\",\"jobs\":%zu,\"errors\":%llu,\"clients\":%u,\"window\":%u,"
                "\"type\":\"%s\",\"submit_jobs_per_s\":%.0f,\"ack_latency_us\":%s,"
                "\"journal_fsyncs\":%llu,\"journal_records\":%llu}\n",
                pa.n, static_cast<unsigned long long>(errors.load()), o.clients, o.window,
                o.type.c_str(), pa.n / secs, PctJson(pa).c_str(), batches, records);
  } else {
    std::printf("submitted %zu jobs (%llu errors) to %s with %u clients x %u connections in "
                "%.2f s\n", pa.n, static_cast<unsigned long long>(errors.load()), o.http.c_str(),
                o.clients, o.window, secs);
    std::printf("durable submit rate: %.0f jobs/s\n", pa.n / secs);
    std::printf("ack latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", pa.p50, pa.p90,
                pa.p99, pa.max);
    std::printf("journal: %llu synced batches, %llu records, %.1f records and %.1f acked submits "
                "per fsync\n", batches, records,
                batches ? static_cast<double>(records) / batches : 0.0,
                batches ? static_cast<double>(pa.n) / batches : 0.0);
  }
  return errors.load() == 0 ? 0 : 1;
}

// --held: N connections at once, each one POST ?wait=true of a sleep job, on one thread.
int HttpHeld(const Options& o) {
  RaiseFdLimit(o.held);
  std::string url = o.http + "/api/jobs?wait=true&timeout=" + std::to_string(o.wait_timeout_s) + "s";
  std::string body = "{\"type\":\"sleep\",\"payload\":" + std::to_string(o.job_ms) + "}";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(o.held));
  std::vector<CURL*> easy(o.held);
  NodeSampler sampler(o.http, o.node_pid);
  auto t0 = Clock::now();
  for (uint32_t i = 0; i < o.held; ++i) {
    easy[i] = NewPost(url, body, headers, nullptr, static_cast<long>(o.wait_timeout_s) + 30);
    curl_multi_add_handle(multi, easy[i]);
  }
  uint64_t ok = 0, timed_out = 0, failed = 0;
  std::vector<double> ms;
  Clock::time_point last = t0;
  RunMulti(multi, o.held, [&](CURL*, CURLcode result, long code) {
    last = Clock::now();
    if (result == CURLE_OK && code == 200) {
      ok++;
      ms.push_back(Secs(last - t0) * 1000);
    } else if (result == CURLE_OK && code == 202) {
      timed_out++;
    } else {
      ReportHttpError(result, code);
      failed++;
    }
    return false;
  });
  double all_s = Secs(last - t0);
  sampler.Stop();
  uint64_t hwm = o.node_pid > 0 ? RssKib(o.node_pid).second : 0;
  for (CURL* e : easy) curl_easy_cleanup(e);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  auto p = Summarize(ms);
  if (o.json) {
    std::printf("{\"mode\":\"held\",\"held\":%u,\"job_ms\":%u,\"answered_200\":%llu,"
                "\"answered_202\":%llu,\"failed\":%llu,\"all_answered_s\":%.3f,"
                "\"answer_ms\":%s,\"held_max\":%.0f,\"waiters_max\":%.0f,"
                "\"node_rss_kib_before\":%llu,\"node_rss_kib_max\":%llu,\"node_hwm_kib\":%llu}\n",
                o.held, o.job_ms, static_cast<unsigned long long>(ok),
                static_cast<unsigned long long>(timed_out), static_cast<unsigned long long>(failed),
                all_s, PctJson(p).c_str(), sampler.held_max, sampler.waiters_max,
                static_cast<unsigned long long>(sampler.rss_kib_before),
                static_cast<unsigned long long>(sampler.rss_kib_max),
                static_cast<unsigned long long>(hwm));
  } else {
    std::printf("held %u wait=true requests of sleep %u ms jobs on %s\n", o.held, o.job_ms,
                o.http.c_str());
    std::printf("answered: %llu x 200, %llu x 202 (wait timed out), %llu failed\n",
                static_cast<unsigned long long>(ok), static_cast<unsigned long long>(timed_out),
                static_cast<unsigned long long>(failed));
    std::printf("all answered after: %.3f s\n", all_s);
    std::printf("answer ms (from start): p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", p.p50, p.p90,
                p.p99, p.max);
    std::printf("peak held on the node: %.0f HTTP requests, %.0f waiters\n", sampler.held_max,
                sampler.waiters_max);
    if (o.node_pid > 0)
      std::printf("node RSS: %.1f MiB before, %.1f MiB peak while held (VmHWM %.1f MiB)\n",
                  sampler.rss_kib_before / 1024.0, sampler.rss_kib_max / 1024.0, hwm / 1024.0);
  }
  return failed == 0 && timed_out == 0 ? 0 : 1;
}

// What one closed- or open-loop run measured, for PrintRun.
struct RunFigures {
  Percentiles pa, pr;  // ack and result latencies
  uint64_t errors = 0, batches = 0, records = 0;
  double secs = 0, e2e = 0, total = 0;  // until the last ack; end-to-end rate and its time
};

// The run's summary: one JSON object, or the text lines scripts read.
void PrintRun(const Options& o, const RunFigures& f,
              const std::vector<bench::StageFigures>& stages) {
  if (o.json) {
    std::printf("{\"mode\":\"%s\",\"endpoints\":%zu,\"jobs\":%zu,\"errors\":%llu,\"clients\":%u,"
                "\"window\":%u,\"type\":\"%s\",\"payload_bytes\":%u,\"offered_jobs_per_s\":%.0f,"
                "\"submit_jobs_per_s\":%.0f,\"ack_latency_us\":%s,\"result_latency_us\":%s,"
                "\"journal_fsyncs\":%llu,\"journal_records\":%llu,\"acked_per_fsync\":%.1f,"
                "\"e2e_jobs_per_s\":%.0f,\"ack_stages_us\":%s}\n",
                o.rate > 0 ? "rate" : "closed", o.endpoints.size(), f.pa.n,
                static_cast<unsigned long long>(f.errors), o.clients, o.window,
                o.type.c_str(), o.payload_bytes, o.rate, f.pa.n / f.secs, PctJson(f.pa).c_str(),
                PctJson(f.pr).c_str(), static_cast<unsigned long long>(f.batches),
                static_cast<unsigned long long>(f.records),
                f.batches ? static_cast<double>(f.pa.n) / f.batches : 0.0, f.e2e,
                bench::StagesJson(stages).c_str());
  } else {
    std::printf("submitted %zu jobs (%llu errors) to %zu node(s) with %u clients x %u in flight "
                "in %.2f s\n", f.pa.n, static_cast<unsigned long long>(f.errors),
                o.endpoints.size(), o.clients, o.window, f.secs);
    if (o.rate > 0) std::printf("offered rate: %.0f jobs/s\n", o.rate);
    std::printf("durable submit rate: %.0f jobs/s\n", f.pa.n / f.secs);
    std::printf("ack latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", f.pa.p50, f.pa.p90,
                f.pa.p99, f.pa.max);
    if (o.rate > 0)
      std::printf("result latency us (submit to final): p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n",
                  f.pr.p50, f.pr.p90, f.pr.p99, f.pr.max);
    std::printf("journal: %llu synced batches, %llu records, %.1f records and %.1f acked submits "
                "per fsync\n",
                static_cast<unsigned long long>(f.batches),
                static_cast<unsigned long long>(f.records),
                f.batches ? static_cast<double>(f.records) / f.batches : 0.0,
                f.batches ? static_cast<double>(f.pa.n) / f.batches : 0.0);
    if (o.drain || (o.rate > 0))
      std::printf("end to end (submitted and run): %.0f jobs/s over %.2f s\n", f.e2e, f.total);
    bench::PrintStages(stages);
  }
}

int Jobnet(const Options& o) {
  std::vector<std::unique_ptr<Client>> admins;
  for (const auto& ep : o.endpoints) {
    std::unique_ptr<Client> a;
    if (Status s = Client::Connect(SingleFor(o, ep), &a); !s.ok()) {
      std::fprintf(stderr, "jobnet_bench: %s\n", s.ToString().c_str());
      return 3;
    }
    admins.push_back(std::move(a));
  }
  if (o.batch > 0) return JobnetBatch(o, admins);
  NodeCounters before = SumCounters(admins);
  const bench::StageHistograms stages_before = bench::ReadStages(admins);

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
      if (!Client::Connect(SingleFor(o, o.endpoints[c % o.endpoints.size()]), &cl)
               .ok()) {
        errors++;
        return;
      }
      const JobSpec spec = BenchSpec(o);
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
        auto timeout = std::chrono::microseconds(10'000'000);
        if (open_loop) {
          auto next = due(k);
          timeout = std::clamp<std::chrono::microseconds>(
              std::chrono::duration_cast<std::chrono::microseconds>(next - Clock::now()),
              std::chrono::microseconds(0), timeout);
          if (submits.empty() && waits.empty()) {
            std::this_thread::sleep_until(next);  // pacing the offered load, not synchronisation
            continue;
          }
        }
        // Waits until the next send is due, to the microsecond: the bench neither polls (which
        // kept most of a core busy, and the node was measured under that load) nor sees a reply
        // late.
        auto reply = cl->ReceiveFor(timeout);
        if (!reply.ok()) {
          if (reply.status().IsTimeout() && open_loop) continue;
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
  const auto stages = bench::StagesBetween(stages_before, bench::ReadStages(admins));
  PrintRun(o, RunFigures{pa, pr, errors.load(), batches, records, Secs(acked - t0), e2e, total},
           stages);
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"jobnet_bench: durable throughput and latency of jobnet (or beanstalkd)"};
  Options o;
  std::string to = "tcp://127.0.0.1:7701", cluster;
  app.add_option("--to", to, "node endpoint (default tcp://127.0.0.1:7701)");
  std::string key_file;
  app.add_option("--key-file", key_file, "CURVE key file, for a node with principals");
  app.add_option("--server-key", o.server_key, "with --key-file: the node's public key (Z85)");
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
  app.add_option("--http", o.http,
                 "URL of a node's HTTP face (http://127.0.0.1:7801): the closed loop over HTTP");
  app.add_option("--held", o.held,
                 "with --http: hold this many wait=true submits at once, one connection each")
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--job-ms", o.job_ms, "with --held: each job sleeps this many ms (default 500)")
      ->check(CLI::Range(1u, 600000u));
  app.add_option("--wait-timeout-s", o.wait_timeout_s,
                 "with --held: the wait's timeout in s (default 120)")
      ->check(CLI::Range(1u, 3600u));
  app.add_option("--node-pid", o.node_pid, "with --held: sample this node process's RSS");
  CLI11_PARSE(app, argc, argv);
  if (!key_file.empty()) {
    auto k = ReadKeyFile(key_file);
    if (!k.ok() || !IsZ85Key(o.server_key)) {
      std::fprintf(stderr, "jobnet_bench: %s\n",
                   k.ok() ? "--server-key must be the node's public key (Z85)"
                          : k.status().ToString().c_str());
      return 2;
    }
    o.key = k.value();
  }
  if (!o.fsync_probe.empty()) return FsyncProbe(o);
  if (!o.http.empty()) {
    while (!o.http.empty() && o.http.back() == '/') o.http.pop_back();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = o.held > 0 ? HttpHeld(o) : HttpSubmit(o);
    curl_global_cleanup();
    return rc;
  }
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
