// ZeroMQ ROUTER transport; see transport.hpp.
//
// Inbound message from a client DEALER:  [identity] [frame]
// From a REQ socket (or a DEALER that mimics one): [identity] [empty delimiter] [frame]
// Replies mirror the shape the request came in.
#include "node/transport.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.hpp>
#include <spdlog/spdlog.h>

#include <deque>

#include "protocol/codec.hpp"
#include "base/check.hpp"

namespace jobnet {

struct Transport::Impl {
  TransportOptions options;
  Sink sink;
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  int wake_fd = -1;  // eventfd: Reply() pokes it so the loop sends queued replies
  std::thread thread;
  std::atomic<bool> stop{false};

  struct Route {
    std::string identity;
    bool delimiter = false;
    size_t bytes = 0;  // request frame size, counted against pending_bytes_max
  };
  size_t pending_bytes = 0;
  std::unordered_map<uint64_t, Route> routes;  // requests in flight (transport thread only)
  uint64_t next_route = 1;

  std::vector<std::unique_ptr<zmq::socket_t>> links;  // DEALER per peer

  // One frame on a peer link, never blocking: false if the link's queue is full or it failed.
  bool SendOnLink(uint32_t link, const std::string& frame) {
    try {
      return link < links.size() &&
             links[link]->send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
      return false;
    }
  }

  // Forwarded requests: our corr id on the link -> the client's route and corr id.
  struct Forward {
    uint64_t route = 0;
    uint64_t client_corr = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  std::unordered_map<uint64_t, Forward> forwards;
  uint64_t next_forward = 1;
  struct LinkSeen {
    uint32_t link = 0;
    std::chrono::steady_clock::time_point last_seen;
  };
  std::unordered_map<std::string, LinkSeen> owners;  // node id -> its link, from heartbeats

  std::mutex mu;
  // guarded by mu: (route, frame) replies; (link, frame) peer sends
  std::vector<std::pair<uint64_t, std::string>> outbox;
  std::vector<std::pair<uint32_t, std::string>> peer_outbox;
};

Status Transport::Bind(const TransportOptions& options, std::unique_ptr<Transport>* out) {
  std::unique_ptr<Transport> t(new Transport());
  t->impl_ = std::make_unique<Impl>();
  Impl& im = *t->impl_;
  im.options = options;
  try {
    im.router.set(zmq::sockopt::linger, 0);
    im.router.set(zmq::sockopt::sndhwm, options.hwm);
    im.router.set(zmq::sockopt::rcvhwm, options.hwm);
    im.router.set(zmq::sockopt::maxmsgsize,
                  static_cast<int64_t>(options.frame_bytes_max) * limits::kReadableFrameFactor);
    im.router.bind(options.listen);
    t->endpoint_ = im.router.get(zmq::sockopt::last_endpoint);
    for (const auto& ep : options.peers) {
      auto link = std::make_unique<zmq::socket_t>(im.ctx, zmq::socket_type::dealer);
      link->set(zmq::sockopt::linger, 0);
      link->set(zmq::sockopt::sndhwm, options.peer_hwm);
      link->set(zmq::sockopt::rcvhwm, options.hwm);
      link->set(zmq::sockopt::reconnect_ivl, limits::kPeerReconnectMs);
      link->set(zmq::sockopt::reconnect_ivl_max, limits::kPeerReconnectMsMax);
      link->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(limits::kReplyFrameBytesMax) *
                                              limits::kReadableFrameFactor);
      link->connect(ep);
      im.links.push_back(std::move(link));
    }
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot listen on " + options.listen + " or connect peers: " +
                               e.what());
  }
  im.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (im.wake_fd < 0) return Status::Internal("eventfd failed");
  *out = std::move(t);
  return Status::OK();
}

void Transport::Run(Sink sink) {
  JOBNET_CHECK(!impl_->thread.joinable());
  impl_->sink = std::move(sink);
  impl_->thread = std::thread([this] { Loop(); });
}

Transport::~Transport() {
  Stop();
  if (impl_ && impl_->wake_fd >= 0) ::close(impl_->wake_fd);
}

void Transport::Stop() {
  if (!impl_ || impl_->stop.exchange(true)) return;
  uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
  // Give queued frames a moment to reach the wire (bounded), then close.
  impl_->router.set(zmq::sockopt::linger, limits::kStopLingerMs);
  impl_->router.close();
  for (auto& l : impl_->links) {
    l->set(zmq::sockopt::linger, limits::kStopLingerMs);
    l->close();
  }
}

void Transport::SendToPeer(uint32_t link, std::string frame) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->peer_outbox.emplace_back(link, std::move(frame));
  }
  uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
}

