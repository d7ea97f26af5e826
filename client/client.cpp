// jobnet::Client over a ZeroMQ DEALER socket: one frame per request, one per reply.
#include "jobnet/client.h"

#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <cstdlib>
#include <sstream>

#include "protocol/codec.hpp"

namespace jobnet {

std::vector<std::string> ClientOptions::DefaultEndpoints() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("JOBNET_ENDPOINTS")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ',')) {
      auto b = item.find_first_not_of(" \t");
      auto e = item.find_last_not_of(" \t");
      if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    }
  }
  if (out.empty()) out.push_back("tcp://127.0.0.1:7701");
  return out;
}

ClientOptions ClientOptions::Single(const std::string& endpoint, uint32_t request_timeout_ms) {
  ClientOptions o;
  o.endpoints = {endpoint};
  o.request_timeout_ms = request_timeout_ms;
  o.failover = false;
  return o;
}

struct Client::Impl {
  ClientOptions options;
  std::string endpoint;
  zmq::context_t ctx{1};
  std::unique_ptr<zmq::socket_t> sock;
  uint64_t next_corr = 1;

  // Replaces the socket only when the new one connects; on failure the old one stays.
  Status Open(const std::string& ep) {
    try {
      auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
      s->set(zmq::sockopt::linger, 0);
      s->set(zmq::sockopt::sndhwm, limits::kSocketHwm);
      s->set(zmq::sockopt::rcvhwm, limits::kSocketHwm);
      s->connect(ep);
      sock = std::move(s);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("bad endpoint '" + ep + "': " + e.what());
    }
    endpoint = ep;
    return Status::OK();
  }

  Result<uint64_t> Send(const protocol::Body& request);
  Result<protocol::Envelope> Receive(uint32_t timeout_ms);
  // One request with failover across the endpoints (when enabled).
  Result<protocol::Body> Call(const protocol::Body& request, uint64_t extra_timeout_ms = 0);
  // *answered is set when the node replied (even with an error): then there is no failover.
  Result<protocol::Body> CallOnce(const protocol::Body& request, uint64_t extra_timeout_ms,
                                  bool* answered);
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;
const std::string& Client::endpoint() const { return impl_->endpoint; }

Status Client::Connect(const ClientOptions& options, std::unique_ptr<Client>* client) {
  client->reset();
  if (options.endpoints.empty()) return Status::InvalidArgument("no endpoints given");
  std::string tried;
  for (const auto& ep : options.endpoints) {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->options.failover = false;  // this loop is the failover while connecting
    Status s = impl->Open(ep);
    if (s.ok()) {
      std::unique_ptr<Client> c(new Client(std::move(impl)));
      auto stats = c->Stats();
      if (stats.ok()) {
        c->impl_->options.failover = options.failover;
        *client = std::move(c);
        return Status::OK();
      }
      s = stats.status();
    }
    if (!tried.empty()) tried += "; ";
    tried += ep + " (" + s.ToString() + ")";
  }
  return Status::Unavailable("no jobnet node answered: " + tried);
}

Result<uint64_t> Client::Impl::Send(const protocol::Body& request) {
  protocol::Envelope env{limits::kProtocolVersion, next_corr++, request};
  std::string frame = protocol::Encode(env);
  if (frame.size() > limits::kFrameBytesMax)
    return Status::TooLarge("request is " + std::to_string(frame.size()) + " bytes; the limit is " +
                            std::to_string(limits::kFrameBytesMax));
  try {
    auto sent = sock->send(zmq::buffer(frame), zmq::send_flags::dontwait);
    if (!sent) return Status::Overloaded("client send queue is full");
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("send failed: ") + e.what());
  }
  return env.corr_id;
}

Result<protocol::Envelope> Client::Impl::Receive(uint32_t timeout_ms) {
  zmq::pollitem_t item{sock->handle(), 0, ZMQ_POLLIN, 0};
  try {
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0)
      return Status::Timeout("no reply from " + endpoint + " within " +
                             std::to_string(timeout_ms) + " ms");
    zmq::message_t msg;
    (void)sock->recv(msg, zmq::recv_flags::none);
    while (msg.more()) {  // a well-behaved node sends one frame; skip anything else
      zmq::message_t extra;
      (void)sock->recv(extra, zmq::recv_flags::none);
      msg = std::move(extra);
    }
    uint64_t corr = 0;
    auto env = protocol::Decode(static_cast<const char*>(msg.data()), msg.size(), &corr,
                                limits::kReplyFrameBytesMax);
    if (!env.ok()) return Status::Corruption("bad reply from node: " + env.status().ToString());
    return env;
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("receive failed: ") + e.what());
  }
}

