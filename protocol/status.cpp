// Names of the stable status codes.
#include "jobnet/status.h"

#include "base/check.hpp"

namespace jobnet {

namespace detail {
void ResultMisused(const char* what) { base::CheckFailed(__FILE__, __LINE__, "Result", what); }
}  // namespace detail

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not_found";
    case Code::kCorruption: return "corruption";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kUnsupportedVersion: return "unsupported_version";
    case Code::kTooLarge: return "too_large";
    case Code::kOverloaded: return "overloaded";
    case Code::kUnavailable: return "unavailable";
    case Code::kTimeout: return "timeout";
    case Code::kConflict: return "conflict";
    case Code::kDraining: return "draining";
    case Code::kStorage: return "storage";
    case Code::kLocked: return "locked";
    case Code::kInternal: return "internal";
    case Code::kStorageFull: return "storage_full";
    case Code::kPermissionDenied: return "permission_denied";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s = CodeName(code_);
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

}  // namespace jobnet
