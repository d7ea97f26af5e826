// Durations as people write them in flags, config files and JSON job specs.
#ifndef JOBNET_PROTOCOL_DURATION_HPP_
#define JOBNET_PROTOCOL_DURATION_HPP_

#include <cstdint>
#include <string>

#include "jobnet/status.h"

namespace jobnet {

// "250ms", "5s", "2m", "1h", "1d" -> milliseconds. "0" is accepted; other bare numbers are not.
Result<uint64_t> ParseDurationMs(const std::string& text);

}  // namespace jobnet

#endif  // JOBNET_PROTOCOL_DURATION_HPP_
