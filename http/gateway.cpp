// The HTTP face: RESTinio routes on Asio threads, one ZeroMQ thread talking to the node.
#include "http/gateway.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <restinio/all.hpp>
#include <zmq.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/parse.hpp"
#include "client/json.hpp"
#include "http/event_streams.hpp"
#include "http/metrics.hpp"
#include "http/node_link.hpp"
#include "http/ui_assets.hpp"
#include "protocol/codec.hpp"
#include "protocol/counters.hpp"
#include "protocol/duration.hpp"
#include "protocol/messages.hpp"

namespace jobnet::http {

Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  auto bad = [&] {
    return Status::InvalidArgument("HTTP address '" + text + "': want ADDR:PORT, e.g. 127.0.0.1:7801");
  };
  auto hp = base::ParseHostPort(text);
  if (!hp) return bad();
  *host = hp->host;
  *port = hp->port;
  return Status::OK();
}

int HttpStatusOf(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kNotFound: return 404;
    case Code::kInvalidArgument: return 400;
    case Code::kTooLarge: return 413;
    case Code::kOverloaded: return 429;
    case Code::kUnavailable: return 503;
    case Code::kDraining: return 503;
    case Code::kTimeout: return 504;
    case Code::kConflict: return 409;
    case Code::kStorageFull: return 507;
    case Code::kPermissionDenied: return 403;
    case Code::kCorruption:          // the gateway wrote a frame the node could not read
    case Code::kUnsupportedVersion:  // or one of another version: both are our bugs
    case Code::kStorage:
    case Code::kLocked:
    case Code::kInternal: return 500;
  }
  return 500;
}

namespace {

using Json = nlohmann::json;
using Traits = ServerTraits;
using Request = restinio::request_handle_t;
using Params = restinio::router::route_params_t;

const char* ReasonOf(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Internal Server Error";
  }
}

// The face's own figures for /metrics (one face per process).
std::atomic<uint64_t> g_responses[6];  // by status class, [2] = 2xx ...
std::atomic<uint64_t> g_overloaded{0};

bool IsHead(const Request& req) { return req->header().method() == restinio::http_method_head(); }

// One extra header of a response (WWW-Authenticate of a 401, Allow of a 405), or none. `name`
// for a header RESTinio has no field for.
struct ExtraHeader {
  restinio::http_field_t field = restinio::http_field_t::field_unspecified;
  std::string value;  // empty: none
  const char* name = nullptr;
};

// Sends a response: its status, type and caching, the extra headers, and a body that is either
// `owned` or, when `fixed` is set, bytes that outlive every response (the dashboard's files,
// compiled in: sent without a copy). A HEAD request gets the headers GET would get,
// Content-Length included, and no body (RFC 9110 §9.3.2): a body there would be read as the
// start of the next response.
void Send(const Request& req, int status, const char* content_type, const char* cache_control,
          std::initializer_list<ExtraHeader> extra, std::string owned,
          const restinio::const_buffer_t* fixed = nullptr) {
  g_responses[status / 100 < 6 ? status / 100 : 5].fetch_add(1, std::memory_order_relaxed);
  restinio::http_status_line_t line{restinio::http_status_code_t{static_cast<uint16_t>(status)},
                                    ReasonOf(status)};
  auto r = req->create_response<restinio::user_controlled_output_t>(line);
  r.append_header(restinio::http_field::content_type, content_type)
      .append_header(restinio::http_field::cache_control, cache_control);
  for (const ExtraHeader& h : extra) {
    if (h.value.empty()) continue;
    if (h.name != nullptr)
      r.append_header(h.name, h.value);
    else
      r.append_header(h.field, h.value);
  }
  r.set_content_length(fixed != nullptr ? fixed->m_size : owned.size());
  if (!IsHead(req)) {
    if (fixed != nullptr)
      r.set_body(*fixed);
    else
      r.set_body(std::move(owned));
  }
  r.done();
}

void RespondText(const Request& req, int status, const char* content_type, std::string text,
                 ExtraHeader extra = {}) {
  Send(req, status, content_type, "no-store", {std::move(extra)}, std::move(text));
}

void Respond(const Request& req, int status, const Json& body, ExtraHeader extra = {}) {
  std::string text = body.dump(-1, ' ', false, jsonio::kInvalidUtf8Replaced);
  text.push_back('\n');
  RespondText(req, status, "application/json", std::move(text), extra);
}

// GET /ui/...: the dashboard's files from the binary (http/ui_assets), public (they hold no
// data: every figure comes from the API, with the viewer's token). A strict Content-Security-
// Policy: scripts, styles and connections to this node only.
void ServeUi(const Request& req, std::string path) {
  if (path == "/ui/") path = "/ui/index.html";
  const UiAsset* a = FindUiAsset(path);
  const std::initializer_list<ExtraHeader> headers = {
      {{}, "nosniff", "X-Content-Type-Options"},
      {{}, "no-referrer", "Referrer-Policy"},
      {{},
       "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
       "Content-Security-Policy"}};
  if (a == nullptr)
    return Send(req, 404, "text/plain; charset=utf-8", "no-cache", headers,
                "no dashboard file " + path + "\n");
  const restinio::const_buffer_t bytes = restinio::const_buffer(a->data, a->size);
  Send(req, 200, a->content_type, "no-cache", headers, {}, &bytes);
}

void RespondError(const Request& req, const Status& s) {
  Respond(req, HttpStatusOf(s.code()), jsonio::ErrorToJson(s));
}

// The query parameters of `req`, or kInvalidArgument.
Result<std::map<std::string, std::string>> QueryOf(const Request& req) {
  std::map<std::string, std::string> out;
  try {
    auto qp = restinio::parse_query(req->header().query());
    for (const auto& [k, v] : qp) out[std::string(k)] = std::string(v);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad query string: ") + e.what());
  }
  return out;
}

// A JSON body other than a job spec or a batch (queue settings, the pool size): within the same
// nesting bound as everything else the face reads.
Result<Json> Body(const Request& req) {
  return jsonio::ParseJson(req->body(), limits::kPayloadDepthMax + 1, "the body");
}

// Whether `req` is known to be HTTP/1.1. RESTinio does not pass the request's version on, but
// it does pass http_parser's keep-alive verdict: a request kept alive without asking for it
// (no "Connection: keep-alive", which only HTTP/1.0 needs) is HTTP/1.1. An HTTP/1.1 request
// that says "Connection: close" or "keep-alive" is not recognised, and is let through without
// Host as an HTTP/1.0 one would be: lenient, never a false 400 for HTTP/1.0 probes.
bool SurelyHttp11(const Request& req) {
  const auto& h = req->header();
  if (!h.should_keep_alive()) return false;
  std::string connection(h.get_field_or("Connection", ""));
  for (char& c : connection) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return connection.find("keep-alive") == std::string::npos;
}

