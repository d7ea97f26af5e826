// jobnet::Client over a ZeroMQ DEALER socket: one frame per request, one per reply. A socket
// monitor, polled next to the DEALER, tells a refused or lost connection (fail over at once)
// apart from a connected node that is slow (wait out the request timeout).
#include "jobnet/client.h"

#include <poll.h>
#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>

#include "base/sha256.hpp"
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

ClientOptions ClientOptions::Narrowed(const std::string& endpoint,
                                      uint32_t request_timeout_ms) const {
  ClientOptions o = Single(endpoint, request_timeout_ms);
  o.key = key;
  o.server_keys = server_keys;
  return o;
}

namespace {
// The monitor events that say whether the DEALER has a live TCP connection. A failed connect
// attempt is reported as CONNECT_RETRIED (libzmq schedules the next attempt); a dropped
// connection as DISCONNECTED, then CONNECT_RETRIED.
constexpr int kMonitorEvents = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
                               ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;

// Every monitor needs its own inproc address; a Client may have several sockets over its life.
std::string NextMonitorAddress() {
  static std::atomic<uint64_t> next{1};
  return "inproc://jobnet-client-monitor-" + std::to_string(next++);
}
}  // namespace

struct Client::Impl {
  ClientOptions options;
  std::string endpoint;
  zmq::context_t ctx{1};
  // The monitor is declared after the DEALER so that it is closed first.
  std::unique_ptr<zmq::socket_t> sock;
  std::unique_ptr<zmq::socket_t> monitor;
  uint64_t next_corr = 1;
  bool connected = false;       // as of the last monitor event read
  bool ever_connected = false;  // since Open
  // Set when a connect attempt was refused or the connection lost after the last Send (on a
  // socket that never connected: since Open): the reply cannot come.
  bool lost_since_send = false;
  // Why the node refused this client's handshake (its key, or no key), once it has.
  std::string refused;

