// The node's ZeroMQ transport: one ROUTER socket for clients, owned by one thread. It decodes
// each request frame (answering undecodable ones itself with an error reply), caps the requests
// in flight, hands good requests to a sink or, for another owner's job, to that owner (through
// core/forwarding), and sends replies queued from any thread.
// With node/replica_{server,shipper}.cpp, the only node files that include zmq.hpp.
#ifndef JOBNET_NODE_TRANSPORT_HPP_
#define JOBNET_NODE_TRANSPORT_HPP_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/forwarding.hpp"
#include "jobnet/limits.h"
#include "jobnet/keys.h"
#include "jobnet/status.h"
#include "node/principals.hpp"
#include "protocol/inbound.hpp"
#include "protocol/messages.hpp"

namespace jobnet {

struct TransportOptions {
  std::string listen = "tcp://127.0.0.1:7701";
  uint32_t pending_max = limits::kPendingRequestsMax;  // requests in flight; more get kOverloaded
  uint64_t pending_bytes_max = limits::kPendingBytesMax;  // and their bytes
  uint32_t frame_bytes_max = limits::kFrameBytesMax;   // bigger frames get kTooLarge
  int hwm = limits::kSocketHwm;                        // ZeroMQ send/receive high-water marks
  std::string node_id;               // this node: requests for other owners' jobs are forwarded
  std::vector<std::string> peers;    // peer endpoints; link i is a DEALER connected to peers[i]
  int peer_hwm = limits::kPeerLinkHwm;  // messages queued per peer link while it is unreachable
  // With principals (docs/operations.md "Securing a cluster"): the endpoint speaks CURVE with
  // this keypair, a ZAP handler lets only principals' keys through, each frame is checked
  // against its principal's scopes, and peer links connect with the peer's listed key.
  // Null: plain ZeroMQ, every frame taken.
  // `principals` requests (admin) change it, on the transport's thread.
  std::shared_ptr<PrincipalTable> principals;
  CurveKeys curve;
};

struct TransportStats {
  std::atomic<uint64_t> frames_in{0};   // client requests (the ROUTER)
  std::atomic<uint64_t> frames_out{0};  // replies sent to clients
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> peer_frames_in{0};  // on the peer links (forwarded answers)
  std::atomic<uint64_t> peer_frames_out{0};
  std::atomic<uint64_t> peer_bytes_in{0};
  std::atomic<uint64_t> peer_bytes_out{0};
  // Error replies sent to clients, by code (Code as index; the last entry counts unknown codes).
  std::array<std::atomic<uint64_t>, static_cast<size_t>(kLastCode) + 2> errors{};
  std::atomic<uint64_t> bad_frames{0};
  std::atomic<uint64_t> overloaded{0};
  std::atomic<uint64_t> replies_dropped{0};
  std::atomic<uint64_t> peer_sends_dropped{0};
  // Frames refused because their principal lacks the scope (the error replies among them are
  // also counted under errors[kPermissionDenied]).
  std::atomic<uint64_t> permission_denied{0};
  std::atomic<uint64_t> connections_refused{0};  // by the ZAP handler
  // One frame refused for its principal's scopes: counts permission_denied, and the same by
  // principal ("(none)": a connection that named none) for the metrics. At most
  // kPrincipalsMax names; past that, under "(other)".
  void CountDenied(const std::string& principal);
  std::map<std::string, uint64_t> DeniedByPrincipal() const;

 private:
  mutable std::mutex denied_mu_;
  std::map<std::string, uint64_t> denied_;  // under denied_mu_
};

class Transport {
 public:
  // Called on the transport thread with the decoded requests of one loop round, in the order
  // they were read (protocol::Inbound: route 0 for node-to-node one-way messages, which get no
  // reply). Never called with none.
  using Sink = std::function<void(std::vector<protocol::Inbound> requests)>;

  // Binds `options.listen` and connects the peer links, without serving yet: a node binds
  // first, so that a port in use fails the start before anything else happens.
  // kUnavailable if the endpoint cannot be bound.
  static Status Bind(const TransportOptions& options, std::unique_ptr<Transport>* out);
  // Starts the socket thread; requests go to `sink`. Call once.
  void Run(Sink sink);
  ~Transport();  // stops the thread, closes the socket

  // Queues reply frames, each for its route (thread-safe, never blocks on the network): one
  // lock and one wake-up of the socket thread for a whole group commit's replies. A reply for
  // a client that went away is dropped.
  void ReplyMany(std::vector<std::pair<uint64_t, std::string>> frames);
  // Queues a one-way frame for the peer on `link` (thread-safe). While the peer is unreachable
  // up to peer_hwm frames wait for it; past that they are dropped and counted.
  void SendToPeer(uint32_t link, std::string frame);
  // The scheduler's decision that a peer is alive or dead (thread-safe). The transport has no
  // liveness timer of its own: it forwards to a peer only while the last decision said alive,
  // and a peer declared dead has its pending forwards answered `unavailable` at once.
  void SetPeerLiveness(uint32_t link, std::string node, bool alive);
  // Which node holds `shard` since a takeover ("" when none, or its own node): Forwarder::
  // SetShardHolder, applied on the transport's thread (thread-safe).
  void SetShardHolder(std::string shard, std::string holder, uint64_t epoch = 0);
  // A new peer link `link` (the next index: links are only added, in order) to `endpoint`,
  // applied on the transport's thread before any frame queued for it later (thread-safe).
  void AddPeer(uint32_t link, std::string endpoint);
  void Stop();
  const std::string& endpoint() const { return endpoint_; }  // as bound (port 0 resolved)
  const TransportStats& stats() const { return stats_; }
  const ForwardCounters& forward_counters() const;  // readable from any thread
  // Time from reading a submit's frame to sending its answer, per local submit since start
  // (protocol::kAckNodeSeconds): the whole of an ack's time inside the node. Thread-safe.
  Histogram AckNodeSeconds() const;

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