Result<bool> BoolParam(const std::map<std::string, std::string>& q, const std::string& name) {
  auto it = q.find(name);
  if (it == q.end() || it->second == "false" || it->second == "0") return false;
  if (it->second == "true" || it->second == "1" || it->second.empty()) return true;
  return Status::InvalidArgument(name + " must be true or false");
}

}  // namespace


struct Gateway::Impl {
  GatewayOptions opt;
  std::string url;
  std::unique_ptr<NodeLink> link;
  std::optional<restinio::running_server_handle_t<Traits>> server;
  std::atomic<bool> draining{false};

  Status Overloaded() const {
    return Status::Overloaded("the HTTP face holds " + std::to_string(opt.requests_max) +
                              " requests, its limit: retry later");
  }

  // Sends `body` to the node. `then` gets the reply, or the error (an error reply's code, or
  // kTimeout when the node did not answer within `timeout_ms`). Over the limit of held
  // requests `req` is answered 429 at once.
  void Call(const Request& req, protocol::Body body, uint64_t timeout_ms,
            std::function<void(Result<protocol::Body>)> then) {
    if (!link->Call(std::move(body), timeout_ms, std::move(then))) {
      g_overloaded.fetch_add(1, std::memory_order_relaxed);
      RespondError(req, Overloaded());
    }
  }

  // As Call, with errors answered from their code; `then` sees good replies only.
  void CallOk(const Request& req, protocol::Body body, uint64_t timeout_ms,
              std::function<void(protocol::Body&)> then) {
    Call(req, std::move(body), timeout_ms,
         [req, then = std::move(then)](Result<protocol::Body> r) {
           if (!r.ok()) return RespondError(req, r.status());
           then(r.value());
         });
  }

  // Answers with the job of a status, cancel or retry request (`status` on success).
  // `extra` fields (an object) are added to the job's JSON.
  void JobRequest(const Request& req, protocol::Body body, int status,
                  uint64_t answer_ms = limits::kHttpNodeAnswerMs, Json extra = Json::object()) {
    CallOk(req, std::move(body), answer_ms, [req, status, extra](protocol::Body& b) {
      if (auto* j = std::get_if<protocol::JobReply>(&b)) {
        Json o = jsonio::JobToJson(j->job);
        o.update(extra);
        return Respond(req, status, o);
      }
      RespondError(req, Status::Internal("unexpected reply kind from the node"));
    });
  }

  // Holds `req` until job `id` is final (200) or `wait_ms` passes (202, the job as it stands).
  void WaitFor(const Request& req, const std::string& id, uint64_t wait_ms) {
    Call(req, protocol::WaitRequest{id, wait_ms}, wait_ms + limits::kHttpNodeAnswerMs,
         [this, req, id](Result<protocol::Body> r) {
           if (r.ok()) {
             if (auto* j = std::get_if<protocol::JobReply>(&r.value()))
               return Respond(req, 200, jsonio::JobToJson(j->job));
             return RespondError(req, Status::Internal("unexpected reply kind to wait"));
           }
           if (r.status().IsTimeout()) return JobRequest(req, protocol::StatusRequest{id}, 202);
           RespondError(req, r.status());
         });
  }

