// Schedule table; the firing rules are in schedules.hpp.
#include "core/schedules.hpp"

#include <algorithm>
#include <limits>

#include "base/check.hpp"

namespace jobnet::sched {

using protocol::Schedule;
using protocol::ScheduleSpec;

namespace {
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
}  // namespace

uint64_t ScheduleTable::NextFire(const Entry& e) {
  if (e.s.paused) return kNever;
  const uint64_t after = std::max(e.s.from_ms, e.s.last_fire_ms);
  if (e.cron) return e.cron->NextAfter(after).value_or(kNever);
  JOBNET_CHECK(e.s.spec.every_ms > 0);
  return EveryNextAfter(e.s.anchor_ms, e.s.spec.every_ms, after);
}

void ScheduleTable::Reindex(Entry& e) {
  due_.erase({e.next_ms, e.s.spec.name});
  e.next_ms = NextFire(e);
  if (e.next_ms != kNever) due_.emplace(e.next_ms, e.s.spec.name);
}

Result<Schedule> ScheduleTable::Add(ScheduleSpec spec, uint64_t now_ms) {
  if (Status s = protocol::Validate(spec); !s.ok()) return s;
  if (by_name_.count(spec.name) != 0)
    return Status::Conflict("schedule '" + spec.name + "' already exists; remove it first");
  if (by_name_.size() >= limits::kSchedulesPerNodeMax)
    return Status::Overloaded("node holds " + std::to_string(by_name_.size()) +
                              " schedules, its limit");
  Entry e;
  if (!spec.cron.empty()) {
    auto c = CronExpr::Parse(spec.cron);
    if (!c.ok()) return c.status();
    e.cron = std::move(c.value());
  }
  e.s.spec = std::move(spec);
  e.s.anchor_ms = now_ms;
  e.s.from_ms = now_ms;
  e.next_ms = kNever;
  Entry& in = by_name_.emplace(e.s.spec.name, std::move(e)).first->second;
  Reindex(in);
  return in.s;
}

Status ScheduleTable::Recover(Schedule s) {
  if (by_name_.count(s.spec.name) != 0)
    return Status::Corruption("schedule '" + s.spec.name + "' appears twice");
  Entry e;
  if (!s.spec.cron.empty()) {
    auto c = CronExpr::Parse(s.spec.cron);
    if (!c.ok()) return Status::Corruption("schedule '" + s.spec.name + "': " + c.status().message());
    e.cron = std::move(c.value());
  }
  e.s = std::move(s);
  e.next_ms = kNever;
  Reindex(by_name_.emplace(e.s.spec.name, std::move(e)).first->second);
  return Status::OK();
}

Result<Schedule> ScheduleTable::Remove(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return Status::NotFound("no schedule '" + name + "'");
  Schedule s = std::move(it->second.s);
  due_.erase({it->second.next_ms, name});
  by_name_.erase(it);
  return s;
}

Result<Schedule> ScheduleTable::Pause(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return Status::NotFound("no schedule '" + name + "'");
  it->second.s.paused = true;
  Reindex(it->second);
  return it->second.s;
}

Result<Schedule> ScheduleTable::Resume(const std::string& name, uint64_t now_ms) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return Status::NotFound("no schedule '" + name + "'");
  Entry& e = it->second;
  if (e.s.paused) {
    e.s.paused = false;
    e.s.from_ms = std::max(e.s.from_ms, now_ms);  // ticks missed while paused are skipped
    Reindex(e);
  }
  return e.s;
}

std::vector<std::string> ScheduleTable::Due(uint64_t now_ms) const {
  std::vector<std::string> out;
  for (auto it = due_.begin(); it != due_.end() && it->first <= now_ms; ++it)
    out.push_back(it->second);
  return out;
}

Schedule ScheduleTable::Fired(const std::string& name, uint64_t now_ms, const std::string& job_id) {
  Entry& e = by_name_.at(name);
  JOBNET_CHECK_MSG(!e.s.paused && e.next_ms <= now_ms, "only a due schedule fires");
  // One fire covers every tick up to now: the next is the first regular tick after it. An
  // interval that missed more than one tick (its node was down) starts again from this fire,
  // so the next comes a whole interval later rather than at once.
  if (!e.cron && now_ms >= e.next_ms + e.s.spec.every_ms) e.s.anchor_ms = now_ms;
  e.s.last_fire_ms = now_ms;
  if (!job_id.empty()) {
    e.s.last_job_id = job_id;
    e.s.fires++;
  }
  Reindex(e);
  return e.s;
}

const Schedule* ScheduleTable::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second.s;
}

uint64_t ScheduleTable::NextDeadlineMs() const {
  return due_.empty() ? kNever : due_.begin()->first;
}

protocol::ScheduleInfo ScheduleTable::Info(const Schedule& s, const std::string& node) const {
  protocol::ScheduleInfo i;
  i.name = s.spec.name;
  i.node = node;
  i.cron = s.spec.cron;
  i.every_ms = s.spec.every_ms;
  i.type = s.spec.job.type;
  i.queue = s.spec.job.queue;
  i.paused = s.paused;
  auto it = by_name_.find(s.spec.name);
  if (it != by_name_.end() && it->second.next_ms != kNever) i.next_fire_ms = it->second.next_ms;
  i.last_fire_ms = s.last_fire_ms;
  i.last_job_id = s.last_job_id;
  i.fires = s.fires;
  return i;
}

std::vector<protocol::ScheduleInfo> ScheduleTable::List(const std::string& node) const {
  std::vector<protocol::ScheduleInfo> out;
  out.reserve(by_name_.size());
  for (const auto& [name, e] : by_name_) out.push_back(Info(e.s, node));
  return out;
}

}  // namespace jobnet::sched
