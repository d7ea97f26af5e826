#!/usr/bin/env bash
# Installs dependencies if missing, builds, starts a local 3-node jobnet cluster in the
# background (jobnet cluster up 3), submits a demo workload through every node, SIGKILLs one
# node while work runs there and restarts it, and shows the results. The cluster keeps running;
# stop it with: ./build/jobnet cluster down --dir ./demo-data
set -euo pipefail
cd "$(dirname "$0")/.."
bash cluster/build.sh
J=./build/jobnet
DIR=./demo-data
PORT=${JOBNET_DEMO_PORT:-7701}
$J cluster down --dir "$DIR" 2>/dev/null || true
$J cluster up 3 --dir "$DIR" --base-port "$PORT" >/dev/null
export JOBNET_ENDPOINTS="tcp://127.0.0.1:$PORT,tcp://127.0.0.1:$((PORT + 1)),tcp://127.0.0.1:$((PORT + 2))"
# The cluster speaks CURVE: its nodes' public keys, and the admin key `cluster up` made.
export JOBNET_CLUSTER="$DIR/cluster.json" JOBNET_KEY="$DIR/admin.key"
echo "== cluster up: $JOBNET_ENDPOINTS (CURVE keys in $DIR)" >&2
$J nodes
echo >&2
to() { echo "--to tcp://127.0.0.1:$((PORT + $1 - 1))"; }
ids=()
ids+=("$($J submit echo '{"hello": "world"}' $(to 1))")
ids+=("$($J submit word_count '"the quick brown fox jumps over the lazy dog the end"' $(to 2))")
ids+=("$($J submit sha256 '"jobnet"' $(to 3))")
ids+=("$($J submit stats '[3, 1, 4, 1, 5, 9, 2, 6]' $(to 1))")
ids+=("$($J submit sleep 100 --delay 1s $(to 2))")
ids+=("$($J submit fail '"always fails"' --max-attempts 2 --backoff 200 $(to 3))")
# The same through n3's HTTP face, holding the request until the job is done.
echo "== HTTP: POST /api/jobs?wait=true on n3" >&2
curl -sS -XPOST "http://127.0.0.1:$((PORT + 102))/api/jobs?wait=true&timeout=10s" \
  -d '{"type":"word_count","payload":"to be or not to be"}' >&2 || echo "(curl is not installed)" >&2
# Busy work on n2, then kill n2 while it runs: its jobs resume when it restarts.
for i in 1 2 3 4 5 6 7 8; do ids+=("$($J submit sleep 1500 $(to 2))"); done
echo "== submitted ${#ids[@]} jobs: ${ids[*]}" >&2
sleep 0.5
echo "== SIGKILL n2 with jobs running, then restart it" >&2
$J cluster kill n2 --dir "$DIR"
$J cluster restart n2 --dir "$DIR"
$J wait "${ids[@]}" >/dev/null
$J status "${ids[@]}"
echo >&2
$J cluster status --dir "$DIR"
echo "== the cluster is still running; stop it with: $J cluster down --dir $DIR" >&2
