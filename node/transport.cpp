// ZeroMQ ROUTER transport; see transport.hpp.
//
// Inbound message from a client DEALER:  [identity] [frame]
// From a REQ socket (or a DEALER that mimics one): [identity] [empty delimiter] [frame]
// Replies mirror the shape the request came in.
#include "node/transport.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "base/check.hpp"
#include "base/clock.hpp"
#include "node/zap.hpp"
#include "protocol/codec.hpp"
#include "protocol/histograms.hpp"
#include "protocol/scopes.hpp"

namespace jobnet {

// The part before a request a peer forwards for a client: "as:" and the client's principal
// (docs/protocol.md §1.1).
constexpr std::string_view kAsPrefix = "as:";

struct Transport::Impl {
  TransportOptions options;
  TransportStats* stats = nullptr;
  Sink sink;
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::unique_ptr<ZapHandler> zap;  // with principals; stopped before the context ends
  int wake_fd = -1;  // eventfd: Reply() pokes it so the loop sends queued replies
  std::thread thread;
  std::atomic<bool> stop{false};

  struct Route {
    std::string identity;
    bool delimiter = false;
    size_t bytes = 0;  // request frame size, counted against pending_bytes_max
    uint64_t submit_read_us = 0;  // a local submit: when its frame was read (base::SteadyUs)
  };
  size_t pending_bytes = 0;
  std::unordered_map<uint64_t, Route> routes;  // requests in flight (transport thread only)
  std::vector<protocol::Inbound> inbound;      // this round's requests for the sink
  uint64_t next_route = 1;

  std::vector<std::unique_ptr<zmq::socket_t>> links;  // DEALER per peer
  std::unique_ptr<Forwarder> forwarder;               // transport thread only

  std::mutex mu;
  // guarded by mu: (route, frame) replies; (link, frame) peer sends; liveness decisions
  std::vector<std::pair<uint64_t, std::string>> outbox;
  std::vector<std::pair<uint32_t, std::string>> peer_outbox;
  struct Liveness {
    uint32_t link = 0;
    std::string node;
    bool alive = false;
  };
  std::vector<Liveness> liveness;
  struct HolderUpdate {
    std::string shard, holder;
    uint64_t epoch = 0;
  };
  std::vector<HolderUpdate> holders;
  std::vector<std::pair<uint32_t, std::string>> new_links;  // (link, endpoint), AddPeer
  // Written on the transport thread, read by stats on the scheduler's: its own lock, so a
  // stats reply never waits behind the outbox.
  mutable std::mutex ack_mu;
  Histogram ack_node_seconds = protocol::MakeHistogram(protocol::StageBounds());

  // One frame on a peer link, never blocking: false if the link's queue is full or it failed.
  // `as`: the client principal a forwarded request comes from, sent before it as its own
  // frame ("as:<name>") so the owner checks the request against that principal's scopes.
  bool SendOnLink(uint32_t link, const std::string& frame, const std::string& as = "");
  // A DEALER connected to a peer's endpoint, with the link options.
  std::unique_ptr<zmq::socket_t> MakeLink(const std::string& endpoint);
  void AddLinks(const std::vector<std::pair<uint32_t, std::string>>& added);
  // One reply frame to a client, counted (frames, bytes, error codes).
  bool Send(const std::string& identity, bool delimiter, const std::string& frame);
  // Sends a reply frame on a pending route and retires the route.
  void Answer(uint64_t route, const std::string& frame);
  void SendForwardAnswers() {
    for (auto& a : forwarder->TakeAnswers()) Answer(a.route, a.frame);
  }
  // Applies what other threads queued: liveness first (a request read in this round must see
  // it), then replies (they free pending slots), then peer frames.
  void FlushQueued();
  // Replies from owners to the requests this node forwarded to them.
  void ReadPeerLinks();
  // Up to kFramesPerRoundMax requests, so replies are never starved.
  void ReadRequests();
  // Hands this round's requests to the sink in one call.
  void Deliver() {
    if (!inbound.empty()) sink(std::move(inbound));
    inbound.clear();
  }
  // `as`: the principal a peer forwards this request for ("" for none).
  void Admit(std::string identity, bool delimiter, zmq::message_t& body, const std::string& as);
};

Status Transport::Bind(const TransportOptions& options, std::unique_ptr<Transport>* out) {
  std::unique_ptr<Transport> t(new Transport());
  t->impl_ = std::make_unique<Impl>();
  Impl& im = *t->impl_;
  im.options = options;
  im.stats = &t->stats_;
  im.forwarder =
      std::make_unique<Forwarder>(options.node_id, static_cast<uint32_t>(options.peers.size()));
  if (options.principals) {
    Status z = ZapHandler::Start(
        im.ctx,
        [table = options.principals, stats = im.stats](const std::string& key) {
          std::string name = table->NameOf(key);
          if (name.empty()) stats->connections_refused++;
          return name;
        },
        "client", &im.zap);
    if (!z.ok()) return z;
  }
  try {
    if (options.principals) {
      im.router.set(zmq::sockopt::zap_domain, "jobnet");
      im.router.set(zmq::sockopt::curve_server, true);
      im.router.set(zmq::sockopt::curve_secretkey, options.curve.secret_key);
    }
    im.router.set(zmq::sockopt::linger, 0);
    im.router.set(zmq::sockopt::sndhwm, options.hwm);
    im.router.set(zmq::sockopt::rcvhwm, options.hwm);
    im.router.set(zmq::sockopt::maxmsgsize,
                  static_cast<int64_t>(options.frame_bytes_max) * limits::kReadableFrameFactor);
    im.router.bind(options.listen);
    t->endpoint_ = im.router.get(zmq::sockopt::last_endpoint);
    for (const auto& ep : options.peers) im.links.push_back(im.MakeLink(ep));
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

void Transport::SetPeerLiveness(uint32_t link, std::string node, bool alive) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->liveness.push_back(Impl::Liveness{link, std::move(node), alive});
  }
  uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
}

void Transport::AddPeer(uint32_t link, std::string endpoint) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->new_links.emplace_back(link, std::move(endpoint));
  }
  uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
}

