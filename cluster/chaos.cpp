// jobnet_chaos: starts a local cluster, submits a mixed workload through every node while
// SIGKILLing and restarting a random node every few seconds, then checks the journals offline:
// every acknowledged job must be `succeeded` (with the right result) exactly once; duplicate
// executions (re-runs after a kill) and duplicate jobs (a submit that failed over to a second
// owner) are counted and reported. Exit 0 iff nothing acknowledged was lost.
//
// With --replicas 2 (an etcd, every journal on two nodes) --nemesis picks the fault:
//   kill   SIGKILL a node, restart it after --down-time (the default)
//   stop   SIGSTOP a node for --down-time (past its lease: its backup takes its shard over),
//          then SIGCONT; a node that stopped itself (deposed) is started again (as a backup)
//   etcd   SIGKILL the etcd, restart it after --down-time
//   all    SIGKILL every node at once, restart them all after --down-time
//   wipe   once: SIGKILL a node and delete its data directory; it stays down (its shard is
//          served by its backup from then on)
//   cut    partition a node from its backups for --down-time (through loopback proxies in
//          front of every replication endpoint), clients and etcd still reaching it; then heal
//   isolate  partition a node from its backups, from the primaries that ship to it and from
//          etcd for --down-time (past its lease: its backup takes its shard over) while
//          clients and peers still reach it; then heal (held bytes arrive late); a node that
//          stopped itself (deposed) is started again
// A node whose shard was taken over while it was down starts again as a backup.
#include <CLI/CLI.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <msgpack.hpp>

#include "cluster/local_cluster.hpp"
#include "cluster/tcp_proxy.hpp"
#include "jobnet/client.h"
#include "node/config.hpp"
#include "node/replica_server.hpp"
#include "storage/journal.hpp"

using namespace jobnet;
using Clock = std::chrono::steady_clock;

