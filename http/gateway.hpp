// The HTTP face of a node (docs/http.md): REST/JSON in front of the node's own ZeroMQ endpoint.
// The gateway is a protocol client of its node, over loopback: every HTTP request becomes the
// wire request a ZeroMQ client would send, so both faces give the same answers, errors and
// guarantees (forwarding to a job's owner included), and no request holds a thread while it
// waits: RESTinio (on Asio) parks it, one ZeroMQ thread carries every request and reply.
#ifndef JOBNET_HTTP_GATEWAY_HPP_
#define JOBNET_HTTP_GATEWAY_HPP_

#include <cstdint>
#include <memory>
#include <string>

#include <vector>

#include "http/auth.hpp"
#include "jobnet/keys.h"
#include "jobnet/limits.h"
#include "jobnet/status.h"

namespace jobnet::http {

struct GatewayOptions {
  std::string listen;         // "ADDR:PORT"; port 0 picks a free one
  std::string node_endpoint;  // the node's ZeroMQ endpoint, as bound
  uint32_t threads = 1;       // Asio threads: parsing and routing only, no waiting
  uint32_t requests_max = limits::kHttpRequestsMax;
  uint32_t connections_max = limits::kHttpConnectionsMax;
  uint64_t body_bytes_max = limits::kHttpBodyBytesMax;
  uint64_t idle_ms = limits::kHttpIdleMsDefault;
  std::vector<Token> tokens;               // none: every request is allowed
  std::vector<std::string> public_paths;   // paths open even with tokens
  // Every change (any method but GET and HEAD) refused with 403, whatever the token: a face for
  // people who may look but not touch ([http] read_only).
  bool read_only = false;
  // JWT access tokens from an identity provider (http/jwt.hpp); null: none are taken.
  std::shared_ptr<const JwtVerifier> jwt;
  // With CURVE on the node: the node's own keypair (its ZAP handler lets it through with every
  // scope; the tokens above are the HTTP face's check). Empty: plain ZeroMQ.
  CurveKeys node_key;
};

// "127.0.0.1:7801" or "[::1]:7801" -> host and port. kInvalidArgument otherwise.
Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port);

// The HTTP status for a protocol error code (docs/http.md, "Errors").
int HttpStatusOf(Code code);

class Gateway {
 public:
  // Binds and starts serving. kUnavailable if the address cannot be bound.
  static Status Start(const GatewayOptions& options, std::unique_ptr<Gateway>* out);
  ~Gateway();  // Stop()
  // Closes the listener and every connection; held requests get 503 first.
  void Stop();
  // The node is draining (SIGTERM): /readyz answers 503 from now on.
  void SetDraining();
  const std::string& url() const;  // "http://ADDR:PORT", the port resolved

 private:
  struct Impl;
  Gateway() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_GATEWAY_HPP_
