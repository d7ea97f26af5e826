// The callback deliverer: POSTs each finished job's JSON to its callback URL, signed, on one
// thread with libcurl's multi interface. It keeps no state of its own: the scheduler decides what
// to send and when (core/callbacks.hpp, journaled), and is told how each POST went.
// docs/http.md "Callbacks" is the receiver's side of this.
#ifndef JOBNET_HTTP_CALLBACKS_HPP_
#define JOBNET_HTTP_CALLBACKS_HPP_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/callbacks.hpp"
#include "jobnet/job.h"
#include "jobnet/limits.h"
#include "jobnet/status.h"

namespace jobnet::http {

// Lowercase hex of HMAC-SHA256(key = secret, message = body).
std::string HmacSha256Hex(const std::string& secret, const std::string& body);
// The X-Jobnet-Signature value: "sha256=" + HmacSha256Hex(secret, body).
std::string CallbackSignature(const std::string& secret, const std::string& body);
// The body of a callback POST: the job as GET /api/jobs/{id} shows it (client/json.hpp).
std::string CallbackBody(const JobInfo& job);

struct DelivererOptions {
  std::string secret;  // signs every body; never logged
  // One POST, from connect to the last byte of the answer; past it the attempt fails.
  uint64_t timeout_ms = limits::kCallbackTimeoutMsDefault;
  // Checked again for every connection (core/callbacks.hpp: by name, else by address).
  sched::CallbackAllowList allow = sched::CallbackAllowList::Loopback();
  std::string user_agent = "jobnet-callbacks";
  // Told how each POST went, on the deliverer's thread. Must not block for long.
  std::function<void(sched::CallbackResult)> on_result;
};

// Thread-safe: Deliver may be called from any thread. Not copyable.
class CallbackDeliverer {
 public:
  // Starts the delivery thread. kInternal if libcurl cannot be set up.
  static Status Start(DelivererOptions options, std::unique_ptr<CallbackDeliverer>* out);
  ~CallbackDeliverer();  // Stop()
  CallbackDeliverer(const CallbackDeliverer&) = delete;
  CallbackDeliverer& operator=(const CallbackDeliverer&) = delete;

  // Starts these POSTs; returns at once. The scheduler sends at most its in-flight limit at a
  // time; past twice limits::kCallbacksInFlightMax queued, a send is answered as failed at once
  // (on the calling thread) instead of queued.
  void Deliver(std::vector<sched::CallbackSend> sends);
  // Aborts the POSTs under way (no results are reported for them: the journal still has them
  // pending, and the next start sends them again) and joins the thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit CallbackDeliverer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_CALLBACKS_HPP_
