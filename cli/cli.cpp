// `jobnet` subcommands. Data goes to stdout (a table, or JSON lines with --json), diagnostics
// to stderr; exit codes in cli.hpp.
#include "cli/cli.hpp"

#include <CLI/CLI.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <iostream>
#include <map>
#include <set>

#include <filesystem>
#include <fstream>

#include "base/clock.hpp"
#include "base/parse.hpp"
#include "cli/cli_batch.hpp"
#include "cli/cli_progress.hpp"
#include "cli/json_io.hpp"
#include "cluster/local_cluster.hpp"
#include "jobnet/client.h"
#include "jobnet/limits.h"
#include "node/config.hpp"

namespace jobnet::cli {

// The local cluster runner is a layer below (cluster/): the CLI drives it, never the reverse.
using cluster::LocalCluster;
using cluster::LocalNode;

void AddClientFlags(CLI::App* cmd, ClientFlags* f) {
  cmd->add_option("--to", f->to,
                  "node endpoint(s), comma-separated (default: $JOBNET_ENDPOINTS, else "
                  "tcp://127.0.0.1:7701)");
  cmd->add_flag("--json", f->json, "print one JSON object per line");
  cmd->add_option("--request-timeout", f->request_timeout,
                  "how long to wait for the node to answer (default " +
                      std::to_string(limits::kRequestTimeoutMsDefault) + "ms)");
  // Not --key: that is submit's idempotency key.
  cmd->add_option("--key-file", f->key, "this client's CURVE key file (default: $JOBNET_KEY)");
  cmd->add_option("--server-key", f->server_key,
                  "the public key (Z85) of the node(s) given with --to");
  cmd->add_option("--cluster", f->cluster,
                  "a cluster.json (from `jobnet cluster up`): its endpoints and node keys "
                  "(default: $JOBNET_CLUSTER)");
}

int Fail(const Status& s) {
  std::cerr << "jobnet: " << s.ToString() << "\n";
  return ExitCodeFor(s);
}

// The client options of the flags: --to (else $JOBNET_ENDPOINTS) and --request-timeout.
Status Options(const ClientFlags& f, ClientOptions* o) {
  if (!f.to.empty()) {
    o->endpoints.clear();
    std::stringstream ss(f.to);
    std::string ep;
    while (std::getline(ss, ep, ','))
      if (!ep.empty()) o->endpoints.push_back(ep);
  }
  if (Status s = ClientSecurity(f, o); !s.ok()) return s;
  auto t = ParseDurationMs(f.request_timeout);
  if (!t.ok()) return t.status();
  if (t.value() == 0 || t.value() > limits::kRequestTimeoutMsMax)
    return Status::InvalidArgument("--request-timeout must be 1.." +
                                   std::to_string(limits::kRequestTimeoutMsMax) + " ms");
  o->request_timeout_ms = static_cast<uint32_t>(t.value());
  return Status::OK();
}

Status Connect(const ClientFlags& f, std::unique_ptr<Client>* client) {
  ClientOptions o;
  if (Status s = Options(f, &o); !s.ok()) return s;
  return Client::Connect(o, client);
}

int RunSubmitBatch(const ClientFlags& f, const std::string& file) {
  std::ifstream in_file;
  if (file != "-") {
    in_file.open(file);
    if (!in_file) return Fail(Status::NotFound("cannot open batch file '" + file + "'"));
  }
  std::unique_ptr<Client> client;
  Status connected = Connect(f, &client);
  // With --json a script reads one line per spec: it gets them, each with the connect error.
  if (!connected.ok() && !f.json) return Fail(connected);
  int rc = SubmitBatchLines(client.get(), connected, file == "-" ? std::cin : in_file, f.json);
  if (!connected.ok()) std::cerr << "jobnet: no job was submitted: " << connected.ToString() << "\n";
  return rc;
}

// retry --all / cancel --all.
int RunBulk(const ClientFlags& f, BulkQuery q, const std::string& state) {
  if (!state.empty()) {
    q.state = protocol::ParseJobState(state);
    if (!q.state) return Fail(Status::InvalidArgument("unknown state '" + state + "'"));
  }
  if (Status s = protocol::Validate(q); !s.ok()) return Fail(s);
  ClientOptions o;
  if (Status s = Options(f, &o); !s.ok()) return Fail(s);
  return RunBulkOnEach(o, q, f.json);
}

int DurationFlag(const std::string& text, uint64_t* ms) {
  if (text.empty()) return -1;
  auto g = ParseDurationMs(text);
  if (!g.ok()) return Fail(g.status());
  *ms = g.value();
  return -1;
}

// Waits for every id to reach a final state, printing each as it does. Waits are pipelined:
// one request per id, re-sent when the node's wait window (30 s) passes. Without --json, the
// current job's progress is shown meanwhile (cli_progress.hpp): a live bar when stdout is a
// terminal, else plain lines on stderr.
int WaitAll(Client& client, const ClientFlags& f, const std::vector<std::string>& ids,
            uint32_t request_ms) {
  constexpr uint64_t kWindowMs = 30000;
  std::map<uint64_t, std::string> pending;  // corr -> id
  int rc = kExitOk;
  bool header_printed = false;
  auto send_wait = [&](const std::string& id) {
    auto corr = client.SendWait(id, kWindowMs);
    if (corr.ok()) pending[corr.value()] = id;
    return corr.status();
  };
  for (const auto& id : ids)
    if (Status s = send_wait(id); !s.ok()) return Fail(s);
  // Progress is read with a client of its own: a call on `client` would swallow wait replies.
  std::unique_ptr<WaitProgress> progress;
  if (!f.json) {
    std::unique_ptr<Client> probe;
    if (Connect(f, &probe).ok()) {
      bool tty = isatty(STDOUT_FILENO) != 0;
      progress = std::make_unique<WaitProgress>(
          tty ? WaitProgress::Mode::kBar : WaitProgress::Mode::kLines, ids.size(),
          std::move(probe), tty ? std::cout : std::cerr);
    }
  }
  // The first unfinished job, in the order given: the one whose progress is shown.
  auto current = [&] {
    for (const auto& id : ids)
      for (const auto& [corr, pending_id] : pending)
        if (pending_id == id) return id;
    return std::string();
  };
  auto last_heard = std::chrono::steady_clock::now();
  const auto silent_max = std::chrono::milliseconds(kWindowMs + request_ms);
  // A wait is a read, so one answered `unavailable` (its owner node is restarting, or was just
  // declared dead and has not rejoined yet) is asked again, every kRetryMs, for up to
  // kUnavailableMsMax of unbroken unavailability; only then is it reported.
  constexpr auto kRetryMs = std::chrono::milliseconds(500);
  constexpr auto kUnavailableMsMax = std::chrono::milliseconds(60000);
  std::map<std::string, std::chrono::steady_clock::time_point> unavailable_since;
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> retries;
  while (!pending.empty() || !retries.empty()) {
    auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < retries.size();) {
      if (retries[i].first > now) {
        ++i;
        continue;
      }
      if (Status e = send_wait(retries[i].second); !e.ok()) return Fail(e);
      retries.erase(retries.begin() + static_cast<std::ptrdiff_t>(i));
    }
    uint32_t receive_ms = progress ? progress->refresh_ms() : static_cast<uint32_t>(kWindowMs + request_ms);
    for (const auto& r : retries) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(r.first - now).count();
      receive_ms =
          std::min<uint32_t>(receive_ms, static_cast<uint32_t>(std::max<int64_t>(until, 1)));
    }
    if (pending.empty()) {  // only retries are due later: nothing to receive until then
      std::this_thread::sleep_for(std::chrono::milliseconds(receive_ms));
      continue;
    }
    auto env = client.Receive(receive_ms);
    if (!env.ok()) {
      if (env.status().IsTimeout() && !retries.empty()) continue;  // a retry is due
      if (progress && env.status().IsTimeout() &&
          std::chrono::steady_clock::now() - last_heard < silent_max) {
        progress->Refresh(current());
        continue;
      }
      if (progress) progress->Clear();
      std::cerr << "jobnet: " << pending.size() << " job(s) not finished: "
                << env.status().ToString() << "\n";
      return ExitCodeFor(env.status());
    }
    last_heard = std::chrono::steady_clock::now();
    auto it = pending.find(env.value().corr_id);
    if (it == pending.end()) continue;
    std::string id = it->second;
    pending.erase(it);
    const Reply& reply = env.value();
    if (!reply.status.IsUnavailable()) unavailable_since.erase(id);
    if (!reply.status.ok()) {
      const Status& s = reply.status;
      if (s.IsTimeout()) {  // not final yet: ask again
        if (Status e = send_wait(id); !e.ok()) return Fail(e);
        continue;
      }
      if (s.IsUnavailable()) {
        auto since = unavailable_since.try_emplace(id, last_heard).first->second;
        if (last_heard - since < kUnavailableMsMax) {
          retries.emplace_back(last_heard + kRetryMs, id);
          continue;
        }
      }
      if (progress) progress->Clear();
      std::cerr << "jobnet: " << id << ": " << s.ToString() << "\n";
      rc = std::max(rc, ExitCodeFor(s));
      continue;
    }
    if (progress) {
      progress->Clear();
      progress->JobDone();
    }
    if (f.json) {
      std::cout << JobToJson(reply.job).dump(-1, ' ', false, kInvalidUtf8Replaced) << std::endl;
    } else {
      PrintJobRow(std::cout, reply.job, !header_printed);
      header_printed = true;
    }
    if (progress && !pending.empty()) progress->Draw();
  }
  return rc;
}

