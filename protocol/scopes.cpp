// Scopes of principals and kinds; see scopes.hpp.
#include "protocol/scopes.hpp"

namespace jobnet::protocol {
namespace {

constexpr struct {
  Scope scope;
  const char* name;
} kNames[] = {{kScopeRead, "read"},
              {kScopeWrite, "write"},
              {kScopeAdmin, "admin"},
              {kScopePeer, "peer"},
              {kScopeWorker, "worker"}};

}  // namespace

Result<uint8_t> ParseScopes(const std::vector<std::string>& names) {
  uint8_t bits = 0;
  for (const auto& n : names) {
    bool known = false;
    for (const auto& k : kNames)
      if (n == k.name) {
        bits |= k.scope;
        known = true;
      }
    if (!known)
      return Status::InvalidArgument("unknown scope '" + n.substr(0, 32) +
                                     "': want read, write, admin, peer or worker");
  }
  if (bits == 0) return Status::InvalidArgument("a principal needs at least one scope");
  return bits;
}

std::string ScopeNames(uint8_t scopes) {
  std::string out;
  for (const auto& k : kNames)
    if (scopes & k.scope) out += (out.empty() ? "" : ",") + std::string(k.name);
  return out;
}

Scope RequiredScope(Kind kind) {
  switch (kind) {
    case Kind::kStatus:
    case Kind::kWait:
    case Kind::kList:
    case Kind::kStats:
    case Kind::kWorkers:
    case Kind::kScheduleList:
    case Kind::kQueues:
    case Kind::kTypes:
    case Kind::kBlobGet:
    case Kind::kEvents:
      return kScopeRead;
    case Kind::kSubmit:
    case Kind::kSubmitBatch:
    case Kind::kCancel:
    case Kind::kRetry:
    case Kind::kBulk:
    case Kind::kBlobPut:
      return kScopeWrite;
    case Kind::kWorkersSet:
    case Kind::kWorkersAutoscale:
    case Kind::kScheduleAdd:
    case Kind::kScheduleChange:
    case Kind::kQueueSet:
    case Kind::kPrincipals:
      return kScopeAdmin;
    case Kind::kWorkerRegister:
    case Kind::kWorkerPoll:
    case Kind::kWorkerHeartbeat:
    case Kind::kWorkerProgress:
    case Kind::kWorkerComplete:
    case Kind::kWorkerFail:
    case Kind::kWorkerUnregister:
      return kScopeWorker;
    default:  // node-to-node kinds, and replies
      return kScopePeer;
  }
}

}  // namespace jobnet::protocol
