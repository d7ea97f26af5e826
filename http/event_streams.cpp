// The live event streams of the HTTP face: see event_streams.hpp.
#include "http/event_streams.hpp"

#include <restinio/websocket/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <limits>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "client/json.hpp"
#include "jobnet/limits.h"

namespace jobnet::http {
namespace {

using Json = nlohmann::json;
using protocol::StateEvent;
namespace ws = restinio::websocket::basic;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, jsonio::kInvalidUtf8Replaced); }

// What a stream's write callbacks report back: they run on the Asio thread after a write, and
// hold only this (not the stream, which holds the connection that holds them).
struct Flow {
  std::atomic<uint64_t> unsent{0};  // bytes handed to the connection, not yet written
  std::atomic<bool> broken{false};  // a write failed: the client is gone
};

Status FellBehind() {
  return Status::Overloaded("the client reads slower than events come: over " +
                            std::to_string(limits::kHttpEventUnsentBytesMax) +
                            " bytes are waiting for it; reconnect from the last seq it saw");
}

// ---- server-sent events ----

struct SseStream {
  SseStream(restinio::response_builder_t<restinio::chunked_output_t> r, StreamSetup s)
      : resp(std::move(r)), setup(std::move(s)) {}
  restinio::response_builder_t<restinio::chunked_output_t> resp;
  StreamSetup setup;
  uint64_t last_id = 0;  // the last `id:` written
  bool ended = false;
  std::shared_ptr<Flow> flow = std::make_shared<Flow>();
};

// `id: SEQ` + `data: JSON` for an event; an SSE comment is a line starting with ':'.
std::string SseEvent(const StateEvent& e) {
  return "id: " + std::to_string(e.seq) + "\ndata: " + Dump(jsonio::StateEventToJson(e)) + "\n\n";
}

// Hands `text` to the connection, counting it as unsent until its write completes.
void SseWrite(const std::shared_ptr<SseStream>& st, std::string text) {
  uint64_t n = text.size();
  st->flow->unsent.fetch_add(n);
  st->resp.append_chunk(std::move(text));
  st->resp.flush([flow = st->flow, n](const restinio::asio_ns::error_code& ec) {
    flow->unsent.fetch_sub(n);
    if (ec) flow->broken.store(true);
  });
}

void SseEnd(const std::shared_ptr<SseStream>& st, const Status& why) {
  if (st->ended) return;
  st->ended = true;
  if (!why.ok() && !st->flow->broken.load())
    st->resp.append_chunk("event: error\ndata: " + Dump(jsonio::ErrorToJson(why)) + "\n\n");
  st->resp.done();
  st->setup.ended();
}

void SseOnPage(const std::shared_ptr<SseStream>& st, Result<protocol::Body> r);

void SsePoll(const std::shared_ptr<SseStream>& st) {
  Status s = st->setup.poll(st->setup.query,
                            [st](Result<protocol::Body> r) { SseOnPage(st, std::move(r)); });
  if (!s.ok()) SseEnd(st, s);
}

void SseOnPage(const std::shared_ptr<SseStream>& st, Result<protocol::Body> r) {
  if (st->flow->broken.load()) return SseEnd(st, Status::OK());
  if (!r.ok()) return SseEnd(st, r.status());
  auto* page = std::get_if<protocol::EventListReply>(&r.value());
  if (page == nullptr) return SseEnd(st, Status::Internal("unexpected reply kind to events"));
  protocol::EventQuery& q = st->setup.query;
  std::string out;
  if (page->gap)
    out += "event: gap\ndata: " +
           Json{{"since", q.since}, {"oldest", page->oldest}, {"next", page->next}}.dump() + "\n\n";
  for (const auto& e : page->events) {
    out += SseEvent(e);
    st->last_id = e.seq;
  }
  if (page->events.empty() && page->next != st->last_id) {
    // Nothing for this client, but the stream moved on: a bare id sets the client's
    // Last-Event-ID without an event, so a reconnect does not scan the same events again.
    out += "id: " + std::to_string(page->next) + "\n\n";
    st->last_id = page->next;
  }
  if (out.empty()) out = ": keep-alive\n\n";
  q.since = page->next;
  SseWrite(st, std::move(out));
  if (st->flow->unsent.load() > limits::kHttpEventUnsentBytesMax) return SseEnd(st, FellBehind());
  SsePoll(st);
}