namespace {


int RunSubmit(const ClientFlags& f, const std::string& type, const std::string& payload_json,
              JobSpec spec, const std::string& delay, const std::string& timeout, bool wait) {
  spec.type = type;
  if (!payload_json.empty()) {
    auto p = JsonToMsgpack(payload_json);
    const std::string& t = payload_json;
    if (p.ok()) {
      spec.payload = std::move(p.value());
    } else if (t.size() >= 2 && t.front() == '"' && t.back() == '"') {
      // Meant as a string, with quotes inside it left unescaped ("\"$json\"" in a shell
      // script): the text between the outer quotes, as written. Said on stderr, in case it was
      // a typo; any other text that is not JSON is still refused.
      spec.payload = jsonio::JsonValueToMsgpack(t.substr(1, t.size() - 2));
      std::cerr << "jobnet: the payload is not valid JSON: sent as the string between its "
                   "outer quotes ("
                << t.size() - 2 << " bytes)\n";
    } else {
      return Fail(p.status());
    }
  }
  if (int rc = DurationFlag(delay, &spec.delay_ms); rc >= 0) return rc;
  if (int rc = DurationFlag(timeout, &spec.timeout_ms); rc >= 0) return rc;
  if (Status s = protocol::Validate(spec); !s.ok()) return Fail(s);
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto r = client->Submit(spec);
  if (!r.ok()) return Fail(r.status());
  if (wait) {
    auto t = ParseDurationMs(f.request_timeout);
    return WaitAll(*client, f, {r.value().id}, static_cast<uint32_t>(t.value()));
  }
  const SubmitResult& sr = r.value();
  if (!sr.reused_from.empty()) {
    // Already succeeded: print the job with its result, as --wait would.
    auto job = client->GetStatus(sr.id);
    if (!job.ok()) return Fail(job.status());
    if (f.json) {
      nlohmann::json o = JobToJson(job.value());
      o.update(SubmitResultToJson(sr));
      std::cout << o.dump(-1, ' ', false, kInvalidUtf8Replaced) << std::endl;
    } else {
      PrintJobRow(std::cout, job.value(), true);
      std::cerr << "jobnet: " << sr.id << ": result reused from " << sr.reused_from << "\n";
    }
  } else if (f.json) {
    std::cout << SubmitResultToJson(sr).dump(-1, ' ', false, kInvalidUtf8Replaced) << std::endl;
  } else {
    std::cout << sr.id
              << (sr.duplicate   ? " (existing job for this key)"
                  : sr.coalesced ? " (joined an identical job)"
                                 : "")
              << "\n";
  }
  return kExitOk;
}

int RunStats(const ClientFlags& f) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto r = client->Stats();
  if (!r.ok()) return Fail(r.status());
  const auto& st = r.value();
  if (f.json) {
    nlohmann::json o{{"node", st.node},           {"endpoint", client->endpoint()},
                     {"incarnation", st.incarnation}, {"workers", st.workers},
                     {"busy", st.busy},           {"uptime_ms", st.uptime_ms},
                     {"jobs", st.jobs},           {"queues", st.queues},
                     {"counters", st.counters},   {"peers", PeersToJson(st.peers)}};
    std::cout << o.dump(-1, ' ', false, kInvalidUtf8Replaced) << std::endl;
    return kExitOk;
  }
  std::cout << "node " << st.node << " at " << client->endpoint() << "  incarnation "
            << st.incarnation << "  workers " << st.busy << "/" << st.workers << " busy  uptime "
            << st.uptime_ms / 1000 << "s\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : st.jobs) rows.push_back({k, std::to_string(v)});
  PrintTable(std::cout, {"STATE", "JOBS"}, rows);
  rows.clear();
  // The per-queue figures (one more request); a node without them gets the waiting counts.
  auto queues = client->Queues();
  if (queues.ok() && !queues.value().empty()) {
    std::cout << "\n";
    PrintQueues(std::cout, queues.value());
  } else {
    for (const auto& [k, v] : st.queues) rows.push_back({k, std::to_string(v)});
    if (!rows.empty()) {
      std::cout << "\n";
      PrintTable(std::cout, {"QUEUE", "WAITING"}, rows);
    }
  }
  if (!st.peers.empty()) {
    std::cout << "\n";
    PrintPeers(std::cout, st.peers);
  }
  rows.clear();
  for (const auto& [k, v] : st.counters) rows.push_back({k, std::to_string(v)});
  std::cout << "\n";
  PrintTable(std::cout, {"COUNTER", "VALUE"}, rows);
  return kExitOk;
}

