// Local cluster management: spawn node processes (detached, or tied to this process), track
// them by pid file.
#include "cluster/local_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "jobnet/client.h"
#include "jobnet/limits.h"

namespace jobnet::cluster {

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "jobnet";
  buf[n] = 0;
  return buf;
}

namespace {

// Forks every tied node. A parent-death signal (PR_SET_PDEATHSIG) follows the *thread* that
// forked the child, not its process: a node forked by the chaos tool's killer thread would die
// when that thread ends. So tied nodes are all forked by this one thread, which lives (detached,
// never destroyed) as long as the process does.
class TiedSpawner {
 public:
  static TiedSpawner& Get() {
    static TiedSpawner* spawner = new TiedSpawner();  // never destroyed: outlives every caller
    return *spawner;
  }
  // Runs `fork_node` on the spawner thread and returns what it returns.
  pid_t Run(std::function<pid_t()> fork_node) {
    std::packaged_task<pid_t()> task(std::move(fork_node));
    std::future<pid_t> pid = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return pid.get();
  }

 private:
  TiedSpawner() {
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    for (;;) {
      std::packaged_task<pid_t()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<pid_t()>> tasks_;
};

// The argv of a node's exec: exe, then args. Built before fork: the child must not allocate.
std::vector<char*> NodeArgv(const std::string& exe, const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(exe.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// In a forked child: stdout and stderr to `log`, stdin from `devnull` (each if open), then exec.
[[noreturn]] void ExecNode(const std::string& exe, std::vector<char*>& argv, int log, int devnull) {
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
  }
  if (devnull >= 0) ::dup2(devnull, 0);
  ::execv(exe.c_str(), argv.data());
  ::_exit(127);
}

// The node's log (appended) and /dev/null, opened before fork; closed in the parent after it.
struct NodeFds {
  explicit NodeFds(const std::string& log_path)
      : log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)),
        devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}
  ~NodeFds() {
    if (log >= 0) ::close(log);
    if (devnull >= 0) ::close(devnull);
  }
  const int log;
  const int devnull;
};

// Forks and execs a node that gets SIGKILL when the calling thread's process ends (run on the
// TiedSpawner thread). Between fork and exec the child only makes system calls: this process
// has other threads, so it must not allocate there. Returns the node's pid, or -1.
pid_t ForkTiedNode(const std::string& exe, const std::vector<std::string>& args,
                   const std::string& log_path) {
  std::vector<char*> argv = NodeArgv(exe, args);
  NodeFds fds(log_path);
  const pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child == 0) {
    ::setsid();  // as detached nodes: not in the terminal's process group (Ctrl-C)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the parent died before the line above
    ExecNode(exe, argv, fds.log, fds.devnull);
  }
  return child;
}

bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  // A zombie still answers kill(0): look at its state.
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

std::string PidFile(const LocalNode& n) { return n.data + ".pid"; }

// Whether the etcd at http://127.0.0.1:PORT says it is healthy (it has a leader): one GET
// /health over a plain socket, bounded by a second. Pauses after a failure, as Answers.
bool EtcdHealthy(const std::string& endpoint) {
  const int port = std::atoi(endpoint.substr(endpoint.rfind(':') + 1).c_str());
  bool ok = false;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const std::string req = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
        std::string resp;
        char buf[512];
        ssize_t got;
        while (resp.size() < 4096 && (got = ::recv(fd, buf, sizeof buf, 0)) > 0)
          resp.append(buf, got);
        ok = resp.find("\"health\":\"true\"") != std::string::npos;
      }
    }
    ::close(fd);
  }
  if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return ok;
}