  // Replaces the socket only when the new one connects; on failure the old one stays.
  Status Open(const std::string& ep) {
    try {
      auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
      s->set(zmq::sockopt::linger, 0);
      s->set(zmq::sockopt::sndhwm, limits::kSocketHwm);
      s->set(zmq::sockopt::rcvhwm, limits::kSocketHwm);
      if (!options.key.empty()) {
        auto server = options.server_keys.find(ep);
        if (server == options.server_keys.end())
          return Status::InvalidArgument(
              "no public key of the node at " + ep +
              " (--server-key, or --cluster / $JOBNET_CLUSTER naming its cluster.json)");
        s->set(zmq::sockopt::curve_secretkey, options.key.secret_key);
        s->set(zmq::sockopt::curve_publickey, options.key.public_key);
        s->set(zmq::sockopt::curve_serverkey, server->second);
      }
      // The monitor must be attached and its reader connected before the DEALER connects, or
      // the first refusal is reported to nobody.
      std::string addr = NextMonitorAddress();
      if (zmq_socket_monitor(s->handle(), addr.c_str(), kMonitorEvents) != 0)
        return Status::Unavailable(std::string("cannot monitor the client socket: ") +
                                   zmq_strerror(zmq_errno()));
      auto m = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::pair);
      m->set(zmq::sockopt::linger, 0);
      m->set(zmq::sockopt::rcvhwm, limits::kSocketHwm);
      m->connect(addr);
      s->connect(ep);
      monitor.reset();
      sock = std::move(s);
      monitor = std::move(m);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("bad endpoint '" + ep + "': " + e.what());
    }
    endpoint = ep;
    connected = false;
    ever_connected = false;
    lost_since_send = false;
    refused.clear();
    return Status::OK();
  }

  // Reads every monitor event queued so far (bounded by the monitor's HWM) and updates
  // `connected` and `lost_since_send`.
  void DrainMonitor() {
    for (;;) {
      zmq::message_t event;
      if (!monitor->recv(event, zmq::recv_flags::dontwait)) return;
      // Frame 1 is a 16-bit event id and a 32-bit value; frame 2 the endpoint, unused here.
      uint16_t id = 0;
      if (event.size() >= sizeof id) std::memcpy(&id, event.data(), sizeof id);
      while (event.more()) (void)monitor->recv(event, zmq::recv_flags::none);
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        refused = "the node at " + endpoint + " refused this client's key" +
                  (options.key.empty() ? "" : " " + options.key.public_key) +
                  ": no principal there holds it";
      } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        refused = options.key.empty()
                      ? "the node at " + endpoint +
                            " requires a CURVE key, and this client has none (--key-file or "
                            "$JOBNET_KEY)"
                      : "the CURVE handshake with the node at " + endpoint +
                            " failed: is its public key the one configured here (--server-key "
                            "or the cluster file), and does it have principals?";
      }
      if (id == ZMQ_EVENT_CONNECTED) {
        connected = true;
        ever_connected = true;
      } else if (id == ZMQ_EVENT_CONNECT_RETRIED || id == ZMQ_EVENT_DISCONNECTED) {
        connected = false;
        lost_since_send = true;
      }
    }
  }

  Result<uint64_t> Send(const protocol::Body& request);
  // With watch_connection, a refused or lost connection after the last Send ends the wait at
  // once with kUnavailable instead of waiting out timeout_ms.
  Result<protocol::Envelope> Receive(std::chrono::microseconds timeout, bool watch_connection);
  bool ReadableWithin(std::chrono::microseconds us);
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
  bool all_denied = true;  // every node refused this client's key (or its lack of one)
  const size_t n = options.endpoints.size();
  size_t start = 0;
  if (options.spread && n > 1) {
    std::random_device rd;
    start = std::uniform_int_distribution<size_t>(0, n - 1)(rd);
  }
  for (size_t k = 0; k < n; ++k) {
    const std::string& ep = options.endpoints[(start + k) % n];
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
    all_denied = all_denied && s.IsPermissionDenied();
  }
  if (all_denied) return Status::PermissionDenied("every node refused this client: " + tried);
  return Status::Unavailable("no jobnet node answered: " + tried);
}

Result<uint64_t> Client::Impl::Send(const protocol::Body& request) {
  protocol::Envelope env{limits::kProtocolVersion, next_corr++, request};
  std::string frame = protocol::Encode(env);
  if (frame.size() > limits::kFrameBytesMax)
    return Status::TooLarge("request is " + std::to_string(frame.size()) + " bytes; the limit is " +
                            std::to_string(limits::kFrameBytesMax));
  try {
    // On a socket that was connected once, a refusal from before this request may be stale:
    // the node may be back by the next attempt, which then delivers the request. On a fresh
    // socket every refusal is this request's: the first attempt often fails before we get here.
    DrainMonitor();
    if (ever_connected) lost_since_send = false;
    auto sent = sock->send(zmq::buffer(frame), zmq::send_flags::dontwait);
    if (!sent) return Status::Overloaded("client send queue is full");
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("send failed: ") + e.what());
  }
  return env.corr_id;
}