// A node's idle worker slots, from its own stats (retiring slots count as busy).
uint32_t IdleSlots(const NodeStats& st) {
  return st.busy < st.workers ? st.workers - st.busy : 0;
}

// `jobnet nodes`: this node and each peer as it sees them.
int RunNodes(const ClientFlags& f) {
  std::unique_ptr<Client> client;
  if (Status s = Connect(f, &client); !s.ok()) return Fail(s);
  auto r = client->Stats();
  if (!r.ok()) return Fail(r.status());
  const auto& st = r.value();
  protocol::PeerInfo self;
  self.node = st.node;
  self.endpoint = st.endpoint.empty() ? client->endpoint() : st.endpoint;
  self.state = "self";
  self.incarnation = st.incarnation;
  self.workers = st.workers;
  self.free = IdleSlots(st);
  for (const auto& [q, depth] : st.queues) self.queued += depth;  // queued + delayed, as peers report
  std::vector<protocol::PeerInfo> all{self};
  all.insert(all.end(), st.peers.begin(), st.peers.end());
  // A reader expects idle slots out of workers. A peer's heartbeat carries its credit instead
  // (idle slots plus hosted-queue places: 8 for 4 idle workers), so each alive peer is asked
  // for its own count (only alive ones: a dead peer would cost a request timeout); one that does
  // not answer shows "-".
  std::vector<std::optional<uint32_t>> idle{self.free};
  ClientOptions o;
  if (Status s = Options(f, &o); !s.ok()) return Fail(s);
  for (const auto& p : st.peers) {
    std::optional<uint32_t> n;
    std::unique_ptr<Client> peer;
    if (p.state == "alive" &&
        Client::Connect(o.Narrowed(p.endpoint, o.request_timeout_ms), &peer).ok()) {
      auto ps = peer->Stats();
      if (ps.ok()) n = IdleSlots(ps.value());
    }
    idle.push_back(n);
  }
  if (f.json) {
    for (const auto& j : PeersToJson(all, idle))
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
  } else {
    PrintPeers(std::cout, all, idle);
  }
  return kExitOk;
}