void Transport::SetShardHolder(std::string shard, std::string holder, uint64_t epoch) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->holders.push_back(Impl::HolderUpdate{std::move(shard), std::move(holder), epoch});
  }
  uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
}

Histogram Transport::AckNodeSeconds() const {
  std::lock_guard<std::mutex> lock(impl_->ack_mu);
  return impl_->ack_node_seconds;
}

const ForwardCounters& Transport::forward_counters() const {
  return impl_->forwarder->counters();
}

void Transport::ReplyMany(std::vector<std::pair<uint64_t, std::string>> frames) {
  if (frames.empty()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& f : frames) impl_->outbox.emplace_back(f.first, std::move(f.second));
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

bool Transport::Impl::SendOnLink(uint32_t link, const std::string& frame, const std::string& as) {
  bool sent = false;
  try {
    // The "as:" part and the request go as one message: both or neither (dontwait refuses the
    // first part when the queue is full, and a message's later parts are never refused).
    const std::string tag = std::string(kAsPrefix) + as;
    sent = link < links.size() && links[link] &&
           (as.empty() || links[link]
                              ->send(zmq::buffer(tag), zmq::send_flags::dontwait |
                                                           zmq::send_flags::sndmore)
                              .has_value()) &&
           links[link]->send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
  if (sent) {
    stats->peer_frames_out.fetch_add(1, std::memory_order_relaxed);
    stats->peer_bytes_out.fetch_add(frame.size(), std::memory_order_relaxed);
  }
  return sent;
}

bool Transport::Impl::Send(const std::string& identity, bool delimiter, const std::string& frame) {
  if (!SendReply(router, identity, delimiter, frame)) return false;
  stats->frames_out.fetch_add(1, std::memory_order_relaxed);
  stats->bytes_out.fetch_add(frame.size(), std::memory_order_relaxed);
  // An error reply: [version, 127, corr_id, body] starts 0x94, a fixint version, 0x7f. Errors
  // are rare, so decoding one whole for its code costs nothing on the fast path.
  if (frame.size() > 3 && static_cast<uint8_t>(frame[0]) == 0x94 &&
      static_cast<uint8_t>(frame[2]) == 0x7f) {
    uint64_t corr = 0;
    auto env = protocol::Decode(frame.data(), frame.size(), &corr, limits::kFrameBytesMax);
    const auto* e = env.ok() ? std::get_if<protocol::ErrorReply>(&env.value().body) : nullptr;
    size_t code = e != nullptr && static_cast<uint8_t>(e->code) <= static_cast<uint8_t>(kLastCode)
                      ? static_cast<size_t>(e->code)
                      : stats->errors.size() - 1;
    stats->errors[code].fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

void Transport::Impl::Answer(uint64_t route, const std::string& frame) {
  auto it = routes.find(route);
  if (it == routes.end()) return;
  if (!Send(it->second.identity, it->second.delimiter, frame))
    stats->replies_dropped++;
  if (it->second.submit_read_us != 0) {
    const uint64_t us = base::SteadyUs() - it->second.submit_read_us;
    std::lock_guard<std::mutex> lock(ack_mu);
    protocol::Observe(&ack_node_seconds, static_cast<double>(us) / 1e6);
  }
  pending_bytes -= it->second.bytes;
  routes.erase(it);
}

std::unique_ptr<zmq::socket_t> Transport::Impl::MakeLink(const std::string& endpoint) {
  std::string server_key;
  if (options.principals && (server_key = options.principals->ServerKeyOf(endpoint)).empty()) {
    spdlog::error(
        "no peer link to {}: no principal lists that endpoint, so its key is unknown (add "
        "the node to the principals with endpoints = [\"{}\"])",
        endpoint, endpoint);
    return nullptr;  // frames for it are dropped
  }
  auto link = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
  if (options.principals) {
    link->set(zmq::sockopt::curve_secretkey, options.curve.secret_key);
    link->set(zmq::sockopt::curve_publickey, options.curve.public_key);
    link->set(zmq::sockopt::curve_serverkey, server_key);
  }
  link->set(zmq::sockopt::linger, 0);
  link->set(zmq::sockopt::sndhwm, options.peer_hwm);
  link->set(zmq::sockopt::rcvhwm, options.hwm);
  link->set(zmq::sockopt::reconnect_ivl, limits::kPeerReconnectMs);
  link->set(zmq::sockopt::reconnect_ivl_max, limits::kPeerReconnectMsMax);
  link->set(zmq::sockopt::maxmsgsize,
            static_cast<int64_t>(limits::kReplyFrameBytesMax) * limits::kReadableFrameFactor);
  link->connect(endpoint);
  return link;
}

void Transport::Impl::AddLinks(const std::vector<std::pair<uint32_t, std::string>>& added) {
  for (const auto& [index, endpoint] : added) {
    if (index != links.size()) {  // announced out of order: a bug, never a guess at a link
      spdlog::error("peer link {} to {} announced as link {}: not added", links.size(), endpoint,
                    index);
      continue;
    }
    try {
      links.push_back(MakeLink(endpoint));
    } catch (const zmq::error_t& e) {
      spdlog::error("cannot connect a peer link to {}: {}", endpoint, e.what());
      links.push_back(nullptr);  // keeps the indices: frames for it are dropped
    }
    forwarder->AddLink();
  }
}

void Transport::Impl::FlushQueued() {
  std::vector<std::pair<uint64_t, std::string>> replies;
  std::vector<std::pair<uint32_t, std::string>> peer_frames;
  std::vector<Liveness> decisions;
  std::vector<HolderUpdate> held;
  std::vector<std::pair<uint32_t, std::string>> added;
  {
    std::lock_guard<std::mutex> lock(mu);
    added.swap(new_links);
    replies.swap(outbox);
    peer_frames.swap(peer_outbox);
    decisions.swap(liveness);
    held.swap(holders);
  }
  AddLinks(added);  // before the frames queued for them
  for (const auto& d : decisions) forwarder->SetPeer(d.link, d.node, d.alive);
  for (const auto& h : held) forwarder->SetShardHolder(h.shard, h.holder, h.epoch);
  SendForwardAnswers();
  for (const auto& [route, frame] : replies)
    if (!forwarder->OnLocalReply(route, frame)) Answer(route, frame);  // else: part of a gather
  SendForwardAnswers();
  for (const auto& [link, frame] : peer_frames)
    if (!SendOnLink(link, frame)) stats->peer_sends_dropped++;
}

void Transport::Impl::ReadPeerLinks() {
  for (auto& link : links) {
    if (!link) continue;
    for (uint32_t i = 0; i < limits::kFramesPerRoundMax; ++i) {
      zmq::message_t msg;
      try {
        if (!link->recv(msg, zmq::recv_flags::dontwait)) break;
        while (msg.more()) (void)link->recv(msg, zmq::recv_flags::none);
      } catch (const zmq::error_t&) {
        break;
      }
      stats->peer_frames_in.fetch_add(1, std::memory_order_relaxed);
      stats->peer_bytes_in.fetch_add(msg.size(), std::memory_order_relaxed);
      forwarder->OnReply(static_cast<const char*>(msg.data()), msg.size());
    }
  }
  SendForwardAnswers();
}

void Transport::Impl::ReadRequests() {
  std::vector<zmq::message_t> parts;
  for (uint32_t i = 0; i < limits::kFramesPerRoundMax; ++i) {
    parts.clear();
    size_t part_count = 0;
    try {
      zmq::message_t msg;
      if (!router.recv(msg, zmq::recv_flags::dontwait)) break;
      bool more = msg.more();
      parts.push_back(std::move(msg));
      part_count = 1;
      while (more) {  // read the whole message, keeping at most 4 parts
        zmq::message_t next;
        (void)router.recv(next, zmq::recv_flags::none);
        more = next.more();
        part_count++;
        if (parts.size() < 4) parts.push_back(std::move(next));
      }
    } catch (const zmq::error_t& e) {
      spdlog::warn("transport recv failed: {}", e.what());
      break;
    }
    stats->frames_in++;
    stats->bytes_in.fetch_add(parts.back().size(), std::memory_order_relaxed);
    bool delimiter = parts.size() == 3 && parts[1].size() == 0;
    // A peer forwarding a client's request names the client's principal first ("as:NAME").
    const bool as = parts.size() == 3 && parts[1].size() > kAsPrefix.size() &&
                    parts[1].size() <= kAsPrefix.size() + limits::kNodeIdBytesMax &&
                    parts[1].to_string_view().substr(0, kAsPrefix.size()) == kAsPrefix;
    if (parts.size() != 2 && !delimiter && !as) {
      stats->bad_frames++;
      Send(parts[0].to_string(), delimiter,
           protocol::Encode(protocol::MakeError(
               0, Status::Corruption("a request is one frame (optionally after an empty "
                                     "delimiter frame); got " +
                                     std::to_string(part_count - 1) + " frames"))));
      continue;
    }
    Admit(parts[0].to_string(), delimiter, parts.back(),
          as ? parts[1].to_string().substr(kAsPrefix.size()) : std::string());
  }
}

void TransportStats::CountDenied(const std::string& principal) {
  permission_denied++;
  std::lock_guard<std::mutex> lock(denied_mu_);
  std::string name = principal.empty() ? "(none)" : principal;
  if (denied_.count(name) == 0 && denied_.size() >= limits::kPrincipalsMax) name = "(other)";
  ++denied_[name];  // so at most kPrincipalsMax + 1 names
}

std::map<std::string, uint64_t> TransportStats::DeniedByPrincipal() const {
  std::lock_guard<std::mutex> lock(denied_mu_);
  return denied_;
}

void Transport::Impl::Admit(std::string identity, bool delimiter, zmq::message_t& body,
                            const std::string& as) {
  const uint64_t read_us = base::SteadyUs();
  auto reply_now = [&](uint64_t corr, const Status& s) {
    Send(identity, delimiter, protocol::Encode(protocol::MakeError(corr, s)));
  };
  uint64_t corr = 0;
  auto env = protocol::Decode(static_cast<const char*>(body.data()), body.size(), &corr,
                              options.frame_bytes_max);
  if (!env.ok()) {
    stats->bad_frames++;
    return reply_now(corr, env.status());
  }
  std::string principal;
  if (options.principals) {
    // The ZAP handler named the sender's principal; its scopes say what it may send.
    const char* who = body.gets("User-Id");
    principal = who ? who : "";
    const uint8_t scopes = options.principals->ScopesOf(principal);
    const protocol::Kind kind = protocol::KindOf(env.value().body);
    if (!protocol::MaySend(scopes, kind)) {
      stats->CountDenied(principal);
      const std::string why =
          "principal " + (principal.empty() ? std::string("(none)") : principal) + " (scopes " +
          (scopes ? protocol::ScopeNames(scopes) : std::string("none")) + ") may not send " +
          protocol::KindName(kind) + ": it needs scope " +
          protocol::ScopeNames(protocol::RequiredScope(kind));
      if (protocol::IsOneWay(kind)) {  // no reply to a node-to-node frame: refused, logged
        spdlog::warn("refused a frame: {}", why);
        return;
      }
      return reply_now(corr, Status::PermissionDenied(why));
    }
    // A request forwarded for a client is checked as that client's, as where it came in
    // (the owner decides, with its own principals): only a node forwards for another.
    if (!as.empty()) {
      const uint8_t theirs = options.principals->ScopesOf(as);
      const protocol::Kind kind = protocol::KindOf(env.value().body);
      std::string why;
      if (!(scopes & protocol::kScopePeer))
        why = "principal " + principal + " may not forward for another (it needs scope peer)";
      else if (!(theirs & protocol::RequiredScope(kind)))
        why = "principal " + as + " (forwarded by " + principal + "; scopes " +
              (theirs ? protocol::ScopeNames(theirs) : std::string("none: not a principal here")) +
              ") may not send " + protocol::KindName(kind) + ": it needs scope " +
              protocol::ScopeNames(protocol::RequiredScope(kind));
      if (!why.empty()) {
        stats->CountDenied(scopes & protocol::kScopePeer ? as : principal);
        return reply_now(corr, Status::PermissionDenied(why));
      }
      principal = as;
    }
    // A worker principal with a types list registers only for those types.
    if (const auto* reg = std::get_if<protocol::WorkerRegisterRequest>(&env.value().body)) {
      if (Status s = options.principals->MayServe(principal, reg->types); !s.ok()) {
        stats->CountDenied(principal);
        return reply_now(corr, s);
      }
    }
  }
  if (const auto* pr = std::get_if<protocol::PrincipalsRequest>(&env.value().body)) {
    // Answered here: the table is the transport's (a change is one small synced file).
    if (!options.principals)
      return reply_now(corr, Status::InvalidArgument(
                                 "this node has no principals (it speaks plain ZeroMQ): start "
                                 "it with --principals FILE to secure it"));
    auto list = options.principals->Apply(*pr);
    if (!list.ok()) return reply_now(corr, list.status());
    if (pr->action != "list")
      spdlog::warn("principals: {} {} (by principal {})", pr->action, pr->name, principal);
    Send(identity, delimiter,
         protocol::Encode(protocol::Envelope{limits::kProtocolVersion, corr,
                                             std::move(list).value()}));
    return;
  }
  if (protocol::IsOneWay(protocol::KindOf(env.value().body))) {
    // node-to-node: heartbeats reach the scheduler from here. A run sent by a primary that
    // another node has deposed since is not started (docs/failover.md §5).
    if (const auto* run = std::get_if<protocol::RemoteRun>(&env.value().body);
        run != nullptr && forwarder->FromDeposedOwner(*run)) {
      spdlog::warn("refused run {} of job {}: its owner {} sent it at epoch {}, and another node "
                   "has held its shard since",
                   run->lease, run->id, run->owner, run->epoch);
      return;
    }
    inbound.push_back(protocol::Inbound{0, std::move(env).value(), read_us});
    return;
  }
  if (routes.size() >= options.pending_max ||
      pending_bytes + body.size() > options.pending_bytes_max) {
    stats->overloaded++;
    return reply_now(corr, Status::Overloaded("node has " + std::to_string(routes.size()) +
                                              " requests (" + std::to_string(pending_bytes) +
                                              " bytes) in flight; retry later"));
  }
  const uint64_t route = next_route++;
  auto& stored = routes.emplace(route, Route{std::move(identity), delimiter, body.size()})
                     .first->second;
  pending_bytes += body.size();
  Forwarder::Decision d = forwarder->Route(route, env.value(), base::SteadyMs());
  switch (d.verdict) {
    case Forwarder::Verdict::kLocal:
      if (std::holds_alternative<protocol::SubmitRequest>(env.value().body))
        stored.submit_read_us = read_us;
      inbound.push_back(protocol::Inbound{route, std::move(env).value(), read_us});
      break;
    case Forwarder::Verdict::kForward:
      if (!SendOnLink(d.link, d.frame, principal)) forwarder->Unsent(d.forward_id);
      break;
    case Forwarder::Verdict::kAnswered:
      break;
    case Forwarder::Verdict::kGather:
      for (const auto& send : d.sends)
        if (!SendOnLink(send.link, send.frame, principal)) forwarder->Unsent(send.forward_id);
      inbound.push_back(protocol::Inbound{route, std::move(d.local), read_us});
      break;
  }
  SendForwardAnswers();
}

void Transport::Loop() {
  Impl& im = *impl_;
  std::vector<zmq::pollitem_t> items;
  while (!im.stop.load()) {
    items.clear();
    items.push_back({im.router.handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, im.wake_fd, ZMQ_POLLIN, 0});
    for (auto& l : im.links)
      if (l) items.push_back({l->handle(), 0, ZMQ_POLLIN, 0});
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
    im.FlushQueued();
    im.ReadPeerLinks();
    im.forwarder->Expire(base::SteadyMs());
    im.SendForwardAnswers();
    im.ReadRequests();
    im.Deliver();
  }
  // Stopping: what the actors queued last (final replies, hosted-run results) still goes out.
  im.FlushQueued();
}

}  // namespace jobnet