// Whether the socket has a message, waiting at most `us` (under a millisecond) for one:
// zmq_poll counts whole milliseconds, so the socket's notification descriptor is polled with
// ppoll's nanoseconds instead. The descriptor is edge-triggered and says only "look again", so
// ZMQ_EVENTS is read before and after the wait.
bool Client::Impl::ReadableWithin(std::chrono::microseconds us) {
  if (sock->get(zmq::sockopt::events) & ZMQ_POLLIN) return true;
  pollfd p{};
  p.fd = sock->get(zmq::sockopt::fd);
  p.events = POLLIN;
  timespec ts{0, static_cast<long>(us.count()) * 1000};
  (void)::ppoll(&p, 1, &ts, nullptr);
  return (sock->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
}

Result<protocol::Envelope> Client::Impl::Receive(std::chrono::microseconds timeout,
                                                 bool watch_connection) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  zmq::pollitem_t items[2] = {{sock->handle(), 0, ZMQ_POLLIN, 0},
                              {monitor->handle(), 0, ZMQ_POLLIN, 0}};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    for (;;) {
      // Once the connection is gone, only a reply already queued can still be read: look
      // for one without waiting, then give up.
      bool lost = watch_connection && !connected && lost_since_send;
      auto left = std::chrono::duration_cast<microseconds>(deadline -
                                                           std::chrono::steady_clock::now());
      if (lost || left.count() < 0) left = microseconds(0);
      int n = 0;
      if (left.count() > 0 && left < milliseconds(1)) {
        // The last fraction of a millisecond: the reply socket alone, to the microsecond (a
        // monitor event can wait for the next call).
        items[0].revents = ReadableWithin(left) ? ZMQ_POLLIN : 0;
        items[1].revents = 0;
        n = items[0].revents ? 1 : 0;
        if (n == 0) left = microseconds(0);
      } else {
        n = zmq::poll(items, 2, std::chrono::duration_cast<milliseconds>(left));
      }
      if (items[0].revents & ZMQ_POLLIN) break;
      if (!refused.empty()) return Status::PermissionDenied(refused);
      if (lost)
        return Status::Unavailable("cannot reach " + endpoint + ": connection refused or lost");
      if (n == 0 && left < milliseconds(1))
        return Status::Timeout("no reply from " + endpoint + " within " +
                               (timeout.count() % 1000 == 0
                                    ? std::to_string(timeout.count() / 1000) + " ms"
                                    : std::to_string(timeout.count()) + " us"));
      DrainMonitor();
    }
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
    auto env = Receive(std::chrono::milliseconds(left), /*watch_connection=*/true);
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
// A random idempotency key for a submit given none (ClientOptions::auto_idempotency_key).
std::string AutoKey() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "auto-%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
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
    keyed.key = AutoKey();
    return Expect<protocol::AcceptedReply>(impl_->Call(protocol::SubmitRequest{keyed}));
  }
  return Expect<protocol::AcceptedReply>(impl_->Call(protocol::SubmitRequest{spec}));
}
Result<JobInfo> Client::GetStatus(const std::string& id, bool history) {
  return ExpectJob(impl_->Call(protocol::StatusRequest{id, history}));
}
Result<FlowResult> Client::SubmitFlow(const std::vector<FlowJob>& jobs) {
  if (jobs.empty() || jobs.size() > limits::kFlowJobsMax)
    return Status::InvalidArgument("a flow holds 1.." + std::to_string(limits::kFlowJobsMax) +
                                   " jobs, not " + std::to_string(jobs.size()));
  for (const FlowJob& j : jobs)
    if (Status v = protocol::Validate(j.spec); !v.ok())
      return Status(v.code(), "job '" + j.name + "': " + v.message());
  auto r = Expect<protocol::FlowAcceptedReply>(impl_->Call(protocol::SubmitFlowRequest{jobs}));
  if (!r.ok()) return r.status();
  return std::move(r.value().flow);
}

