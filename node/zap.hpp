// ZeroMQ's authentication hook (ZAP, RFC 27) for a node's CURVE sockets: a thread answering
// each handshake of a socket in one ZeroMQ context. A client key that names a principal is let
// through, its frames then carrying the principal's name as their "User-Id"; any other key,
// and any other mechanism, is refused (status 400), and nothing of that peer gets through.
#ifndef JOBNET_NODE_ZAP_HPP_
#define JOBNET_NODE_ZAP_HPP_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "jobnet/status.h"

namespace zmq {
class context_t;
}

namespace jobnet {

class ZapHandler {
 public:
  // Who a client key (Z85) is: a principal's name, or "" to refuse it.
  using Authenticate = std::function<std::string(const std::string& key_z85)>;
  // Binds the context's ZAP endpoint and starts the thread; call before any CURVE server
  // socket of `ctx` binds. `what` names the sockets in log lines ("clients", "replication").
  static Status Start(zmq::context_t& ctx, Authenticate authenticate, std::string what,
                      std::unique_ptr<ZapHandler>* out);
  ~ZapHandler();  // stops the thread
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;
  uint64_t refused() const { return refused_.load(); }

 private:
  ZapHandler() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace jobnet

#endif  // JOBNET_NODE_ZAP_HPP_
