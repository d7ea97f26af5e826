// beanstalkd text protocol (beanstalkd doc/protocol.txt): "put <pri> <delay> <ttr> <bytes>\r\n
// <data>\r\n" -> "INSERTED <id>\r\n"; "reserve-with-timeout <s>\r\n" -> "RESERVED <id> <bytes>\r\n
// <data>\r\n" or "TIMED_OUT\r\n"; "delete <id>\r\n" -> "DELETED\r\n".
#include "bench/beanstalk_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/parse.hpp"

namespace jobnet::bench {

BeanstalkClient::~BeanstalkClient() {
  if (fd_ >= 0) ::close(fd_);
}

Status BeanstalkClient::Connect(const std::string& address) {
  auto hp = base::ParseHostPort(address);
  if (!hp) return Status::InvalidArgument("want host:port with a port 1..65535, got " + address);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(hp->port);
  if (::inet_pton(AF_INET, hp->host.c_str(), &sa.sin_addr) != 1)
    return Status::InvalidArgument("not an IPv4 address: " + address);
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return Status::Unavailable("connect " + address + ": " + std::strerror(errno));
  return Status::OK();
}

Status BeanstalkClient::SendAll(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable(std::string("send: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  return Status::OK();
}

Result<std::string> BeanstalkClient::ReadLine() {
  for (;;) {
    auto eol = in_.find("\r\n");
    if (eol != std::string::npos) {
      std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      return line;
    }
    if (in_.size() > 4096) return Status::Corruption("beanstalkd reply line too long");
    char buf[8192];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("beanstalkd closed the connection");
    in_.append(buf, static_cast<size_t>(n));
  }
}

Status BeanstalkClient::ReadExact(size_t n, std::string* out) {
  while (in_.size() < n) {
    char buf[65536];
    ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Status::Unavailable("beanstalkd closed the connection");
    in_.append(buf, static_cast<size_t>(got));
  }
  out->assign(in_, 0, n);
  in_.erase(0, n);
  return Status::OK();
}

Status BeanstalkClient::SendPut(uint32_t priority, uint32_t ttr_s, const std::string& body) {
  std::string cmd = "put " + std::to_string(priority) + " 0 " + std::to_string(ttr_s) + " " +
                    std::to_string(body.size()) + "\r\n";
  cmd += body;
  cmd += "\r\n";
  return SendAll(cmd);
}

Result<uint64_t> BeanstalkClient::ReadPut() {
  auto line = ReadLine();
  if (!line.ok()) return line.status();
  if (line.value().rfind("INSERTED ", 0) != 0) return Status::Internal("put: " + line.value());
  auto id = base::ParseUint(line.value().substr(9));
  if (!id) return Status::Corruption("put: " + line.value());
  return *id;
}

Result<uint64_t> BeanstalkClient::Reserve(uint32_t timeout_s, std::string* body) {
  if (Status s = SendAll("reserve-with-timeout " + std::to_string(timeout_s) + "\r\n"); !s.ok())
    return s;
  auto line = ReadLine();
  if (!line.ok()) return line.status();
  const std::string& l = line.value();
  if (l == "TIMED_OUT") return Status::Timeout("no job reserved");
  if (l.rfind("RESERVED ", 0) != 0) return Status::Internal("reserve: " + l);
  auto sp = l.find(' ', 9);
  if (sp == std::string::npos) return Status::Corruption("reserve: " + l);
  auto id = base::ParseUint(l.substr(9, sp - 9));
  auto bytes = base::ParseUint(l.substr(sp + 1));
  if (!id || !bytes || *bytes > (1u << 20)) return Status::Corruption("reserve: " + l);
  if (Status s = ReadExact(*bytes + 2, body); !s.ok()) return s;
  body->resize(*bytes);
  return *id;
}

Status BeanstalkClient::Delete(uint64_t id) {
  if (Status s = SendAll("delete " + std::to_string(id) + "\r\n"); !s.ok()) return s;
  auto line = ReadLine();
  if (!line.ok()) return line.status();
  if (line.value() != "DELETED") return Status::Internal("delete: " + line.value());
  return Status::OK();
}

}  // namespace jobnet::bench
