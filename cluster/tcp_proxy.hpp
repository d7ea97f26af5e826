// A TCP proxy on loopback for the nemesis suite (jobnet_chaos --nemesis cut|isolate): it
// forwards every connection made to 127.0.0.1:listen_port to 127.0.0.1:target_port, and can be
// partitioned. A partition stops the bytes both ways on the connections it holds and accepts
// no new ones; the senders' kernels buffer and then block, as behind a network that drops
// packets. Healed, the held bytes flow again, late (a frame sent at an old epoch arrives after
// the shard moved on), and waiting connections are accepted.
#ifndef JOBNET_CLUSTER_TCP_PROXY_HPP_
#define JOBNET_CLUSTER_TCP_PROXY_HPP_

#include <atomic>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "jobnet/status.h"

namespace jobnet::cluster {

class TcpProxy {
 public:
  // Listens on 127.0.0.1:listen_port (kUnavailable if it cannot) and forwards to target_port.
  static Result<std::unique_ptr<TcpProxy>> Start(int listen_port, int target_port);
  ~TcpProxy();  // closes every connection and joins its threads
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  void Partition();
  void Heal();
  bool partitioned() const { return partitioned_.load(); }
  int listen_port() const { return listen_port_; }

 private:
  struct Conn {
    int client = -1;
    int upstream = -1;
    std::atomic<bool> done{false};
    std::thread pump;
  };
  TcpProxy(int listen_fd, int listen_port, int target_port);
  void AcceptLoop();
  // Copies both ways between the connection's two ends until one closes or the proxy stops.
  void Pump(Conn* c);
  // Blocks while partitioned; false once the proxy stops.
  bool WaitOpen();
  void Reap(bool all);  // joins and closes finished connections (all: every one)

  const int listen_fd_;
  const int listen_port_;
  const int target_port_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> partitioned_{false};
  std::mutex mu_;
  std::condition_variable healed_;
  std::list<Conn> conns_;  // touched by the acceptor thread and the destructor only
  std::thread acceptor_;
};

}  // namespace jobnet::cluster

#endif  // JOBNET_CLUSTER_TCP_PROXY_HPP_