// The etcd program on PATH, or "".
std::string FindEtcd() {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= p.size();) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string cand = p.substr(start, end - start) + "/etcd";
    if (end > start && ::access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

// A refused connection fails at once (the client sees it), so a node still starting would be
// asked in a tight loop: pause between tries.
bool Answers(const ClientOptions& options) {
  const std::string& endpoint = options.endpoints.front();
  if (endpoint.rfind("http://", 0) == 0) return EtcdHealthy(endpoint);
  std::unique_ptr<Client> c;
  if (Client::Connect(options, &c).ok()) return true;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return false;
}

// Forks a node that outlives this process (`jobnet cluster up`): a new session, and a second
// fork so the node is reparented and never a zombie of ours. Returns its pid, or <= 0.
pid_t StartDetached(const std::string& exe, const LocalNode& node) {
  std::vector<char*> argv = NodeArgv(exe, node.args);
  NodeFds fds(node.log);
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    // Detach: new session, then fork again so the node is reparented and never a zombie of ours.
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) {
      (void)!::write(pipefd[1], &grandchild, sizeof grandchild);
      ::_exit(grandchild > 0 ? 0 : 1);
    }
    ExecNode(exe, argv, fds.log, fds.devnull);
  }
  ::close(pipefd[1]);
  pid_t node_pid = 0;
  (void)!::read(pipefd[0], &node_pid, sizeof node_pid);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return node_pid;
}

// Whether this process could listen on 127.0.0.1:`port` now (as a node does: SO_REUSEADDR);
// an error that names the port otherwise, before anything is started.
Status PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable("cannot make a socket to check ports");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok =
      ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 1) == 0;
  ::close(fd);
  if (ok) return Status::OK();
  return Status::Unavailable("port " + std::to_string(port) +
                             " on 127.0.0.1 is in use (another cluster, or another program): "
                             "choose another --base-port (or --http-base-port)");
}

// The local etcd of a cluster with replicas: clients on `client_port`, its peer port next.
LocalNode EtcdProcess(const std::string& abs, const std::string& exe, int client_port) {
  LocalNode e;
  e.id = "etcd";
  e.exe = exe;
  e.data = abs + "/etcd";
  e.log = abs + "/etcd.log";
  e.endpoint = "http://127.0.0.1:" + std::to_string(client_port);
  const std::string peer = "http://127.0.0.1:" + std::to_string(client_port + 1);
  e.args = {"--name",
            "jobnet-etcd",
            "--data-dir",
            e.data,
            "--listen-client-urls",
            e.endpoint,
            "--advertise-client-urls",
            e.endpoint,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            "jobnet-etcd=" + peer,
            "--logger",
            "zap",
            "--log-level",
            "warn"};
  return e;
}

// <abs>/principals.toml: every node (scope peer, at the endpoints `listens` gives for it)
// and the admin key.
Status WritePrincipals(const std::string& abs, const std::vector<LocalNode>& nodes,
                       const std::map<std::string, std::vector<std::string>>& listens,
                       const CurveKeys& admin) {
  std::ofstream f(abs + "/principals.toml", std::ios::trunc);
  f << "# Made by `jobnet cluster up` (docs/operations.md §21)\n";
  for (const auto& node : nodes) {
    f << "\n[[principals]]\nname = \"" << node.id << "\"\nkey = \"" << node.public_key
      << "\"\nscopes = [\"peer\"]\nendpoints = [";
    const auto& eps = listens.at(node.id);
    for (size_t i = 0; i < eps.size(); ++i) f << (i ? ", " : "") << "\"" << eps[i] << "\"";
    f << "]\n";
  }
  f << "\n[[principals]]\nname = \"admin\"\nkey = \"" << admin.public_key
    << "\"\nscopes = [\"read\", \"write\", \"admin\", \"worker\"]\n";
  if (!f) return Status::Storage("cannot write " + abs + "/principals.toml");
  return Status::OK();
}

// $HOME/.config/jobnet/local-clusters: one cluster file per line ("" without $HOME).
std::string RegistryPath() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.config/jobnet/local-clusters" : std::string();
}