// ---- WebSocket ----

struct WsStream {
  ws::ws_handle_t ws;
  StreamSetup setup;
  bool ended = false;
  uint64_t last_sent_ms = 0;  // steady clock
  std::shared_ptr<Flow> flow = std::make_shared<Flow>();
};

// Close codes (RFC 6455 §7.4.1; 1013 is IANA's "try again later").
constexpr uint16_t kCloseNormal = 1000, kCloseGoingAway = 1001, kCloseInternal = 1011,
                   kCloseTryLater = 1013;

uint16_t CloseCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return kCloseNormal;
    case Code::kOverloaded: return kCloseTryLater;
    case Code::kUnavailable:
    case Code::kDraining:
    case Code::kTimeout: return kCloseGoingAway;
    default: return kCloseInternal;
  }
}

void WsSend(const std::shared_ptr<WsStream>& st, std::string text) {
  uint64_t n = text.size();
  st->flow->unsent.fetch_add(n);
  st->last_sent_ms = base::SteadyMs();
  st->ws->send_message(ws::final_frame, ws::opcode_t::text_frame,
                       restinio::writable_item_t{std::move(text)},
                       [flow = st->flow, n](const restinio::asio_ns::error_code& ec) {
                         flow->unsent.fetch_sub(n);
                         if (ec) flow->broken.store(true);
                       });
}

// Ends the stream: the error as a last message (when there is one and the client is still
// there), then a close frame with its code and a short reason. The connection closes once the
// close frame is written (or RESTinio's close timeout passes).
void WsEnd(const std::shared_ptr<WsStream>& st, const Status& why) {
  if (st->ended) return;
  st->ended = true;
  if (!st->flow->broken.load()) {
    if (!why.ok()) WsSend(st, Dump(Json{{"event", "error"}, {"error", jsonio::ErrorToJson(why)["error"]}}));
    const uint16_t code = CloseCodeFor(why);
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    payload += why.ok() ? std::string() : std::string(CodeName(why.code()));  // <= 123 bytes
    st->ws->send_message(ws::final_frame, ws::opcode_t::connection_close_frame,
                         restinio::writable_item_t{std::move(payload)});
  }
  st->ws.reset();
  st->setup.ended();
}

std::string TaskUpdate(const StateEvent& e) {
  Json j = jsonio::StateEventToJson(e);
  j["update"] = j["event"];  // state or progress
  j["event"] = "task_update";
  return Dump(j);
}

void WsOnPage(const std::shared_ptr<WsStream>& st, Result<protocol::Body> r);

void WsPoll(const std::shared_ptr<WsStream>& st) {
  Status s = st->setup.poll(st->setup.query,
                            [st](Result<protocol::Body> r) { WsOnPage(st, std::move(r)); });
  if (!s.ok()) WsEnd(st, s);
}

void WsOnPage(const std::shared_ptr<WsStream>& st, Result<protocol::Body> r) {
  if (st->flow->broken.load()) return WsEnd(st, Status::OK());
  if (!r.ok()) return WsEnd(st, r.status());
  auto* page = std::get_if<protocol::EventListReply>(&r.value());
  if (page == nullptr) return WsEnd(st, Status::Internal("unexpected reply kind to events"));
  protocol::EventQuery& q = st->setup.query;
  if (st->setup.from_now) {
    // The first page only says where the node's events end (a resume point past them is
    // answered at once, as a gap): the stream starts there.
    st->setup.from_now = false;
    q.since = page->next;
    WsSend(st, Dump(Json{{"event", "subscribed"}, {"since", q.since}}));
    return WsPoll(st);
  }
  const uint64_t sent_before = st->last_sent_ms;
  if (page->gap)
    WsSend(st, Dump(Json{{"event", "gap"}, {"since", q.since}, {"oldest", page->oldest},
                         {"next", page->next}}));
  for (const auto& e : page->events)
    if (st->setup.type.empty() || e.type == st->setup.type) WsSend(st, TaskUpdate(e));
  const bool idle = page->events.empty() && page->next == q.since;
  q.since = page->next;
  // With nothing sent for a heartbeat's time (an idle node, or a type filter that passed
  // nothing), a heartbeat: the client sees the stream alive and where to resume, and a client
  // that went away is noticed at the write.
  if (st->last_sent_ms == sent_before &&
      (idle || base::SteadyMs() - st->last_sent_ms >= limits::kHttpEventHeartbeatMs))
    WsSend(st, Dump(Json{{"event", "heartbeat"}, {"next", q.since}}));
  if (st->flow->unsent.load() > limits::kHttpEventUnsentBytesMax) return WsEnd(st, FellBehind());
  WsPoll(st);
}

