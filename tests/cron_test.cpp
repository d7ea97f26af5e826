// Cron expressions and intervals (core/cron): the grammar, the Vixie day rule, calendar edges
// (month ends, leap years, year ends) and the errors of bad expressions. Method: parse, then ask
// for the next tick after fixed UTC instants and compare with hand-computed ones.
#include "core/cron.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace jobnet::sched {
namespace {

// Unix ms of a UTC date and time, via timegm-free arithmetic (days from civil, as in cron.cpp,
// but checked here against known values).
uint64_t Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  // Days from 1970-01-01, counted plainly: slow, independent of the code under test.
  auto leap = [](int yr) { return (yr % 4 == 0 && yr % 100 != 0) || yr % 400 == 0; };
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t days = 0;
  for (int yr = 1970; yr < y; ++yr) days += leap(yr) ? 366 : 365;
  for (int m = 1; m < mo; ++m) days += kDays[m - 1] + (m == 2 && leap(y) ? 1 : 0);
  days += d - 1;
  return static_cast<uint64_t>(((days * 24 + h) * 60 + mi) * 60 + s) * 1000;
}

std::string Fmt(uint64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d %s", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, kDays[tm.tm_wday]);
  return buf;
}

class CronTest : public ::testing::Test {
 protected:
  // The next tick of `expr` after `from`, formatted ("" when the expression does not parse).
  std::string Next(const std::string& expr, uint64_t from) {
    auto c = CronExpr::Parse(expr);
    EXPECT_TRUE(c.ok()) << expr << ": " << c.status().ToString();
    if (!c.ok()) return "";
    auto n = c.value().NextAfter(from);
    return n ? Fmt(*n) : "never";
  }
  std::string Error(const std::string& expr) {
    auto c = CronExpr::Parse(expr);
    EXPECT_FALSE(c.ok()) << expr << " parsed";
    if (c.ok()) return "";
    EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
    return c.status().message();
  }
};

TEST_F(CronTest, HelperAgreesWithKnownInstants) {
  EXPECT_EQ(Utc(1970, 1, 1), 0u);
  EXPECT_EQ(Utc(2000, 1, 1), 946684800000ull);
  EXPECT_EQ(Utc(2024, 2, 29, 12, 0), 1709208000000ull);
}

TEST_F(CronTest, EveryMinuteIsStrictlyAfter) {
  EXPECT_EQ(Next("* * * * *", Utc(2024, 5, 1, 10, 0)), "2024-05-01 10:01 Wed");
  EXPECT_EQ(Next("* * * * *", Utc(2024, 5, 1, 10, 0, 59) + 999), "2024-05-01 10:01 Wed");
  EXPECT_EQ(Next("* * * * *", Utc(2024, 5, 1, 10, 0, 1)), "2024-05-01 10:01 Wed");
}

TEST_F(CronTest, StepsOverStarAndRanges) {
  EXPECT_EQ(Next("*/5 * * * *", Utc(2024, 5, 1, 10, 3)), "2024-05-01 10:05 Wed");
  EXPECT_EQ(Next("*/5 * * * *", Utc(2024, 5, 1, 10, 55)), "2024-05-01 11:00 Wed");
  EXPECT_EQ(Next("10-30/10 * * * *", Utc(2024, 5, 1, 10, 30)), "2024-05-01 11:10 Wed");
  EXPECT_EQ(Next("0 9-17/4 * * *", Utc(2024, 5, 1, 13, 0)), "2024-05-01 17:00 Wed");
  EXPECT_EQ(Next("0 9-17/4 * * *", Utc(2024, 5, 1, 17, 0)), "2024-05-02 09:00 Thu");
  // A step larger than its range keeps only the range's start.
  EXPECT_EQ(Next("7-9/50 * * * *", Utc(2024, 5, 1, 10, 7)), "2024-05-01 11:07 Wed");
}

