// The HTTP face's link to its node: see node_link.hpp.
#include "http/node_link.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/clock.hpp"
#include "jobnet/limits.h"
#include "protocol/codec.hpp"

namespace jobnet::http {

NodeLink::~NodeLink() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status NodeLink::Start() {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Status::Internal("eventfd failed");
  try {
    sock_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
    if (!key_.empty()) {  // the node's own key, the node as the server
      sock_.set(zmq::sockopt::curve_secretkey, key_.secret_key);
      sock_.set(zmq::sockopt::curve_publickey, key_.public_key);
      sock_.set(zmq::sockopt::curve_serverkey, key_.public_key);
    }
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::sndhwm, limits::kSocketHwm);
    sock_.set(zmq::sockopt::rcvhwm, limits::kSocketHwm);
    sock_.connect(endpoint_);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot connect to the node at " + endpoint_ + ": " + e.what());
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::OK();
}

void NodeLink::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  Wake();
  thread_.join();
  sock_.close();
}

bool NodeLink::Call(protocol::Body body, uint64_t timeout_ms, ReplyFn done) {
  if (stop_.load()) {
    done(Status::Unavailable("the HTTP face is shutting down"));
    return true;
  }
  if (outstanding_.fetch_add(1) >= calls_max_) {
    outstanding_.fetch_sub(1);
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    outbox_.push_back(Outgoing{std::move(body), timeout_ms, std::move(done)});
  }
  Wake();
  return true;
}

void NodeLink::Wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;  // a full counter already wakes the thread
}

void NodeLink::Finish(uint64_t corr, Result<protocol::Body> r) {
  auto it = pending_.find(corr);
  if (it == pending_.end()) return;  // answered after its deadline: already timed out
  ReplyFn done = std::move(it->second.done);
  deadlines_.erase({it->second.deadline, corr});
  pending_.erase(it);
  outstanding_.fetch_sub(1);
  done(std::move(r));
}

void NodeLink::SendQueued() {
  uint64_t drained = 0;
  ssize_t n = ::read(wake_fd_, &drained, sizeof drained);
  (void)n;
  std::vector<Outgoing> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(outbox_);
  }
  uint64_t now = base::SteadyMs();
  for (auto& o : batch) {
    uint64_t corr = next_corr_++;
    uint64_t deadline = now + o.timeout_ms;
    pending_.emplace(corr, Pending{deadline, std::move(o.done)});
    deadlines_.emplace(deadline, corr);
    std::string frame =
        protocol::Encode(protocol::Envelope{limits::kProtocolVersion, corr, std::move(o.body)});
    bool sent = false;
    try {
      sent = sock_.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
    }
    if (!sent) Finish(corr, Status::Overloaded("the node's request queue is full"));
  }
}

void NodeLink::ReadReplies() {
  while (true) {
    zmq::message_t msg;
    zmq::recv_result_t got;
    try {
      got = sock_.recv(msg, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t&) {
      return;
    }
    if (!got) return;
    if (msg.more()) continue;  // not a reply shape we sent for; the last part is read next
    uint64_t corr = 0;
    auto env = protocol::Decode(static_cast<const char*>(msg.data()), msg.size(), &corr,
                                limits::kReplyFrameBytesMax * limits::kReadableFrameFactor);
    if (!env.ok()) {
      Finish(corr, Status::Internal("unreadable reply from the node: " + env.status().message()));
      continue;
    }
    protocol::Body& body = env.value().body;
    if (auto* e = std::get_if<protocol::ErrorReply>(&body)) {
      Finish(corr, Status(ErrorCodeFromWire(e->code), e->message));
    } else {
      Finish(corr, std::move(body));
    }
  }
}

void NodeLink::ExpireDeadlines() {
  uint64_t now = base::SteadyMs();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    uint64_t corr = deadlines_.begin()->second;
    Finish(corr, Status::Timeout("the node did not answer in time"));
  }
}

void NodeLink::Loop() {
  while (!stop_.load()) {
    long wait_ms = 100;
    if (!deadlines_.empty()) {
      uint64_t now = base::SteadyMs();
      uint64_t first = deadlines_.begin()->first;
      wait_ms = first <= now ? 0 : static_cast<long>(std::min<uint64_t>(first - now, 100));
    }
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(wait_ms));
    } catch (const zmq::error_t&) {
      continue;  // EINTR
    }
    if (items[1].revents & ZMQ_POLLIN) SendQueued();
    if (items[0].revents & ZMQ_POLLIN) ReadReplies();
    ExpireDeadlines();
  }
  // Whatever is still out or queued ends now: the face is closing.
  SendQueuedAsUnavailable();
  while (!pending_.empty())
    Finish(pending_.begin()->first, Status::Unavailable("the HTTP face is shutting down"));
}

void NodeLink::SendQueuedAsUnavailable() {
  std::vector<Outgoing> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(outbox_);
  }
  for (auto& o : batch) {
    outstanding_.fetch_sub(1);
    o.done(Status::Unavailable("the HTTP face is shutting down"));
  }
}

}  // namespace jobnet::http
