#!/usr/bin/env bash
# Configures and builds jobnet into ./build (Release with debug info). Re-running is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cluster/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