void Transport::Reply(uint64_t route, std::string frame) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->outbox.emplace_back(route, std::move(frame));
  }
  uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
}

namespace {

bool SendReply(zmq::socket_t& router, const std::string& identity, bool delimiter,
               const std::string& frame) {
  try {
    auto flags = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
    if (!router.send(zmq::buffer(identity), flags)) return false;
    if (delimiter) router.send(zmq::message_t(), flags);
    return router.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    return false;  // EHOSTUNREACH and friends: the client is gone
  }
}

}  // namespace

void Transport::Loop() {
  Impl& im = *impl_;
  using Clock = std::chrono::steady_clock;
  std::vector<zmq::message_t> parts;
  std::vector<std::pair<uint64_t, std::string>> batch;
  std::vector<std::pair<uint32_t, std::string>> peer_batch;
  std::vector<zmq::pollitem_t> items;
  auto failure_timeout = std::chrono::milliseconds(im.options.failure_timeout_ms);

  // Sends a reply frame on a pending route and retires the route.
  auto answer = [&](uint64_t route, const std::string& frame) {
    auto it = im.routes.find(route);
    if (it == im.routes.end()) return;
    if (!SendReply(im.router, it->second.identity, it->second.delimiter, frame))
      stats_.replies_dropped++;
    im.pending_bytes -= it->second.bytes;
    im.routes.erase(it);
  };
  auto flush_outboxes = [&] {
    {
      std::lock_guard<std::mutex> lock(im.mu);
      batch.swap(im.outbox);
      peer_batch.swap(im.peer_outbox);
    }
    for (auto& [route, frame] : batch) answer(route, frame);
    batch.clear();
    for (auto& [link, frame] : peer_batch) {
      if (!im.SendOnLink(link, frame)) stats_.peer_sends_dropped++;
    }
    peer_batch.clear();
  };
  auto next_sweep = Clock::now();

  while (!im.stop.load()) {
    items.clear();
    items.push_back({im.router.handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, im.wake_fd, ZMQ_POLLIN, 0});
    for (auto& l : im.links) items.push_back({l->handle(), 0, ZMQ_POLLIN, 0});
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(limits::kTransportPollMs));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("transport poll failed: {}", e.what());
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      uint64_t n;
      (void)!::read(im.wake_fd, &n, sizeof n);
    }
    // Replies first: they free pending slots.
    flush_outboxes();

    // Replies to requests this node forwarded to an owner.
    for (size_t l = 0; l < im.links.size(); ++l) {
      for (uint32_t i = 0; i < limits::kFramesPerRoundMax; ++i) {
        zmq::message_t msg;
        try {
          if (!im.links[l]->recv(msg, zmq::recv_flags::dontwait)) break;
          while (msg.more()) (void)im.links[l]->recv(msg, zmq::recv_flags::none);
        } catch (const zmq::error_t&) {
          break;
        }
        uint64_t corr = 0;
        auto env = protocol::Decode(static_cast<const char*>(msg.data()), msg.size(), &corr,
                                    limits::kReplyFrameBytesMax);
        auto it = im.forwards.find(corr);
        if (it == im.forwards.end()) continue;  // an error reply to a one-way message, or late
        Impl::Forward fw = it->second;
        im.forwards.erase(it);
        if (!env.ok()) {
          answer(fw.route, protocol::Encode(protocol::MakeError(fw.client_corr, env.status())));
          continue;
        }
        env.value().corr_id = fw.client_corr;
        answer(fw.route, protocol::Encode(env.value()));
      }
    }
    // Forwards whose owner never answered (swept once per poll period: the table can be big).
    if (auto now = Clock::now(); now >= next_sweep) {
      next_sweep = now + std::chrono::milliseconds(limits::kTransportPollMs);
      for (auto it = im.forwards.begin(); it != im.forwards.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        answer(it->second.route, protocol::Encode(protocol::MakeError(
                                     it->second.client_corr,
                                     Status::Unavailable("the job's owner node did not answer"))));
        it = im.forwards.erase(it);
      }
    }

    // Then up to a bounded number of requests per round, so replies are never starved.
    size_t part_count = 0;
    for (uint32_t i = 0; i < limits::kFramesPerRoundMax; ++i) {
      parts.clear();
      try {
        zmq::message_t msg;
        if (!im.router.recv(msg, zmq::recv_flags::dontwait)) break;
        bool more = msg.more();
        parts.push_back(std::move(msg));
        part_count = 1;
        while (more) {  // read the whole message, keeping at most 4 parts
          zmq::message_t next;
          (void)im.router.recv(next, zmq::recv_flags::none);
          more = next.more();
          part_count++;
          if (parts.size() < 4) parts.push_back(std::move(next));
        }
      } catch (const zmq::error_t& e) {
        spdlog::warn("transport recv failed: {}", e.what());
        break;
      }
      stats_.frames_in++;
      std::string identity = parts[0].to_string();
      bool delimiter = parts.size() == 3 && parts[1].size() == 0;
      auto reply_now = [&](uint64_t corr, const Status& s) {
        if (s.IsCorruption() || s.IsTooLarge() || s.IsInvalidArgument() ||
            s.code() == Code::kUnsupportedVersion)
          stats_.bad_frames++;
        SendReply(im.router, identity, delimiter, protocol::Encode(protocol::MakeError(corr, s)));
      };
      if (parts.size() != 2 && !delimiter) {
        reply_now(0, Status::Corruption("a request is one frame (optionally after an empty "
                                        "delimiter frame); got " +
                                        std::to_string(part_count - 1) + " frames"));
        continue;
      }
      const zmq::message_t& body = parts.back();
      uint64_t corr = 0;
      auto env = protocol::Decode(static_cast<const char*>(body.data()), body.size(), &corr,
                                  im.options.frame_bytes_max);
      if (!env.ok()) {
        reply_now(corr, env.status());
        continue;
      }
      protocol::Kind kind = protocol::KindOf(env.value().body);
      if (protocol::IsOneWay(kind)) {
        if (auto* hb = std::get_if<protocol::Heartbeat>(&env.value().body)) {
          for (uint32_t l = 0; l < im.options.peers.size(); ++l)
            if (im.options.peers[l] == hb->endpoint) im.owners[hb->node] = {l, Clock::now()};
        }
        im.sink(0, std::move(env).value());
        continue;
      }
      if (im.routes.size() >= im.options.pending_max ||
          im.pending_bytes + body.size() > im.options.pending_bytes_max) {
        stats_.overloaded++;
        reply_now(corr, Status::Overloaded("node has " + std::to_string(im.routes.size()) +
                                           " requests (" + std::to_string(im.pending_bytes) +
                                           " bytes) in flight; retry later"));
        continue;
      }
      const size_t request_bytes = body.size();
      // A request about another owner's job goes to that owner.
      const std::string* job_id = nullptr;
      uint64_t wait_ms = 0;
      std::visit(
          [&](auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, protocol::StatusRequest> ||
                          std::is_same_v<T, protocol::CancelRequest> ||
                          std::is_same_v<T, protocol::RetryRequest>) {
              job_id = &b.id;
            } else if constexpr (std::is_same_v<T, protocol::WaitRequest>) {
              job_id = &b.id;
              wait_ms = b.timeout_ms;
            }
          },
          env.value().body);
      if (job_id != nullptr && !im.options.node_id.empty()) {
        auto parsed = protocol::ParseJobId(*job_id);
        if (parsed.ok() && parsed.value().node != im.options.node_id) {
          auto owner = im.owners.find(parsed.value().node);
          if (owner != im.owners.end()) {
            if (Clock::now() - owner->second.last_seen > failure_timeout) {
              reply_now(corr, Status::Unavailable("job " + *job_id + " is owned by node " +
                                                  parsed.value().node +
                                                  ", which is down; its jobs resume when it "
                                                  "restarts"));
              continue;
            }
            uint64_t route = im.next_route++;
            im.routes.emplace(route, Impl::Route{std::move(identity), delimiter, request_bytes});
            im.pending_bytes += request_bytes;
            uint64_t fcorr = im.next_forward++;
            im.forwards[fcorr] = {route, corr,
                                  Clock::now() + std::chrono::milliseconds(wait_ms) +
                                      std::chrono::milliseconds(limits::kForwardSlackMs)};
            env.value().corr_id = fcorr;
            bool sent = im.SendOnLink(owner->second.link, protocol::Encode(env.value()));
            if (!sent) {
              im.forwards.erase(fcorr);
              answer(route, protocol::Encode(protocol::MakeError(
                                corr, Status::Unavailable("cannot reach owner node " +
                                                          parsed.value().node))));
            } else {
              stats_.forwarded++;
            }
            continue;
          }
        }
      }
      uint64_t route = im.next_route++;
      im.routes.emplace(route, Impl::Route{std::move(identity), delimiter, request_bytes});
      im.pending_bytes += request_bytes;
      im.sink(route, std::move(env).value());
    }
  }
  // Stopping: what the actors queued last (final replies, hosted-run results) still goes out.
  flush_outboxes();
}

}  // namespace jobnet
