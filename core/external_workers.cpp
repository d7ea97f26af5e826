// External workers' registry: see external_workers.hpp.
#include "core/external_workers.hpp"

#include <algorithm>
#include <limits>

#include "base/check.hpp"
#include "jobnet/limits.h"

namespace jobnet::sched {

uint64_t ExternalWorkers::Register(const protocol::WorkerRegisterRequest& req, Now now) {
  const uint64_t id = (incarnation_ << 32) | (next_worker_++ & 0xffffffffull);
  Worker& w = workers_[id];
  w.name = req.name.empty() ? "worker-" + std::to_string(id) : req.name;
  w.types.insert(req.types.begin(), req.types.end());
  for (const auto& type : w.types) types_[type]++;
  w.capacity = req.capacity;
  w.lease_ms = req.lease_ms != 0 ? req.lease_ms : limits::kExternalLeaseMsDefault;
  Touch(id, now);
  return id;
}

ExternalWorkers::Worker* ExternalWorkers::Find(uint64_t id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

void ExternalWorkers::Touch(uint64_t id, Now now) {
  Worker& w = workers_.at(id);
  expiry_.erase({w.expires_ms, id});
  w.expires_ms = now.mono_ms + w.lease_ms;
  // A worker that holds a poll is waiting in this node: it cannot be silent until the poll ends.
  if (w.poll == 0) expiry_.emplace(w.expires_ms, id);
}

ExternalWorkers::Token ExternalWorkers::HoldPoll(uint64_t id, Token t, uint64_t deadline_ms,
                                                 uint32_t max, Now now) {
  Token replaced = workers_.at(id).poll != 0 ? ReleasePoll(id, now) : 0;
  Worker& w = workers_.at(id);
  w.poll = t;
  w.poll_deadline_ms = deadline_ms;
  w.poll_max = max;
  Touch(id, now);  // leaves the expiry set while the poll is held
  polling_.insert(id);
  polls_.emplace(deadline_ms, id);
  return replaced;
}

ExternalWorkers::Token ExternalWorkers::ReleasePoll(uint64_t id, Now now) {
  Worker& w = workers_.at(id);
  JOBNET_CHECK(w.poll != 0);
  const Token t = w.poll;
  polls_.erase({w.poll_deadline_ms, id});
  polling_.erase(id);
  w.poll = 0;
  Touch(id, now);
  return t;
}

std::vector<uint64_t> ExternalWorkers::PollOrder() const {
  std::vector<uint64_t> order(polling_.upper_bound(served_last_), polling_.end());
  order.insert(order.end(), polling_.begin(), polling_.upper_bound(served_last_));
  return order;
}

uint32_t ExternalWorkers::Wants(uint64_t id) const {
  const Worker& w = workers_.at(id);
  uint32_t held = static_cast<uint32_t>(w.leases.size());
  uint32_t free = w.capacity > held ? w.capacity - held : 0;
  return w.poll_max != 0 ? std::min(w.poll_max, free) : free;
}

void ExternalWorkers::AddRun(uint64_t id, uint64_t lease, uint64_t seq) {
  runs_[lease] = {id, seq};
  workers_.at(id).leases.insert(lease);
}

std::optional<uint64_t> ExternalWorkers::RunOf(uint64_t worker, uint64_t lease) const {
  auto run = runs_.find(lease);
  if (run == runs_.end() || run->second.first != worker) return std::nullopt;
  return run->second.second;
}

void ExternalWorkers::DropRun(uint64_t lease) {
  auto run = runs_.find(lease);
  if (run == runs_.end()) return;
  workers_.at(run->second.first).leases.erase(lease);
  runs_.erase(run);
}

ExternalWorkers::Removed ExternalWorkers::Remove(uint64_t id) {
  Worker& w = workers_.at(id);
  Removed out;
  out.name = w.name;
  out.poll = w.poll;
  if (w.poll != 0) {
    polls_.erase({w.poll_deadline_ms, id});
    polling_.erase(id);
  }
  expiry_.erase({w.expires_ms, id});
  for (uint64_t lease : w.leases) {
    out.runs.emplace_back(lease, runs_.at(lease).second);
    runs_.erase(lease);
  }
  for (const auto& type : w.types)
    if (--types_[type] == 0) types_.erase(type);
  workers_.erase(id);
  return out;
}

std::optional<uint64_t> ExternalWorkers::DuePoll(uint64_t mono_ms) const {
  if (polls_.empty() || polls_.begin()->first > mono_ms) return std::nullopt;
  return polls_.begin()->second;
}

std::optional<uint64_t> ExternalWorkers::Expired(uint64_t mono_ms) const {
  if (expiry_.empty() || expiry_.begin()->first > mono_ms) return std::nullopt;
  return expiry_.begin()->second;
}

uint64_t ExternalWorkers::NextDeadlineMs() const {
  uint64_t d = std::numeric_limits<uint64_t>::max();
  if (!polls_.empty()) d = std::min(d, polls_.begin()->first);
  if (!expiry_.empty()) d = std::min(d, expiry_.begin()->first);
  return d;
}

}  // namespace jobnet::sched
