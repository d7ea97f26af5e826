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
  };
  std::unordered_map<uint64_t, Route> routes;  // requests in flight (transport thread only)
  uint64_t next_route = 1;

  std::mutex mu;
  std::vector<std::pair<uint64_t, std::string>> outbox;  // guarded by mu
};

Status Transport::Start(const TransportOptions& options, Sink sink,
                        std::unique_ptr<Transport>* out) {
  std::unique_ptr<Transport> t(new Transport());
  t->impl_ = std::make_unique<Impl>();
  Impl& im = *t->impl_;
  im.options = options;
  im.sink = std::move(sink);
  try {
    im.router.set(zmq::sockopt::linger, 0);
    im.router.set(zmq::sockopt::sndhwm, options.hwm);
    im.router.set(zmq::sockopt::rcvhwm, options.hwm);
    // Frames up to 2x the limit are read and answered with kTooLarge; beyond that libzmq drops
    // the connection, so a hostile peer cannot make the node buffer arbitrary amounts.
    im.router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options.frame_bytes_max) * 2);
    im.router.bind(options.listen);
    t->endpoint_ = im.router.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot listen on " + options.listen + ": " + e.what());
  }
  im.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (im.wake_fd < 0) return Status::Internal("eventfd failed");
  Transport* raw = t.get();
  im.thread = std::thread([raw] { raw->Loop(); });
  *out = std::move(t);
  return Status::OK();
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
  impl_->router.close();
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
  std::vector<zmq::message_t> parts;
  std::vector<std::pair<uint64_t, std::string>> batch;
  while (!im.stop.load()) {
    zmq::pollitem_t items[] = {{im.router.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, im.wake_fd, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(500));
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
    {
      std::lock_guard<std::mutex> lock(im.mu);
      batch.swap(im.outbox);
    }
    for (auto& [route, frame] : batch) {
      auto it = im.routes.find(route);
      if (it == im.routes.end()) continue;
      if (!SendReply(im.router, it->second.identity, it->second.delimiter, frame))
        stats_.replies_dropped++;
      im.routes.erase(it);
    }
    batch.clear();
    // Then up to a bounded number of requests per round, so replies are never starved.
    for (int i = 0; i < 1024; ++i) {
      parts.clear();
      try {
        zmq::message_t msg;
        if (!im.router.recv(msg, zmq::recv_flags::dontwait)) break;
        parts.push_back(std::move(msg));
        while (parts.back().more()) {
          zmq::message_t next;
          (void)im.router.recv(next, zmq::recv_flags::none);
          if (parts.size() < 4) parts.push_back(std::move(next));  // drop anything past 4
        }
      } catch (const zmq::error_t& e) {
        spdlog::warn("transport recv failed: {}", e.what());
        break;
      }
      stats_.frames_in++;
      std::string identity = parts[0].to_string();
      bool delimiter = parts.size() == 3 && parts[1].size() == 0;
      auto reply_now = [&](uint64_t corr, const Status& s) {
        stats_.bad_frames++;
        SendReply(im.router, identity, delimiter, protocol::Encode(protocol::MakeError(corr, s)));
      };
      if (parts.size() != 2 && !delimiter) {
        reply_now(0, Status::Corruption("a request is one frame (optionally after an empty "
                                        "delimiter frame); got " +
                                        std::to_string(parts.size() - 1) + " frames"));
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
      if (im.routes.size() >= im.options.pending_max) {
        stats_.overloaded++;
        reply_now(corr, Status::Overloaded("node has " + std::to_string(im.routes.size()) +
                                           " requests in flight; retry later"));
        continue;
      }
      uint64_t route = im.next_route++;
      im.routes.emplace(route, Impl::Route{std::move(identity), delimiter});
      im.sink(route, std::move(env).value());
    }
  }
}

}  // namespace jobnet
