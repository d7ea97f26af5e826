// Who may send what (docs/operations.md "Securing a cluster"): each request kind needs one
// scope, and a principal (a client key, a node's key) holds a set of them. No ZeroMQ here: the
// transport checks every frame against this, and tests and tools read it as data.
#ifndef JOBNET_PROTOCOL_SCOPES_HPP_
#define JOBNET_PROTOCOL_SCOPES_HPP_

#include <cstdint>
#include <string>
#include <vector>

#include "jobnet/status.h"
#include "protocol/messages.hpp"

namespace jobnet::protocol {

enum Scope : uint8_t {
  kScopeRead = 1,    // status, wait, list, stats, events, blob get, queue and schedule lists
  kScopeWrite = 2,   // submit, batch, cancel, retry, bulk, blob put
  kScopeAdmin = 4,   // queues, workers, schedules, principals
  kScopePeer = 8,    // node-to-node kinds; a peer may also forward any client request
  kScopeWorker = 16  // the external worker kinds
};
constexpr uint8_t kScopesAll = kScopeRead | kScopeWrite | kScopeAdmin | kScopePeer | kScopeWorker;

// Someone who may talk to a node: a client, an external worker, or another node of the
// cluster. Configured in [[principals]] tables (docs/operations.md "Securing a cluster").
struct Principal {
  std::string name;  // 1-64 of [A-Za-z0-9_.-]: logs and permission_denied messages say it
  std::string key;   // its CURVE public key, Z85 (40 characters)
  uint8_t scopes = 0;
  // A node: the endpoints it listens on (its client endpoint, its replication endpoint), where
  // the others reach it with this key as the server's.
  std::vector<std::string> endpoints;
  // With scope worker: the only job types it may register to serve (at most
  // kExternalTypesMax); empty = any type.
  std::vector<std::string> types;
};

// "read", "write", "admin", "peer", "worker": their bits. kInvalidArgument naming an unknown
// scope, or for none at all.
Result<uint8_t> ParseScopes(const std::vector<std::string>& names);
// The names of `scopes`, comma-separated, in the order above ("read,write").
std::string ScopeNames(uint8_t scopes);
// The scope a request of this kind needs. Replies (which no node takes as a request) need
// kScopePeer, so that only a node could ever send one.
Scope RequiredScope(Kind kind);
// Whether a principal holding `scopes` may send a request of `kind`: it holds the kind's scope,
// or it is a peer (which forwards its clients' requests; they were checked where they came in).
inline bool MaySend(uint8_t scopes, Kind kind) {
  return (scopes & (RequiredScope(kind) | kScopePeer)) != 0;
}

}  // namespace jobnet::protocol

#endif  // JOBNET_PROTOCOL_SCOPES_HPP_
