#!/usr/bin/env bash
# Installs dependencies if missing, builds, and runs the whole test suite (unit + integration).
#   bash cluster/test.sh [CTEST FLAGS]              the suite, in ./build
#   bash cluster/test.sh --sanitize [CTEST FLAGS]   the same suite built with AddressSanitizer and
#                                                   UndefinedBehaviorSanitizer, in ./build-asan
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--sanitize" ]]; then
  shift
  export JOBNET_BUILD_DIR=build-asan JOBNET_CMAKE_ARGS="-DJOBNET_SANITIZE=ON"
  # Any report fails the process that made it (and so its test). libfaketime's tests preload
  # it ahead of the ASan runtime, which ASan would otherwise refuse.
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:verify_asan_link_order=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
fi
bash cluster/build.sh
cd "${JOBNET_BUILD_DIR:-build}"
# Every test runs once: a test that fails is a bug to fix, never to run again. Each is bounded
# (its own TIMEOUT, 300 s at most); nodes a test starts die with it.
ctest --output-on-failure --timeout 300 -j 2 "$@"