Result<std::vector<BatchItemResult>> Client::SubmitBatch(const std::vector<JobSpec>& specs) {
  if (specs.empty() || specs.size() > limits::kBatchSpecsMax)
    return Status::InvalidArgument("a batch holds 1.." + std::to_string(limits::kBatchSpecsMax) +
                                   " specs, not " + std::to_string(specs.size()));
  // Each spec is checked here first: one nested past the payload bound would take the whole
  // frame past the decoder's (a batch wraps payloads deepest), failing its neighbours with it.
  std::vector<BatchItemResult> out(specs.size());
  std::vector<size_t> sent;  // req.specs[k] is specs[sent[k]]
  protocol::SubmitBatchRequest req;
  req.specs.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (Status v = protocol::Validate(specs[i]); !v.ok()) {
      out[i].status = v;
      continue;
    }
    req.specs.push_back(protocol::BatchSpec{specs[i], Status::OK()});
    sent.push_back(i);
    if (specs[i].key.empty() && impl_->options.auto_idempotency_key)
      req.specs.back().spec.key = AutoKey();
  }
  if (req.specs.empty()) return out;
  auto r = Expect<protocol::BatchAcceptedReply>(impl_->Call(req));
  if (!r.ok()) return r.status();
  if (r.value().items.size() != sent.size())
    return Status::Corruption("batch reply has " + std::to_string(r.value().items.size()) +
                              " answers for " + std::to_string(sent.size()) + " specs");
  for (size_t k = 0; k < sent.size(); ++k) out[sent[k]] = std::move(r.value().items[k]);
  return out;
}
Result<BulkResult> Client::Bulk(const BulkQuery& query) {
  if (Status s = protocol::Validate(query); !s.ok()) return s;
  return Expect<protocol::BulkReply>(impl_->Call(query));
}
Result<std::vector<Client::PrincipalInfo>> Client::Principals(const std::string& action,
                                                              const PrincipalInfo& p) {
  auto r = Expect<protocol::PrincipalListReply>(impl_->Call(
      protocol::PrincipalsRequest{action, p.name, p.key, p.scopes, p.endpoints, p.types}));
  if (!r.ok()) return r.status();
  std::vector<PrincipalInfo> out;
  for (auto& e : r.value().principals)
    out.push_back({std::move(e.name), std::move(e.key), std::move(e.scopes),
                   std::move(e.endpoints), std::move(e.origin), std::move(e.types)});
  return out;
}

Result<std::vector<HandlerInfo>> Client::Types() {
  auto r = Expect<protocol::TypeListReply>(impl_->Call(protocol::TypesRequest{}));
  if (!r.ok()) return r.status();
  return std::move(r.value().handlers);
}

namespace {
Result<ScheduleInfo> ExpectOneSchedule(Result<protocol::Body> r) {
  auto l = Expect<protocol::ScheduleListReply>(std::move(r));
  if (!l.ok()) return l.status();
  if (l.value().schedules.size() != 1)
    return Status::Corruption("a schedule reply must hold one schedule, not " +
                              std::to_string(l.value().schedules.size()));
  return std::move(l.value().schedules.front());
}
}  // namespace

