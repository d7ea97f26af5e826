// exec: runs a command from the node's allow-list ([exec] in the config), never anything else.
// Payload: {"command": NAME, "stdin": STRING} (or just NAME). The stdin text is written to the
// process, its stdout (up to 1 MiB) is the result; a non-zero exit fails the attempt with the
// start of stderr. At the job's timeout or on cancel the process group gets SIGTERM, then
// SIGKILL if it is still there after limits::kExecKillGraceMs (time to clean up); output past
// 1 MiB gets SIGKILL at once.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "handlers/registry.hpp"
#include "jobnet/limits.h"

namespace jobnet::handlers {
namespace {

constexpr size_t kStderrBytesMax = 2048;

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void Close(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

bool ReadCommand(const msgpack::object& payload, std::string* name, std::string* input) {
  if (AsString(payload, name)) return true;
  const msgpack::object* command = Field(payload, "command");
  const msgpack::object* stdin_text = Field(payload, "stdin");
  if (command == nullptr || !AsString(*command, name)) return false;
  if (stdin_text != nullptr && !AsString(*stdin_text, input)) return false;
  return !name->empty();
}

// At submit only the shape is checked: the allow-list is each node's own configuration, and the
// job may run on any node of the cluster.
std::string CheckExec(const msgpack::object& payload) {
  std::string name, input;
  if (!ReadCommand(payload, &name, &input))
    return "exec wants a command name or {\"command\": NAME, \"stdin\": TEXT}";
  return "";
}

// Reaps the command, stopping its process group first when `stop` is set: SIGTERM, then SIGKILL
// once limits::kExecKillGraceMs has passed (at once if `hard`). Without `stop`, waits for it to
// exit by itself, as long as the job is not cancelled or past its deadline (then it stops it
// as above). Returns the wait status; sets *stop when it had to stop the command.
int Reap(pid_t pid, HandlerContext& ctx, bool* stop, bool hard) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point kill_at{};
  bool termed = false, killed = false;
  int status = 0;
  for (;;) {
    if (!*stop && ctx.ShouldStop()) *stop = true;
    if (*stop && !termed) {
      termed = true;
      ::kill(-pid, hard ? SIGKILL : SIGTERM);
      kill_at = Clock::now() + std::chrono::milliseconds(hard ? 0 : limits::kExecKillGraceMs);
    }
    if (termed && !killed && Clock::now() >= kill_at) {
      killed = true;
      ::kill(-pid, SIGKILL);
    }
    pid_t r = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return status;
    if (r == 0) ::usleep(5000);
  }
}

HandlerResult Exec(const msgpack::object& payload, HandlerContext& ctx) {
  std::string name, input;
  if (!ReadCommand(payload, &name, &input))
    return HandlerResult::Fail("exec wants {\"command\": NAME, \"stdin\": TEXT}");
  auto it = ctx.config->exec_allow.find(name);
  if (it == ctx.config->exec_allow.end() || it->second.empty())
    return HandlerResult::Fail("exec: command '" + name + "' is not in this node's allow-list");
  const std::vector<std::string>& argv_s = it->second;

  Pipe in, out, err;
  if (::pipe2(in.fd, O_CLOEXEC) != 0 || ::pipe2(out.fd, O_CLOEXEC) != 0 ||
      ::pipe2(err.fd, O_CLOEXEC) != 0)
    return HandlerResult::Fail(std::string("exec: pipe: ") + std::strerror(errno));
  std::vector<char*> argv;
  for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return HandlerResult::Fail(std::string("exec: fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The node blocks SIGTERM/SIGINT and ignores SIGPIPE; the command gets the defaults.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::setpgid(0, 0);
    ::dup2(in.fd[0], 0);
    ::dup2(out.fd[1], 1);
    ::dup2(err.fd[1], 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  in.Close(0);
  out.Close(1);
  err.Close(1);
  ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);

  std::string stdout_s, stderr_s, why_killed;
  bool too_large = false;
  size_t written = 0;
  if (input.empty()) in.Close(1);
  char buf[65536];
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    if (ctx.ShouldStop()) {
      why_killed = "killed: timed out or cancelled";
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (in.fd[1] >= 0) fds[n++] = {in.fd[1], POLLOUT, 0};
    if (out.fd[0] >= 0) fds[n++] = {out.fd[0], POLLIN, 0};
    if (err.fd[0] >= 0) fds[n++] = {err.fd[0], POLLIN, 0};
    if (::poll(fds, n, 20) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in.fd[1]) {
        ssize_t w = ::write(in.fd[1], input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) written = input.size();  // reader gone (EPIPE)
        if (written == input.size()) in.Close(1);
      } else {
        int idx = fds[i].fd == out.fd[0] ? 0 : 1;
        ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
        if (r <= 0) {
          (idx == 0 ? out : err).Close(0);
          continue;
        }
        std::string& dst = idx == 0 ? stdout_s : stderr_s;
        size_t cap = idx == 0 ? limits::kResultBytesMax - 16 : kStderrBytesMax;
        dst.append(buf, std::min(static_cast<size_t>(r), cap - std::min(cap, dst.size())));
        if (idx == 0 && stdout_s.size() >= cap) {
          why_killed = "killed: stdout is larger than 1 MiB";
          too_large = true;
        }
      }
    }
    if (!why_killed.empty()) break;
  }
  // The pipes are closed, but the process may live on: wait for it, still bounded by the
  // deadline and cancellation. Its output is no longer read, but the pipes stay open: a command
  // that writes a little while it handles SIGTERM is not killed by SIGPIPE for it (one that
  // writes more than a pipe holds blocks until the SIGKILL).
  bool stop = !why_killed.empty();
  int status = Reap(pid, ctx, &stop, too_large);
  if (stop && why_killed.empty()) why_killed = "killed: timed out or cancelled";
  if (!why_killed.empty()) return HandlerResult::Fail("exec '" + name + "': " + why_killed);
  if (WIFSIGNALED(status))
    return HandlerResult::Fail("exec '" + name + "': killed by signal " +
                               std::to_string(WTERMSIG(status)));
  int code = WEXITSTATUS(status);
  if (code != 0)
    return HandlerResult::Fail("exec '" + name + "': exit " + std::to_string(code) +
                               (stderr_s.empty() ? "" : ": " + stderr_s));
  return HandlerResult::Ok(stdout_s);
}

JOBNET_HANDLER("exec", Exec,
               (PayloadRule{"a command name of the node's [exec] allow-list, or {\"command\": NAME, "
                            "\"stdin\": TEXT}",
                            "the command's stdout as a string (up to 1 MiB); a non-zero exit fails "
                            "the attempt",
                            CheckExec}));

}  // namespace
}  // namespace jobnet::handlers