Result<protocol::Body> Client::Impl::Call(const protocol::Body& request, uint64_t extra_timeout_ms) {
  const auto& eps = options.endpoints;
  size_t tries = options.failover ? std::max<size_t>(eps.size(), 1) : 1;
  Result<protocol::Body> r = Status::Unavailable("no endpoint");
  // Walk the list once, starting at the current endpoint; skip ones that cannot be opened.
  auto cur = std::find(eps.begin(), eps.end(), endpoint);
  size_t start = cur == eps.end() ? 0 : static_cast<size_t>(cur - eps.begin());
  for (size_t k = 0; k < tries; ++k) {
    if (k > 0 && !Open(eps[(start + k) % eps.size()]).ok()) continue;
    bool answered = false;
    r = CallOnce(request, extra_timeout_ms, &answered);
    if (r.ok() || answered || !(r.status().IsTimeout() || r.status().IsUnavailable())) return r;
  }
  return r;
}

Result<protocol::Body> Client::Impl::CallOnce(const protocol::Body& request, uint64_t extra_timeout_ms,
                                        bool* answered) {
  *answered = false;
  auto corr = Send(request);
  if (!corr.ok()) return corr.status();
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(options.request_timeout_ms + extra_timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0)
      return Status::Timeout("no reply from " + endpoint + " within " +
                             std::to_string(options.request_timeout_ms + extra_timeout_ms) +
                             " ms");
    auto env = Receive(static_cast<uint32_t>(left));
    if (!env.ok()) return env.status();
    if (env.value().corr_id != corr.value()) continue;  // a late reply to an earlier call
    *answered = true;
    auto& body = env.value().body;
    if (auto* err = std::get_if<protocol::ErrorReply>(&body)) {
      return Status(ErrorCodeFromWire(err->code), err->message);
    }
    return std::move(body);
  }
}

namespace {
template <class T>
Result<T> Expect(Result<protocol::Body> r) {
  if (!r.ok()) return r.status();
  if (auto* v = std::get_if<T>(&r.value())) return std::move(*v);
  return Status::Corruption(std::string("unexpected reply kind '") +
                            protocol::KindName(protocol::KindOf(r.value())) + "'");
}
Result<JobInfo> ExpectJob(Result<protocol::Body> r) {
  auto j = Expect<protocol::JobReply>(std::move(r));
  if (!j.ok()) return j.status();
  return std::move(j.value().job);
}
}  // namespace

Result<SubmitResult> Client::Submit(const JobSpec& spec) {
  if (spec.key.empty() && impl_->options.auto_idempotency_key) {
    JobSpec keyed = spec;
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[40];
    std::snprintf(buf, sizeof buf, "auto-%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    keyed.key = buf;
    return Expect<protocol::AcceptedReply>(impl_->Call(protocol::SubmitRequest{keyed}));
  }
  return Expect<protocol::AcceptedReply>(impl_->Call(protocol::SubmitRequest{spec}));
}
Result<JobInfo> Client::GetStatus(const std::string& id) {
  return ExpectJob(impl_->Call(protocol::StatusRequest{id}));
}
Result<JobInfo> Client::Wait(const std::string& id, uint64_t timeout_ms) {
  return ExpectJob(impl_->Call(protocol::WaitRequest{id, timeout_ms}, timeout_ms));
}
Result<JobInfo> Client::Cancel(const std::string& id) {
  return ExpectJob(impl_->Call(protocol::CancelRequest{id}));
}
Result<JobInfo> Client::Retry(const std::string& id) {
  return ExpectJob(impl_->Call(protocol::RetryRequest{id}));
}
Result<std::vector<JobInfo>> Client::List(const ListQuery& query) {
  auto r = Expect<protocol::JobListReply>(impl_->Call(query));
  if (!r.ok()) return r.status();
  return std::move(r.value().jobs);
}
Result<NodeStats> Client::Stats() {
  return Expect<protocol::StatsReply>(impl_->Call(protocol::StatsRequest{}));
}

Result<uint64_t> Client::SendSubmit(const JobSpec& spec) {
  return impl_->Send(protocol::SubmitRequest{spec});
}
Result<uint64_t> Client::SendWait(const std::string& id, uint64_t timeout_ms) {
  return impl_->Send(protocol::WaitRequest{id, timeout_ms});
}

Result<Reply> Client::Receive(uint32_t timeout_ms) {
  auto env = impl_->Receive(timeout_ms);
  if (!env.ok()) return env.status();
  Reply r;
  r.corr_id = env.value().corr_id;
  auto& body = env.value().body;
  if (auto* err = std::get_if<protocol::ErrorReply>(&body)) {
    r.status = Status(ErrorCodeFromWire(err->code), err->message);
  } else if (auto* a = std::get_if<protocol::AcceptedReply>(&body)) {
    r.submitted = std::move(*a);
  } else if (auto* j = std::get_if<protocol::JobReply>(&body)) {
    r.job = std::move(j->job);
  } else {
    return Status::Corruption(std::string("unexpected reply kind '") +
                              protocol::KindName(protocol::KindOf(body)) + "'");
  }
  return r;
}

}  // namespace jobnet