Result<ScheduleInfo> Client::AddSchedule(const ScheduleSpec& spec) {
  return ExpectOneSchedule(impl_->Call(protocol::ScheduleAddRequest{spec}));
}
Result<std::vector<ScheduleInfo>> Client::ListSchedules(std::vector<std::string>* unreachable,
                                                        bool local_only) {
  auto l = Expect<protocol::ScheduleListReply>(impl_->Call(protocol::ScheduleListRequest{local_only}));
  if (!l.ok()) return l.status();
  if (unreachable != nullptr) *unreachable = std::move(l.value().unreachable);
  return std::move(l.value().schedules);
}
Result<ScheduleInfo> Client::ChangeSchedule(const std::string& name, const std::string& action) {
  protocol::ScheduleChangeRequest req;
  req.name = name;
  auto parsed = protocol::ParseScheduleAction(action);
  if (!parsed)
    return Status::InvalidArgument("schedule action must be remove, pause or resume, not '" +
                                   action + "'");
  req.action = *parsed;
  return ExpectOneSchedule(impl_->Call(req));
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

Result<WorkerList> Client::Workers() {
  return Expect<protocol::WorkerListReply>(impl_->Call(protocol::WorkersRequest{}));
}

Result<WorkerList> Client::SetWorkers(uint32_t workers) {
  return Expect<protocol::WorkerListReply>(impl_->Call(protocol::WorkersSetRequest{workers}));
}

Result<WorkerList> Client::SetAutoscale(uint32_t min, uint32_t max, uint64_t target_wait_ms,
                                        uint64_t quiet_ms) {
  return Expect<protocol::WorkerListReply>(
      impl_->Call(protocol::WorkersAutoscaleRequest{min, max, target_wait_ms, quiet_ms}));
}

Result<QueueInfo> Client::SetQueue(const QueueUpdate& update) {
  auto r = Expect<protocol::QueueListReply>(impl_->Call(protocol::QueueSetRequest{update}));
  if (!r.ok()) return r.status();
  if (r.value().queues.size() != 1)
    return Status::Corruption("queue_set answered with " + std::to_string(r.value().queues.size()) +
                              " queues, not one");
  return std::move(r.value().queues[0]);
}
Result<std::vector<QueueInfo>> Client::Queues() {
  auto r = Expect<protocol::QueueListReply>(impl_->Call(protocol::QueuesRequest{}));
  if (!r.ok()) return r.status();
  return std::move(r.value().queues);
}

Result<EventPage> Client::Events(const EventQuery& query) {
  if (Status s = protocol::Validate(query); !s.ok()) return s;
  bool answered = false;  // no failover: another node's seqs mean other events
  return Expect<protocol::EventListReply>(impl_->CallOnce(query, query.wait_ms, &answered));
}

Result<std::string> Client::PutBlob(const std::string& data) {
  protocol::BlobPutRequest req;
  req.hash = base::Sha256Hex(data);
  req.size = data.size();
  bool restarted = false;
  uint64_t offset = 0;
  for (;;) {
    req.offset = offset;
    req.data = data.substr(offset, limits::kBlobChunkBytesMax);
    auto r = Expect<protocol::BlobStoredReply>(impl_->Call(req));
    if (!r.ok()) {
      // After a failover the new node has no upload under way: start again there, once.
      if (r.status().IsInvalidArgument() && offset != 0 && !restarted) {
        restarted = true;
        offset = 0;
        continue;
      }
      return r.status();
    }
    if (r.value().complete) return req.hash;
    // The node says how far it got: normally just past this chunk.
    if (r.value().received > data.size() || r.value().received % limits::kBlobChunkBytesMax != 0 ||
        r.value().received == 0)
      return Status::Corruption("blob_stored says " + std::to_string(r.value().received) +
                                " bytes received of " + std::to_string(data.size()));
    offset = r.value().received;
  }
}

Result<std::string> Client::GetBlob(const std::string& hash, const std::string& job) {
  std::string out;
  protocol::BlobGetRequest req{hash, 0, limits::kBlobChunkBytesMax, job};
  for (;;) {
    req.offset = out.size();
    auto r = Expect<protocol::BlobDataReply>(impl_->Call(req));
    if (!r.ok()) return r.status();
    if (r.value().offset != out.size() || r.value().size > limits::kBlobBytesMaxMax ||
        out.size() + r.value().data.size() > r.value().size)
      return Status::Corruption("blob_data does not continue the blob where asked");
    if (out.empty()) out.reserve(r.value().size);
    out += r.value().data;
    if (out.size() == r.value().size) break;
    if (r.value().data.empty()) return Status::Corruption("blob_data sent no bytes");
  }
  if (base::Sha256Hex(out) != hash)
    return Status::Corruption("the bytes received for blob " + hash + " do not have that hash");
  return out;
}

Result<uint64_t> Client::SendSubmit(const JobSpec& spec) {
  return impl_->Send(protocol::SubmitRequest{spec});
}
Result<uint64_t> Client::SendWait(const std::string& id, uint64_t timeout_ms) {
  return impl_->Send(protocol::WaitRequest{id, timeout_ms});
}

Result<Reply> Client::Receive(uint32_t timeout_ms) {
  return ReceiveFor(std::chrono::milliseconds(timeout_ms));
}

Result<Reply> Client::ReceiveFor(std::chrono::microseconds timeout) {
  auto env = impl_->Receive(timeout, /*watch_connection=*/false);
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
