// The fail-stop path of JOBNET_CHECK: report once to stderr, then _Exit.
#include "base/check.hpp"

#include <cstdio>
#include <cstdlib>

#include "base/exit_codes.hpp"

namespace jobnet::base {

void CheckFailed(const char* file, int line, const char* cond, const char* detail) {
  std::fprintf(stderr, "jobnet: invariant broken at %s:%d: %s%s%s%s; stopping (exit %d) so a "
               "restart recovers from the journal\n",
               file, line, cond, detail[0] ? " (" : "", detail, detail[0] ? ")" : "",
               exit_code::kFailStop);
  std::fflush(stderr);
  std::_Exit(exit_code::kFailStop);
}

}  // namespace jobnet::base