TEST_F(CronTest, ListsAndNames) {
  EXPECT_EQ(Next("0,30 * * * *", Utc(2024, 5, 1, 10, 0)), "2024-05-01 10:30 Wed");
  EXPECT_EQ(Next("15 6 * jan,Jul *", Utc(2024, 5, 1)), "2024-07-01 06:15 Mon");
  EXPECT_EQ(Next("0 0 * * mon-fri", Utc(2024, 5, 3, 12)), "2024-05-06 00:00 Mon");  // Fri -> Mon
  EXPECT_EQ(Next("0 0 * * SAT", Utc(2024, 5, 1)), "2024-05-04 00:00 Sat");
}

TEST_F(CronTest, SundayIsZeroAndSeven) {
  EXPECT_EQ(Next("0 12 * * 0", Utc(2024, 5, 1)), "2024-05-05 12:00 Sun");
  EXPECT_EQ(Next("0 12 * * 7", Utc(2024, 5, 1)), "2024-05-05 12:00 Sun");
  EXPECT_EQ(Next("0 12 * * 5-7", Utc(2024, 5, 4, 13)), "2024-05-05 12:00 Sun");
}

TEST_F(CronTest, MonthEndsSkipShortMonths) {
  EXPECT_EQ(Next("0 0 31 * *", Utc(2024, 4, 1)), "2024-05-31 00:00 Fri");   // April has 30
  EXPECT_EQ(Next("0 0 31 * *", Utc(2024, 5, 31)), "2024-07-31 00:00 Wed");  // June has 30
  EXPECT_EQ(Next("0 0 30 * *", Utc(2024, 1, 30)), "2024-03-30 00:00 Sat");  // February has none
  EXPECT_EQ(Next("59 23 31 12 *", Utc(2024, 12, 31, 23, 59)), "2025-12-31 23:59 Wed");
}

TEST_F(CronTest, LeapDayOnlyInLeapYears) {
  EXPECT_EQ(Next("0 0 29 2 *", Utc(2024, 3, 1)), "2028-02-29 00:00 Tue");
  EXPECT_EQ(Next("0 0 29 2 *", Utc(2023, 1, 1)), "2024-02-29 00:00 Thu");
  // 2100 is not a leap year (divisible by 100, not by 400); 2000 was.
  EXPECT_EQ(Next("0 0 29 2 *", Utc(2096, 3, 1)), "2104-02-29 00:00 Fri");
  EXPECT_EQ(Next("0 0 29 2 *", Utc(1999, 1, 1)), "2000-02-29 00:00 Tue");
}

TEST_F(CronTest, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // Vixie rule: both restricted -> either matches. 2024-05-01 is a Wednesday.
  EXPECT_EQ(Next("0 0 15 * MON", Utc(2024, 5, 1)), "2024-05-06 00:00 Mon");
  EXPECT_EQ(Next("0 0 3 * MON", Utc(2024, 5, 1)), "2024-05-03 00:00 Fri");
  // One side starts with '*' (a step over '*' too): both must match.
  EXPECT_EQ(Next("0 0 13 * */1", Utc(2024, 5, 1)), "2024-05-13 00:00 Mon");
  EXPECT_EQ(Next("0 0 */13 * FRI", Utc(2024, 5, 1)), "2024-06-14 00:00 Fri");  // 1, 14 or 27
  EXPECT_EQ(Next("0 0 13 * *", Utc(2024, 5, 1)), "2024-05-13 00:00 Mon");
  EXPECT_EQ(Next("0 0 */1 * FRI", Utc(2024, 5, 1)), "2024-05-03 00:00 Fri");
  EXPECT_EQ(Next("0 0 1-7 * MON", Utc(2024, 5, 8)), "2024-05-13 00:00 Mon");  // OR: any Monday
}

