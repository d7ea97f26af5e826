// The HTTP face's link to its node: one ZeroMQ DEALER, owned by one thread, that carries every
// route's requests as protocol messages (http/gateway.cpp) and hands each reply to its callback.
#ifndef JOBNET_HTTP_NODE_LINK_HPP_
#define JOBNET_HTTP_NODE_LINK_HPP_

#include <zmq.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "jobnet/keys.h"
#include "jobnet/status.h"
#include "protocol/messages.hpp"

namespace jobnet::http {

using ReplyFn = std::function<void(Result<protocol::Body>)>;

// One DEALER socket to the node, owned by one thread. Calls are queued from any thread and
// answered on that thread, in whatever order the node answers them.
class NodeLink {
 public:
  NodeLink(std::string endpoint, uint32_t calls_max, CurveKeys key)
      : endpoint_(std::move(endpoint)), calls_max_(calls_max), key_(std::move(key)) {}
  ~NodeLink();  // Stop()

  Status Start();
  // Joins the thread; calls still out or queued are answered kUnavailable first.
  void Stop();

  // Sends `body`; `done` runs on the link's thread with the reply, an error reply as its
  // Status, or kTimeout if none came within `timeout_ms`. False (and `done` not called) when
  // calls_max calls are already out.
  bool Call(protocol::Body body, uint64_t timeout_ms, ReplyFn done);

  uint32_t outstanding() const { return outstanding_.load(); }

 private:
  struct Outgoing {
    protocol::Body body;
    uint64_t timeout_ms;
    ReplyFn done;
  };
  struct Pending {
    uint64_t deadline;
    ReplyFn done;
  };
  void Wake();
  void Finish(uint64_t corr, Result<protocol::Body> r);
  void SendQueued();
  void ReadReplies();
  void ExpireDeadlines();
  void Loop();
  void SendQueuedAsUnavailable();

  std::string endpoint_;
  uint32_t calls_max_;
  const CurveKeys key_;
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> outstanding_{0};
  std::mutex mu_;
  std::vector<Outgoing> outbox_;
  // Owned by the link's thread.
  uint64_t next_corr_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
  std::set<std::pair<uint64_t, uint64_t>> deadlines_;  // (deadline, corr)
};

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_NODE_LINK_HPP_
