// jobnet::Status and jobnet::Result<T>: how every layer reports failure.
// Codes are stable: the same number goes on the wire, into the journal and into CAF errors.
// Never renumber or reuse a code; only append.
#ifndef JOBNET_STATUS_H_
#define JOBNET_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace jobnet {

enum class Code : uint8_t {
  kOk = 0,
  kNotFound = 1,            // no such job
  kCorruption = 2,          // bytes (frame or journal record) that cannot be decoded
  kInvalidArgument = 3,     // well-formed request with a bad field value
  kUnsupportedVersion = 4,  // envelope protocol version this node does not speak
  kTooLarge = 5,            // frame, payload or result over its limit
  kOverloaded = 6,          // a capacity limit is reached (pending requests, queue, waiters): retry later
  kUnavailable = 7,         // node cannot be reached
  kTimeout = 8,             // request or wait deadline passed
  kConflict = 9,            // the job's state does not allow the operation (cancel a running job...)
  kDraining = 10,           // node is shutting down and accepts no new work
  kStorage = 11,            // journal write or read failed
  kLocked = 12,             // journal directory is held by a running node
  kInternal = 13,           // a bug: report it
  kStorageFull = 14,        // the node's disk is full: it refuses writes until space returns
  kPermissionDenied = 15,   // the sender's principal lacks the scope the request needs
};

constexpr Code kLastCode = Code::kPermissionDenied;  // keep up to date when appending codes

// A code as received in an error reply: 0 or a code this build does not know becomes kInternal,
// so that an error is never mistaken for success.
inline Code ErrorCodeFromWire(Code c) {
  return c == Code::kOk || static_cast<uint8_t>(c) > static_cast<uint8_t>(kLastCode) ? Code::kInternal
                                                                                     : c;
}

// Stable lower-case name of a code ("not_found"), as printed by the CLI.
const char* CodeName(Code code);

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status UnsupportedVersion(std::string m) {
    return Status(Code::kUnsupportedVersion, std::move(m));
  }
  static Status TooLarge(std::string m) { return Status(Code::kTooLarge, std::move(m)); }
  static Status Overloaded(std::string m) { return Status(Code::kOverloaded, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Timeout(std::string m) { return Status(Code::kTimeout, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  static Status Draining(std::string m) { return Status(Code::kDraining, std::move(m)); }
  static Status Storage(std::string m) { return Status(Code::kStorage, std::move(m)); }
  static Status StorageFull(std::string m) { return Status(Code::kStorageFull, std::move(m)); }
  static Status PermissionDenied(std::string m) {
    return Status(Code::kPermissionDenied, std::move(m));
  }
  static Status Locked(std::string m) { return Status(Code::kLocked, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsTooLarge() const { return code_ == Code::kTooLarge; }
  bool IsOverloaded() const { return code_ == Code::kOverloaded; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsTimeout() const { return code_ == Code::kTimeout; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  bool IsLocked() const { return code_ == Code::kLocked; }
  bool IsStorageFull() const { return code_ == Code::kStorageFull; }
  bool IsPermissionDenied() const { return code_ == Code::kPermissionDenied; }

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_found: job n1-7 does not exist"
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

namespace detail {
// A Result was misused (value() of an error, or built from an OK status): a bug in the caller.
// Always checked, whatever NDEBUG says: prints where and stops the process (exit 70).
[[noreturn]] void ResultMisused(const char* what);
}  // namespace detail

// A value or the Status saying why there is none.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) detail::ResultMisused("a Result without a value needs an error status");
  }
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    if (!ok()) detail::ResultMisused("value() of a Result that holds an error");
    return *value_;
  }
  const T& value() const& {
    if (!ok()) detail::ResultMisused("value() of a Result that holds an error");
    return *value_;
  }
  T&& value() && {
    if (!ok()) detail::ResultMisused("value() of a Result that holds an error");
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace jobnet

#endif  // JOBNET_STATUS_H_