int RunNodeCommand(const std::string& config_path, NodeConfig flags, CLI::App* cmd,
                   int (*run_node)(const NodeConfig&)) {
  NodeConfig cfg;
  bool data_given = false;  // the data dir defaults to ./data/<id> unless set somewhere
  if (!config_path.empty()) {
    NodeConfig probe;
    probe.data.clear();
    if (Status s = LoadConfigFile(config_path, &probe); !s.ok()) return Fail(s);
    data_given = !probe.data.empty();
    if (Status s = LoadConfigFile(config_path, &cfg); !s.ok()) return Fail(s);
  }
  // Flags override the file.
  if (cmd->count("--id")) cfg.id = flags.id;
  if (cmd->count("--listen")) cfg.listen = flags.listen;
  if (cmd->count("--http")) cfg.http = flags.http;
  if (cmd->count("--data")) cfg.data = flags.data;
  if (cmd->count("--workers")) cfg.workers = flags.workers;
  if (cmd->count("--tick-ms")) cfg.tick_ms = flags.tick_ms;
  if (cmd->count("--log-level")) cfg.log_level = flags.log_level;
  if (cmd->count("--log-format")) cfg.log_format = flags.log_format;
  if (cmd->count("--grace")) cfg.grace_ms = flags.grace_ms;
  if (cmd->count("--peer")) cfg.peers = flags.peers;
  if (cmd->count("--etcd")) cfg.etcd = flags.etcd;
  if (cmd->count("--cluster-name")) cfg.cluster_name = flags.cluster_name;
  if (cmd->count("--backup")) cfg.backups = flags.backups;
  if (cmd->count("--advertise")) cfg.advertise = flags.advertise;
  if (cmd->count("--replication-listen")) cfg.replication_listen = flags.replication_listen;
  if (cmd->count("--replication-advertise"))
    cfg.replication_advertise = flags.replication_advertise;
  if (cmd->count("--failure-timeout")) cfg.failure_timeout_ms = flags.failure_timeout_ms;
  if (cmd->count("--heartbeat-ms")) cfg.heartbeat_ms = flags.heartbeat_ms;
  if (cmd->count("--blob-mb-max")) cfg.blob_mb_max = flags.blob_mb_max;
  if (cmd->count("--blob-grace")) cfg.blob_grace_ms = flags.blob_grace_ms;
  if (cmd->count("--image-pixels-max")) cfg.image_pixels_max = flags.image_pixels_max;
  if (cmd->count("--principals")) cfg.principals_file = flags.principals_file;
  if (cmd->count("--key-file")) cfg.key_file = flags.key_file;
  if (cmd->count("--insecure")) cfg.insecure = true;
  if (cmd->count("--http-jwks")) cfg.http_jwt.jwks = flags.http_jwt.jwks;
  if (cmd->count("--http-jwt-issuer")) cfg.http_jwt.issuer = flags.http_jwt.issuer;
  if (cmd->count("--http-jwt-audience")) cfg.http_jwt.audience = flags.http_jwt.audience;
  if (!cfg.principals_file.empty())
    if (Status s = LoadPrincipalsFile(cfg.principals_file, &cfg.principals, &cfg.http_tokens); !s.ok())
      return Fail(s);
  if (!data_given && !cmd->count("--data")) cfg.data = "./data/" + cfg.id;
  return run_node(cfg);
}

struct ClusterFlags {
  std::string action;
  std::string arg;  // N for up, NODE for kill/restart
  std::string dir = "./cluster-data";
  int base_port = 7701;
  int http_base_port = -1;  // -1: base_port + 100; 0: no HTTP face
  int workers = 4;
  int replicas = 1;
  bool json = false;
};

int RunCluster(const ClusterFlags& f) {
  if (f.action == "up") {
    auto count = base::ParseUint(f.arg, INT32_MAX);
    if (!count)
      return Fail(Status::InvalidArgument("cluster up needs a node count, e.g. `cluster up 3`"));
    const int n = static_cast<int>(*count);
    int http_base = f.http_base_port < 0 ? f.base_port + 100 : f.http_base_port;
    auto c = LocalCluster::Up(f.dir, n, f.base_port, f.workers, {}, "", http_base, false,
                              f.replicas);
    if (!c.ok()) return Fail(c.status());
    for (const auto& node : c.value().nodes()) {
      std::cout << node.id << " " << node.endpoint;
      if (!node.http.empty()) std::cout << " http://" << node.http;
      std::cout << "\n";
    }
    if (const LocalNode* etcd = c.value().etcd())
      std::cerr << "etcd at " << etcd->endpoint << "; " << f.replicas
                << " copies of each journal\n";
    const std::string dir = std::filesystem::absolute(f.dir).lexically_normal().string();
    std::cerr << "cluster of " << n << " nodes up in " << f.dir
              << ", secured with CURVE keys (docs/operations.md §21); use it with\n"
              << "  export JOBNET_CLUSTER=" << dir << "/cluster.json JOBNET_KEY=" << dir
              << "/admin.key\n";
    return kExitOk;
  }
  auto c = LocalCluster::Load(f.dir);
  if (!c.ok()) return Fail(c.status());
  const LocalCluster& cl = c.value();
  if (f.action == "status") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& node : cl.nodes()) {
      pid_t pid = cl.Pid(node);
      std::string state = pid ? "running" : "stopped", jobs = "-", peers = "-";
      if (pid) {
        std::unique_ptr<Client> client;
        Result<protocol::StatsReply> stats = Status::Unavailable("not answering");
        if (Client::Connect(cl.ClientFor({node.endpoint}, 1000), &client).ok())
          stats = client->Stats();
        if (stats.ok()) {
          auto& st = stats.value();
          jobs = std::to_string(st.jobs["queued"]) + "/" + std::to_string(st.jobs["running"]) + "/" +
                 std::to_string(st.jobs["succeeded"]) + "/" + std::to_string(st.jobs["dead"]);
          int alive = 0;
          for (const auto& p : st.peers) alive += p.state == "alive";
          peers = std::to_string(alive) + "/" + std::to_string(st.peers.size());
        } else {
          state = "not answering";
        }
      }
      if (f.json) {
        std::cout << nlohmann::json{{"node", node.id}, {"endpoint", node.endpoint},
                                    {"http", node.http.empty() ? nlohmann::json(nullptr)
                                                               : nlohmann::json("http://" + node.http)},
                                    {"pid", pid},
                                    {"state", state}, {"jobs", jobs}, {"peers_alive", peers},
                                    {"log", node.log}}
                         .dump(-1, ' ', false, kInvalidUtf8Replaced)
                  << "\n";
      }
      rows.push_back({node.id, node.endpoint, node.http.empty() ? "-" : "http://" + node.http,
                      pid ? std::to_string(pid) : "-", state, jobs, peers});
    }
    if (!f.json)
      PrintTable(std::cout,
                 {"NODE", "ENDPOINT", "HTTP", "PID", "STATE", "QUEUED/RUNNING/DONE/DEAD", "PEERS ALIVE"},
                 rows);
    return kExitOk;
  }
  if (f.action == "down") {
    Status s = cl.Down(15000);
    if (!s.ok()) return Fail(s);
    std::cerr << "cluster in " << f.dir << " is down\n";
    return kExitOk;
  }
  if (f.action == "kill" || f.action == "restart") {
    const LocalNode* node = cl.Find(f.arg);
    if (node == nullptr) return Fail(Status::NotFound("no node '" + f.arg + "' in " + f.dir));
    if (f.action == "kill") {
      Status s = cl.Kill(*node, SIGKILL);
      if (!s.ok()) return Fail(s);
      std::cerr << "killed " << node->id << " (SIGKILL)\n";
      return kExitOk;
    }
    if (cl.Pid(*node) != 0) {
      Status s = cl.Kill(*node, SIGTERM);
      if (!s.ok()) return Fail(s);
    }
    Status s = cl.Start(*node);
    if (!s.ok()) return Fail(s);
    std::cerr << "restarted " << node->id << " on " << node->endpoint << "\n";
    return kExitOk;
  }
  return Fail(Status::InvalidArgument("unknown cluster action '" + f.action +
                                      "' (want up N, status, kill NODE, restart NODE, down)"));
}

}  // namespace

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return kExitOk;
    case Code::kUnavailable:
    case Code::kTimeout: return kExitUnavailable;
    case Code::kNotFound: return kExitNotFound;
    case Code::kLocked:
    case Code::kStorage:
    case Code::kStorageFull:
    case Code::kCorruption: return kExitJournal;
    case Code::kInvalidArgument:
    case Code::kTooLarge: return kExitUsage;
    default: return kExitError;
  }
}