// Whether the comma-separated header value `value` holds `token` (case-insensitive).
bool HasToken(std::string value, const std::string& token) {
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t at = 0;
  while (at <= value.size()) {
    size_t end = std::min(value.find(',', at), value.size());
    size_t b = at, e = end;
    while (b < e && (value[b] == ' ' || value[b] == '\t')) ++b;
    while (e > b && (value[e - 1] == ' ' || value[e - 1] == '\t')) --e;
    if (value.compare(b, e - b, token) == 0) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

void StreamServerSentEvents(const restinio::request_handle_t& req, StreamSetup setup) {
  auto resp = req->create_response<restinio::chunked_output_t>();
  resp.append_header(restinio::http_field::content_type, "text/event-stream")
      .append_header(restinio::http_field::cache_control, "no-store")
      .append_header("X-Accel-Buffering", "no")
      .connection_close();
  auto st = std::make_shared<SseStream>(std::move(resp), std::move(setup));
  // The headers go out now: the client knows it is subscribed before the first event.
  SseWrite(st, ": jobnet events\n\n");
  SsePoll(st);
}

Status CheckWebSocketHandshake(const restinio::request_handle_t& req, bool* not_websocket) {
  const auto& h = req->header();
  *not_websocket = true;
  if (!HasToken(h.get_field_or(restinio::http_field::upgrade, ""), "websocket"))
    return Status::InvalidArgument(
        "GET /api/ws is a WebSocket: send Upgrade: websocket and Connection: Upgrade");
  if (h.get_field_or(restinio::http_field::sec_websocket_version, "") != "13")
    return Status::InvalidArgument("this face speaks WebSocket version 13 only "
                                   "(Sec-WebSocket-Version: 13)");
  *not_websocket = false;
  if (h.http_major() < 1 || (h.http_major() == 1 && h.http_minor() < 1))
    return Status::InvalidArgument("a WebSocket opening handshake needs HTTP/1.1");
  if (h.connection() != restinio::http_connection_header_t::upgrade)
    return Status::InvalidArgument("a WebSocket opening handshake needs Connection: Upgrade");
  // The key is 16 random bytes in base64: 24 characters, the last two '='.
  std::string key(h.get_field_or(restinio::http_field::sec_websocket_key, ""));
  bool key_ok = key.size() == 24 && key[22] == '=' && key[23] == '=' &&
                std::all_of(key.begin(), key.begin() + 22, [](unsigned char c) {
                  return std::isalnum(c) || c == '+' || c == '/';
                });
  if (!key_ok)
    return Status::InvalidArgument(
        "Sec-WebSocket-Key must be 16 bytes in base64 (24 characters)");
  return Status::OK();
}

void StreamWebSocket(const restinio::request_handle_t& req, StreamSetup setup) {
  auto st = std::make_shared<WsStream>();
  st->setup = std::move(setup);
  // Delayed activation, never activated: the connection sends only (see the header).
  try {
    st->ws = ws::upgrade<ServerTraits>(*req, ws::activation_t::delayed,
                                       [](ws::ws_handle_t, ws::message_handle_t) {});
  } catch (...) {
    st->setup.ended();  // the stream never started: its place is free again
    throw;              // answered 500 by the route
  }
  if (st->setup.from_now) {
    st->setup.query.since = std::numeric_limits<uint64_t>::max();
  } else {
    WsSend(st, Dump(Json{{"event", "subscribed"}, {"since", st->setup.query.since}}));
  }
  WsPoll(st);
}

}  // namespace jobnet::http
