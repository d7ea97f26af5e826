// Node configuration: TOML file keys, same names as the command-line flags (flags win).
//
//   id = "n1"                        listen = "tcp://127.0.0.1:7701"
//   data = "./data/n1"               workers = 4
//   [http]                           # the HTTP face (docs/http.md); absent = none
//   listen = "127.0.0.1:7801"        public = ["/healthz", "/readyz"]
//   [[http.tokens]]                  # name, sha256 (hex of the secret), scopes
//   tick_ms = 10                     grace_ms = 10000      retention = "24h"
//   final_jobs_max = 500000          log_level = "info"    held_mb_max = 2048
//   peers = ["tcp://127.0.0.1:7702"] heartbeat_ms = 250    failure_timeout = "1500ms"
//   [exec.allow]                     # the exec handler runs only these
//   upper = ["tr", "a-z", "A-Z"]
#ifndef JOBNET_NODE_CONFIG_HPP_
#define JOBNET_NODE_CONFIG_HPP_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jobnet/limits.h"
#include "jobnet/status.h"
#include "http/auth.hpp"
#include "protocol/duration.hpp"  // ParseDurationMs, for the config's durations

namespace jobnet {

struct NodeConfig {
  std::string id = "n1";
  std::string listen = "tcp://127.0.0.1:7701";
  std::string http;                   // "ADDR:PORT" of the HTTP face; empty = none (docs/http.md)
  std::vector<http::Token> http_tokens;  // [[http.tokens]]: none = no authentication (loopback only)
  std::vector<std::string> http_public = {"/healthz", "/readyz"};  // open even with tokens
  std::string data = "./data/n1";
  uint32_t workers = 4;
  uint32_t tick_ms = 10;
  uint64_t grace_ms = 10000;          // SIGTERM: how long running jobs may take to finish
  uint64_t retention_ms = 24ull * 3600 * 1000;
  uint64_t final_jobs_max = 500000;
  uint64_t held_mb_max = 2048;        // payloads + results kept in memory; past it submits get overloaded
  std::string log_level = "info";
  std::string log_format = "text";    // "text" or "json" (one JSON object per line)
  std::vector<std::string> peers;     // other nodes' listen endpoints, exactly as they bind them
  uint32_t heartbeat_ms = limits::kHeartbeatMsDefault;
  uint64_t failure_timeout_ms = limits::kFailureTimeoutMsDefault;  // a silent peer is declared dead
  std::map<std::string, std::vector<std::string>> exec_allow;
  // [http_request] allow = [hosts], loopback = true: where the http_request handler may go.
  std::vector<std::string> http_request_allow;
  bool http_request_loopback = true;

  Status Validate() const;
};

// Reads the TOML file into *cfg (keys absent from the file keep their values).
Status LoadConfigFile(const std::string& path, NodeConfig* cfg);

}  // namespace jobnet

#endif  // JOBNET_NODE_CONFIG_HPP_
