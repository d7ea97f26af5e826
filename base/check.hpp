// JOBNET_CHECK: the one assertion of jobnet, on in every build type (NDEBUG does not remove it).
// It guards our own invariants, never input: bytes from the network or disk are validated and
// answered with a Status. A broken invariant means the process state can no longer be trusted,
// so it prints where and what to stderr and stops the process at once with exit code 70
// (fail-stop): the journal is the truth, and a restart recovers from it.
#ifndef JOBNET_BASE_CHECK_HPP_
#define JOBNET_BASE_CHECK_HPP_

namespace jobnet::base {

// Prints "invariant broken at FILE:LINE: COND (DETAIL)" and ends the process with
// exit_code::kFailStop, without running destructors or flushing anything but stderr.
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const char* detail);

}  // namespace jobnet::base

#define JOBNET_CHECK(cond)                                                     \
  do {                                                                         \
    if (__builtin_expect(!(cond), 0))                                          \
      ::jobnet::base::CheckFailed(__FILE__, __LINE__, #cond, "");              \
  } while (0)

// As JOBNET_CHECK, with a short fixed text saying what the invariant protects.
#define JOBNET_CHECK_MSG(cond, detail)                                         \
  do {                                                                         \
    if (__builtin_expect(!(cond), 0))                                          \
      ::jobnet::base::CheckFailed(__FILE__, __LINE__, #cond, (detail));        \
  } while (0)

#endif  // JOBNET_BASE_CHECK_HPP_
