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

uint64_t ScheduleTable::NextFire(const Entry& e, Now now) {
  if (e.s.paused) return kNever;
  uint64_t after = std::max(e.s.from_ms, e.s.last_fire_ms);
  if (e.cron) return e.cron->NextAfter(after).value_or(kNever);  // never a tick twice
  JOBNET_CHECK(e.s.spec.every_ms > 0);
  // A record from the future: the wall clock went back since. An interval counts from now.
  after = std::min(after, now.wall_ms);
  return EveryNextAfter(e.s.anchor_ms, e.s.spec.every_ms, after);
}

void ScheduleTable::Unindex(const Entry& e) {
  due_wall_.erase({e.next_ms, e.s.spec.name});
  due_mono_.erase({e.due_mono_ms, e.s.spec.name});
}

void ScheduleTable::Index(Entry& e, uint64_t next_ms, Now now) {
  Unindex(e);
  e.next_ms = next_ms;
  e.due_mono_ms = kNever;
  if (next_ms == kNever) return;
  if (e.cron) {
    due_wall_.emplace(next_ms, e.s.spec.name);
  } else {
    e.due_mono_ms = now.MonoAt(next_ms);
    due_mono_.emplace(e.due_mono_ms, e.s.spec.name);
  }
}

Result<Schedule> ScheduleTable::Add(ScheduleSpec spec, Now now) {
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
  e.s.anchor_ms = now.wall_ms;
  e.s.from_ms = now.wall_ms;
  e.next_ms = e.due_mono_ms = kNever;
  Entry& in = by_name_.emplace(e.s.spec.name, std::move(e)).first->second;
  Index(in, NextFire(in, now), now);
  return in.s;
}

Status ScheduleTable::Recover(Schedule s, Now now) {
  if (by_name_.count(s.spec.name) != 0)
    return Status::Corruption("schedule '" + s.spec.name + "' appears twice");
  Entry e;
  if (!s.spec.cron.empty()) {
    auto c = CronExpr::Parse(s.spec.cron);
    if (!c.ok()) return Status::Corruption("schedule '" + s.spec.name + "': " + c.status().message());
    e.cron = std::move(c.value());
  }
  e.s = std::move(s);
  e.next_ms = e.due_mono_ms = kNever;
  Entry& in = by_name_.emplace(e.s.spec.name, std::move(e)).first->second;
  Index(in, NextFire(in, now), now);
  return Status::OK();
}

Result<Schedule> ScheduleTable::Remove(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return Status::NotFound("no schedule '" + name + "'");
  Unindex(it->second);
  Schedule s = std::move(it->second.s);
  by_name_.erase(it);
  return s;
}

Result<Schedule> ScheduleTable::Pause(const std::string& name, Now now) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return Status::NotFound("no schedule '" + name + "'");
  it->second.s.paused = true;
  Index(it->second, kNever, now);
  return it->second.s;
}

Result<Schedule> ScheduleTable::Resume(const std::string& name, Now now) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return Status::NotFound("no schedule '" + name + "'");
  Entry& e = it->second;
  if (e.s.paused) {
    e.s.paused = false;
    e.s.from_ms = std::max(e.s.from_ms, now.wall_ms);  // ticks missed while paused are skipped
    Index(e, NextFire(e, now), now);
  }
  return e.s;
}

std::vector<std::string> ScheduleTable::Due(Now now) const {
  std::vector<std::pair<uint64_t, std::string>> due;  // (wall time of the fire, name)
  for (auto it = due_wall_.begin(); it != due_wall_.end() && it->first <= now.wall_ms; ++it)
    due.push_back(*it);
  for (auto it = due_mono_.begin(); it != due_mono_.end() && it->first <= now.mono_ms; ++it)
    due.emplace_back(by_name_.at(it->second).next_ms, it->second);
  std::sort(due.begin(), due.end());
  std::vector<std::string> out;
  out.reserve(due.size());
  for (auto& d : due) out.push_back(std::move(d.second));
  return out;
}

Schedule ScheduleTable::Fired(const std::string& name, Now now, const std::string& job_id) {
  Entry& e = by_name_.at(name);
  JOBNET_CHECK_MSG(!e.s.paused && (e.cron ? e.next_ms <= now.wall_ms : e.due_mono_ms <= now.mono_ms),
                   "only a due schedule fires");
  e.s.last_fire_ms = now.wall_ms;
  if (!job_id.empty()) {
    e.s.last_job_id = job_id;
    e.s.fires++;
  }
  if (e.cron) {
    // One fire covers every tick up to now: the next is the first regular tick after it.
    Index(e, NextFire(e, now), now);
    return e.s;
  }
  // An interval is due on the steady clock. One fire covers every tick up to now; one that
  // missed more than one tick (its node was down or stalled) starts again from this fire, so
  // the next comes a whole interval later rather than at once. The next regular tick is found
  // on the wall grid, but never more than one interval ahead: after the wall clock stepped
  // back, the grid lies in the future and would hold the schedule for that long.
  const uint64_t every = e.s.spec.every_ms;
  if (now.wall_ms >= e.next_ms + every || now.mono_ms >= e.due_mono_ms + every)
    e.s.anchor_ms = now.wall_ms;
  // (NextFire is after now.wall_ms: the fire just made is the last.)
  Index(e, std::min(NextFire(e, now), now.wall_ms + every), now);
  return e.s;
}

const Schedule* ScheduleTable::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second.s;
}

uint64_t ScheduleTable::NextDeadlineMs() const {
  uint64_t d = due_wall_.empty() ? kNever : due_wall_.begin()->first;
  return due_mono_.empty() ? d : std::min(d, due_mono_.begin()->first);
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
