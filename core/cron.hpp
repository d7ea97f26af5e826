// Cron expressions and fixed intervals for recurring jobs (schedules), without clocks: each
// answers "the first tick strictly after t" for a time it is given. Pure, unit-tested
// (tests/cron_test.cpp). All times are Unix milliseconds, read in UTC.
//
// Grammar (docs/protocol.md "Schedules" mirrors it):
//
//   cron   := macro | field field field field field        (fields separated by blanks)
//   field  := item ( "," item )*
//   item   := ( "*" | value | value "-" value ) [ "/" step ]     (a step needs "*" or a range)
//   value  := number | name                                    (names: case-insensitive)
//   macro  := "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
//           | "@hourly"
//
//   field 1 minute 0-59, 2 hour 0-23, 3 day-of-month 1-31, 4 month 1-12 or JAN-DEC,
//   5 day-of-week 0-7 or SUN-SAT (0 and 7 are both Sunday).
//
// Day rule, as Vixie cron: if the day-of-month or the day-of-week field begins with "*" (so
// "*/2" too), a day matches when both fields match; otherwise (both restricted) a day matches
// when EITHER does: "0 0 1,15 * MON" fires on the 1st, the 15th and every Monday.
#ifndef JOBNET_CORE_CRON_HPP_
#define JOBNET_CORE_CRON_HPP_

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

#include "jobnet/status.h"

namespace jobnet::sched {

class CronExpr {
 public:
  // Parses `text`. kInvalidArgument names the field and what is wrong with it ("cron field 3
  // (day-of-month): 32 is out of range 1-31"), and refuses an expression that never matches
  // (e.g. "0 0 30 2 *", February 30th).
  static Result<CronExpr> Parse(const std::string& text);

  // The first whole minute strictly after `t_ms` that matches, in Unix ms; nullopt if none
  // within kSearchYears (only an expression that matches no real date gets there).
  std::optional<uint64_t> NextAfter(uint64_t t_ms) const;

  // The Gregorian calendar repeats every 400 years: a date that exists at all occurs in any
  // 400-year window.
  static constexpr int kSearchYears = 400;

 private:
  CronExpr() = default;
  bool DayMatches(int64_t days_since_epoch, unsigned mday) const;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> mdays_;   // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> wdays_;    // 0..6, Sunday = 0
  bool mday_star_ = false;
  bool wday_star_ = false;
};

// Ticks every `every_ms` from `anchor_ms` (anchor + k * every, k >= 1): the first strictly
// after `t_ms`. every_ms must be positive.
uint64_t EveryNextAfter(uint64_t anchor_ms, uint64_t every_ms, uint64_t t_ms);

}  // namespace jobnet::sched

#endif  // JOBNET_CORE_CRON_HPP_
