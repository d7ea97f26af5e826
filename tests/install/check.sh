#!/usr/bin/env bash
# The installed package works outside the tree: `cmake --install BUILD --prefix TMP` puts the
# binaries, the client library, its headers and the CMake package in place; a program of its own
# (tests/install) finds them with find_package(jobnet) and builds; a node started from the
# installed `jobnet` runs the job that program submits.
#   check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d /tmp/jobnet-install.XXXXXX)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ]; then kill -9 "$node_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "install check: $*" >&2; [ -f "$work/node.log" ] && tail -5 "$work/node.log" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" || fail "cmake --install failed"
for f in bin/jobnet bin/jobnet-node bin/jobnet_bench include/jobnet/client.h include/jobnet/job.h; do
  [ -e "$work/prefix/$f" ] || fail "$f was not installed"
done
config=$(find "$work/prefix" -name jobnetConfig.cmake | head -1)
[ -n "$config" ] || fail "no jobnetConfig.cmake installed"
[ -n "$(find "$work/prefix" -name 'libjobnet_client.a')" ] || fail "no libjobnet_client.a installed"

cmake -S "$src/tests/install" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; fail "find_package(jobnet) failed"; }
cmake --build "$work/consumer" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; fail "the program did not build"; }

# A node from the installed binaries (jobnet runs the jobnet-node beside it), on a port the OS
# picks, killed with this script however it ends (setpriv's parent-death signal).
setpriv --pdeathsig KILL "$work/prefix/bin/jobnet" node --id n1 --listen 'tcp://127.0.0.1:*' \
  --data "$work/data" --workers 1 >"$work/node.log" 2>&1 &
node_pid=$!
endpoint=""
for _ in $(seq 300); do
  endpoint=$(grep -o 'listening on tcp://[0-9.]*:[0-9]*' "$work/node.log" | head -1 | cut -d' ' -f3 || true)
  [ -n "$endpoint" ] && break
  kill -0 "$node_pid" 2>/dev/null || fail "the installed node exited"
  sleep 0.1
done
[ -n "$endpoint" ] || fail "the installed node did not listen within 30 s"
out=$("$work/consumer/submit_one" "$endpoint") || fail "submit_one: $out"
echo "install check: $out"
case "$out" in
  *" succeeded a9696e7374616c6c6564") ;;
  *) fail "unexpected answer: $out" ;;
esac
