#!/usr/bin/env bash
# Installs dependencies if missing, builds, and runs the whole test suite (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cluster/build.sh
cd build
# Every test runs once: a test that fails is a bug to fix, never to run again. Each is bounded
# (its own TIMEOUT, 300 s at most); nodes a test starts die with it.
ctest --output-on-failure --timeout 300 -j 2 "$@"
