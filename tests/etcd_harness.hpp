// Test harness: a real single-member etcd (Debian etcd-server) on free loopback ports, its data
// in a fresh temporary directory, killed with its process group when the test ends, and with
// the test process if that dies first (PR_SET_PDEATHSIG).
#ifndef JOBNET_TESTS_ETCD_HARNESS_HPP_
#define JOBNET_TESTS_ETCD_HARNESS_HPP_

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "coord/etcd_client.hpp"
#include "node_harness.hpp"  // FreePort, Eventually

namespace jobnet::testing {

// The etcd binary: $JOBNET_ETCD, or `etcd` on the PATH; "" when there is none.
inline std::string FindEtcd() {
  if (const char* env = std::getenv("JOBNET_ETCD"); env != nullptr && *env != '\0') {
    return ::access(env, X_OK) == 0 ? env : "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = dir + "/etcd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

class EtcdProcess {
 public:
  EtcdProcess() {
    char tmpl[] = "/tmp/jobnet-etcd-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    dir_ = made != nullptr ? made : "";
    client_port_ = FreePort();
    peer_port_ = FreePort();
  }
  ~EtcdProcess() {
    Kill();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  std::string log_path() const { return dir_ + "/etcd.log"; }

  // Starts etcd and waits (deadline 20 s) until a put through the gateway succeeds. On failure
  // *why says what went wrong, with the end of etcd's log.
  bool Start(std::string* why) {
    const std::string etcd = FindEtcd();
    if (etcd.empty()) {
      *why =
          "etcd is not installed (no $JOBNET_ETCD, no etcd on the PATH): install the Debian "
          "package etcd-server, as cluster/deps.sh does";
      return false;
    }
    if (dir_.empty()) {
      *why = "could not make a temporary directory";
      return false;
    }
    const std::string client = endpoint();
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args = {etcd,
                                     "--name",
                                     "t",
                                     "--data-dir",
                                     dir_ + "/data",
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     "t=" + peer};
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its own group: Kill() ends etcd and anything it started
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      FILE* log = std::fopen(log_path().c_str(), "a");
      if (log != nullptr) {
        ::dup2(::fileno(log), 1);
        ::dup2(::fileno(log), 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from here, so Kill() works even before the child runs
    coord::EtcdOptions o;
    o.endpoints = {client};
    o.request_timeout_ms = 500;
    std::unique_ptr<coord::EtcdClient> c;
    coord::EtcdClient::Open(o, &c);
    const bool up =
        Eventually([&] { return !Running() || c->Put("/jobnet-test/ready", "1").ok(); }) &&
        Running();
    if (!up) *why = "etcd did not answer within 20 s; its log ends:\n" + LogTail();
    return up;
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  // Sends `sig` to etcd's process group (SIGSTOP freezes it, SIGCONT thaws it).
  void Signal(int sig) {
    if (pid_ > 0) ::kill(-pid_, sig);
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string LogTail() const {
    std::ifstream in(log_path());
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }

 private:
  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

// A test of nodes against a real etcd: starts it, keeps a client of its keys, and reads what
// the nodes keep there under /jobnet/<cluster>/.
class EtcdTest : public DirTest {
 protected:
  explicit EtcdTest(std::string cluster) : cluster_(std::move(cluster)) {}
  void StartEtcd() {
    std::string why;
    ASSERT_TRUE(etcd_.Start(&why)) << why;
    coord::EtcdOptions o;
    o.endpoints = {etcd_.endpoint()};
    ASSERT_TRUE(coord::EtcdClient::Open(o, &kv_).ok());
  }
  // A node's flags for this etcd and cluster name.
  std::vector<std::string> EtcdArgs() const {
    return {"--etcd", etcd_.endpoint(), "--cluster-name", cluster_};
  }
  // The shard key of `id`: its value's primary and its epoch (mod revision); epoch 0 = absent.
  std::pair<std::string, int64_t> Shard(const std::string& id) {
    auto r = kv_->Range("/jobnet/" + cluster_ + "/shard/" + id);
    if (!r.ok() || r.value().kvs.empty()) return {"", 0};
    const auto& kv = r.value().kvs[0];
    return {nlohmann::json::parse(kv.value).value("primary", ""), kv.mod_revision};
  }
  static uint64_t Counter(Client& c, const std::string& name) {
    auto st = c.Stats();
    return st.ok() ? st.value().counters[name] : ~0ull;
  }
  static bool LogHas(const NodeProcess& node, const std::string& text) {
    return testing::LogHas(node, text);
  }

  const std::string cluster_;
  EtcdProcess etcd_;
  std::unique_ptr<coord::EtcdClient> kv_;
};

}  // namespace jobnet::testing

#endif  // JOBNET_TESTS_ETCD_HARNESS_HPP_
