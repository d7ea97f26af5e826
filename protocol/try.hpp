// JOBNET_TRY(expr): evaluates a jobnet::Status expression and returns it from the enclosing
// function unless it is OK. For the long chains of checked steps in decoders and file formats,
// where an early return per step is the whole control flow.
#ifndef JOBNET_PROTOCOL_TRY_HPP_
#define JOBNET_PROTOCOL_TRY_HPP_

#include "jobnet/status.h"

#define JOBNET_TRY(expr)                    \
  do {                                      \
    ::jobnet::Status jobnet_try_s_ = (expr); \
    if (!jobnet_try_s_.ok()) return jobnet_try_s_; \
  } while (0)

#endif  // JOBNET_PROTOCOL_TRY_HPP_
