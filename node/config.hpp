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
//   events_max = 1000000             # event-stream records the journal keeps
//   running_write_delay_ms = 50      # a run's `running` record may wait for its end
//   etcd = ["http://127.0.0.1:2379"] cluster_name = "default"   # docs/failover.md
//   result_linger_us = 1000          # run ends wait this long to share a submit's fsync
//   [exec.allow]                     # the exec handler runs only these
//   upper = ["tr", "a-z", "A-Z"]
//   [callbacks]                      # docs/operations.md "Callbacks"
//   allow = ["127.0.0.0/8", "::1", "localhost", "hooks.example.com", "10.0.0.0/8"]
//   secret = "..." (or secret_file = "/etc/jobnet/callback.secret")
//   attempts = 8   backoff = "1s"   backoff_max = "5m"   timeout = "10s"
//   blob_mb_max = 64                 blob_grace = "1h"     image_pixels_max = 40000000
//   principals_file = "/etc/jobnet/principals.toml"   key_file = "<data>/node.key"
//   insecure = false                 # docs/operations.md "Securing a cluster"
//   [[principals]]                   # name, key (CURVE public, Z85) and/or token_sha256
//                                    # (an HTTP token's), scopes, endpoints
//   [http.jwt]                       # OAuth 2.0 access tokens (docs/operations.md §21)
//   jwks = "/etc/jobnet/jwks.json" (or "https://idp/.well-known/jwks.json")
//   issuer = "https://idp/"   audience = "jobnet"   leeway = "60s"   refresh = "5m"
//   scope_claim = "scope"     [http.jwt.scopes] "jobs:read" = "read" ...
#ifndef JOBNET_NODE_CONFIG_HPP_
#define JOBNET_NODE_CONFIG_HPP_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jobnet/limits.h"
#include "jobnet/status.h"
#include "core/callbacks.hpp"
#include "http/auth.hpp"
#include "http/jwt.hpp"
#include "protocol/scopes.hpp"
#include "protocol/duration.hpp"  // ParseDurationMs, for the config's durations

