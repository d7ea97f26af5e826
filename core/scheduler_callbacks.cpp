// The Scheduler's callback deliveries (docs/architecture.md §15): which are due, in flight, retried
// with backoff (core/backoff.hpp) or given up. http/callbacks sends them. Part of class Scheduler
// (scheduler_core.hpp).
#include "core/scheduler_core.hpp"

#include <algorithm>
#include <tuple>

#include "base/check.hpp"
#include "core/backoff.hpp"

namespace jobnet::sched {

using protocol::CallbackDelivery;

void Scheduler::StartCallback(Job& job) {
  if (job.spec.callback().empty()) return;
  // a retry dropped the last one
  JOBNET_CHECK(job.rare.get().callback.state != CallbackState::kPending);
  CallbackDelivery& d = job.rare.mut().callback;
  d = CallbackDelivery{};
  d.id = job.id + "." + std::to_string(job.events - 1);  // the final state's event number
  d.next_at_ms = job.finished_at_ms;
  d.due_mono_ms = 0;  // due at once
  if (callbacks_pending() >= opt_.callbacks.pending_max) {
    d.state = CallbackState::kFailed;
    d.error = "not sent: " + std::to_string(callbacks_pending()) +
              " callback deliveries were pending, the node's limit";
    counters_[Counter::kCallbacksFailed]++;
  } else {
    d.state = CallbackState::kPending;
    callback_due_.emplace(d.due_mono_ms, job.seq);
  }
  callback_dirty_.insert(job.seq);
}

void Scheduler::DropCallback(Job& job, const std::string& why) {
  if (job.rare.get().callback.state != CallbackState::kPending) return;
  CallbackDelivery& d = job.rare.mut().callback;
  callback_due_.erase({d.due_mono_ms, job.seq});
  callback_in_flight_.erase(job.seq);  // its answer, when it comes, is ignored
  d.state = CallbackState::kFailed;
  d.error = why;
  counters_[Counter::kCallbacksFailed]++;
  callback_dirty_.insert(job.seq);
}

void Scheduler::SendDueCallbacks(Now now) {
  while (!callback_due_.empty() && callback_due_.begin()->first <= now.mono_ms &&
         callback_in_flight_.size() < opt_.callbacks.in_flight_max) {
    uint64_t seq = callback_due_.begin()->second;
    callback_due_.erase(callback_due_.begin());
    const Job& job = jobs_.At(seq);
    const CallbackDelivery& d = job.rare.get().callback;
    JOBNET_CHECK(d.state == CallbackState::kPending);
    callback_in_flight_[seq] = d.id;
    counters_[Counter::kCallbackAttempts]++;
    fx_.callback_sends.push_back(
        CallbackSend{seq, d.id, job.spec.callback(), d.attempts + 1, job.Info()});
  }
}

void Scheduler::OnCallbackResult(const CallbackResult& r, Now now) {
  auto in = callback_in_flight_.find(r.seq);
  if (in == callback_in_flight_.end() || in->second != r.delivery) return;  // dropped meanwhile
  callback_in_flight_.erase(in);
  Job& job = jobs_.At(r.seq);  // a purge drops the in-flight entry with the job
  CallbackDelivery& d = job.rare.mut().callback;
  JOBNET_CHECK(d.state == CallbackState::kPending && d.id == r.delivery);
  d.attempts++;
  d.last_at_ms = now.wall_ms;
  if (r.ok) {
    d.state = CallbackState::kDelivered;
    d.error.clear();
    counters_[Counter::kCallbacksDelivered]++;
  } else {
    d.error = r.error.size() > limits::kErrorMessageBytesMax
                  ? r.error.substr(0, limits::kErrorMessageBytesMax)
                  : r.error;
    if (d.attempts >= opt_.callbacks.attempts_max) {
      d.state = CallbackState::kFailed;
      counters_[Counter::kCallbacksFailed]++;
    } else {
      uint64_t backoff = sched::BackoffMs(d.attempts, opt_.callbacks.backoff_ms,
                                           opt_.callbacks.backoff_max_ms, rng_());
      d.next_at_ms = now.wall_ms + backoff;  // journaled and shown
      d.due_mono_ms = now.mono_ms + backoff;
      callback_due_.emplace(d.due_mono_ms, job.seq);
    }
  }
  callback_dirty_.insert(job.seq);
  SendDueCallbacks(now);  // a slot came free
}

}  // namespace jobnet::sched
