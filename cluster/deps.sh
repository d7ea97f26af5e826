#!/usr/bin/env bash
# Installs jobnet's build dependencies from Debian 12 packages, if any is missing.
set -euo pipefail
PKGS=(cmake ninja-build g++ pkg-config ccache libcaf-dev libzmq3-dev cppzmq-dev
      libmsgpack-cxx-dev librocksdb-dev libgtest-dev libgmock-dev libspdlog-dev libcli11-dev
      libtomlplusplus-dev nlohmann-json3-dev libssl-dev librestinio-dev libasio-dev
      libhttp-parser-dev libfmt-dev libcurl4-openssl-dev prometheus-cpp-dev python3 python3-yaml
      libvips-dev libre2-dev libjwt-dev clang libclang-rt-14-dev
      python3-zmq python3-msgpack prometheus python3-jwt python3-cryptography python3-websocket
      faketime systemd
      etcd-server etcd-client)  # libvips-dev: the image handlers (pkg-config vips-cpp); libre2-dev: find_patterns; faketime: the wall-clock step tests (tests/trust_test); etcd-server: failover's consensus (coord/, tests/coord_test), etcd-client: etcdctl to inspect it
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The dashboard's build fetches its npm packages (http/ui); any node with npm will do (Debian's,
# or one from elsewhere, which Debian's npm package would conflict with). Chromium drives the
# dashboard's browser test (tests/dashboard_browser.js).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >&2
