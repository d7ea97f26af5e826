// The HTTP face's two live event streams (docs/http.md §9 and §10): server-sent events on
// GET /api/events and a WebSocket on GET /api/ws. Both are fed the same way: `events` long polls
// to the node, one in flight per stream, each page written out before the next poll; both count
// the bytes their client has not taken yet and end a stream whose client reads slower than events
// come, instead of buffering without end. The gateway checks the request (parameters, tokens, the
// stream limit) before it hands a stream here.
#ifndef JOBNET_HTTP_EVENT_STREAMS_HPP_
#define JOBNET_HTTP_EVENT_STREAMS_HPP_

#include <restinio/all.hpp>

#include <functional>
#include <string>

#include "jobnet/status.h"
#include "protocol/messages.hpp"

namespace jobnet::http {

// The server's traits: one type for the gateway's server and the WebSocket upgrade of its
// connections.
struct ServerTraits : public restinio::default_traits_t {
  static constexpr bool use_connection_count_limiter = true;
  using request_handler_t = restinio::router::express_router_t<>;
};

// Sends one `events` request to the node and calls `done` with its answer (on the link's thread);
// an error (the face's request bound) when the request could not be sent.
using EventPoll = std::function<Status(const protocol::EventQuery&,
                                       std::function<void(Result<protocol::Body>)>)>;

struct StreamSetup {
  protocol::EventQuery query;  // validated; `since` moves on with every page
  std::string type;            // WebSocket only: only events of this job type (empty: all)
  bool from_now = false;       // WebSocket only: start after the node's newest event
  EventPoll poll;
  std::function<void()> ended;  // called once, when the stream ends
};

// GET /api/events: answers 200 with a chunked text/event-stream and streams until the client
// goes, the node stops answering or the client falls behind.
void StreamServerSentEvents(const restinio::request_handle_t& req, StreamSetup setup);

// GET /api/ws. kInvalidArgument naming what is wrong when `req` is not a valid WebSocket opening
// handshake (RFC 6455 §4.2.1); *not_websocket is set when it asks for no upgrade at all (426).
Status CheckWebSocketHandshake(const restinio::request_handle_t& req, bool* not_websocket);

// Upgrades `req` (checked) to a WebSocket and sends each event as one JSON text message. The
// client's frames are never read (the stream only sends): RESTinio 0.6's reader allocates a
// frame's declared length before its bytes arrive, which a hostile client could make gigabytes.
void StreamWebSocket(const restinio::request_handle_t& req, StreamSetup setup);

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_EVENT_STREAMS_HPP_
