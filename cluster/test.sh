#!/usr/bin/env bash
# Installs dependencies if missing, builds, and runs the whole test suite (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cluster/build.sh
cd build
ctest --output-on-failure --timeout 300 -j 2 "$@"
