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
#ifndef JOBNET_CORE_SCHEDULES_HPP_
#define JOBNET_CORE_SCHEDULES_HPP_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/cron.hpp"
#include "jobnet/status.h"
#include "protocol/job_record.hpp"

namespace jobnet::sched {

class ScheduleTable {
 public:
  // A new schedule, created at now_ms. kConflict if the name is taken, kOverloaded past
  // limits::kSchedulesPerNodeMax, kInvalidArgument for a bad spec or cron (naming the field).
  Result<protocol::Schedule> Add(protocol::ScheduleSpec spec, uint64_t now_ms);
  // A schedule from the journal. kCorruption if it could not have been added (a bad cron, a
  // duplicate name).
  Status Recover(protocol::Schedule s);
  // kNotFound for an unknown name. Pausing a paused schedule or resuming a running one changes
  // nothing and succeeds (both are safe to repeat).
  Result<protocol::Schedule> Remove(const std::string& name);
  Result<protocol::Schedule> Pause(const std::string& name);
  Result<protocol::Schedule> Resume(const std::string& name, uint64_t now_ms);

  // The names of the schedules due at now_ms (next fire <= now_ms), earliest first.
  std::vector<std::string> Due(uint64_t now_ms) const;
  // Records that `name` fired at now_ms and submitted `job_id` (empty: the submit failed, and
  // the tick is skipped). Returns the record to journal.
  protocol::Schedule Fired(const std::string& name, uint64_t now_ms, const std::string& job_id);
  const protocol::Schedule* Find(const std::string& name) const;

  // The earliest next fire of a running schedule, UINT64_MAX if none.
  uint64_t NextDeadlineMs() const;
  std::vector<protocol::ScheduleInfo> List(const std::string& node) const;
  protocol::ScheduleInfo Info(const protocol::Schedule& s, const std::string& node) const;
  size_t size() const { return by_name_.size(); }

 private:
  struct Entry {
    protocol::Schedule s;
    std::optional<CronExpr> cron;  // for a cron schedule
    uint64_t next_ms = 0;          // UINT64_MAX: never (paused, or a cron past its last date)
  };
  // The next fire of a running schedule (UINT64_MAX if paused).
  static uint64_t NextFire(const Entry& e);
  // Puts `e` back into the due index under its freshly computed next fire.
  void Reindex(Entry& e);

  std::map<std::string, Entry> by_name_;
  std::set<std::pair<uint64_t, std::string>> due_;  // (next_ms, name) of running schedules
};

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_SCHEDULES_HPP_
