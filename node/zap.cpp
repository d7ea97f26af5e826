// The ZAP handler of a node's CURVE sockets; see zap.hpp.
#include "node/zap.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>
#include <zmq.hpp>

#include "base/clock.hpp"

namespace jobnet {
namespace {
constexpr int kPollMs = 100;          // how soon a stop is noticed
constexpr uint64_t kLogEveryMs = 1000;  // refusals are logged at most this often
}  // namespace

struct ZapHandler::Impl {
  explicit Impl(zmq::context_t& ctx) : rep(ctx, zmq::socket_type::rep) {}
  zmq::socket_t rep;
  Authenticate authenticate;
  std::string what;
  uint64_t logged_ms = 0;
};

Status ZapHandler::Start(zmq::context_t& ctx, Authenticate authenticate, std::string what,
                         std::unique_ptr<ZapHandler>* out) {
  std::unique_ptr<ZapHandler> z(new ZapHandler());
  z->impl_ = std::make_unique<Impl>(ctx);
  z->impl_->authenticate = std::move(authenticate);
  z->impl_->what = std::move(what);
  try {
    z->impl_->rep.set(zmq::sockopt::linger, 0);
    z->impl_->rep.bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("cannot bind the ZAP handler: ") + e.what());
  }
  z->thread_ = std::thread([p = z.get()] {
    Impl& im = *p->impl_;
    while (!p->stop_) {
      zmq::pollitem_t items[] = {{im.rep.handle(), 0, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, 1, std::chrono::milliseconds(kPollMs));
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        std::vector<zmq::message_t> parts;
        for (;;) {
          zmq::message_t m;
          if (!im.rep.recv(m, zmq::recv_flags::none)) break;
          const bool more = m.more();
          if (parts.size() < 8) parts.push_back(std::move(m));
          if (!more) break;
        }
        // version, request id, domain, address, identity, mechanism, credentials...
        std::string name, why = "not a ZAP 1.0 request";
        if (parts.size() >= 6 && parts[0].to_string() == "1.0") {
          const std::string mechanism = parts[5].to_string();
          if (mechanism != "CURVE" || parts.size() < 7 || parts[6].size() != 32) {
            why = "mechanism " + mechanism.substr(0, 16) + " (this node speaks CURVE only)";
          } else {
            char z85[41] = {0};
            zmq_z85_encode(z85, static_cast<const uint8_t*>(parts[6].data()), 32);
            name = im.authenticate(z85);
            why = "key " + std::string(z85) + " is no principal's";
          }
        }
        const std::string id = parts.size() >= 2 ? parts[1].to_string() : std::string();
        if (name.empty()) {
          p->refused_++;
          const uint64_t now = base::SteadyMs();
          if (now - im.logged_ms >= kLogEveryMs) {
            im.logged_ms = now;
            spdlog::warn("refused a connection to the {} endpoint from {}: {} ({} refused so far)",
                         im.what, parts.size() >= 4 ? parts[3].to_string() : "?", why,
                         p->refused_.load());
          }
        }
        const std::string code = name.empty() ? "400" : "200";
        const std::string text = name.empty() ? "no such principal" : "OK";
        im.rep.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
        im.rep.send(zmq::buffer(id), zmq::send_flags::sndmore);
        im.rep.send(zmq::buffer(code), zmq::send_flags::sndmore);
        im.rep.send(zmq::buffer(text), zmq::send_flags::sndmore);
        im.rep.send(zmq::buffer(name), zmq::send_flags::sndmore);
        im.rep.send(zmq::message_t(), zmq::send_flags::none);
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) return;
        spdlog::warn("ZAP handler: {}", e.what());
      }
    }
  });
  *out = std::move(z);
  return Status::OK();
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace jobnet