namespace {

// A subcommand's runner: its exit code, or -1 when its subcommand was not the one given.
using Runner = std::function<int()>;

Runner AddNodeCommand(CLI::App* app, int (*run_node)(const NodeConfig&)) {
  struct Flags {
    NodeConfig nf;
    std::string config_path, grace, failure_timeout, blob_grace;
  };
  auto s = std::make_shared<Flags>();
  NodeConfig& nf = s->nf;
  auto* node = app->add_subcommand("node", "run a node");
  node->add_option("--id", nf.id, "node id (default n1)");
  node->add_option("--listen", nf.listen, "ZeroMQ endpoint to bind (default tcp://127.0.0.1:7701)");
  node->add_option("--http", nf.http, "serve the HTTP face on ADDR:PORT, e.g. 127.0.0.1:7801 (default: none)");
  node->add_option("--data", nf.data, "journal directory (default ./data/<id>)");
  // Help texts show the defaults from where they are set (NodeConfig, limits.h), not copies.
  node->add_option("--workers", nf.workers,
                   "worker slots (default " + std::to_string(nf.workers) + ")");
  node->add_option("--tick-ms", nf.tick_ms,
                   "timer resolution in ms (default " + std::to_string(nf.tick_ms) + ")");
  node->add_option("--log-level", nf.log_level, "trace|debug|info|warn|error (default info; debug logs every job state change)");
  node->add_option("--log-format", nf.log_format, "text|json: JSON lines with time, level, node, msg (and job, state, attempt) (default text)");
  node->add_option("--grace", s->grace,
                   "shutdown grace period (default " + std::to_string(nf.grace_ms) + "ms)");
  node->add_option("--config", s->config_path, "TOML config file; flags override it");
  node->add_option("--peer", nf.peers, "another node's endpoint (repeat for each peer)");
  node->add_option("--etcd", nf.etcd,
                   "etcd client URLs, comma-separated: hold this node's shard under an etcd "
                   "lease, fenced when it cannot be renewed (docs/failover.md)")
      ->delimiter(',');
  node->add_option("--cluster-name", nf.cluster_name,
                   "with --etcd: the cluster's keys are under /jobnet/NAME/ (default " +
                       nf.cluster_name + ")");
  node->add_option("--backup", nf.backups,
                   "with --etcd: a backup's replication endpoint; every journal batch is "
                   "durable there before a client is answered (repeat for each backup)");
  node->add_option("--advertise", nf.advertise,
                   "the endpoint peers reach this node at, when not --listen (a node binding "
                   "tcp://0.0.0.0:PORT that others know by a name); peers list it verbatim");
  node->add_option("--replication-listen", nf.replication_listen,
                   "with --etcd: keep copies of the shards whose primaries name this endpoint "
                   "as a backup, and take a shard over when its primary's lease ends");
  node->add_option("--replication-advertise", nf.replication_advertise,
                   "the endpoint primaries name this node's --replication-listen by in "
                   "--backup, when they reach it through a proxy or NAT (default: the same)");
  node->add_option("--failure-timeout", s->failure_timeout,
                   "declare a silent peer dead after this (default " +
                       std::to_string(nf.failure_timeout_ms) + "ms)");
  node->add_option("--heartbeat-ms", nf.heartbeat_ms,
                   "heartbeat interval in ms (default " + std::to_string(nf.heartbeat_ms) + ")");
  node->add_option("--blob-mb-max", nf.blob_mb_max,
                   "largest blob taken, in MiB (default " + std::to_string(nf.blob_mb_max) + ")");
  node->add_option("--blob-grace", s->blob_grace,
                   "keep a blob no job refers to this long after its last put (default " +
                       std::to_string(nf.blob_grace_ms) + "ms)");
  node->add_option("--principals", nf.principals_file,
                   "a TOML file of [[principals]] (name, key, scopes, endpoints): CURVE on every "
                   "socket, and only these keys get through (docs/operations.md \"Securing a "
                   "cluster\")");
  node->add_option("--key-file", nf.key_file,
                   "this node's CURVE key file, made at first start (default DATA/node.key)");
  node->add_option("--http-jwks", nf.http_jwt.jwks,
                   "take JWT access tokens on the HTTP face, signed by a key of this JWKS (a "
                   "file or an http(s) URL); needs --http-jwt-issuer and --http-jwt-audience");
  node->add_option("--http-jwt-issuer", nf.http_jwt.issuer, "the `iss` JWTs must have");
  node->add_option("--http-jwt-audience", nf.http_jwt.audience, "the `aud` JWTs must hold");
  node->add_flag("--insecure", nf.insecure,
                 "allow listening beyond loopback without principals (and HTTP without tokens)");
  node->add_option("--image-pixels-max", nf.image_pixels_max,
                   "image jobs refuse inputs with more pixels (default " +
                       std::to_string(nf.image_pixels_max) + ")");
  return [s, node, run_node]() -> int {
    if (!*node) return -1;
    if (int rc = DurationFlag(s->grace, &s->nf.grace_ms); rc >= 0) return rc;
    if (int rc = DurationFlag(s->failure_timeout, &s->nf.failure_timeout_ms); rc >= 0) return rc;
    if (int rc = DurationFlag(s->blob_grace, &s->nf.blob_grace_ms); rc >= 0) return rc;
    return RunNodeCommand(s->config_path, s->nf, node, run_node);
  };
}

Runner AddSubmitCommand(CLI::App* app, ClientFlags* f) {
  struct Flags {
    std::string type, payload, delay, job_timeout, batch_file, on_parent_failure;
    JobSpec spec;
    bool wait = false;
  };
  auto s = std::make_shared<Flags>();
  JobSpec& spec = s->spec;
  auto* submit = app->add_subcommand("submit", "submit a job");
  submit->add_option("type", s->type, "job type (handler); not with --batch");
  submit->add_option("--batch", s->batch_file,
                     "submit the JSON-lines specs of FILE (- = stdin), in batches of up to " +
                         std::to_string(limits::kBatchSpecsMax));
  submit->add_option("payload", s->payload, "payload as JSON (e.g. 50, '\"hi\"', '[1,2]')");
  submit->add_option("--queue", spec.queue, "queue name (default 'default')");
  submit->add_option("--priority", spec.priority,
                     "0.." + std::to_string(limits::kPriorityMax) + ", higher runs first (default 0)");
  submit->add_option("--delay", s->delay, "run after this delay (e.g. 5s)");
  submit->add_option("--max-attempts", spec.max_attempts,
                     "attempts before dead-lettering (default " +
                         std::to_string(spec.max_attempts) + ")");
  submit->add_option("--backoff", spec.backoff_ms,
                     "first retry delay in ms, doubled per attempt (default " +
                         std::to_string(spec.backoff_ms) + ")");
  submit->add_option("--timeout", s->job_timeout,
                     "lease: a run longer than this fails (default " +
                         std::to_string(spec.timeout_ms) + "ms)");
  submit->add_option("--key", spec.key, "idempotency key: a second submit returns the first job");
  submit->add_option("--callback", spec.callback,
                     "POST the job's JSON to this http(s) URL when it ends (signed; the host must "
                     "be on the node's [callbacks] allow list)");
  submit->add_option("--after", spec.depends_on,
                     "wait for these jobs (ID[,ID...], up to " +
                         std::to_string(limits::kParentsMax) +
                         ", of any node) to succeed first; the job is `waiting` until then")
      ->delimiter(',');
  submit->add_option("--on-parent-failure", s->on_parent_failure,
                     "with --after: a parent that ends dead or cancelled cancels this job "
                     "(cancel, the default) or counts as done (run)")
      ->check(CLI::IsMember({"cancel", "run"}));
  submit->add_flag("--wait", s->wait, "wait for the job to finish and print it");
  submit->add_flag("--reuse", spec.reuse,
                   "reuse a retained result of the same type and payload (a new job, already "
                   "succeeded), or join an identical job still waiting or running");
  AddClientFlags(submit, f);
  return [s, submit, f]() -> int {
    if (!*submit) return -1;
    if (s->batch_file.empty() && s->type.empty())
      return Fail(Status::InvalidArgument("submit needs a job type, or --batch FILE"));
    if (!s->batch_file.empty()) {
      if (!s->type.empty() || s->wait)
        return Fail(Status::InvalidArgument("--batch takes every spec from its file: give no "
                                            "type, payload or --wait with it"));
      return RunSubmitBatch(*f, s->batch_file);
    }
    s->spec.run_on_parent_failure = s->on_parent_failure == "run";
    return RunSubmit(*f, s->type, s->payload, s->spec, s->delay, s->job_timeout, s->wait);
  };
}

// status, cancel and retry of named jobs: one request per id, printed together.
int RunForEachId(Client& client, const ClientFlags& f, const std::vector<std::string>& ids,
                 bool status, bool cancel, bool history) {
  int rc = kExitOk;
  std::vector<JobInfo> shown;
  for (const auto& id : ids) {
    Result<JobInfo> r = status   ? client.GetStatus(id, history)
                        : cancel ? client.Cancel(id)
                                 : client.Retry(id);
    if (!r.ok()) {
      std::cerr << "jobnet: " << id << ": " << r.status().ToString() << "\n";
      rc = std::max(rc, ExitCodeFor(r.status()));
      continue;
    }
    if (f.json) {
      nlohmann::json o = history ? JobWithHistoryToJson(r.value()) : JobToJson(r.value());
      std::cout << o.dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
    } else {
      shown.push_back(r.value());
    }
  }
  if (!f.json && !shown.empty()) {
    PrintJobsTable(std::cout, shown);
    PrintCallbacks(std::cout, shown);
  }
  if (!f.json && history)
    for (const auto& j : shown) {
      std::cout << "\n";
      PrintHistory(std::cout, j);
    }
  return rc;
}

// A point in time for `list --since/--until`: Unix ms (a plain number), or a duration ago ("90s",
// "2h"). 0 for an empty flag (no bound).
Result<uint64_t> InstantFlag(const std::string& flag, const std::string& text) {
  if (text.empty()) return uint64_t{0};
  if (auto ms = base::ParseUint(text)) return *ms;
  auto ago = ParseDurationMs(text);
  if (!ago.ok())
    return Status::InvalidArgument(flag + " wants Unix milliseconds or a duration ago (90s, 2h), not '" +
                                   text + "'");
  const uint64_t now = base::WallMs();
  return now > ago.value() ? now - ago.value() : uint64_t{1};
}

int RunList(Client& client, const ClientFlags& f, protocol::ListRequest lr,
            const std::string& list_state, const std::string& since, const std::string& until) {
  if (!list_state.empty()) {
    lr.state = protocol::ParseJobState(list_state);
    if (!lr.state) return Fail(Status::InvalidArgument("unknown state '" + list_state + "'"));
  }
  auto from = InstantFlag("--since", since), to = InstantFlag("--until", until);
  if (!from.ok()) return Fail(from.status());
  if (!to.ok()) return Fail(to.status());
  lr.created_from_ms = from.value();
  lr.created_to_ms = to.value();
  auto r = client.List(lr);
  if (!r.ok()) return Fail(r.status());
  // A full page may have more behind it (a page can also end early when results are large).
  if (!r.value().empty() && r.value().size() == lr.limit)
    std::cerr << "jobnet: more may follow: jobnet list --after " << r.value().back().id
              << (list_state.empty() ? "" : " --state " + list_state)
              << (lr.queue.empty() ? "" : " --queue " + lr.queue)
              << (lr.type.empty() ? "" : " --type " + lr.type)
              << (lr.created_from_ms ? " --since " + std::to_string(lr.created_from_ms) : "")
              << (lr.created_to_ms ? " --until " + std::to_string(lr.created_to_ms) : "") << "\n";
  if (f.json) {
    for (const auto& j : r.value())
      std::cout << JobToJson(j).dump(-1, ' ', false, kInvalidUtf8Replaced) << "\n";
  } else {
    PrintJobsTable(std::cout, r.value());
  }
  return kExitOk;
}

// status, wait, cancel, retry, types and list: the commands about jobs a node holds.
Runner AddJobCommands(CLI::App* app, ClientFlags* f) {
  struct Flags {
    std::vector<std::string> ids;
    bool history = false, bulk_all = false;
    BulkQuery bulk;
    std::string bulk_state, list_state, since, until;
    protocol::ListRequest lr;
  };
  auto s = std::make_shared<Flags>();
  auto* status = app->add_subcommand("status", "show jobs");
  status->add_option("ids", s->ids, "job ids")->required();
  status->add_flag("--history", s->history, "show each job's last attempts (node, start, end, error)");
  AddClientFlags(status, f);

  auto* wait = app->add_subcommand("wait", "wait until jobs finish; prints each as it does");
  wait->add_option("ids", s->ids, "job ids")->required();
  AddClientFlags(wait, f);

  auto* cancel = app->add_subcommand("cancel", "cancel a waiting, queued, delayed or running job");
  cancel->add_option("ids", s->ids, "job ids");
  cancel->add_flag("--all", s->bulk_all, "cancel every job of --queue in --state (on each --to node)");
  cancel->add_option("--queue", s->bulk.queue, "with --all: the queue");
  cancel->add_option("--state", s->bulk_state, "with --all: queued or delayed");
  AddClientFlags(cancel, f);

  auto* retry = app->add_subcommand("retry", "re-queue a dead, failed or cancelled job");
  retry->add_option("ids", s->ids, "job ids");
  retry->add_flag("--all", s->bulk_all,
                  "re-queue every dead, failed and cancelled job of --queue (on each --to node)");
  retry->add_option("--queue", s->bulk.queue, "with --all: the queue");
  retry->add_option("--type", s->bulk.type, "with --all: only jobs of this type");
  retry->add_option("--state", s->bulk_state, "with --all: only dead, only failed or only cancelled");
  AddClientFlags(retry, f);

  auto* types = app->add_subcommand("types", "the node's job handlers: payload and result");
  AddClientFlags(types, f);

  protocol::ListRequest& lr = s->lr;
  auto* list = app->add_subcommand("list", "list jobs");
  list->add_option("--state", s->list_state, "waiting|queued|delayed|running|succeeded|failed|dead|cancelled");
  list->add_option("--queue", lr.queue, "only this queue");
  list->add_option("--type", lr.type, "only jobs of this type");
  list->add_option("--limit", lr.limit,
                   "at most this many (1.." + std::to_string(limits::kListLimitMax) +
                       ", default " + std::to_string(lr.limit) + ")");
  list->add_option("--after", lr.after, "only jobs created after this job id (paging)");
  list->add_option("--since", s->since,
                   "only jobs created at or after this: Unix ms, or a duration ago (90s, 2h)");
  list->add_option("--until", s->until,
                   "only jobs created at or before this: Unix ms, or a duration ago");
  AddClientFlags(list, f);

  return [=]() -> int {
    if (!*status && !*wait && !*cancel && !*retry && !*types && !*list) return -1;
    if (*cancel || *retry) {
      if (s->bulk_all != s->ids.empty() ||
          (!s->bulk_all && (!s->bulk.queue.empty() || !s->bulk_state.empty())))
        return Fail(Status::InvalidArgument("give job ids, or --all --queue Q (not both)"));
      if (s->bulk_all) {
        s->bulk.action = *cancel ? BulkAction::kCancel : BulkAction::kRetry;
        return RunBulk(*f, s->bulk, s->bulk_state);
      }
    }
    std::unique_ptr<Client> client;
    if (Status st = Connect(*f, &client); !st.ok()) return Fail(st);
    uint32_t request_ms = static_cast<uint32_t>(ParseDurationMs(f->request_timeout).value());
    if (*wait) return WaitAll(*client, *f, s->ids, request_ms);
    if (*types) return PrintTypes(*client, f->json);
    if (*list) return RunList(*client, *f, s->lr, s->list_state, s->since, s->until);
    return RunForEachId(*client, *f, s->ids, status->parsed() > 0, cancel->parsed() > 0, s->history);
  };
}

Runner AddJournalCommand(CLI::App* app) {
  struct Flags {
    std::string dir, action, id;
    bool json = false;
  };
  auto s = std::make_shared<Flags>();
  auto* journal = app->add_subcommand("journal", "inspect a stopped node's journal (read-only)");
  journal->add_option("dir", s->dir, "journal directory")->required();
  journal->add_option("action", s->action, "stats | list | show ID | verify | export")->required();
  journal->add_option("id", s->id, "job id (for show)");
  journal->add_flag("--json", s->json, "JSON lines");
  return [s, journal]() -> int {
    return *journal ? JournalCommand(s->dir, s->action, s->id, s->json) : -1;
  };
}

Runner AddClusterCommand(CLI::App* app) {
  auto cf = std::make_shared<ClusterFlags>();
  auto* cluster = app->add_subcommand("cluster", "a local cluster: up N | status | kill NODE | restart NODE | down");
  cluster->add_option("action", cf->action, "up | status | kill | restart | down")->required();
  cluster->add_option("arg", cf->arg, "node count (up) or node id (kill, restart)");
  cluster->add_option("--dir", cf->dir, "cluster directory: data, logs, pid files (default ./cluster-data)");
  cluster->add_option("--base-port", cf->base_port, "first node's port (default 7701)");
  cluster->add_option("--workers", cf->workers, "workers per node (default 4)");
  cluster->add_option("--http-base-port", cf->http_base_port,
                      "first node's HTTP port (default: base port + 100; 0 = no HTTP face)");
  cluster->add_option("--replicas", cf->replicas,
                      "up: copies of each node's journal (default 1); 2 or more start a local "
                      "etcd and make every node a backup of the ones before it (docs/failover.md)");
  cluster->add_flag("--json", cf->json, "JSON lines (status)");
  return [cf, cluster]() -> int { return *cluster ? RunCluster(*cf) : -1; };
}

}  // namespace

