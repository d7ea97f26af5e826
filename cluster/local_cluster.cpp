// Local cluster management: spawn detached node processes, track them by pid file.
#include "cluster/local_cluster.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <nlohmann/json.hpp>

#include "jobnet/limits.h"
#include "jobnet/client.h"

namespace jobnet::cluster {

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "jobnet";
  buf[n] = 0;
  return buf;
}

namespace {

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

// A refused connection fails at once (the client sees it), so a node still starting would be
// asked in a tight loop: pause between tries.
bool Answers(const std::string& endpoint, uint32_t timeout_ms) {
  std::unique_ptr<Client> c;
  if (Client::Connect(ClientOptions::Single(endpoint, timeout_ms), &c).ok()) return true;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return false;
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
  return nullptr;
}

Result<LocalCluster> LocalCluster::Load(const std::string& dir) {
  std::ifstream f(dir + "/cluster.json");
  if (!f) return Status::NotFound("no cluster in " + dir + " (start one with `jobnet cluster up N`)");
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
    c.nodes_.push_back(std::move(ln));
  }
  return c;
}

Result<LocalCluster> LocalCluster::Up(const std::string& dir, int n, int base_port, int workers,
                                      const std::vector<std::string>& extra_args,
                                      const std::string& exe, int http_base_port) {
  // Each node lists every other one as a peer.
  if (n < 1 || n > static_cast<int>(limits::kPeersMax))
    return Status::InvalidArgument("a local cluster has 1.." + std::to_string(limits::kPeersMax) +
                                   " nodes");
  if (base_port < 1024 || base_port + n > 65535) return Status::InvalidArgument("bad base port");
  if (http_base_port != 0 && (http_base_port < 1024 || http_base_port + n > 65535 ||
                              (http_base_port < base_port + n && base_port < http_base_port + n)))
    return Status::InvalidArgument("bad HTTP base port (it must not overlap the node ports)");
  auto existing = Load(dir);
  if (existing.ok()) {
    for (const auto& node : existing.value().nodes())
      if (existing.value().Pid(node) != 0)
        return Status::InvalidArgument("a cluster is already running in " + dir +
                                       " (`jobnet cluster down --dir " + dir + "` first)");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Storage("cannot create " + dir + ": " + ec.message());
  std::string abs = std::filesystem::absolute(dir).lexically_normal().string();
  LocalCluster c;
  c.dir_ = abs;
  c.exe_ = exe.empty() ? SelfExe() : std::filesystem::absolute(exe).string();
  for (int i = 1; i <= n; ++i) {
    LocalNode node;
    node.id = "n" + std::to_string(i);
    node.endpoint = "tcp://127.0.0.1:" + std::to_string(base_port + i - 1);
    node.data = abs + "/" + node.id;
    node.log = abs + "/" + node.id + ".log";
    node.args = {"node", "--id", node.id, "--listen", node.endpoint, "--data", node.data,
                 "--workers", std::to_string(workers)};
    if (http_base_port != 0) {
      node.http = "127.0.0.1:" + std::to_string(http_base_port + i - 1);
      node.args.push_back("--http");
      node.args.push_back(node.http);
    }
    for (int k = 1; k <= n; ++k)
      if (k != i) {
        node.args.push_back("--peer");
        node.args.push_back("tcp://127.0.0.1:" + std::to_string(base_port + k - 1));
      }
    node.args.insert(node.args.end(), extra_args.begin(), extra_args.end());
    c.nodes_.push_back(std::move(node));
  }
  nlohmann::json j;
  j["exe"] = c.exe_;
  j["nodes"] = nlohmann::json::array();
  for (const auto& node : c.nodes_)
    j["nodes"].push_back({{"id", node.id}, {"endpoint", node.endpoint}, {"http", node.http},
                          {"data", node.data}, {"log", node.log}, {"args", node.args}});
  {
    std::ofstream f(abs + "/cluster.json", std::ios::trunc);
    f << j.dump(2) << "\n";
    if (!f) return Status::Storage("cannot write " + abs + "/cluster.json");
  }
  for (const auto& node : c.nodes_) {
    Status s = c.Start(node, 0);
    if (!s.ok()) return s;
  }
  for (const auto& node : c.nodes_) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!Answers(node.endpoint, 300)) {
      if (std::chrono::steady_clock::now() > end || c.Pid(node) == 0)
        return Status::Unavailable("node " + node.id + " did not start; see " + node.log);
    }
  }
  // Up means formed: every node has heard every peer's heartbeat (bounded; not fatal).
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (const auto& node : c.nodes_) {
    std::unique_ptr<Client> client;
    if (!Client::Connect(ClientOptions::Single(node.endpoint, 500), &client).ok()) continue;
    while (std::chrono::steady_clock::now() < end) {
      auto st = client->Stats();
      size_t alive = 0;
      if (st.ok())
        for (const auto& p : st.value().peers) alive += p.state == "alive";
      if (st.ok() && alive == st.value().peers.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
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
  const std::string& exe = exe_;
  int pipefd[2];
  if (::pipe(pipefd) != 0) return Status::Internal("pipe failed");
  pid_t child = ::fork();
  if (child < 0) return Status::Internal("fork failed");
  if (child == 0) {
    // Detach: new session, then fork again so the node is reparented and never a zombie of ours.
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) {
      (void)!::write(pipefd[1], &grandchild, sizeof grandchild);
      ::_exit(grandchild > 0 ? 0 : 1);
    }
    FILE* log = std::fopen(node.log.c_str(), "a");
    FILE* devnull = std::fopen("/dev/null", "r");
    if (log) {
      ::dup2(::fileno(log), 1);
      ::dup2(::fileno(log), 2);
    }
    if (devnull) ::dup2(::fileno(devnull), 0);
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const auto& a : node.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  pid_t node_pid = 0;
  (void)!::read(pipefd[0], &node_pid, sizeof node_pid);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (node_pid <= 0) return Status::Internal("could not start node " + node.id);
  {
    std::ofstream f(PidFile(node), std::ios::trunc);
    f << node_pid << "\n";
  }
  if (wait_ms > 0) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (!Answers(node.endpoint, 300)) {
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
      return Status::Timeout("node " + node.id + " (pid " + std::to_string(pid) + ") is still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
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
  return Status::OK();
}

}  // namespace jobnet::cluster