namespace {

struct Acked {
  std::string id;
  std::string key;
  std::string expected;  // msgpack result
};

std::string PackU64(uint64_t v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return std::string(b.data(), b.size());
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The last `lines` lines of a node's log, to stderr: a failed run says what its nodes said.
void PrintLogTail(const cluster::LocalNode& n, size_t lines) {
  std::ifstream f(n.log);
  std::deque<std::string> tail;
  for (std::string line; std::getline(f, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::fprintf(stderr, "chaos: --- %s log (%s), last %zu lines\n", n.id.c_str(), n.log.c_str(),
               tail.size());
  for (const auto& line : tail) std::fprintf(stderr, "%s\n", line.c_str());
}

struct Options {
  int nodes = 3, workers = 4, base_port = 7801, submitters = 6, min_kills = 1, replicas = 1;
  uint64_t jobs = 20000, rate = 1000, max_sleep_ms = 20, seed = 1;
  uint64_t kill_every_ms = 0, down_ms = 0, deadline_ms = 0;
  std::string deadline_arg = "10m", dir = "./chaos-data", jobnet_exe, nemesis = "kill";
};

// Parses the command line into *o. Returns -1 to go on, else the exit code.
int ParseOptions(int argc, char** argv, Options* o) {
  CLI::App app{"jobnet_chaos: kill nodes under load, then prove no acknowledged job was lost"};
  std::string kill_every = "3s", down_time = "1s";
  app.add_option("--nodes", o->nodes, "cluster size (default 3)");
  app.add_option("--workers", o->workers, "workers per node (default 4)");
  app.add_option("--jobs", o->jobs, "jobs to submit (default 20000)");
  app.add_option("--rate", o->rate, "submits per second, all submitters together (default 1000)");
  app.add_option("--submitters", o->submitters, "client threads (default 6)");
  app.add_option("--kill-every", kill_every, "SIGKILL a random node this often (default 3s)");
  app.add_option("--down-time", down_time, "how long a killed node stays down (default 1s)");
  app.add_option("--max-sleep-ms", o->max_sleep_ms, "sleep jobs run 1..this ms (default 20)");
  app.add_option("--base-port", o->base_port, "first node's port (default 7801)");
  app.add_option("--dir", o->dir, "cluster directory, wiped first (default ./chaos-data)");
  app.add_option("--jobnet", o->jobnet_exe, "the jobnet binary (default: next to this one)");
  app.add_option("--seed", o->seed, "random seed (default 1)");
  app.add_option("--replicas", o->replicas,
                 "copies of each journal; 2 or more starts an etcd (default 1)");
  app.add_option("--nemesis", o->nemesis,
                 "the fault: kill, stop, etcd, all, wipe, cut, isolate (default kill)")
      ->check(CLI::IsMember({"kill", "stop", "etcd", "all", "wipe", "cut", "isolate"}));
  app.add_option("--min-kills", o->min_kills,
                 "fail unless at least this many kills happened (default 1)");
  app.add_option("--deadline", o->deadline_arg,
                 "the whole run ends by then, passed or failed, and stops its nodes (default 10m)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o->jobnet_exe.empty())
    o->jobnet_exe =
        (std::filesystem::canonical("/proc/self/exe").parent_path() / "jobnet").string();
  auto kill_every_ms = ParseDurationMs(kill_every), down_ms = ParseDurationMs(down_time);
  if (!kill_every_ms.ok() || !down_ms.ok() || kill_every_ms.value() == 0) {
    std::fprintf(stderr, "chaos: --kill-every and --down-time take durations like 1500ms, 3s, 1m\n");
    return 2;
  }
  auto deadline_ms = ParseDurationMs(o->deadline_arg);
  if (!deadline_ms.ok() || deadline_ms.value() == 0) {
    std::fprintf(stderr, "chaos: --deadline takes a duration like 4m\n");
    return 2;
  }
  if (o->nemesis != "kill" && o->replicas < 2) {
    std::fprintf(stderr, "chaos: --nemesis %s needs --replicas 2 or more\n", o->nemesis.c_str());
    return 2;
  }
  o->kill_every_ms = kill_every_ms.value();
  o->down_ms = down_ms.value();
  o->deadline_ms = deadline_ms.value();
  return -1;
}

// What the submitters, the killer and the checks share.
struct Run {
  Options opt;
  const cluster::LocalCluster* cluster = nullptr;
  Clock::time_point t0, submit_deadline, run_deadline;
  std::mutex mu;
  std::vector<Acked> acked;  // guarded by mu
  std::atomic<uint64_t> next{0}, submit_retries{0};
  std::atomic<bool> submitting{true};
  std::vector<double> detect_ms;  // the killer's, read after it is joined
  int kills = 0;                  // faults made
  std::set<std::string> down_for_good;  // nodes whose data directory was deleted
  std::map<std::string, uint64_t> counters;  // summed over the nodes at the end
  // --nemesis cut|isolate: the proxy in front of each node's replication endpoint, and the one
  // each node reaches etcd through.
  std::map<std::string, std::unique_ptr<cluster::TcpProxy>> repl_proxy, etcd_proxy;
  bool timed_out = false;
};

// One submitter thread: takes job numbers until all are taken, paced to the run's rate, and
// retries each (same key) until some node acknowledges it or the submit phase ends.
void Submit(Run* run, int t) {
  const Options& opt = run->opt;
  auto endpoints = run->cluster->endpoints();
  // Only this cluster's nodes: the default list ($JOBNET_ENDPOINTS or tcp://127.0.0.1:7701)
  // named another cluster's node when one ran there (a test in parallel), and a submitter
  // could wait on that node for good.
  std::vector<std::string> mine;
  for (size_t k = 0; k < endpoints.size(); ++k)
    mine.push_back(endpoints[(t + k) % endpoints.size()]);
  ClientOptions o = run->cluster->ClientFor(std::move(mine), 1000);
  std::unique_ptr<Client> c;
  while (!Client::Connect(o, &c).ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (;;) {
    uint64_t i = run->next.fetch_add(1);
    if (i >= opt.jobs) break;
    // Pace: job i is due at t0 + i/rate.
    std::this_thread::sleep_until(run->t0 + std::chrono::microseconds(i * 1000000 / opt.rate));
    JobSpec spec;
    uint64_t value = i % 3 == 0 ? 1 + i % opt.max_sleep_ms : i;
    spec.type = i % 3 == 0 ? "sleep" : "echo";
    spec.payload = PackU64(value);
    spec.max_attempts = 50;
    spec.backoff_ms = 50;
    spec.key = "chaos-" + std::to_string(i);
    for (;;) {
      auto r = c->Submit(spec);
      if (r.ok()) {
        std::lock_guard<std::mutex> lock(run->mu);
        run->acked.push_back(Acked{r.value().id, spec.key, PackU64(value)});
        break;
      }
      if (Clock::now() > run->submit_deadline) {  // the cluster stopped taking jobs
        std::fprintf(stderr, "chaos: submit of %s still failing at the deadline: %s\n",
                     spec.key.c_str(), r.status().ToString().c_str());
        // Which side is stuck: the same submit from a fresh client to each node alone. The
        // run fails either way; this only says where to look (a run under load once ended
        // with one key unanswered by every node for 100 s).
        for (const auto& ep : endpoints) {
          std::unique_ptr<Client> fresh;
          Status s = Client::Connect(run->cluster->ClientFor({ep}, 2000), &fresh);
          auto again = s.ok() ? fresh->Submit(spec) : Result<SubmitResult>(s);
          std::fprintf(stderr, "chaos:   the same submit, fresh client, %s alone: %s\n",
                       ep.c_str(),
                       again.ok() ? ("accepted as " + again.value().id).c_str()
                                  : again.status().ToString().c_str());
        }
        run->next = opt.jobs;  // the other submitters stop too
        return;
      }
      run->submit_retries++;  // every node we tried was down or slow: try again, same key
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

// How long after `killed_at` a witness first reports `victim` dead (watched for the victim's
// down time at least, 5 s beyond it at most); -1 if it never did.
double TimeToDeclaredDead(const cluster::LocalCluster& cluster, const cluster::LocalNode& victim,
                          const cluster::LocalNode& witness, Clock::time_point killed_at,
                          uint64_t down_ms) {
  ClientOptions o = cluster.ClientFor({witness.endpoint}, 500);
  std::unique_ptr<Client> w;
  double detected = -1;
  while (Ms(Clock::now() - killed_at) < static_cast<double>(down_ms) + 5000) {
    if (!w && !Client::Connect(o, &w).ok()) w.reset();
    if (w) {
      auto st = w->Stats();
      if (st.ok()) {
        for (const auto& p : st.value().peers)
          if (p.node == victim.id && p.state == "dead") detected = Ms(Clock::now() - killed_at);
      }
    }
    if (detected >= 0 && Ms(Clock::now() - killed_at) >= static_cast<double>(down_ms)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return detected;
}

// The killer: SIGKILL a random node, keep it down a while, restart it; measure how long the
// survivors take to declare it dead (that is when they re-queue its leases).
void Kill(Run* run) {
  const cluster::LocalCluster& cluster = *run->cluster;
  std::mt19937_64 rng(run->opt.seed);
  size_t last_victim = cluster.nodes().size();  // none yet
  auto next_kill = Clock::now() + std::chrono::milliseconds(run->opt.kill_every_ms);
  while (run->submitting.load()) {
    if (Clock::now() < next_kill) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    // A random node, never the same one twice in a row (so every node gets killed).
    size_t n = cluster.nodes().size();
    size_t pick = std::uniform_int_distribution<size_t>(0, n > 1 ? n - 2 : 0)(rng);
    if (n > 1 && pick >= last_victim) pick++;
    last_victim = pick;
    const auto& victim = cluster.nodes()[pick];
    const auto& witness = cluster.nodes()[(pick + 1) % n];
    auto killed_at = Clock::now();
    if (Status ks = cluster.Kill(victim, SIGKILL); !ks.ok()) {
      std::fprintf(stderr, "chaos: cannot kill %s: %s\n", victim.id.c_str(), ks.ToString().c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    run->kills++;
    std::fprintf(stderr, "chaos: SIGKILL %s\n", victim.id.c_str());
    if (n > 1) {
      double detected = TimeToDeclaredDead(*run->cluster, victim, witness, killed_at, run->opt.down_ms);
      if (detected >= 0) run->detect_ms.push_back(detected);
    } else {  // no other node to declare it dead: only the down time
      std::this_thread::sleep_for(std::chrono::milliseconds(run->opt.down_ms));
    }
    // A restart that fails (its port or journal lock not yet released) is tried again: a
    // node left down would hold its jobs until the deadline.
    Status s = cluster.Start(victim);
    for (int tries = 1; !s.ok() && tries < 10 && Clock::now() < run->submit_deadline; ++tries) {
      std::fprintf(stderr, "chaos: restart %s (try %d): %s\n", victim.id.c_str(), tries,
                   s.ToString().c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      s = cluster.Start(victim);
    }
    if (!s.ok()) std::fprintf(stderr, "chaos: restart %s: %s\n", victim.id.c_str(), s.ToString().c_str());
    next_kill = Clock::now() + std::chrono::milliseconds(run->opt.kill_every_ms);
  }
}

// Starts `node` again unless it is running (one that does not start is reported).
void Restart(Run* run, const cluster::LocalNode& node) {
  if (run->cluster->Pid(node) != 0) return;
  Status s = run->cluster->Start(node);
  if (!s.ok()) std::fprintf(stderr, "chaos: restart %s: %s\n", node.id.c_str(), s.ToString().c_str());
}

// --nemesis cut|isolate: cuts `victim` off (see the top of this file) for --down-time, heals.
void Partition(Run* run, const cluster::LocalNode& victim) {
  const Options& opt = run->opt;
  const auto& nodes = run->cluster->nodes();
  size_t v = 0;
  while (nodes[v].id != victim.id) ++v;
  std::vector<cluster::TcpProxy*> cut;
  for (int r = 1; r < opt.replicas; ++r)  // its backups, the next nodes in the ring
    cut.push_back(run->repl_proxy.at(nodes[(v + r) % nodes.size()].id).get());
  if (opt.nemesis == "isolate") {
    cut.push_back(run->repl_proxy.at(victim.id).get());
    cut.push_back(run->etcd_proxy.at(victim.id).get());
  }
  std::fprintf(stderr, "chaos: %s %s for %llu ms\n",
               opt.nemesis == "cut" ? "cut off the backups of" : "isolate", victim.id.c_str(),
               static_cast<unsigned long long>(opt.down_ms));
  for (auto* p : cut) p->Partition();
  std::this_thread::sleep_for(std::chrono::milliseconds(opt.down_ms));
  for (auto* p : cut) p->Heal();
  run->kills++;
  // A primary deposed meanwhile stops itself at its next refused batch: start it again.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  Restart(run, victim);
}

// The faults of --nemesis other than kill, one every --kill-every while jobs are submitted.
void Nemesis(Run* run) {
  const cluster::LocalCluster& cluster = *run->cluster;
  const Options& opt = run->opt;
  std::mt19937_64 rng(opt.seed);
  const auto down = std::chrono::milliseconds(opt.down_ms);
  bool wiped = false;
  while (run->submitting.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.kill_every_ms));
    if (!run->submitting.load()) break;
    const auto& nodes = cluster.nodes();
    const auto& victim = nodes[std::uniform_int_distribution<size_t>(0, nodes.size() - 1)(rng)];
    if (opt.nemesis == "stop") {
      if (cluster.Pid(victim) == 0) continue;
      std::fprintf(stderr, "chaos: SIGSTOP %s for %llu ms\n", victim.id.c_str(),
                   static_cast<unsigned long long>(opt.down_ms));
      const pid_t pid = cluster.Pid(victim);  // (LocalCluster::Kill waits for an exit)
      ::kill(pid, SIGSTOP);
      std::this_thread::sleep_for(down);
      ::kill(pid, SIGCONT);
      run->kills++;
      // A deposed primary stops itself once thawed: give it a moment, then start it again.
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      Restart(run, victim);
    } else if (opt.nemesis == "etcd" && cluster.etcd() != nullptr) {
      std::fprintf(stderr, "chaos: SIGKILL etcd for %llu ms\n",
                   static_cast<unsigned long long>(opt.down_ms));
      (void)cluster.Kill(*cluster.etcd(), SIGKILL);
      std::this_thread::sleep_for(down);
      if (Status s = cluster.Start(*cluster.etcd()); !s.ok())
        std::fprintf(stderr, "chaos: restart etcd: %s\n", s.ToString().c_str());
      run->kills++;
    } else if (opt.nemesis == "all") {
      std::fprintf(stderr, "chaos: SIGKILL every node\n");
      for (const auto& n : nodes)
        if (cluster.Pid(n) != 0) (void)cluster.Kill(n, SIGKILL);
      std::this_thread::sleep_for(down);
      for (const auto& n : nodes) Restart(run, n);
      run->kills++;
    } else if (opt.nemesis == "cut" || opt.nemesis == "isolate") {
      Partition(run, victim);
    } else if (opt.nemesis == "wipe" && !wiped) {
      std::fprintf(stderr, "chaos: SIGKILL %s and delete its data directory\n", victim.id.c_str());
      (void)cluster.Kill(victim, SIGKILL);
      std::error_code ec;
      std::filesystem::remove_all(victim.data, ec);
      run->down_for_good.insert(victim.id);
      wiped = true;
      run->kills++;
    }
  }
}

// Where an unfinished job is, in words, for the failure report.
std::string WhereIs(const Result<JobInfo>& st, const std::string& owner, bool connected) {
  if (st.ok())
    return std::string(protocol::JobStateName(st.value().state)) + " (attempt " +
           std::to_string(st.value().attempts) + ") on its owner " + owner +
           (st.value().error.empty() ? "" : ": " + st.value().error);
  if (connected) return "owner " + owner + ": " + st.status().ToString();
  return "owner " + owner + " unreachable";
}

// Waits for every acknowledged job, asking its owner; returns how many were still unfinished at
// the run's deadline (the first 20 are named with where they are).
uint64_t WaitForAll(Run* run) {
  std::map<std::string, std::string> owner_ep;
  for (const auto& n : run->cluster->nodes()) owner_ep[n.id] = n.endpoint;
  std::map<std::string, std::unique_ptr<Client>> clients;
  uint64_t unfinished = 0;
  // All of them share what is left of the run's deadline (a job is not given minutes of its
  // own: thousands of stuck jobs would each wait them out). One found unfinished is asked once
  // more, for where it is, and named.
  // With replicas a shard may have moved: ask any live node, which forwards to its holder.
  std::vector<std::string> live;
  for (const auto& n : run->cluster->nodes())
    if (!run->down_for_good.count(n.id)) live.push_back(n.endpoint);
  ClientOptions any = run->cluster->ClientFor(std::move(live), 2000);
  for (const auto& a : run->acked) {
    std::string owner = run->opt.replicas > 1 ? "any" : a.id.substr(0, a.id.rfind('-'));
    for (;;) {
      auto& c = clients[owner];
      if (!c) {
        ClientOptions o =
            owner == "any" ? any : run->cluster->ClientFor({owner_ep[owner]}, 2000);
        if (!Client::Connect(o, &c).ok()) c.reset();
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(run->run_deadline - Clock::now());
      if (c && left.count() > 0) {
        auto r = c->Wait(a.id, static_cast<uint64_t>(std::min<int64_t>(left.count(), 10000)));
        if (r.ok()) break;
        if (!r.status().IsTimeout()) c.reset();
      }
      if (Clock::now() >= run->run_deadline) {
        auto st = c ? c->GetStatus(a.id) : Result<JobInfo>(Status::Unavailable("no connection"));
        if (st.ok() && protocol::IsFinal(st.value().state)) break;  // done; the check says how
        run->timed_out = true;
        if (++unfinished <= 20)
          std::fprintf(stderr, "chaos: unfinished at the deadline: %s, %s\n", a.id.c_str(),
                       WhereIs(st, owner, c != nullptr).c_str());
        break;
      }
      if (!c) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (unfinished > 20)
    std::fprintf(stderr, "chaos: ... and %llu more unfinished\n",
                 static_cast<unsigned long long>(unfinished - 20));
  return unfinished;
}

// What the journals say, read offline after the nodes stopped.
struct Verdict {
  uint64_t succeeded = 0, lost = 0, wrong = 0, not_succeeded = 0, reruns = 0, dup_jobs = 0;
  uint64_t journal_problems = 0;  // `jobnet journal verify` findings, all nodes
};

// Reads every node's journal read-only and checks each acknowledged job in it. False (after
// saying why) if a journal cannot be opened.
bool CheckJournals(const Run& run, Verdict* v) {
  std::map<std::string, protocol::Job> by_id;
  std::map<std::string, std::vector<std::string>> ids_by_key;
  std::map<std::string, uint32_t> runs;  // id -> runs started
  // Each node's journal, and with replicas the shards it took over (replicas/<shard>, marked
  // taken): a job is judged by its most advanced record (the most events), the one its last
  // holder wrote. A node whose data directory the nemesis deleted has none.
  std::vector<std::pair<std::string, std::string>> journals;  // name, dir
  for (const auto& n : run.cluster->nodes()) {
    if (run.down_for_good.count(n.id)) continue;
    journals.emplace_back(n.id, n.data);
    for (const auto& shard : ReplicaServer::TakenIn(n.data + "/replicas"))
      journals.emplace_back(n.id + "'s copy of " + shard, n.data + "/replicas/" + shard);
  }
  for (const auto& [name, dir] : journals) {
    JournalOptions jo;
    jo.read_only = true;
    std::unique_ptr<Journal> j;
    Status s = Journal::Open(dir, jo, &j);
    if (!s.ok()) {
      std::fprintf(stderr, "chaos: journal %s: %s\n", dir.c_str(), s.ToString().c_str());
      return false;
    }
    std::vector<std::string> problems;
    uint64_t checked = 0;
    s = j->Verify(&problems, &checked);
    if (!s.ok()) problems.push_back(s.ToString());
    for (const auto& p : problems)
      std::fprintf(stderr, "chaos: %s journal: %s\n", name.c_str(), p.c_str());
    v->journal_problems += problems.size();
    j->ForEachJob([&](const protocol::Job& job) {
      auto known = by_id.find(job.id);
      if (known != by_id.end() && known->second.events >= job.events) return true;
      if (known == by_id.end()) ids_by_key[job.spec.key()].push_back(job.id);
      by_id[job.id] = job;
      std::vector<std::pair<uint32_t, protocol::JobEvent>> h;
      j->History(job.seq, &h);
      // Runs that started: dispatches, less those a peer rejected without running them.
      uint32_t started = 0;
      for (const auto& [k, ev] : h) {
        started += ev.state == protocol::JobState::kRunning;
        if (ev.state == protocol::JobState::kQueued &&
            ev.message.find("has no free worker") != std::string::npos && started > 0)
          started--;
      }
      runs[job.id] = started;
      return true;
    });
  }
  for (const auto& a : run.acked) {
    auto it = by_id.find(a.id);
    if (it == by_id.end()) {
      v->lost++;
      continue;
    }
    if (it->second.state != protocol::JobState::kSucceeded) {
      v->not_succeeded++;
      std::fprintf(stderr, "chaos: %s is %s: %s\n", a.id.c_str(),
                   protocol::JobStateName(it->second.state), it->second.error().c_str());
      continue;
    }
    v->succeeded++;
    if (it->second.result() != a.expected) v->wrong++;
    if (runs[a.id] > 1) v->reruns += runs[a.id] - 1;
    v->dup_jobs += ids_by_key[a.key].size() - 1;
  }
  return true;
}

// What the live nodes counted of failover, summed.
void SumCounters(Run* run) {
  for (const auto& n : run->cluster->nodes()) {
    std::unique_ptr<Client> c;
    if (run->cluster->Pid(n) == 0 ||
        !Client::Connect(run->cluster->ClientFor({n.endpoint}, 2000), &c).ok())
      continue;
    auto st = c->Stats();
    if (!st.ok()) continue;
    for (const char* name : {"shards_taken_over", "replica_refused", "fenced_refused",
                             "replication_backups_dropped", "replication_snapshots"})
      run->counters[name] += st.value().counters[name];
  }
}

// The summary table on stdout: two aligned columns (the CLI's table printer lives a layer up,
// in cli/).
void PrintSummary(const Run& run, const Verdict& v, uint64_t unfinished, double submit_s,
                  double total_s) {
  std::vector<double> detect = run.detect_ms;
  std::sort(detect.begin(), detect.end());
  double detect_avg = 0;
  for (double d : detect) detect_avg += d;
  if (!detect.empty()) detect_avg /= detect.size();
  std::vector<std::pair<std::string, std::string>> rows{
      {"acknowledged", std::to_string(run.acked.size())},
      {"succeeded", std::to_string(v.succeeded)},
      {"lost (acked, not in any journal)", std::to_string(v.lost)},
      {"not succeeded (dead/other)", std::to_string(v.not_succeeded)},
      {"wrong result", std::to_string(v.wrong)},
      {"unfinished at the end", std::to_string(unfinished)},
      {"journal verify problems", std::to_string(v.journal_problems)},
      {"duplicate executions (re-runs)", std::to_string(v.reruns)},
      {"duplicate jobs (failover resubmits)", std::to_string(v.dup_jobs)},
      {"submit retries", std::to_string(run.submit_retries.load())},
      {"faults (nodes SIGKILLed, stopped, etcd killed...)", std::to_string(run.kills)},
      {"peer kill -> declared dead, re-queued (avg ms)",
       detect.empty() ? "-" : std::to_string(static_cast<int>(detect_avg))},
      {"peer kill -> declared dead, re-queued (max ms)",
       detect.empty() ? "-" : std::to_string(static_cast<int>(detect.back()))},
      {"nemesis", run.opt.nemesis + (run.opt.replicas > 1 ? ", replicas " + std::to_string(run.opt.replicas) : "")},
      {"shards taken over (live nodes)", std::to_string(run.counters.count("shards_taken_over") ? run.counters.at("shards_taken_over") : 0)},
      {"frames refused as from a deposed primary", std::to_string(run.counters.count("replica_refused") ? run.counters.at("replica_refused") : 0)},
      {"writes refused while fenced", std::to_string(run.counters.count("fenced_refused") ? run.counters.at("fenced_refused") : 0)},
      {"backups dropped from an in-sync set", std::to_string(run.counters.count("replication_backups_dropped") ? run.counters.at("replication_backups_dropped") : 0)},
      {"submit phase (s)", std::to_string(submit_s)},
      {"total (s)", std::to_string(total_s)},
  };
  size_t key_width = std::strlen("CHAOS SUMMARY");
  for (const auto& [key, value] : rows) key_width = std::max(key_width, key.size());
  std::cout << std::left << std::setw(key_width + 2) << "CHAOS SUMMARY" << "VALUE\n";
  for (const auto& [key, value] : rows) std::cout << std::setw(key_width + 2) << key << value << "\n";
}

// Kept for whoever reads a failure: the logs' tails now, and the whole directory under a name
// the next run does not wipe.
void KeepFailedRun(const cluster::LocalCluster& cluster, const std::string& dir) {
  for (const auto& n : cluster.nodes()) PrintLogTail(n, 40);
  std::string kept = dir + ".failed";
  std::error_code ec;
  std::filesystem::remove_all(kept, ec);
  std::filesystem::rename(dir, kept, ec);
  std::fprintf(stderr, "chaos: the cluster directory is kept in %s\n",
               ec ? dir.c_str() : kept.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Run run;
  if (int rc = ParseOptions(argc, argv, &run.opt); rc >= 0) return rc;
  const Options& opt = run.opt;
  // Everything below is bounded by this: a run that cannot finish fails with what was
  // unfinished and stops its nodes, instead of hanging until whatever runs it gives up.
  run.run_deadline = Clock::now() + std::chrono::milliseconds(opt.deadline_ms);
  // The end of the submit phase: what is left of the deadline goes to waiting and checking.
  run.submit_deadline = Clock::now() + std::chrono::milliseconds(opt.deadline_ms / 2);

  // Nodes of an earlier run in this directory (killed before it could stop them) go first: this
  // run must never meet them holding its ports or journals.
  if (auto old = cluster::LocalCluster::Load(opt.dir); old.ok()) {
    if (Status s = old.value().Down(2000); !s.ok())
      std::fprintf(stderr, "chaos: stopping the nodes of an earlier run in %s: %s\n",
                   opt.dir.c_str(), s.ToString().c_str());
  }
  std::filesystem::remove_all(opt.dir);
  const bool proxied = opt.nemesis == "cut" || opt.nemesis == "isolate";
  if (proxied) {
    for (const auto& route : cluster::LocalCluster::ProxyRoutes(opt.nodes, opt.base_port)) {
      auto p = cluster::TcpProxy::Start(route.listen_port, route.target_port);
      if (!p.ok()) {
        std::fprintf(stderr, "chaos: %s\n", p.status().ToString().c_str());
        return 3;
      }
      (route.what == "etcd" ? run.etcd_proxy : run.repl_proxy)[route.node] = std::move(p.value());
    }
  }
  // Tied: the nodes die with this tool, however it dies (a test's timeout, kill -9, Ctrl-C),
  // instead of holding the ports and journals of the next run. Logs at info: a failed run keeps
  // them, and they must say what each node did (a run under load once ended with one submit
  // unanswered by every node for 100 s, and logs at warn held nothing).
  auto up = cluster::LocalCluster::Up(opt.dir, opt.nodes, opt.base_port, opt.workers,
                                      {"--log-level", "info"}, opt.jobnet_exe,
                                      /*http_base_port=*/0, /*tied=*/true, opt.replicas,
                                      proxied);
  if (!up.ok()) {
    std::fprintf(stderr, "chaos: %s\n", up.status().ToString().c_str());
    return 3;
  }
  const cluster::LocalCluster& cluster = up.value();
  run.cluster = &cluster;
  std::fprintf(stderr,
               "chaos: %d nodes up (replicas %d); submitting %llu jobs at %llu/s, a fault (%s) "
               "every %llu ms\n",
               opt.nodes, opt.replicas, static_cast<unsigned long long>(opt.jobs),
               static_cast<unsigned long long>(opt.rate), opt.nemesis.c_str(),
               static_cast<unsigned long long>(opt.kill_every_ms));

  run.t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < opt.submitters; ++t) threads.emplace_back(Submit, &run, t);
  std::thread killer(opt.nemesis == "kill" ? Kill : Nemesis, &run);
  for (auto& t : threads) t.join();
  run.submitting = false;
  killer.join();
  for (const auto& n : cluster.nodes())
    if (cluster.Pid(n) == 0 && !run.down_for_good.count(n.id))
      if (Status s = cluster.Start(n); !s.ok())
        std::fprintf(stderr, "chaos: restart %s after the submit phase: %s\n", n.id.c_str(),
                     s.ToString().c_str());
  double submit_s = Ms(Clock::now() - run.t0) / 1000;
  if (Clock::now() > run.submit_deadline) run.timed_out = true;

  uint64_t unfinished = WaitForAll(&run);
  double total_s = Ms(Clock::now() - run.t0) / 1000;
  if (opt.replicas > 1) SumCounters(&run);
  cluster.Down(20000);

  Verdict v;
  if (!CheckJournals(run, &v)) return 1;
  PrintSummary(run, v, unfinished, submit_s, total_s);
  bool ok = v.lost == 0 && v.not_succeeded == 0 && v.wrong == 0 && unfinished == 0 &&
            v.journal_problems == 0 && !run.timed_out && run.acked.size() == opt.jobs &&
            run.kills >= opt.min_kills;
  if (run.timed_out)
    std::fprintf(stderr, "chaos: the run did not finish by its deadline (%s)\n",
                 opt.deadline_arg.c_str());
  std::cout << (ok ? "PASS" : "FAIL") << "\n";
  if (ok) {
    std::filesystem::remove_all(opt.dir);
    return 0;
  }
  KeepFailedRun(cluster, opt.dir);
  return 1;
}
