// The schedules (recurring jobs) of one node, without clocks or journal: which are due at a
// given time, and what each fire, pause and resume changes. The scheduler core owns one table,
// fires the due schedules from its Tick and journals the records it hands back.
//
// When a schedule fires: its ticks are those of its cron expression (core/cron.hpp) or of
// anchor + k * every_ms, k >= 1 (anchor: its creation). Its next fire is the first tick strictly
// after the later of its last fire and `from` (its creation, or its last resume). So:
//  - a tick missed while the node was down (or its disk full) fires once when the node runs
//    again, however many were missed: that fire's time becomes the last fire, and the next is
//    the first regular tick after it. An interval that missed more than one tick starts again
//    from that fire (anchor = its time), so its next fire is a whole interval later, not a
//    moment later on the old grid;
//  - a paused schedule does not fire; resume sets `from` to now, so ticks missed while paused
//    are skipped, not caught up.
// Time (docs/architecture.md "Time"): a cron tick is an instant a user named, due on the wall
// clock, so a wall step moves it (and a tick is never fired twice: after a step back, ticks up
// to the last fire are skipped). An interval is a duration: once computed, its next fire is
// due on the steady clock, so a wall step neither hurries nor holds it.
#ifndef JOBNET_CORE_SCHEDULES_HPP_
#define JOBNET_CORE_SCHEDULES_HPP_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/cron.hpp"
#include "jobnet/status.h"
#include "protocol/job_record.hpp"

namespace jobnet::sched {

class ScheduleTable {
 public:
  // A new schedule, created at now_ms. kConflict if the name is taken, kOverloaded past
  // limits::kSchedulesPerNodeMax, kInvalidArgument for a bad spec or cron (naming the field).
  Result<protocol::Schedule> Add(protocol::ScheduleSpec spec, Now now);
  // A schedule from the journal. kCorruption if it could not have been added (a bad cron, a
  // duplicate name). `now`: the time of the restart.
  Status Recover(protocol::Schedule s, Now now);
  // kNotFound for an unknown name. Pausing a paused schedule or resuming a running one changes
  // nothing and succeeds (both are safe to repeat).
  Result<protocol::Schedule> Remove(const std::string& name);
  Result<protocol::Schedule> Pause(const std::string& name, Now now);
  Result<protocol::Schedule> Resume(const std::string& name, Now now);

  // The names of the schedules due at `now`, earliest first.
  std::vector<std::string> Due(Now now) const;
  // Records that `name` fired at `now` and submitted `job_id` (empty: the submit failed, and
  // the tick is skipped). Returns the record to journal.
  protocol::Schedule Fired(const std::string& name, Now now, const std::string& job_id);
  const protocol::Schedule* Find(const std::string& name) const;

  // The earliest next fire of a running schedule, UINT64_MAX if none (tests: their clocks are
  // one, so wall and steady deadlines compare).
  uint64_t NextDeadlineMs() const;
  std::vector<protocol::ScheduleInfo> List(const std::string& node) const;
  protocol::ScheduleInfo Info(const protocol::Schedule& s, const std::string& node) const;
  size_t size() const { return by_name_.size(); }

 private:
  struct Entry {
    protocol::Schedule s;
    std::optional<CronExpr> cron;  // for a cron schedule
    // The next fire on the wall clock (shown; due by it for a cron schedule). UINT64_MAX:
    // never (paused, or a cron past its last date).
    uint64_t next_ms = 0;
    uint64_t due_mono_ms = 0;  // an interval's next fire on the steady clock (UINT64_MAX: never)
  };
  // The next fire of a running schedule on the wall clock (UINT64_MAX if paused), from its
  // record as of `now`.
  static uint64_t NextFire(const Entry& e, Now now);
  // Takes `e` out of the due indexes.
  void Unindex(const Entry& e);
  // Puts `e` back into its due index under `next_ms` (and, for an interval, the steady time
  // `now` says that is).
  void Index(Entry& e, uint64_t next_ms, Now now);

  std::map<std::string, Entry> by_name_;
  std::set<std::pair<uint64_t, std::string>> due_wall_;  // (next_ms, name): cron schedules
  std::set<std::pair<uint64_t, std::string>> due_mono_;  // (due_mono_ms, name): intervals
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_SCHEDULES_HPP_
