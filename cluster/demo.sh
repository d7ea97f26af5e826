#!/usr/bin/env bash
# Installs dependencies if missing, builds, starts a local jobnet node in the background,
# submits a demo workload and shows the results. The node keeps running; stop it with
#   kill $(cat demo-data/n1.pid)
set -euo pipefail
cd "$(dirname "$0")/.."
bash cluster/build.sh
J=./build/jobnet
DIR=./demo-data
PORT=${JOBNET_DEMO_PORT:-7701}
mkdir -p "$DIR"
if [ -f "$DIR/n1.pid" ] && kill -0 "$(cat "$DIR/n1.pid")" 2>/dev/null; then
  echo "demo: node n1 already running (pid $(cat "$DIR/n1.pid"))" >&2
else
  setsid "$J" node --id n1 --listen "tcp://127.0.0.1:$PORT" --data "$DIR/n1" --workers 4 \
    >"$DIR/n1.log" 2>&1 < /dev/null &
  echo $! > "$DIR/n1.pid"
  echo "demo: started node n1 on tcp://127.0.0.1:$PORT (pid $!, log $DIR/n1.log)" >&2
fi
export JOBNET_ENDPOINTS="tcp://127.0.0.1:$PORT"
ids=()
ids+=("$($J submit echo '{"hello": "world"}')")
ids+=("$($J submit word_count '"the quick brown fox jumps over the lazy dog the end"')")
ids+=("$($J submit sha256 '"jobnet"')")
ids+=("$($J submit stats '[3, 1, 4, 1, 5, 9, 2, 6]')")
ids+=("$($J submit sleep 300 --priority 5)")
ids+=("$($J submit sleep 100 --delay 1s)")
ids+=("$($J submit fail '"always fails"' --max-attempts 2 --backoff 200)")
echo "demo: submitted ${#ids[@]} jobs: ${ids[*]}" >&2
$J wait "${ids[@]}" >/dev/null
$J status "${ids[@]}"
echo
$J stats
