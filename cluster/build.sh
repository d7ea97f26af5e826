#!/usr/bin/env bash
# Configures and builds jobnet into ./build (Release with debug info). Re-running is incremental.
# JOBNET_BUILD_DIR names another build directory, JOBNET_CMAKE_ARGS adds configure flags (the
# sanitizer build of `cluster/test.sh --sanitize`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cluster/deps.sh
dir="${JOBNET_BUILD_DIR:-build}"
# shellcheck disable=SC2086  # JOBNET_CMAKE_ARGS is a list of flags
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${JOBNET_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j "$(nproc)"
