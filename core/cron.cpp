// Cron parsing and next-tick search; grammar and day rule in cron.hpp.
#include "core/cron.hpp"

#include <cctype>
#include <sstream>
#include <vector>

#include "base/parse.hpp"

namespace jobnet::sched {
namespace {

constexpr uint64_t kMinuteMs = 60000;
constexpr int64_t kMinutesPerDay = 1440;

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms,
// "chrono-Compatible Low-Level Date Algorithms"): exact for every date, no time zone.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{y + (m <= 2), m, d};
}

// 1970-01-01 was a Thursday (4).
unsigned WeekdayFromDays(int64_t z) {
  return static_cast<unsigned>(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

struct FieldDef {
  const char* name;
  int lo;
  int hi;
  const char* const* names;  // names[i] is value names_first + i; null if the field has none
  int names_first;           // the value of names[0]
  int names_count;
};

const char* const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const char* const kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const FieldDef kFields[5] = {
    {"minute", 0, 59, nullptr, 0, 0},
    {"hour", 0, 23, nullptr, 0, 0},
    {"day-of-month", 1, 31, nullptr, 0, 0},
    {"month", 1, 12, kMonthNames, 1, 12},
    {"day-of-week", 0, 7, kDayNames, 0, 7},
};

Status FieldError(int index, const std::string& what) {
  return Status::InvalidArgument("cron field " + std::to_string(index + 1) + " (" +
                                 kFields[index].name + "): " + what);
}

// A number or (for month and day-of-week) a name, within the field's range.
Status ParseValue(int index, const std::string& text, int* out) {
  const FieldDef& f = kFields[index];
  if (text.empty()) return FieldError(index, "a value is missing");
  if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    if (text.size() > 4) return FieldError(index, "'" + text + "' is out of range " +
                                                      std::to_string(f.lo) + "-" +
                                                      std::to_string(f.hi));
    auto number = jobnet::base::ParseUint(text);
    if (!number) return FieldError(index, "'" + text + "' is not a number");
    const int v = static_cast<int>(*number);
    if (v < f.lo || v > f.hi)
      return FieldError(index, std::to_string(v) + " is out of range " + std::to_string(f.lo) +
                                   "-" + std::to_string(f.hi));
    *out = v;
    return Status::OK();
  }
  std::string upper;
  for (char c : text) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  for (int i = 0; i < f.names_count; ++i) {
    if (upper == f.names[i]) {
      *out = f.names_first + i;
      return Status::OK();
    }
  }
  return FieldError(index, "'" + text + "' is not a " +
                               (f.names ? std::string("number or name") : std::string("number")));
}

// One field into the bits of the values it allows (bit v for value v). *star: it begins with "*".
Status ParseField(int index, const std::string& text, std::vector<bool>* bits, bool* star) {
  const FieldDef& f = kFields[index];
  bits->assign(f.hi + 1, false);
  *star = !text.empty() && text[0] == '*';
  std::stringstream items(text);
  std::string item;
  size_t commas = 0;
  for (char c : text) commas += c == ',';
  size_t count = 0;
  while (std::getline(items, item, ',')) {
    ++count;
    if (item.empty()) return FieldError(index, "empty list item in '" + text + "'");
    std::string base = item;
    int step = 1;
    bool stepped = false;
    if (auto slash = item.find('/'); slash != std::string::npos) {
      base = item.substr(0, slash);
      std::string s = item.substr(slash + 1);
      auto number = jobnet::base::ParseUint(s, 9999);  // (`base` is the range here)
      if (!number) return FieldError(index, "step '" + s + "' is not a positive number");
      step = static_cast<int>(*number);
      if (step < 1 || step > f.hi)
        return FieldError(index, "step " + s + " is out of range 1-" + std::to_string(f.hi));
      stepped = true;
    }
    int lo = 0, hi = 0;
    if (base == "*") {
      lo = f.lo;
      hi = f.hi;
      if (index == 4) hi = 6;  // "*" in day-of-week: Sunday once
    } else if (auto dash = base.find('-'); dash != std::string::npos) {
      if (Status s = ParseValue(index, base.substr(0, dash), &lo); !s.ok()) return s;
      if (Status s = ParseValue(index, base.substr(dash + 1), &hi); !s.ok()) return s;
      if (lo > hi)
        return FieldError(index, "range '" + base + "' runs backwards");
    } else {
      if (stepped)
        return FieldError(index, "step in '" + item + "' needs '*' or a range before it");
      if (Status s = ParseValue(index, base, &lo); !s.ok()) return s;
      hi = lo;
    }
    for (int v = lo; v <= hi; v += step) (*bits)[v] = true;
  }
  if (count != commas + 1 || text.empty())
    return FieldError(index, "empty list item in '" + text + "'");
  return Status::OK();
}

}  // namespace

Result<CronExpr> CronExpr::Parse(const std::string& text) {
  std::string expr = text;
  static const struct {
    const char* macro;
    const char* expansion;
  } kMacros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                 {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                 {"@hourly", "0 * * * *"}};
  std::vector<std::string> fields;
  {
    std::stringstream ss(text);
    std::string word;
    while (ss >> word) fields.push_back(word);
  }
  if (fields.size() == 1 && fields[0][0] == '@') {
    bool known = false;
    for (const auto& m : kMacros) {
      if (fields[0] == m.macro) {
        expr = m.expansion;
        known = true;
      }
    }
    if (!known)
      return Status::InvalidArgument("cron macro '" + fields[0] +
                                     "' is unknown (want @yearly, @annually, @monthly, @weekly, "
                                     "@daily, @midnight or @hourly)");
    fields.clear();
    std::stringstream ss(expr);
    std::string word;
    while (ss >> word) fields.push_back(word);
  }
  if (fields.size() != 5)
    return Status::InvalidArgument("cron expression '" + text + "' has " +
                                   std::to_string(fields.size()) +
                                   " fields; want 5: minute hour day-of-month month day-of-week");
  CronExpr c;
  std::vector<bool> bits;
  bool star = false;
  for (int i = 0; i < 5; ++i) {
    if (Status s = ParseField(i, fields[i], &bits, &star); !s.ok()) return s;
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0: c.minutes_.set(v); break;
        case 1: c.hours_.set(v); break;
        case 2: c.mdays_.set(v); break;
        case 3: c.months_.set(v); break;
        case 4: c.wdays_.set(v % 7); break;  // 7 is Sunday too
      }
    }
    if (i == 2) c.mday_star_ = star;
    if (i == 4) c.wday_star_ = star;
  }
  // 2000-01-01: any date that exists occurs within kSearchYears of it.
  if (!c.NextAfter(946684800000ull).has_value())
    return Status::InvalidArgument("cron expression '" + text +
                                   "' matches no date (e.g. day 30 of February)");
  return c;
}

