// Test harness: real `jobnet node` processes on free loopback ports, and the CLI run as a
// subprocess. Everything waits on conditions with deadlines, never on fixed sleeps.
#ifndef JOBNET_TESTS_NODE_HARNESS_HPP_
#define JOBNET_TESTS_NODE_HARNESS_HPP_

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "jobnet/client.h"

namespace jobnet::testing {

// One value as msgpack bytes (payloads, expected results).
template <class T>
std::string Pack(const T& v) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, v);
  return std::string(buf.data(), buf.size());
}

// A loopback port for a test node, reserved for this process until it exits.
//
// Ports come from 20000..31999, below the kernel's ephemeral range (32768..60999 here), so no
// outgoing connection can hold one; and each is claimed with an flock on
// /tmp/jobnet-test-ports/PORT, held open until this process ends (the kernel releases it even
// on a crash), so two tests that ctest runs at once never pick the same port. (Binding port 0
// and closing did not: another test could pick the port before the node bound it, and the
// first test then talked to the other test's node.) The Python tests claim ports the same way.
inline int FreePort() {
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  const std::string dir = "/tmp/jobnet-test-ports";
  ::mkdir(dir.c_str(), 0777);
  for (int tries = 0; tries < 2000; ++tries) {
    const int port = 20000 + static_cast<int>(rng() % 12000);
    const std::string lock = dir + "/" + std::to_string(port);
    int lfd = ::open(lock.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (lfd < 0) continue;
    if (::flock(lfd, LOCK_EX | LOCK_NB) != 0) {  // another live test holds it
      ::close(lfd);
      continue;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as ZeroMQ binds
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (!free) {  // something outside the tests uses it
      ::close(lfd);
      continue;
    }
    return port;  // lfd stays open: the claim lasts as long as this process
  }
  ADD_FAILURE() << "no free loopback port in 20000..31999";
  return 0;
}

// Polls `cond` until it is true or `timeout` passes.
inline bool Eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class NodeProcess {
 public:
  NodeProcess(std::string id, std::string data_dir, int workers = 2,
              std::vector<std::string> extra = {})
      : id_(std::move(id)), data_(std::move(data_dir)), workers_(workers), extra_(std::move(extra)) {
    port_ = FreePort();
  }
  ~NodeProcess() { Kill(); }

  std::string endpoint() const {
    return !bound_.empty() ? bound_ : "tcp://127.0.0.1:" + std::to_string(port_);
  }
  // Listen on `listen` (e.g. "tcp://127.0.0.1:*", the OS picks the port) instead of a free port
  // chosen here; Start() then learns the bound endpoint from the node's "listening on" log line.
  void SetListen(std::string listen) { listen_ = std::move(listen); }
  void AddArgs(const std::vector<std::string>& args) {
    extra_.insert(extra_.end(), args.begin(), args.end());
  }
  // An environment variable of the node process (e.g. LD_PRELOAD of libfaketime).
  void SetEnv(std::string name, std::string value) {
    env_.emplace_back(std::move(name), std::move(value));
  }
  const std::string& data() const { return data_; }
  pid_t pid() const { return pid_; }
  // stdout and stderr of the node; beside the data dir unless set (a test that fills the data
  // dir's disk keeps its log elsewhere).
  std::string log_path() const { return log_path_.empty() ? data_ + ".log" : log_path_; }
  void set_log_path(std::string path) { log_path_ = std::move(path); }

  // Starts the node and waits until it answers. Returns false (with the log) if it does not.
  bool Start() {
    bound_.clear();
    std::error_code ec;
    const auto log_offset = std::filesystem::exists(log_path())
                                ? std::filesystem::file_size(log_path(), ec)
                                : std::uintmax_t{0};
    std::vector<std::string> args = {JOBNET_BIN, "node", "--id", id_, "--listen",
                                     listen_.empty() ? endpoint() : listen_,
                                     "--data", data_, "--workers", std::to_string(workers_)};
    args.insert(args.end(), extra_.begin(), extra_.end());
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // The node dies with the test process, whatever kills it (a ctest timeout, a crash):
      // a later run never meets it holding its ports.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the test died before the line above
      for (const auto& [name, value] : env_) ::setenv(name.c_str(), value.c_str(), 1);
      FILE* log = std::fopen(log_path().c_str(), "a");
      if (log) {
        ::dup2(::fileno(log), 2);
        ::dup2(::fileno(log), 1);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return Eventually([&] {
      if (!Running()) return true;  // died: stop waiting
      if (!listen_.empty() && bound_.empty()) bound_ = LoggedEndpoint(log_offset);
      if (!listen_.empty() && bound_.empty()) return false;
      return Connect(300) != nullptr;
    }) && Running();
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }

  // Sends `sig` and waits for the process to exit; returns its wait status (-1 on timeout).
  int Signal(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, sig);
    if (!Eventually([&] { return !Running(); }, timeout)) return -1;
    return exit_status_;
  }
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  // A node with principals: the harness's own client key, and the node's public key.
  void UseKey(CurveKeys client, std::string server_key) {
    client_key_ = std::move(client);
    server_key_ = std::move(server_key);
  }
  std::unique_ptr<Client> Connect(uint32_t request_timeout_ms = 5000) const {
    ClientOptions o;
    o.endpoints = {endpoint()};
    o.request_timeout_ms = request_timeout_ms;
    if (!client_key_.empty()) {
      o.key = client_key_;
      o.server_keys[endpoint()] = server_key_;
    }
    std::unique_ptr<Client> c;
    if (!Client::Connect(o, &c).ok()) return nullptr;
    return c;
  }

 private:
  // The endpoint in the first "listening on ENDPOINT " line past `offset` of the log, or "".
  std::string LoggedEndpoint(std::uintmax_t offset) const {
    std::ifstream in(log_path());
    in.seekg(static_cast<std::streamoff>(offset));
    std::string line;
    const std::string marker = "listening on ";
    while (std::getline(in, line)) {
      auto at = line.find(marker);
      if (at == std::string::npos) continue;
      auto start = at + marker.size();
      return line.substr(start, line.find(' ', start) - start);
    }
    return "";
  }

  std::string id_, data_;
  CurveKeys client_key_;
  std::string server_key_;
  std::string listen_;  // as passed to --listen, when set
  std::string bound_;   // learned from the log when listen_ is set
  int workers_;
  std::vector<std::string> extra_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

// Runs a shell command line, capturing stdout; stderr goes to the test log.
inline CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `jobnet ARGS` (args already shell-quoted).
inline CommandResult RunCli(const std::string& args) {
  return RunCommand(std::string(JOBNET_BIN) + " " + args);
}

inline std::string TempDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("jobnet_it_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// An [[http.tokens]] entry of a node's TOML config. The HTTP tests use two secrets, whose
// SHA-256s are below: "reader-secret" and "writer-secret".
constexpr char kReaderSecretSha256[] =
    "f03319dee240faa729e0cfa7ab5ffd80a1d64a127e3643f239009abff6382914";
constexpr char kWriterSecretSha256[] =
    "ef80202ea99d7c668a9677d9242456057ac10488311cb8757674490e194a56e1";
inline std::string TokenToml(const std::string& name, const std::string& sha256,
                             const std::string& scopes) {
  return "[[http.tokens]]\nname = \"" + name + "\"\nsha256 = \"" + sha256 +
         "\"\nscopes = " + scopes + "\n\n";
}

// Prints the last lines of every *.log file under `dir` to stderr.
inline void DumpLogTails(const std::string& dir, size_t lines = 40) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    // Node logs; not RocksDB's write-ahead logs (NNNNNN.log) in the data dirs.
    const std::string name = it->path().filename().string();
    if (it->path().extension() != ".log" ||
        name.find_first_not_of("0123456789") == name.size() - 4)
      continue;
    std::ifstream in(it->path());
    std::vector<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(line);
      if (tail.size() > lines) tail.erase(tail.begin());
    }
    std::fprintf(stderr, "---- last %zu lines of %s\n", tail.size(), it->path().c_str());
    for (const auto& l : tail) std::fprintf(stderr, "%s\n", l.c_str());
  }
}

// A test with a data directory of its own, named after the test and removed after it.
// Counter `name` of `node`'s stats; 0 if it does not answer within timeout_ms.
inline uint64_t CounterOf(const NodeProcess& node, const std::string& name,
                          uint32_t timeout_ms = 2000) {
  auto c = node.Connect(timeout_ms);
  auto st = c ? c->Stats() : Result<NodeStats>(Status::Unavailable("no connection"));
  if (!st.ok()) return 0;
  auto it = st.value().counters.find(name);
  return it == st.value().counters.end() ? 0 : it->second;
}

// Whether `node`'s log holds `text` anywhere.
inline bool LogHas(const NodeProcess& node, const std::string& text) {
  std::ifstream in(node.log_path());
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return log.find(text) != std::string::npos;
}

class DirTest : public ::testing::Test {
 protected:
  std::string dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  // A failed test keeps nothing on disk but prints the end of each node log it left, so a CI
  // failure shows what the node said.
  void TearDown() override {
    if (HasFailure()) DumpLogTails(dir_);
    std::filesystem::remove_all(dir_);
  }
};

}  // namespace jobnet::testing

#endif  // JOBNET_TESTS_NODE_HARNESS_HPP_
