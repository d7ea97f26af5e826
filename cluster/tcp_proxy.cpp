#include "cluster/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace jobnet::cluster {

namespace {

constexpr int kPollMs = 50;  // how often a blocked thread looks at stop_ and partitioned_

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Writes all of buf to fd; false on an error or a closed peer.
bool WriteAll(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TcpProxy>> TcpProxy::Start(int listen_port, int target_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(std::string("proxy socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(listen_port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
    Status s = Status::Unavailable("proxy cannot listen on 127.0.0.1:" +
                                   std::to_string(listen_port) + ": " + std::strerror(errno));
    ::close(fd);
    return s;
  }
  return std::unique_ptr<TcpProxy>(new TcpProxy(fd, listen_port, target_port));
}

TcpProxy::TcpProxy(int listen_fd, int listen_port, int target_port)
    : listen_fd_(listen_fd), listen_port_(listen_port), target_port_(target_port) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    healed_.notify_all();
  }
  acceptor_.join();
  Reap(true);
  ::close(listen_fd_);
}

void TcpProxy::Partition() { partitioned_ = true; }

void TcpProxy::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  partitioned_ = false;
  healed_.notify_all();
}

bool TcpProxy::WaitOpen() {
  std::unique_lock<std::mutex> lock(mu_);
  healed_.wait(lock, [this] { return stop_.load() || !partitioned_.load(); });
  return !stop_.load();
}

void TcpProxy::AcceptLoop() {
  while (WaitOpen()) {
    Reap(false);
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0 || partitioned_.load()) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(target_port_);
    if (up < 0 || ::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (up >= 0) ::close(up);
      ::close(client);  // the target is down: the client sees its connection refused, late
      continue;
    }
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn& c = conns_.emplace_back();
    c.client = client;
    c.upstream = up;
    c.pump = std::thread([this, &c] { Pump(&c); });
  }
}

void TcpProxy::Pump(Conn* c) {
  char buf[64 * 1024];
  pollfd p[2] = {{c->client, POLLIN, 0}, {c->upstream, POLLIN, 0}};
  const int other[2] = {c->upstream, c->client};
  bool open = true;
  while (open && WaitOpen()) {
    int r = ::poll(p, 2, kPollMs);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0 || partitioned_.load()) continue;  // partitioned: leave the bytes where they are
    for (int i = 0; i < 2 && open; ++i) {
      if (p[i].revents == 0) continue;
      ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      // A write blocks while the receiver does not read (a stopped process): the destructor's
      // shutdown ends it.
      open = n > 0 && WriteAll(other[i], buf, static_cast<size_t>(n));
    }
  }
  ::shutdown(c->client, SHUT_RDWR);
  ::shutdown(c->upstream, SHUT_RDWR);
  c->done = true;
}

void TcpProxy::Reap(bool all) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (all && !it->done.load()) {
      ::shutdown(it->client, SHUT_RDWR);  // ends a pump blocked in a write
      ::shutdown(it->upstream, SHUT_RDWR);
    }
    if (!all && !it->done.load()) {
      ++it;
      continue;
    }
    it->pump.join();
    ::close(it->client);
    ::close(it->upstream);
    it = conns_.erase(it);
  }
}

}  // namespace jobnet::cluster
