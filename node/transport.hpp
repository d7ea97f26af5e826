// The node's ZeroMQ transport: one ROUTER socket for clients, owned by one thread. It decodes
// each request frame (answering undecodable ones itself with an error reply), caps the requests
// in flight, hands good requests to a sink, and sends replies queued from any thread.
// The only node file that includes zmq.hpp.
#ifndef JOBNET_NODE_TRANSPORT_HPP_
#define JOBNET_NODE_TRANSPORT_HPP_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "jobnet/status.h"
#include "protocol/limits.hpp"
#include "protocol/messages.hpp"

namespace jobnet {

struct TransportOptions {
  std::string listen = "tcp://127.0.0.1:7701";
  uint32_t pending_max = limits::kPendingRequestsMax;  // requests in flight; more get kOverloaded
  uint32_t frame_bytes_max = limits::kFrameBytesMax;   // bigger frames get kTooLarge
  int hwm = 100000;                                    // ZeroMQ send/receive high-water marks
};

struct TransportStats {
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> bad_frames{0};
  std::atomic<uint64_t> overloaded{0};
  std::atomic<uint64_t> replies_dropped{0};
};

class Transport {
 public:
  // Called on the transport thread for each decoded request; `route` names the reply slot.
  using Sink = std::function<void(uint64_t route, protocol::Envelope env)>;

  // Binds `options.listen` and starts the thread. kUnavailable if the endpoint cannot be bound.
  static Status Start(const TransportOptions& options, Sink sink, std::unique_ptr<Transport>* out);
  ~Transport();  // stops the thread, closes the socket

  // Queues the reply frame for `route` (thread-safe, never blocks on the network). A reply
  // for a client that went away is dropped.
  void Reply(uint64_t route, std::string frame);
  void Stop();
  const std::string& endpoint() const { return endpoint_; }  // as bound (port 0 resolved)
  const TransportStats& stats() const { return stats_; }

 private:
  struct Impl;
  Transport() = default;
  void Loop();

  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  TransportStats stats_;
};

}  // namespace jobnet

#endif  // JOBNET_NODE_TRANSPORT_HPP_