namespace jobnet {

// [callbacks]: where job callbacks may go and how they are sent (docs/operations.md).
struct CallbackConfig {
  // Host names, addresses and CIDRs (core/callbacks.hpp). Configured: exactly that list, so list
  // loopback too if it should stay allowed. Not configured: loopback only.
  std::vector<std::string> allow = {"127.0.0.0/8", "::1", "localhost"};
  // The HMAC key of X-Jobnet-Signature: `secret`, else the contents of `secret_file`, else a
  // random one the node makes once and keeps in <data>/callback.secret.
  std::string secret;
  std::string secret_file;
  uint32_t attempts = limits::kCallbackAttemptsDefault;
  uint64_t backoff_ms = limits::kCallbackBackoffMsDefault;
  uint64_t backoff_max_ms = limits::kCallbackBackoffMaxMsDefault;
  uint64_t timeout_ms = limits::kCallbackTimeoutMsDefault;
};

struct NodeConfig {
  std::string id = "n1";
  std::string listen = "tcp://127.0.0.1:7701";
  // The endpoint peers and etcd members know this node by, when it is not `listen` (a node
  // binding tcp://0.0.0.0:7701 that others reach by a name: Kubernetes, Docker, NAT). Peers
  // connect to it and match heartbeats against it. Empty: listen.
  std::string advertise;
  const std::string& Endpoint() const { return advertise.empty() ? listen : advertise; }
  std::string http;                   // "ADDR:PORT" of the HTTP face; empty = none (docs/http.md)
  std::vector<http::Token> http_tokens;  // [[http.tokens]]: none = no authentication (loopback only)
  http::JwtOptions http_jwt;             // [http.jwt]: JWT access tokens; jwks empty = none
  std::vector<std::string> http_public = {"/healthz", "/readyz"};  // open even with tokens
  bool http_read_only = false;  // [http] read_only: the face refuses every change (403)
  std::string data = "./data/n1";
  uint32_t workers = 4;
  // Elastic workers (docs/operations.md §13): the pool follows the load between autoscale_min
  // and autoscale_max (0: off), growing after autoscale_target_wait of backlog and shrinking
  // after autoscale_quiet without.
  uint32_t autoscale_min = 0;
  uint32_t autoscale_max = 0;
  uint64_t autoscale_target_wait_ms = 1000;
  uint64_t autoscale_quiet_ms = 30000;
  uint32_t autoscale_cpu_idle_pct = 20;  // grow only while the machine has this much CPU idle
  // Security (docs/operations.md "Securing a cluster"). With principals, every ZeroMQ socket of
  // the node speaks CURVE with the keypair in key_file (made at first start; default
  // <data>/node.key), and only a principal's key gets a frame through, within its scopes.
  std::vector<protocol::Principal> principals;  // [[principals]], then those of principals_file
  std::string principals_file;
  std::string key_file;
  // Allows listening beyond loopback without principals (and the HTTP face without tokens).
  bool insecure = false;
  bool Secured() const { return !principals.empty(); }
  std::string KeyFile() const { return key_file.empty() ? data + "/node.key" : key_file; }
  uint32_t tick_ms = 10;
  uint64_t grace_ms = 10000;          // SIGTERM: how long running jobs may take to finish
  uint64_t retention_ms = 24ull * 3600 * 1000;
  uint64_t final_jobs_max = 500000;
  uint64_t held_mb_max = 2048;        // payloads + results kept in memory; past it submits get overloaded
  std::string log_level = "info";
  std::string log_format = "text";    // "text" or "json" (one JSON object per line)
  // etcd client URLs (docs/failover.md): with them the node holds its shard under an etcd lease
  // and is fenced when it cannot renew it; empty = no etcd. Keys live under
  // /jobnet/<cluster_name>/.
  std::vector<std::string> etcd;
  std::string cluster_name = "default";
  // Replication (docs/failover.md §6), with etcd only. `backups`: the replication endpoints of
  // this node's backups; every journal batch is durable on each of them before a client is
  // answered. `replication_listen`: where this node takes its primaries' batches, keeping a
  // copy of each of their shards under <data>/replicas/<shard>, and takes a shard over when
  // its primary's lease ends. Both empty: no replication (one copy, as without etcd).
  std::vector<std::string> backups;
  std::string replication_listen;
  // The endpoint primaries reach `replication_listen` at, as they name it in `backups` (behind
  // a proxy or NAT); it is how this node finds itself in a shard's in-sync set. Empty: the
  // same as replication_listen.
  std::string replication_advertise;
  const std::string& ReplicationEndpoint() const {
    return replication_advertise.empty() ? replication_listen : replication_advertise;
  }
  std::vector<std::string> peers;     // other nodes' listen endpoints, exactly as they bind them
  uint32_t heartbeat_ms = limits::kHeartbeatMsDefault;
  uint64_t failure_timeout_ms = limits::kFailureTimeoutMsDefault;  // a silent peer is declared dead
  std::map<std::string, std::vector<std::string>> exec_allow;
  CallbackConfig callbacks;
  // Events of the job event stream the journal keeps; the oldest beyond are trimmed
  // (docs/journal.md "Event stream").
  uint64_t events_max = limits::kEventsKeptDefault;
  // How long a local run's `running` record may wait to be journaled with the run's end
  // (docs/journal.md §6a); 0 writes it at once, as before.
  uint64_t running_write_delay_ms = limits::kRunningWriteDelayMsDefault;
  // How long a journal batch no client waits on urgently may wait for one that a client does,
  // to share its fsync (docs/journal.md §5); 0 = never.
  uint64_t result_linger_us = limits::kResultLingerUsDefault;
  // Blobs (docs/operations.md "Blobs"): the largest blob taken, in MiB; how long a blob no job
  // refers to is kept after its last put; the most pixels an image handler decodes.
  uint64_t blob_mb_max = limits::kBlobBytesMaxDefault >> 20;
  uint64_t blob_grace_ms = limits::kBlobGraceMsDefault;
  uint64_t image_pixels_max = limits::kImagePixelsMaxDefault;
  // [http_request] allow = [hosts], loopback = true: where the http_request handler may go.
  std::vector<std::string> http_request_allow;
  bool http_request_loopback = true;

  Status Validate() const;
};

// The callback signing secret (CallbackConfig::secret): read from the config, or from its
// secret_file, or from <data>/callback.secret, which is made (32 random bytes as hex, mode 0600)
// when missing. *where says which, for the log (never the secret itself). kInvalidArgument for an
// empty or unreadable secret file; kStorage if the data directory's file cannot be made.
Status LoadCallbackSecret(const NodeConfig& cfg, std::string* secret, std::string* where);

// Whether `endpoint` is a ZeroMQ TCP endpoint this node may name: "tcp://" and at most
// kEndpointBytesMax bytes (the backups, the replication endpoints, the members read from etcd).
bool IsTcpEndpoint(const std::string& endpoint);

// Reads the [[principals]] tables of the TOML file at `path` and appends them to *out
// (`principals_file`, and `--principals FILE`). Checked by NodeConfig::Validate. Principals
// with a `token_sha256` are also appended to *tokens as HTTP tokens; with `tokens` null, one
// that has a token_sha256 is refused.
Status LoadPrincipalsFile(const std::string& path, std::vector<protocol::Principal>* out,
                          std::vector<http::Token>* tokens = nullptr);

// One principal's checks: its name, Z85 key, scopes and endpoints (not: unique names and keys).
Status CheckPrincipal(const protocol::Principal& p);

// Whether `endpoint` ("tcp://HOST:PORT") listens on loopback only.
bool IsLoopbackEndpoint(const std::string& endpoint);

// Reads the TOML file into *cfg (keys absent from the file keep their values).
Status LoadConfigFile(const std::string& path, NodeConfig* cfg);

}  // namespace jobnet

#endif  // JOBNET_NODE_CONFIG_HPP_
