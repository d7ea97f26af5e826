#include "protocol/duration.hpp"

#include <charconv>

namespace jobnet {

Result<uint64_t> ParseDurationMs(const std::string& text) {
  uint64_t n = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, n);
  if (ec != std::errc() || ptr == first)
    return Status::InvalidArgument("bad duration '" + text + "': want e.g. 250ms, 5s, 2m, 1h");
  std::string unit(ptr, last);
  uint64_t mult = 0;
  if (unit == "ms") mult = 1;
  else if (unit == "s") mult = 1000;
  else if (unit == "m") mult = 60 * 1000;
  else if (unit == "h") mult = 3600 * 1000;
  else if (unit == "d") mult = 24ull * 3600 * 1000;
  else if (unit.empty() && n == 0) mult = 1;
  else return Status::InvalidArgument("bad duration '" + text + "': want e.g. 250ms, 5s, 2m, 1h");
  if (n > UINT64_MAX / mult) return Status::InvalidArgument("duration '" + text + "' is too long");
  return n * mult;
}

}  // namespace jobnet