int Main(int argc, char** argv, int (*run_node)(const NodeConfig&)) {
  CLI::App app{"jobnet: a distributed job cluster (CAF + ZeroMQ + msgpack + RocksDB)"};
  app.require_subcommand(1);
  ClientFlags f;  // shared: each client command adds the same flags to its own subcommand
  std::vector<Runner> runners;
  runners.push_back(AddNodeCommand(&app, run_node));
  Runner run_schedule = AddScheduleCommands(&app);
  runners.push_back(AddBlobCommands(&app));
  runners.push_back(AddSubmitCommand(&app, &f));
  runners.push_back(AddJobCommands(&app, &f));
  runners.push_back(AddFlowCommands(&app, &f));
  auto* stats = app.add_subcommand("stats", "node statistics");
  AddClientFlags(stats, &f);
  auto* nodes = app.add_subcommand("nodes", "the node and its peers: state, capacity, queue depth");
  AddClientFlags(nodes, &f);
  runners.push_back(AddJournalCommand(&app));
  WorkersFlags wf;
  CLI::App* workers = AddWorkersCommand(app, &wf, &f);
  QueueCommands qc;
  AddQueueCommands(&app, &qc, &f);
  EventsFlags ef;
  CLI::App* events = AddEventsCommand(app, &ef, &f);
  runners.push_back(AddClusterCommand(&app));
  runners.push_back(AddKeysCommands(&app));
  runners.push_back(AddPrincipalsCommands(&app, &f));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  for (const Runner& run : runners)
    if (int rc = run(); rc >= 0) return rc;
  if (*stats) return RunStats(f);
  if (int rc = RunQueueCommands(qc, f); rc >= 0) return rc;
  if (*nodes) return RunNodes(f);
  if (*workers) return RunWorkers(wf, f);
  if (*events) return RunEvents(ef, f);
  if (app.got_subcommand("schedule")) return run_schedule();
  return Fail(Status::InvalidArgument("no command given"));
}

}  // namespace jobnet::cli