TEST_F(CronTest, MacrosExpand) {
  EXPECT_EQ(Next("@hourly", Utc(2024, 5, 1, 10, 1)), "2024-05-01 11:00 Wed");
  EXPECT_EQ(Next("@daily", Utc(2024, 5, 1, 10)), "2024-05-02 00:00 Thu");
  EXPECT_EQ(Next("@weekly", Utc(2024, 5, 1)), "2024-05-05 00:00 Sun");
  EXPECT_EQ(Next("@monthly", Utc(2024, 12, 5)), "2025-01-01 00:00 Wed");
  EXPECT_EQ(Next("@yearly", Utc(2024, 5, 1)), "2025-01-01 00:00 Wed");
}

TEST_F(CronTest, BlanksBetweenFieldsAreFree) {
  EXPECT_EQ(Next("  0\t12   * *  *  ", Utc(2024, 5, 1)), "2024-05-01 12:00 Wed");
}

TEST_F(CronTest, BadExpressionsNameTheField) {
  EXPECT_NE(Error("* * * *").find("has 4 fields"), std::string::npos);
  EXPECT_NE(Error("* * * * * *").find("has 6 fields"), std::string::npos);
  EXPECT_NE(Error("").find("has 0 fields"), std::string::npos);
  EXPECT_NE(Error("60 * * * *").find("field 1 (minute): 60 is out of range 0-59"), std::string::npos);
  EXPECT_NE(Error("* 24 * * *").find("field 2 (hour): 24 is out of range 0-23"), std::string::npos);
  EXPECT_NE(Error("* * 0 * *").find("field 3 (day-of-month): 0 is out of range 1-31"),
            std::string::npos);
  EXPECT_NE(Error("* * 32 * *").find("field 3 (day-of-month)"), std::string::npos);
  EXPECT_NE(Error("* * * 13 *").find("field 4 (month)"), std::string::npos);
  EXPECT_NE(Error("* * * FOO *").find("field 4 (month): 'FOO' is not a number or name"),
            std::string::npos);
  EXPECT_NE(Error("* * * * 8").find("field 5 (day-of-week)"), std::string::npos);
  EXPECT_NE(Error("*/0 * * * *").find("field 1 (minute): step 0"), std::string::npos);
  EXPECT_NE(Error("*/x * * * *").find("step 'x'"), std::string::npos);
  EXPECT_NE(Error("5/10 * * * *").find("needs '*' or a range"), std::string::npos);
  EXPECT_NE(Error("30-10 * * * *").find("runs backwards"), std::string::npos);
  EXPECT_NE(Error("1,,2 * * * *").find("empty list item"), std::string::npos);
  EXPECT_NE(Error("1, * * * *").find("field 1 (minute): empty list item"), std::string::npos);
  EXPECT_NE(Error("1- * * * *").find("a value is missing"), std::string::npos);
  EXPECT_NE(Error("-1 * * * *").find("a value is missing"), std::string::npos);
  EXPECT_NE(Error("1a * * * *").find("'1a' is not a number"), std::string::npos);
  EXPECT_NE(Error("99999 * * * *").find("out of range"), std::string::npos);
  EXPECT_NE(Error("@often").find("macro '@often' is unknown"), std::string::npos);
}

TEST_F(CronTest, ImpossibleDatesAreRefused) {
  EXPECT_NE(Error("0 0 30 2 *").find("matches no date"), std::string::npos);
  EXPECT_NE(Error("0 0 31 4,6,9,11 *").find("matches no date"), std::string::npos);
}

TEST_F(CronTest, EveryTicksOnItsGrid) {
  EXPECT_EQ(EveryNextAfter(1000, 500, 1000), 1500u);
  EXPECT_EQ(EveryNextAfter(1000, 500, 1499), 1500u);
  EXPECT_EQ(EveryNextAfter(1000, 500, 1500), 2000u);  // strictly after
  EXPECT_EQ(EveryNextAfter(1000, 500, 0), 1500u);     // before the anchor: the first tick
  EXPECT_EQ(EveryNextAfter(0, 30000, 95000), 120000u);
}

}  // namespace
}  // namespace jobnet::sched