// Adds `cluster_json` to the registry, dropping the lines whose file is gone. Best effort: a
// registry that cannot be written only means clients need JOBNET_CLUSTER and JOBNET_KEY.
void Remember(const std::string& cluster_json) {
  const std::string path = RegistryPath();
  if (path.empty()) return;
  std::vector<std::string> keep{cluster_json};
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line) && keep.size() < 1000)
      if (line != cluster_json && std::filesystem::exists(line)) keep.push_back(line);
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream out(path + ".new", std::ios::trunc);
  for (const auto& l : keep) out << l << "\n";
  out.close();
  if (out) std::filesystem::rename(path + ".new", path, ec);
}

// <abs>/cluster.json: what `cluster` commands after `up` read (Load).
Status WriteManifest(const std::string& abs, const std::string& exe,
                     const std::vector<LocalNode>& nodes, const LocalNode* etcd) {
  nlohmann::json j;
  j["exe"] = exe;
  j["admin_key"] = abs + "/admin.key";
  j["nodes"] = nlohmann::json::array();
  for (const auto& node : nodes)
    j["nodes"].push_back({{"id", node.id},
                          {"endpoint", node.endpoint},
                          {"http", node.http},
                          {"data", node.data},
                          {"log", node.log},
                          {"public_key", node.public_key},
                          {"args", node.args}});
  if (etcd != nullptr)
    j["etcd"] = {{"endpoint", etcd->endpoint},
                 {"data", etcd->data},
                 {"log", etcd->log},
                 {"exe", etcd->exe},
                 {"args", etcd->args}};
  std::ofstream f(abs + "/cluster.json", std::ios::trunc);
  f << j.dump(2) << "\n";
  if (!f) return Status::Storage("cannot write " + abs + "/cluster.json");
  return Status::OK();
}