  void PostJob(const Request& req) {
    auto q = QueryOf(req);
    if (!q.ok()) return RespondError(req, q.status());
    auto wait = BoolParam(q.value(), "wait");
    if (!wait.ok()) return RespondError(req, wait.status());
    uint64_t wait_ms = limits::kWaitTimeoutMsDefault;
    if (auto it = q.value().find("timeout"); it != q.value().end()) {
      auto d = ParseDurationMs(it->second);
      if (!d.ok() || d.value() == 0 || d.value() > limits::kWaitTimeoutMsMax)
        return RespondError(req, Status::InvalidArgument(
                                     "timeout must be a duration from 1ms to " +
                                     std::to_string(limits::kWaitTimeoutMsMax / 1000) + "s, e.g. 30s"));
      wait_ms = d.value();
    }
    // Parsed within the nesting bound and checked as the node would: a bad spec is answered
    // here at once (400, 413), never by a timeout.
    auto spec = jsonio::JobSpecFromJsonText(req->body());
    if (!spec.ok()) return RespondError(req, spec.status());
    bool do_wait = wait.value();
    CallOk(req, protocol::SubmitRequest{std::move(spec.value())}, limits::kHttpWriteAnswerMs,
           [this, req, do_wait, wait_ms](protocol::Body& b) {
             auto* a = std::get_if<protocol::AcceptedReply>(&b);
             if (a == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to submit"));
             if (do_wait) return WaitFor(req, a->id, wait_ms);
             // 201 for a new job (a reused result's too); 200 when an idempotency key matched
             // an existing job or a reuse submit joined an identical one (coalesced: true).
             bool existing = a->duplicate || a->coalesced;
             JobRequest(req, protocol::StatusRequest{a->id}, existing ? 200 : 201,
                        limits::kHttpNodeAnswerMs,
                        a->coalesced ? Json{{"coalesced", true}} : Json::object());
           });
  }

  // A whole flow (docs/protocol.md §23): every job or none, answered with the ids by name.
  void PostFlow(const Request& req) {
    auto jobs = jsonio::FlowFromJsonText(req->body());
    if (!jobs.ok()) return RespondError(req, jobs.status());
    CallOk(req, protocol::SubmitFlowRequest{std::move(jobs.value())}, limits::kHttpWriteAnswerMs,
           [req](protocol::Body& b) {
             auto* a = std::get_if<protocol::FlowAcceptedReply>(&b);
             if (a == nullptr)
               return RespondError(req, Status::Internal("unexpected reply kind to submit_flow"));
             Respond(req, 201, jsonio::FlowResultToJson(a->flow));
           });
  }

  // The jobs of the flow job `id` is in (consecutive ids from the flow's first), each asked of
  // its owner in turn: {"flow": id or null, "jobs": [Job...]}.
  struct FlowRun {
    std::string flow;
    std::string node;
    uint64_t next_seq = 0;
    Json jobs = Json::array();
  };
  void GetFlow(const Request& req, const std::string& id) {
    CallOk(req, protocol::StatusRequest{id}, limits::kHttpNodeAnswerMs, [this, req](protocol::Body& b) {
      auto* j = std::get_if<protocol::JobReply>(&b);
      if (j == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to status"));
      auto run = std::make_shared<FlowRun>();
      run->flow = j->job.flow;
      auto first = protocol::ParseJobId(run->flow);
      if (run->flow.empty() || !first.ok()) {
        run->jobs.push_back(jsonio::JobToJson(j->job));
        return Respond(req, 200, Json{{"flow", nullptr}, {"jobs", std::move(run->jobs)}});
      }
      run->node = first.value().node;
      run->next_seq = first.value().seq;
      NextFlowJob(req, run);
    });
  }
  void NextFlowJob(const Request& req, const std::shared_ptr<FlowRun>& run) {
    if (run->jobs.size() >= limits::kFlowJobsMax)
      return Respond(req, 200, Json{{"flow", run->flow}, {"jobs", std::move(run->jobs)}});
    Call(req, protocol::StatusRequest{protocol::MakeJobId(run->node, run->next_seq++)},
         limits::kHttpNodeAnswerMs, [this, req, run](Result<protocol::Body> r) {
           auto* j = r.ok() ? std::get_if<protocol::JobReply>(&r.value()) : nullptr;
           if (j == nullptr || j->job.flow != run->flow)  // past its last job
             return Respond(req, 200, Json{{"flow", run->flow}, {"jobs", std::move(run->jobs)}});
           run->jobs.push_back(jsonio::JobToJson(j->job));
           NextFlowJob(req, run);
         });
  }

  // Up to kBatchSpecsMax specs (a JSON array) in one submit_batch: one fsync; a bad spec gets
  // its own error at once and does not fail its neighbours. Only the good specs go to the node,
  // in as few submit_batch requests as fit a frame each (limits::kBatchFrameSpecBytesMax), one
  // after the other, in order.
  struct BatchRun {
    std::vector<Json> items;                          // the answer, in spec order
    std::vector<std::pair<size_t, JobSpec>> pending;  // good specs to send, with their index
    size_t sent = 0;                                  // pending[0, sent) were answered
  };

  void PostBatch(const Request& req) {
    auto specs = jsonio::BatchFromJsonText(req->body());
    if (!specs.ok()) return RespondError(req, specs.status());
    auto run = std::make_shared<BatchRun>();
    run->items.resize(specs.value().size());
    for (size_t i = 0; i < specs.value().size(); ++i) {
      auto& spec = specs.value()[i];
      if (spec.ok()) {
        run->pending.emplace_back(i, std::move(spec.value()));
      } else {
        run->items[i] = jsonio::ErrorToJson(spec.status());
      }
    }
    SendBatchPart(req, run);
  }

  void SendBatchPart(const Request& req, const std::shared_ptr<BatchRun>& run) {
    if (run->sent == run->pending.size())
      return Respond(req, 200, Json{{"items", std::move(run->items)}});
    protocol::SubmitBatchRequest part;
    uint64_t bytes = 0;
    for (size_t k = run->sent; k < run->pending.size(); ++k) {
      uint64_t size = protocol::BatchSpecBytes(run->pending[k].second);
      if (!part.specs.empty() && bytes + size > limits::kBatchFrameSpecBytesMax) break;
      bytes += size;
      part.specs.push_back(protocol::BatchSpec{run->pending[k].second, Status::OK()});
    }
    const size_t first = run->sent, count = part.specs.size();
    Call(req, std::move(part), limits::kHttpWriteAnswerMs,
         [this, req, run, first, count](Result<protocol::Body> r) {
           auto* reply = r.ok() ? std::get_if<protocol::BatchAcceptedReply>(&r.value()) : nullptr;
           Status failed = !r.ok()            ? r.status()
                           : reply == nullptr ? Status::Internal("unexpected reply kind to submit_batch")
                           : reply->items.size() != count
                               ? Status::Internal("submit_batch answered " +
                                                  std::to_string(reply->items.size()) +
                                                  " items for " + std::to_string(count))
                               : Status::OK();
           // Nothing taken yet: the request failed as a whole, as a single submit would.
           if (!failed.ok() && first == 0) return RespondError(req, failed);
           for (size_t k = 0; k < count; ++k) {
             Json& item = run->items[run->pending[first + k].first];
             if (!failed.ok()) {
               item = jsonio::ErrorToJson(failed);
             } else if (reply->items[k].status.ok()) {
               item = jsonio::SubmitResultToJson(reply->items[k].submitted);
             } else {
               item = jsonio::ErrorToJson(reply->items[k].status);
             }
           }
           run->sent = first + count;
           if (!failed.ok()) {  // an earlier part was taken: the rest is answered, not sent
             for (size_t k = run->sent; k < run->pending.size(); ++k)
               run->items[run->pending[k].first] = jsonio::ErrorToJson(failed);
             run->sent = run->pending.size();
           }
           SendBatchPart(req, run);
         });
  }

  // GET /api/jobs/{id}/result: a succeeded job's result blob (its bytes, with the content type
  // of its `format`) when the result names one ({"blob": hash}), else its result as JSON. 409
  // for a job that has not succeeded.
  void JobResult(const Request& req, const std::string& id) {
    CallOk(req, protocol::StatusRequest{id}, limits::kHttpNodeAnswerMs, [this, req, id](protocol::Body& b) {
      auto* j = std::get_if<protocol::JobReply>(&b);
      if (j == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to status"));
      if (j->job.state != JobState::kSucceeded)
        return RespondError(req, Status::Conflict("job " + id + " is " + JobStateName(j->job.state) +
                                                  ": only a succeeded job has a result"));
      Json result = jsonio::MsgpackToJson(j->job.result);
      if (!(result.is_object() && result.contains("blob") && result["blob"].is_string()))
        return Respond(req, 200, result);
      std::string format = result.value("format", "");
      const char* type = format == "png"    ? "image/png"
                         : format == "jpeg" ? "image/jpeg"
                         : format == "webp" ? "image/webp"
                                            : "application/octet-stream";
      FetchBlob(req, result["blob"].get<std::string>(), id, type, std::make_shared<std::string>());
    });
  }

  // Reads blob `hash` chunk after chunk into *bytes (blob_get names the job, so a node that does
  // not own it forwards), then answers with the bytes. A blob is at most kBlobBytesMaxMax, held
  // once per request: the HTTP face's request cap bounds how many.
  void FetchBlob(const Request& req, const std::string& hash, const std::string& job,
                 const char* type, std::shared_ptr<std::string> bytes) {
    protocol::BlobGetRequest get{hash, bytes->size(), limits::kBlobChunkBytesMax, job};
    CallOk(req, get, limits::kHttpNodeAnswerMs, [this, req, hash, job, type, bytes](protocol::Body& b) {
      auto* d = std::get_if<protocol::BlobDataReply>(&b);
      if (d == nullptr || d->offset != bytes->size() || bytes->size() + d->data.size() > d->size ||
          (d->data.empty() && bytes->size() != d->size))
        return RespondError(req, Status::Internal("unexpected reply to blob_get"));
      *bytes += d->data;
      if (bytes->size() < d->size) return FetchBlob(req, hash, job, type, bytes);
      RespondText(req, 200, type, std::move(*bytes));
    });
  }

  // A queue_list reply as {"queues": [...]}, or the one queue of a queue_set.
  static void RespondQueues(const Request& req, protocol::Body& b, bool one) {
    auto* l = std::get_if<protocol::QueueListReply>(&b);
    if (l == nullptr) return RespondError(req, Status::Internal("unexpected reply kind for queues"));
    if (one && l->queues.size() == 1) return Respond(req, 200, jsonio::QueueToJson(l->queues[0]));
    Json qs = Json::array();
    for (const auto& q : l->queues) qs.push_back(jsonio::QueueToJson(q));
    Respond(req, 200, Json{{"queues", std::move(qs)}});
  }

  // PUT /api/queues/{name}: {"order": "fifo"|"lifo", "concurrency": N, "rate": N, "weight": W,
  // "paused": bool}, each optional; pause and resume set `paused`.
  void SetQueue(const Request& req, const std::string& name, std::optional<bool> paused) {
    protocol::QueueUpdate u;
    u.name = name;
    u.paused = paused;
    if (!paused) {
      auto parsed = Body(req);
      if (!parsed.ok() || !parsed.value().is_object())
        return RespondError(req, Status::InvalidArgument("the body must be a JSON object of queue settings"));
      const Json& body = parsed.value();
      for (auto it = body.begin(); it != body.end(); ++it) {
        const std::string& k = it.key();
        const Json& v = it.value();
        auto number = [&](std::optional<uint32_t>* out) {
          if (!v.is_number_unsigned()) return false;
          *out = static_cast<uint32_t>(std::min<uint64_t>(v.get<uint64_t>(), UINT32_MAX));
          return true;
        };
        bool ok = true;
        if (k == "order") {
          auto o = v.is_string() ? ParseQueueOrder(v.get<std::string>()) : std::nullopt;
          ok = o.has_value();
          u.order = o;
        } else if (k == "concurrency") {
          ok = number(&u.concurrency);
        } else if (k == "rate") {
          ok = number(&u.rate);
        } else if (k == "weight") {
          ok = number(&u.weight);
        } else if (k == "paused") {
          ok = v.is_boolean();
          if (ok) u.paused = v.get<bool>();
        } else {
          return RespondError(req, Status::InvalidArgument(
                                       "unknown queue setting '" + k +
                                       "' (known: order, concurrency, rate, weight, paused)"));
        }
        if (!ok)
          return RespondError(req, Status::InvalidArgument(
                                       k == "order" ? "order must be \"fifo\" or \"lifo\""
                                       : k == "paused" ? "paused must be true or false"
                                                       : k + " must be a non-negative integer"));
      }
    }
    CallOk(req, protocol::QueueSetRequest{u}, limits::kHttpWriteAnswerMs,
           [req](protocol::Body& b) { RespondQueues(req, b, true); });
  }

  void Workers(const Request& req, std::optional<uint32_t> resize) {
    protocol::Body body = protocol::WorkersRequest{};
    if (resize) body = protocol::WorkersSetRequest{*resize};
    WorkersCall(req, std::move(body));
  }

  // Autoscaling (docs/operations.md §13): {"min": N, "max": M, "target_wait"?: duration,
  // "quiet"?: duration}; min 0 (and max 0) turns it off. Answered as GET /api/workers.
  void PutAutoscale(const Request& req) {
    auto parsed = Body(req);
    if (!parsed.ok()) return RespondError(req, parsed.status());
    const Json& body = parsed.value();
    const auto bad = Status::InvalidArgument(
        "the body must be {\"min\": N, \"max\": M} with 1 <= N <= M <= " +
        std::to_string(limits::kWorkersMax) +
        " (both 0: off), and optionally \"target_wait\" and \"quiet\" durations (\"2s\")");
    if (!body.is_object() || !body.contains("min") || !body.contains("max")) return RespondError(req, bad);
    protocol::WorkersAutoscaleRequest a;
    for (auto it = body.begin(); it != body.end(); ++it) {
      const std::string& k = it.key();
      const Json& v = it.value();
      if (k == "min" || k == "max") {
        if (!v.is_number_unsigned() || v.get<uint64_t>() > limits::kWorkersMax) return RespondError(req, bad);
        (k == "min" ? a.min : a.max) = static_cast<uint32_t>(v.get<uint64_t>());
      } else if (k == "target_wait" || k == "quiet") {
        auto d = v.is_string() ? ParseDurationMs(v.get<std::string>())
                               : Result<uint64_t>(Status::InvalidArgument("not a string"));
        if (!d.ok()) return RespondError(req, bad);
        (k == "target_wait" ? a.target_wait_ms : a.quiet_ms) = d.value();
      } else {
        return RespondError(req, Status::InvalidArgument(
                                     "unknown field '" + k.substr(0, 64) +
                                     "' (known: min, max, target_wait, quiet)"));
      }
    }
    WorkersCall(req, std::move(a));  // the node checks min <= max and the rest
  }

  void WorkersCall(const Request& req, protocol::Body body) {
    CallOk(req, std::move(body), limits::kHttpWriteAnswerMs, [req](protocol::Body& b) {
      auto* l = std::get_if<protocol::WorkerListReply>(&b);
      if (l == nullptr) return RespondError(req, Status::Internal("unexpected reply kind for workers"));
      Json slots = Json::array();
      for (const auto& w : l->slots) slots.push_back(jsonio::WorkerSlotToJson(w));
      Json external = Json::array();
      for (const auto& w : l->external) external.push_back(jsonio::ExternalWorkerToJson(w));
      Json autoscale = l->autoscale_min == 0
                           ? Json(nullptr)
                           : Json{{"min", l->autoscale_min}, {"max", l->autoscale_max}};
      Respond(req, 200, Json{{"node", l->node},
                             {"workers", l->workers},
                             {"slots", std::move(slots)},
                             {"external", std::move(external)},
                             {"autoscale", std::move(autoscale)}});
    });
  }

  void PostWorkers(const Request& req) {
    auto parsed = Body(req);
    const Json* body = parsed.ok() ? &parsed.value() : nullptr;
    // Only `workers`: any other field is refused, as in every other JSON body of the face.
    if (body == nullptr || !body->is_object() || body->size() != 1 || !body->contains("workers") ||
        !(*body)["workers"].is_number_unsigned())
      return RespondError(req, Status::InvalidArgument(
                                   "the body must be {\"workers\": N} with N in 1.." +
                                   std::to_string(limits::kWorkersMax) + ", and no other field"));
    uint64_t n = (*body)["workers"].get<uint64_t>();
    Workers(req, static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX)));  // the node checks the bounds
  }

  // Unregisters an external worker (docs/protocol.md "External workers"): the jobs it holds go
  // back to their queues at once. The id is the one worker_register answered.
  void DeleteWorker(const Request& req, const std::string& id) {
    auto parsed = base::ParseUint(id);
    if (!parsed)
      return RespondError(req, Status::InvalidArgument(
                                   "'" + id + "' is not an external worker id (a number, as "
                                   "worker_register answered)"));
    const uint64_t worker = *parsed;
    CallOk(req, protocol::WorkerUnregisterRequest{worker}, limits::kHttpWriteAnswerMs,
           [req, worker](protocol::Body&) {
             Respond(req, 200, Json{{"worker", worker}, {"unregistered", true}});
           });
  }

  void ListJobs(const Request& req) {
    auto q = QueryOf(req);
    if (!q.ok()) return RespondError(req, q.status());
    protocol::ListRequest lr;
    for (const auto& [k, v] : q.value()) {
      if (k == "state") {
        auto st = protocol::ParseJobState(v);
        if (!st) return RespondError(req, Status::InvalidArgument("unknown state '" + v + "'"));
        lr.state = *st;
      } else if (k == "queue") {
        lr.queue = v;
      } else if (k == "type") {
        lr.type = v;
      } else if (k == "after") {
        lr.after = v;
      } else if (k == "limit") {
        auto n = base::ParseUint(v, UINT32_MAX);
        if (!n) return RespondError(req, Status::InvalidArgument("limit must be a number"));
        lr.limit = static_cast<uint32_t>(*n);  // the node checks the bounds
      } else if (k == "created_from" || k == "created_to") {
        auto ms = base::ParseUint(v);
        if (!ms) return RespondError(req, Status::InvalidArgument(k + " must be Unix milliseconds"));
        (k == "created_from" ? lr.created_from_ms : lr.created_to_ms) = *ms;
      } else {
        return RespondError(req, Status::InvalidArgument(
                                     "unknown query parameter '" + k +
                                     "' (known: state, queue, type, after, limit, created_from, "
                                     "created_to)"));
      }
    }
    CallOk(req, std::move(lr), limits::kHttpNodeAnswerMs, [req](protocol::Body& b) {
      auto* l = std::get_if<protocol::JobListReply>(&b);
      if (l == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to list"));
      Json jobs = Json::array();
      for (const auto& j : l->jobs) jobs.push_back(jsonio::JobToJson(j));
      Json out{{"jobs", std::move(jobs)}};
      // The cursor for the next page: pass it as `after`.
      out["next"] = l->jobs.empty() ? Json(nullptr) : Json(l->jobs.back().id);
      Respond(req, 200, out);
    });
  }

  void Nodes(const Request& req) {
    CallOk(req, protocol::StatsRequest{}, limits::kHttpNodeAnswerMs, [req](protocol::Body& b) {
      auto* st = std::get_if<protocol::StatsReply>(&b);
      if (st == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to stats"));
      Json nodes = Json::array();
      nodes.push_back({{"node", st->node}, {"endpoint", st->endpoint}, {"state", "alive"},
                       {"self", true}, {"incarnation", st->incarnation}, {"workers", st->workers},
                       {"busy", st->busy}, {"uptime_ms", st->uptime_ms}, {"jobs", st->jobs}});
      for (const auto& p : st->peers)
        nodes.push_back({{"node", p.node}, {"endpoint", p.endpoint}, {"state", p.state},
                         {"self", false}, {"incarnation", p.incarnation}, {"workers", p.workers},
                         {"free", p.free}, {"queued", p.queued}, {"last_seen", p.last_seen_ms},
                         {"leases", p.leases}});
      Respond(req, 200, Json{{"nodes", std::move(nodes)}});
    });
  }

  // Live: the node answers a stats request (its scheduler and journal are turning).
  // A probe: one stats request given kHttpProbeMs. No (good) answer is 503 "unavailable";
  // otherwise `judge` answers from the stats.
  template <class Judge>
  void Probe(const Request& req, Judge judge) {
    Call(req, protocol::StatsRequest{}, limits::kHttpProbeMs,
         [req, judge](Result<protocol::Body> r) {
           if (!r.ok())
             return Respond(req, 503, Json{{"status", "unavailable"}, {"error", r.status().message()}});
           auto* st = std::get_if<protocol::StatsReply>(&r.value());
           if (st == nullptr) return Respond(req, 503, Json{{"status", "unavailable"}});
           judge(*st);
         });
  }

  void Health(const Request& req) {
    Probe(req, [req](const protocol::StatsReply& st) {
      Respond(req, 200, Json{{"status", "ok"}, {"node", st.node}, {"uptime_ms", st.uptime_ms}});
    });
  }

  // Two requests: stats, then the node's queue list (for jobs by queue and state and the oldest
  // wait). Without the second answer the exposition goes out without those families.
  void Metrics(const Request& req) {
    CallOk(req, protocol::StatsRequest{}, limits::kHttpNodeAnswerMs, [this, req](protocol::Body& b) {
      auto* st = std::get_if<protocol::StatsReply>(&b);
      if (st == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to stats"));
      auto stats = std::make_shared<protocol::StatsReply>(std::move(*st));
      Call(req, protocol::QueuesRequest{}, limits::kHttpNodeAnswerMs,
           [this, req, stats](Result<protocol::Body> r) {
             std::vector<QueueInfo> queues;
             if (r.ok())
               if (auto* l = std::get_if<protocol::QueueListReply>(&r.value())) queues = std::move(l->queues);
             FaceCounters face;
             face.held = link->outstanding();
             // 2xx, 4xx and 5xx are exported from the start, at 0 (docs/http.md §6); this face
             // sends no 1xx or 3xx, which show only if one was sent.
             for (int c = 1; c < 6; ++c) {
               uint64_t n = g_responses[c].load(std::memory_order_relaxed);
               if (n != 0 || c == 2 || c == 4 || c == 5) face.responses[c] = n;
             }
             face.overloaded = g_overloaded.load(std::memory_order_relaxed);
             RespondText(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                         RenderMetrics(*stats, queues, face));
           });
    });
  }

  // Ready for work: live, not draining, and the journal takes writes (not a full disk). A node
  // still recovering does not answer yet: 503 after kHttpProbeMs.
  void Ready(const Request& req) {
    if (draining.load()) return Respond(req, 503, Json{{"status", "draining"}});
    Probe(req, [req](const protocol::StatsReply& st) {
      auto full = st.counters.find(protocol::CounterName(protocol::Counter::kJournalFull));
      if (full != st.counters.end() && full->second != 0)
        return Respond(req, 503, Json{{"status", "storage_full"}, {"node", st.node}});
      Respond(req, 200, Json{{"status", "ready"}, {"node", st.node}});
    });
  }

  // GET /api/schedules: the cluster's schedules (as `jobnet schedule list`); POST
  // /api/schedules/{name}/pause|resume changes one (admin).
  static void RespondSchedules(const Request& req, protocol::Body& b, bool one) {
    auto* r = std::get_if<protocol::ScheduleListReply>(&b);
    if (r == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to schedules"));
    if (one) {
      if (r->schedules.empty()) return RespondError(req, Status::NotFound("no such schedule"));
      return Respond(req, 200, jsonio::ScheduleToJson(r->schedules.front()));
    }
    Json list = Json::array();
    for (const auto& sch : r->schedules) list.push_back(jsonio::ScheduleToJson(sch));
    Respond(req, 200, Json{{"schedules", list}, {"unreachable", r->unreachable}});
  }
  void ChangeSchedule(const Request& req, const std::string& name, protocol::ScheduleAction a) {
    CallOk(req, protocol::ScheduleChangeRequest{name, a}, limits::kHttpWriteAnswerMs,
           [req](protocol::Body& b) { RespondSchedules(req, b, true); });
  }

  // GET /api/whoami: the caller's token (its name) and what it may do here, so a page can hide
  // the controls it may not use (the face still checks every request).
  void WhoAmI(const Request& req) {
    std::string authz(req->header().get_field_or(restinio::http_field::authorization, ""));
    const int64_t now_s = static_cast<int64_t>(base::WallMs() / 1000);
    std::string who, why;
    uint8_t scopes = 0;  // one check of the token (a JWT's signature is verified once)
    if (Identify(opt.tokens, opt.jwt.get(), authz, now_s, &who, &scopes, &why) != AuthResult::kAllowed)
      scopes = 0;
    const bool changes = !opt.read_only;
    Respond(req, 200, Json{{"name", who.empty() ? Json(nullptr) : Json(who)},
                           {"tokens", !opt.tokens.empty() || opt.jwt != nullptr},
                           {"read_only", opt.read_only},
                           {"write", changes && (scopes & protocol::kScopeWrite) != 0},
                           {"admin", changes && (scopes & protocol::kScopeAdmin) != 0}});
  }

  // POST /api/jobs/bulk: {"action": "retry"|"cancel", "queue": Q, "type"?: T, "state"?: S} on this
  // node's jobs (the bulk message of docs/protocol.md: a cancel needs its state); answers
  // {"touched", "matched"}.
  void PostBulk(const Request& req) {
    auto parsed = Body(req);
    const Json* b = parsed.ok() ? &parsed.value() : nullptr;
    const Status bad = Status::InvalidArgument(
        "the body must be {\"action\": \"retry\"|\"cancel\", \"queue\": NAME, \"type\"?: NAME, "
        "\"state\"?: STATE} and no other field");
    if (b == nullptr || !b->is_object()) return RespondError(req, bad);
    protocol::BulkRequest q;
    for (const auto& [k, v] : b->items()) {
      if (!v.is_string()) return RespondError(req, bad);
      const std::string s = v.get<std::string>();
      if (k == "action" && (s == "retry" || s == "cancel")) {
        q.action = s == "retry" ? BulkAction::kRetry : BulkAction::kCancel;
      } else if (k == "queue") {
        q.queue = s;
      } else if (k == "type") {
        q.type = s;
      } else if (k == "state" && ParseJobState(s)) {
        q.state = ParseJobState(s);
      } else {
        return RespondError(req, bad);
      }
    }
    if (!b->contains("action") || q.queue.empty()) return RespondError(req, bad);
    if (Status v = protocol::Validate(q); !v.ok()) return RespondError(req, v);
    CallOk(req, q, limits::kHttpWriteAnswerMs, [req](protocol::Body& body) {
      auto* r = std::get_if<protocol::BulkReply>(&body);
      if (r == nullptr) return RespondError(req, Status::Internal("unexpected reply kind to bulk"));
      Respond(req, 200, Json{{"touched", r->touched}, {"matched", r->matched}});
    });
  }

  // ---- GET /api/events (server-sent events) and GET /api/ws (WebSocket): http/event_streams ----
  std::atomic<uint32_t> event_streams{0};

  // The query both streams take: queue, job, since (and type, access_token for /api/ws).
  Status ParseEventQuery(const Request& req, bool websocket, StreamSetup* out) {
    auto qp = QueryOf(req);
    if (!qp.ok()) return qp.status();
    protocol::EventQuery& q = out->query;
    for (const auto& [k, v] : qp.value()) {
      if (k == "queue") {
        q.queue = v;
      } else if (k == "job") {
        // As GET /api/jobs/{id}: a job id or 400, not a stream that can never show an event.
        if (!protocol::ParseJobId(v).ok())
          return Status::InvalidArgument("job must be a job id (<node>-<number>), not '" + v + "'");
        q.job = v;
      } else if (k == "since") {
        auto n = base::ParseUint(v);
        if (websocket && v == "now") {
          out->from_now = true;
        } else if (!n) {
          return Status::InvalidArgument(std::string("since must be an event seq (a number") +
                                         (websocket ? " or now)" : ")"));
        } else {
          q.since = *n;
        }
      } else if (websocket && k == "type") {
        if (!protocol::IsValidName(v, limits::kTypeNameBytesMax))
          return Status::InvalidArgument("type must match " +
                                         protocol::NamePattern(limits::kTypeNameBytesMax));
        out->type = v;
      } else if (!(websocket && k == "access_token")) {
        return Status::InvalidArgument("unknown query parameter '" + k + "' (known: queue, job, since" +
                                       (websocket ? ", type, access_token)" : ")"));
      }
    }
    // A reconnecting EventSource sends the last id it saw; it wins over the URL's since.
    std::string last_id(req->header().get_field_or("Last-Event-ID", ""));
    if (!websocket && !last_id.empty()) {
      auto n = base::ParseUint(last_id);
      if (!n) return Status::InvalidArgument("Last-Event-ID must be an event seq");
      q.since = *n;
    }
    q.max = limits::kEventsPerReplyMax;
    q.wait_ms = limits::kHttpEventHeartbeatMs;
    if (Status s = protocol::Validate(q); !s.ok()) return s;
    out->poll = [this](const protocol::EventQuery& eq, std::function<void(Result<protocol::Body>)> done) {
      return link->Call(eq, eq.wait_ms + limits::kHttpNodeAnswerMs, std::move(done))
                 ? Status::OK()
                 : Overloaded();
    };
    out->ended = [this] { event_streams.fetch_sub(1); };
    return Status::OK();
  }

  // One of the face's kHttpEventStreamsMax streams (SSE and WebSocket together), or 429.
  bool TakeStream(const Request& req) {
    if (event_streams.fetch_add(1) < limits::kHttpEventStreamsMax) return true;
    event_streams.fetch_sub(1);
    g_overloaded.fetch_add(1, std::memory_order_relaxed);
    RespondError(req, Status::Overloaded("the HTTP face serves " +
                                         std::to_string(limits::kHttpEventStreamsMax) +
                                         " event streams, its limit: retry later"));
    return false;
  }

  void Events(const Request& req) {
    StreamSetup setup;
    if (Status s = ParseEventQuery(req, /*websocket=*/false, &setup); !s.ok())
      return RespondError(req, s);
    // A stream has no length to state and no end to send without a body: HEAD is refused.
    if (IsHead(req))
      return Respond(req, 405,
                     Json{{"error", {{"code", "method_not_allowed"},
                                     {"message", "the event stream answers GET only: a HEAD "
                                                 "response cannot state its length"}}}},
                     ExtraHeader{restinio::http_field::allow, "GET"});
    if (!TakeStream(req)) return;
    g_responses[2].fetch_add(1, std::memory_order_relaxed);
    StreamServerSentEvents(req, std::move(setup));
  }

  void WebSocket(const Request& req) {
    if (IsHead(req))
      return Respond(req, 405,
                     Json{{"error", {{"code", "method_not_allowed"},
                                     {"message", "GET /api/ws is a WebSocket: HEAD cannot open one"}}}},
                     ExtraHeader{restinio::http_field::allow, "GET"});
    bool not_websocket = false;
    if (Status s = CheckWebSocketHandshake(req, &not_websocket); !s.ok()) {
      if (!not_websocket) return RespondError(req, s);
      return Respond(req, 426,
                     Json{{"error", {{"code", "upgrade_required"}, {"message", s.message()}}}},
                     ExtraHeader{restinio::http_field::sec_websocket_version, "13"});
    }
    StreamSetup setup;
    if (Status s = ParseEventQuery(req, /*websocket=*/true, &setup); !s.ok())
      return RespondError(req, s);
    if (!TakeStream(req)) return;
    g_responses[1].fetch_add(1, std::memory_order_relaxed);  // 101 Switching Protocols
    StreamWebSocket(req, std::move(setup));
  }

  // Whether `req` may go on; if not, it is answered. An HTTP/1.1 request without Host is 400
  // (RFC 9112 §3.2). With tokens or JWTs configured, a request without a valid one is 401 (on
  // every path but the public ones, unknown routes included: they tell nothing to a stranger),
  // and a token without the scope a known route needs is 403.
  bool Admitted(const Request& req, bool known_route) {
    const auto& h = req->header();
    if (SurelyHttp11(req) && !h.has_field(restinio::http_field::host)) {
      RespondError(req, Status::InvalidArgument("an HTTP/1.1 request needs a Host header"));
      return false;
    }
    std::string method(h.method().c_str());
    if (opt.read_only && method != "GET" && method != "HEAD") {
      Respond(req, 403, Json{{"error", {{"code", "permission_denied"},
                                        {"message", "this HTTP face is read-only ([http] read_only "
                                                    "= true): it changes nothing"}}}});
      return false;
    }
    if (opt.tokens.empty() && !opt.jwt) return true;
    std::string path(h.path());
    for (const auto& p : opt.public_paths)
      if (p == path) return true;
    if (path == "/" || path == "/ui" || path.rfind("/ui/", 0) == 0) return true;  // no data there
    std::string who, why;
    std::string authorization(h.get_field_or(restinio::http_field::authorization, ""));
    if (authorization.empty() && path == "/api/ws") {
      // A browser's WebSocket cannot send headers: the token may come as access_token in the
      // query instead (RFC 6750 §2.3).
      auto qp = QueryOf(req);
      if (qp.ok())
        if (auto t = qp.value().find("access_token"); t != qp.value().end())
          authorization = "Bearer " + t->second;
    }
    AuthResult r = Authorize(opt.tokens, opt.jwt.get(), authorization,
                             ScopeFor(method, path), static_cast<int64_t>(base::WallMs() / 1000),
                             &who, &why);
    if (r == AuthResult::kAllowed || (r == AuthResult::kForbidden && !known_route)) return true;
    if (r == AuthResult::kForbidden) {
      Respond(req, 403, Json{{"error", {{"code", "permission_denied"},
                                        {"message", "token '" + who + "' lacks the scope this request needs"}}}});
      return false;
    }
    if (!why.empty()) {  // a JWT that failed its checks (RFC 6750 §3.1)
      std::string quoted;
      for (char c : why) quoted.push_back(c == '"' || c == '\\' ? '\'' : c);
      Respond(req, 401, Json{{"error", {{"code", "unauthenticated"}, {"message", why}}}},
              ExtraHeader{restinio::http_field::www_authenticate,
                          "Bearer error=\"invalid_token\", error_description=\"" + quoted + "\""});
      return false;
    }
    Respond(req, 401,
            Json{{"error", {{"code", "unauthenticated"},
                            {"message", "send Authorization: Bearer <token secret or JWT>"}}}},
            ExtraHeader{restinio::http_field::www_authenticate, "Bearer"});
    return false;
  }

  // Wraps a route: Host and tokens, the body limit, and exceptions answered 500 (the face keeps
  // serving).
  template <class Fn>
  auto Route(Fn fn) {
    return [this, fn](const Request& req, Params params) {
      if (!Admitted(req, /*known_route=*/true)) return restinio::request_accepted();
      if (req->body().size() > opt.body_bytes_max) {
        RespondError(req, Status::TooLarge("the body is " + std::to_string(req->body().size()) +
                                           " bytes; the limit is " + std::to_string(opt.body_bytes_max)));
        return restinio::request_accepted();
      }
      try {
        fn(req, params);
      } catch (const std::exception& e) {
        RespondError(req, Status::Internal(std::string("HTTP face: ") + e.what()));
      }
      return restinio::request_accepted();
    };
  }

  std::unique_ptr<restinio::router::express_router_t<>> Router() {
    auto r = std::make_unique<restinio::router::express_router_t<>>();
    auto id_of = [](const Params& p) { return std::string(p["id"]); };
    // Every GET route answers HEAD too: the same status and headers, no body (RespondText).
    auto get = [&r](const char* path, auto handler) {
      r->http_head(path, handler);
      r->http_get(path, std::move(handler));
    };
    r->http_post("/api/jobs", Route([this](const Request& req, const Params&) { PostJob(req); }));
    get("/api/jobs", Route([this](const Request& req, const Params&) { ListJobs(req); }));
    get("/api/jobs/:id", Route([this, id_of](const Request& req, const Params& p) {
      JobRequest(req, protocol::StatusRequest{id_of(p)}, 200);
    }));
    r->http_delete("/api/jobs/:id", Route([this, id_of](const Request& req, const Params& p) {
      JobRequest(req, protocol::CancelRequest{id_of(p)}, 200, limits::kHttpWriteAnswerMs);
    }));
    r->http_post("/api/jobs/:id/retry", Route([this, id_of](const Request& req, const Params& p) {
      JobRequest(req, protocol::RetryRequest{id_of(p)}, 200, limits::kHttpWriteAnswerMs);
    }));
    get("/api/jobs/:id/result", Route([this, id_of](const Request& req, const Params& p) {
      JobResult(req, id_of(p));
    }));
    r->http_post("/api/jobs/batch", Route([this](const Request& req, const Params&) { PostBatch(req); }));
    r->http_post("/api/jobs/bulk", Route([this](const Request& req, const Params&) { PostBulk(req); }));
    r->http_post("/api/flows", Route([this](const Request& req, const Params&) { PostFlow(req); }));
    get("/api/flows/:id", Route([this, id_of](const Request& req, const Params& p) {
      GetFlow(req, id_of(p));
    }));
    get("/api/whoami", Route([this](const Request& req, const Params&) { WhoAmI(req); }));
    get("/api/schedules", Route([this](const Request& req, const Params&) {
      CallOk(req, protocol::ScheduleListRequest{}, limits::kHttpNodeAnswerMs,
             [req](protocol::Body& b) { RespondSchedules(req, b, false); });
    }));
    r->http_post("/api/schedules/:name/pause", Route([this](const Request& req, const Params& p) {
      ChangeSchedule(req, std::string(p["name"]), protocol::ScheduleAction::kPause);
    }));
    r->http_post("/api/schedules/:name/resume", Route([this](const Request& req, const Params& p) {
      ChangeSchedule(req, std::string(p["name"]), protocol::ScheduleAction::kResume);
    }));
    get("/api/queues", Route([this](const Request& req, const Params&) {
      CallOk(req, protocol::QueuesRequest{}, limits::kHttpNodeAnswerMs,
             [req](protocol::Body& b) { RespondQueues(req, b, false); });
    }));
    r->http_put("/api/queues/:name", Route([this](const Request& req, const Params& p) {
      SetQueue(req, std::string(p["name"]), std::nullopt);
    }));
    r->http_post("/api/queues/:name/pause", Route([this](const Request& req, const Params& p) {
      SetQueue(req, std::string(p["name"]), true);
    }));
    r->http_post("/api/queues/:name/resume", Route([this](const Request& req, const Params& p) {
      SetQueue(req, std::string(p["name"]), false);
    }));
    get("/api/workers", Route([this](const Request& req, const Params&) { Workers(req, std::nullopt); }));
    r->http_post("/api/workers", Route([this](const Request& req, const Params&) { PostWorkers(req); }));
    r->http_put("/api/workers/autoscale", Route([this](const Request& req, const Params&) {
      PutAutoscale(req);
    }));
    r->http_delete("/api/workers/:id", Route([this](const Request& req, const Params& p) {
      DeleteWorker(req, std::string(p["id"]));
    }));
    get("/api/events", Route([this](const Request& req, const Params&) { Events(req); }));
    get("/api/ws", Route([this](const Request& req, const Params&) { WebSocket(req); }));
    get("/api/nodes", Route([this](const Request& req, const Params&) { Nodes(req); }));
    // The dashboard (http/ui): / and /ui go to /ui/.
    auto to_ui = [](const Request& req) {
      Respond(req, 302, Json{{"location", "/ui/"}}, ExtraHeader{restinio::http_field::location, "/ui/"});
    };
    get("/", Route([to_ui](const Request& req, const Params&) { to_ui(req); }));
    get(R"(/ui/:file(.*))", Route([to_ui](const Request& req, const Params&) {
      const std::string path(req->header().path());
      if (path.rfind("/ui/", 0) != 0) return to_ui(req);  // "/ui"
      ServeUi(req, path);
    }));
    get("/ui", Route([to_ui](const Request& req, const Params&) { to_ui(req); }));  // after /ui/...
    get("/healthz", Route([this](const Request& req, const Params&) { Health(req); }));
    get("/readyz", Route([this](const Request& req, const Params&) { Ready(req); }));
    get("/metrics", Route([this](const Request& req, const Params&) { Metrics(req); }));
    r->non_matched_request_handler([this](const Request& req) {
      if (!Admitted(req, /*known_route=*/false)) return restinio::request_accepted();
      RespondError(req, Status::NotFound("no route for " +
                                         std::string(req->header().method().c_str()) +
                                         " " + std::string(req->header().path())));
      return restinio::request_accepted();
    });
    return r;
  }
};

Status Gateway::Start(const GatewayOptions& options, std::unique_ptr<Gateway>* out) {
  std::string host;
  uint16_t port = 0;
  if (Status s = ParseHostPort(options.listen, &host, &port); !s.ok()) return s;
  std::unique_ptr<Gateway> g(new Gateway());
  g->impl_ = std::make_unique<Impl>();
  Impl& im = *g->impl_;
  im.opt = options;
  im.url = "http://" + options.listen;
  im.link = std::make_unique<NodeLink>(options.node_endpoint, options.requests_max,
                                       options.node_key);
  if (Status s = im.link->Start(); !s.ok()) return s;
  // A wait may be held up to its own timeout plus the node's answer time: RESTinio's own
  // handler deadline must not cut it short.
  auto held_max = std::chrono::milliseconds(limits::kHttpWriteAnswerMs + limits::kWaitTimeoutMsMax +
                                            2 * limits::kHttpNodeAnswerMs);
  try {
    im.server.emplace(restinio::run_async<Traits>(
        restinio::own_io_context(),
        restinio::server_settings_t<Traits>{}
            .address(host)
            .port(port)
            .request_handler(im.Router())
            .max_parallel_connections(options.connections_max)
            .read_next_http_message_timelimit(std::chrono::milliseconds(options.idle_ms))
            .handle_request_timeout(held_max)
            .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                          .max_url_size(limits::kHttpUrlBytesMax)
                                          .max_field_value_size(limits::kHttpHeaderBytesMax)
                                          .max_field_count(limits::kHttpHeaderFieldsMax)
                                          .max_body_size(options.body_bytes_max *
                                                         limits::kHttpBodyHardFactor)),
        options.threads));
  } catch (const std::exception& e) {
    im.link->Stop();
    return Status::Unavailable("cannot serve HTTP on " + options.listen + ": " + e.what());
  }
  *out = std::move(g);
  return Status::OK();
}

void Gateway::Stop() {
  if (!impl_) return;
  // The link first: held requests are answered 503 while their connections are still open.
  if (impl_->link) impl_->link->Stop();
  if (impl_->server) {
    (*impl_->server)->stop();
    (*impl_->server)->wait();
    impl_->server.reset();
  }
}

Gateway::~Gateway() { Stop(); }

void Gateway::SetDraining() {
  if (impl_) impl_->draining.store(true);
}

const std::string& Gateway::url() const { return impl_->url; }

}  // namespace jobnet::http