bool CronExpr::DayMatches(int64_t days, unsigned mday) const {
  bool dom = mdays_.test(mday);
  bool dow = wdays_.test(WeekdayFromDays(days));
  return (mday_star_ || wday_star_) ? (dom && dow) : (dom || dow);
}

std::optional<uint64_t> CronExpr::NextAfter(uint64_t t_ms) const {
  const int64_t next_minute = static_cast<int64_t>(t_ms / kMinuteMs) + 1;  // strictly after
  int64_t days = next_minute / kMinutesPerDay;
  int64_t minute_of_day = next_minute % kMinutesPerDay;
  const int64_t last_year = CivilFromDays(days).year + kSearchYears;
  for (;;) {
    const Civil c = CivilFromDays(days);
    if (c.year > last_year) return std::nullopt;
    if (!months_.test(c.month)) {  // on to the first day of the next month
      days = c.month == 12 ? DaysFromCivil(c.year + 1, 1, 1) : DaysFromCivil(c.year, c.month + 1, 1);
      minute_of_day = 0;
      continue;
    }
    if (DayMatches(days, c.day)) {
      for (int64_t h = minute_of_day / 60; h < 24; ++h) {
        if (!hours_.test(static_cast<size_t>(h))) continue;
        int64_t from = h == minute_of_day / 60 ? minute_of_day % 60 : 0;
        for (int64_t m = from; m < 60; ++m) {
          if (minutes_.test(static_cast<size_t>(m)))
            return static_cast<uint64_t>((days * kMinutesPerDay + h * 60 + m)) * kMinuteMs;
        }
      }
    }
    ++days;
    minute_of_day = 0;
  }
}

uint64_t EveryNextAfter(uint64_t anchor_ms, uint64_t every_ms, uint64_t t_ms) {
  if (t_ms < anchor_ms) return anchor_ms + every_ms;
  return anchor_ms + ((t_ms - anchor_ms) / every_ms + 1) * every_ms;
}

}  // namespace jobnet::sched