// Up means formed: every node has heard every peer's heartbeat (bounded to 5 s; not fatal).
void AwaitFormed(const LocalCluster& c) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (const auto& node : c.nodes()) {
    std::unique_ptr<Client> client;
    if (!Client::Connect(c.ClientFor({node.endpoint}, 500), &client).ok()) continue;
    while (std::chrono::steady_clock::now() < end) {
      auto st = client->Stats();
      size_t alive = 0;
      if (st.ok())
        for (const auto& p : st.value().peers) alive += p.state == "alive";
      if (st.ok() && alive == st.value().peers.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace

std::vector<std::string> LocalCluster::endpoints() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(n.endpoint);
  return out;
}

const LocalNode* LocalCluster::Find(const std::string& id) const {
  for (const auto& n : nodes_)
    if (n.id == id) return &n;
  return id == "etcd" ? etcd() : nullptr;
}

Result<LocalCluster> LocalCluster::Load(const std::string& dir) {
  std::ifstream f(dir + "/cluster.json");
  if (!f)
    return Status::NotFound("no cluster in " + dir + " (start one with `jobnet cluster up N`)");
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.contains("nodes"))
    return Status::Corruption(dir + "/cluster.json is not a cluster description");
  LocalCluster c;
  c.dir_ = dir;
  c.exe_ = j.value("exe", SelfExe());
  for (const auto& n : j["nodes"]) {
    LocalNode ln;
    ln.id = n.value("id", "");
    ln.endpoint = n.value("endpoint", "");
    ln.http = n.value("http", "");
    ln.data = n.value("data", "");
    ln.log = n.value("log", "");
    ln.args = n.value("args", std::vector<std::string>{});
    ln.public_key = n.value("public_key", "");
    c.nodes_.push_back(std::move(ln));
  }
  if (auto admin = ReadKeyFile(j.value("admin_key", dir + "/admin.key")); admin.ok())
    c.admin_ = admin.value();
  if (j.contains("etcd") && j["etcd"].is_object()) {
    const auto& e = j["etcd"];
    c.etcd_.id = "etcd";
    c.etcd_.endpoint = e.value("endpoint", "");
    c.etcd_.data = e.value("data", "");
    c.etcd_.log = e.value("log", "");
    c.etcd_.exe = e.value("exe", "");
    c.etcd_.args = e.value("args", std::vector<std::string>{});
  }
  return c;
}

std::vector<std::string> LocalCluster::Remembered() {
  std::vector<std::pair<std::filesystem::file_time_type, std::string>> found;
  std::ifstream in(RegistryPath());
  std::string line;
  std::error_code ec;
  while (std::getline(in, line) && found.size() < 1000) {
    auto t = std::filesystem::last_write_time(line, ec);
    if (!ec) found.emplace_back(t, line);
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

ClientOptions LocalCluster::ClientFor(std::vector<std::string> endpoints,
                                      uint32_t timeout_ms) const {
  ClientOptions o;
  o.endpoints = std::move(endpoints);
  o.request_timeout_ms = timeout_ms;
  if (!admin_.empty()) {
    o.key = admin_;
    for (const auto& n : nodes_)
      if (!n.public_key.empty()) o.server_keys[n.endpoint] = n.public_key;
  }
  return o;
}

std::vector<ProxyRoute> LocalCluster::ProxyRoutes(int n, int base_port) {
  std::vector<ProxyRoute> routes;
  for (int k = 1; k <= n; ++k) {
    const std::string id = "n" + std::to_string(k);
    routes.push_back({id, "replication", base_port + 2 * n + 2 + k - 1, base_port + n + k - 1});
    routes.push_back({id, "etcd", base_port + 3 * n + 2 + k - 1, base_port + 2 * n});
  }
  return routes;
}

Result<LocalCluster> LocalCluster::Up(const std::string& dir, int n, int base_port, int workers,
                                      const std::vector<std::string>& extra_args,
                                      const std::string& exe, int http_base_port, bool tied,
                                      int replicas, bool proxied) {
  // Each node lists every other one as a peer (without etcd).
  if (n < 1 || n > static_cast<int>(limits::kPeersMax))
    return Status::InvalidArgument("a local cluster has 1.." + std::to_string(limits::kPeersMax) +
                                   " nodes");
  if (replicas < 1 || replicas > n)
    return Status::InvalidArgument("--replicas must be 1.." + std::to_string(n) +
                                   " (copies of each journal, at most one per node)");
  // Ports in use: the nodes', and with replicas their replication endpoints and etcd's two.
  if (proxied && replicas < 2)
    return Status::InvalidArgument("proxied needs replicas (it proxies replication and etcd)");
  const int ports = replicas > 1 ? (proxied ? 4 * n + 2 : 2 * n + 2) : n;
  if (base_port < 1024 || base_port + ports > 65535)
    return Status::InvalidArgument("bad base port");
  if (http_base_port != 0 &&
      (http_base_port < 1024 || http_base_port + n > 65535 ||
       (http_base_port < base_port + ports && base_port < http_base_port + n)))
    return Status::InvalidArgument("bad HTTP base port (it must not overlap the node ports)");
  std::string etcd_exe;
  if (replicas > 1 && (etcd_exe = FindEtcd()).empty())
    return Status::InvalidArgument(
        "--replicas needs etcd on PATH (Debian: apt-get install "
        "etcd-server; cluster/deps.sh installs it)");
  auto existing = Load(dir);
  if (existing.ok()) {
    for (const auto& node : existing.value().nodes())
      if (existing.value().Pid(node) != 0)
        return Status::InvalidArgument("a cluster is already running in " + dir +
                                       " (`jobnet cluster down --dir " + dir + "` first)");
  }
  // The processes' own ports (the proxies' are their caller's, listening already).
  for (int p = 0; p < (replicas > 1 ? 2 * n + 2 : n); ++p)
    if (Status s = PortFree(base_port + p); !s.ok()) return s;
  for (int p = 0; http_base_port != 0 && p < n; ++p)
    if (Status s = PortFree(http_base_port + p); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Storage("cannot create " + dir + ": " + ec.message());
  std::string abs = std::filesystem::absolute(dir).lexically_normal().string();
  LocalCluster c;
  c.dir_ = abs;
  c.exe_ = exe.empty() ? SelfExe() : std::filesystem::absolute(exe).string();
  c.tied_ = tied;
  std::map<std::string, std::vector<std::string>> listens;  // node id -> where it listens
  for (int i = 1; i <= n; ++i) {
    LocalNode node;
    node.id = "n" + std::to_string(i);
    node.endpoint = "tcp://127.0.0.1:" + std::to_string(base_port + i - 1);
    node.data = abs + "/" + node.id;
    node.log = abs + "/" + node.id + ".log";
    node.args = {"node",     "--id",        node.id,
                 "--listen", node.endpoint, "--data",
                 node.data,  "--workers",   std::to_string(workers)};
    if (http_base_port != 0) {
      node.http = "127.0.0.1:" + std::to_string(http_base_port + i - 1);
      node.args.push_back("--http");
      node.args.push_back(node.http);
    }
    // With etcd (replicas > 1) the nodes find each other there: no --peer.
    for (int k = 1; k <= n && replicas == 1; ++k)
      if (k != i) {
        node.args.push_back("--peer");
        node.args.push_back("tcp://127.0.0.1:" + std::to_string(base_port + k - 1));
      }
    if (replicas > 1) {
      const int etcd_port = base_port + 2 * n;
      auto repl_port = [&](int k) { return base_port + n + k - 1; };
      const auto routes = ProxyRoutes(n, base_port);  // replication, etcd for each node
      auto repl_proxy = [&](int k) { return routes[2 * (k - 1)].listen_port; };
      auto etcd_proxy = [&](int k) { return routes[2 * (k - 1) + 1].listen_port; };
      auto tcp = [](int port) { return "tcp://127.0.0.1:" + std::to_string(port); };
      // Where the others reach node k's replication endpoint.
      auto repl = [&](int k) { return tcp(proxied ? repl_proxy(k) : repl_port(k)); };
      node.args.insert(node.args.end(),
                       {"--etcd",
                        "http://127.0.0.1:" + std::to_string(proxied ? etcd_proxy(i) : etcd_port),
                        "--cluster-name", "local", "--replication-listen", tcp(repl_port(i))});
      if (proxied) node.args.insert(node.args.end(), {"--replication-advertise", repl(i)});
      listens[node.id].push_back(tcp(repl_port(i)));
      if (proxied) listens[node.id].push_back(repl(i));
      for (int r = 1; r < replicas; ++r) {
        node.args.push_back("--backup");
        node.args.push_back(repl((i - 1 + r) % n + 1));  // the next nodes, in a ring
      }
    }
    listens[node.id].push_back(node.endpoint);
    // Secure (docs/operations.md §21): its keypair beside its data directory.
    auto key = LoadOrMakeKeyFile(abs + "/" + node.id + ".key");
    if (!key.ok()) return key.status();
    node.public_key = key.value().public_key;
    node.args.insert(node.args.end(), {"--principals", abs + "/principals.toml", "--key-file",
                                       abs + "/" + node.id + ".key"});
    node.args.insert(node.args.end(), extra_args.begin(), extra_args.end());
    c.nodes_.push_back(std::move(node));
  }
  auto admin = LoadOrMakeKeyFile(abs + "/admin.key");
  if (!admin.ok()) return admin.status();
  c.admin_ = admin.value();
  if (Status s = WritePrincipals(abs, c.nodes_, listens, c.admin_); !s.ok()) return s;
  if (replicas > 1) c.etcd_ = EtcdProcess(abs, etcd_exe, base_port + 2 * n);
  if (Status s = WriteManifest(abs, c.exe_, c.nodes_, c.etcd()); !s.ok()) return s;
  Remember(abs + "/cluster.json");
  // etcd first: a node with --etcd gives up at once when it cannot hold its shard.
  if (c.etcd() != nullptr)
    if (Status s = c.Start(c.etcd_); !s.ok()) return s;
  for (const auto& node : c.nodes_) {
    Status s = c.Start(node, 0);
    if (!s.ok()) return s;
  }
  for (const auto& node : c.nodes_) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartWaitMs);
    while (!Answers(c.ClientFor({node.endpoint}, 300))) {
      if (std::chrono::steady_clock::now() > end || c.Pid(node) == 0)
        return Status::Unavailable("node " + node.id + " did not start; see " + node.log);
    }
  }
  AwaitFormed(c);
  return c;
}

pid_t LocalCluster::Pid(const LocalNode& node) const {
  std::ifstream f(PidFile(node));
  pid_t pid = 0;
  if (!(f >> pid) || !Alive(pid)) return 0;
  // A pid file can outlive its process and the pid be reused: it must be this node's jobnet.
  // A node re-executes itself once at start (app/main.cpp), and while it does its cmdline reads
  // empty for a moment: read again before deciding it is another process.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (!cmdline.empty()) return cmdline.find(node.data) == std::string::npos ? 0 : pid;
    if (!Alive(pid)) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return 0;
}

Status LocalCluster::Start(const LocalNode& node, int wait_ms) const {
  if (Pid(node) != 0) return Status::Conflict("node " + node.id + " is already running");
  const std::string& exe = node.exe.empty() ? exe_ : node.exe;
  pid_t node_pid = 0;
  if (tied_) {
    node_pid = TiedSpawner::Get().Run([&] { return ForkTiedNode(exe, node.args, node.log); });
  } else {
    node_pid = StartDetached(exe, node);
  }
  if (node_pid <= 0) return Status::Internal("could not start node " + node.id);
  {
    std::ofstream f(PidFile(node), std::ios::trunc);
    f << node_pid << "\n";
  }
  // Until the child has exec'd the node, its cmdline is its parent's, and Pid() would take it
  // for another process that reused the pid ("did not start" at once, seen under load): wait
  // until the cmdline is the node's, or the child is gone.
  for (auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(kExecWaitMs);
       std::chrono::steady_clock::now() < end && Alive(node_pid);) {
    std::ifstream cmd("/proc/" + std::to_string(node_pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (cmdline.find(node.data) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (wait_ms > 0) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (!Answers(ClientFor({node.endpoint}, 300))) {
      if (std::chrono::steady_clock::now() > end || !Alive(node_pid))
        return Status::Unavailable("node " + node.id + " did not start; see " + node.log);
    }
  }
  return Status::OK();
}

Status LocalCluster::Kill(const LocalNode& node, int sig) const {
  pid_t pid = Pid(node);
  if (pid == 0) return Status::Conflict("node " + node.id + " is not running");
  ::kill(pid, sig);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Alive(pid)) {
    if (std::chrono::steady_clock::now() > end)
      return Status::Timeout("node " + node.id + " (pid " + std::to_string(pid) +
                             ") is still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A tied node is our child: reap it (blocking, as its other threads may still be exiting
  // while /proc already shows the zombie).
  if (tied_) ::waitpid(pid, nullptr, 0);
  return Status::OK();
}

Status LocalCluster::Down(int grace_ms) const {
  for (const auto& n : nodes_)
    if (pid_t pid = Pid(n)) ::kill(pid, SIGTERM);
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  for (const auto& n : nodes_) {
    while (Pid(n) != 0 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (Pid(n) != 0) Kill(n, SIGKILL);
  }
  if (etcd() != nullptr && Pid(etcd_) != 0) {
    ::kill(Pid(etcd_), SIGTERM);
    auto etcd_end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (Pid(etcd_) != 0 && std::chrono::steady_clock::now() < etcd_end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (Pid(etcd_) != 0) Kill(etcd_, SIGKILL);
  }
  return Status::OK();
}

}  // namespace jobnet::cluster
