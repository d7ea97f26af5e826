#!/usr/bin/env bash
# The dashboard's browser test (tests/dashboard_browser.js): playwright-core from http/ui's
# lockfile (npm ci, dev dependencies included, into BUILD/ui-test, again only when the lockfile
# changed), Debian's chromium, this build's jobnet; screenshots land in BUILD.
#   dashboard_browser.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
chrome=$(command -v chromium || command -v chromium-browser) \
  || { echo "dashboard_browser: needs Debian chromium (cluster/deps.sh installs it)"; exit 1; }
command -v npm >/dev/null || { echo "dashboard_browser: needs npm (Debian nodejs npm)"; exit 1; }
grep -q "UiBuilt() { return true; }" "$build/ui_assets.cpp" \
  || { echo "dashboard_browser: this build has no dashboard (no npm when it was built)"; exit 1; }
w=$build/ui-test
if ! cmp -s "$src/http/ui/package-lock.json" "$w/package-lock.json" || [ ! -d "$w/node_modules/playwright-core" ]; then
  mkdir -p "$w"
  cp "$src/http/ui/package.json" "$src/http/ui/package-lock.json" "$w/"
  npm ci --prefix "$w" --no-audit --no-fund >"$w/npm.log" 2>&1 \
    || { echo "dashboard_browser: npm ci failed:"; tail -5 "$w/npm.log"; rm -f "$w/package-lock.json"; exit 1; }
fi
exec node "$src/tests/dashboard_browser.js" "$w" "$chrome" "$build/jobnet" "$build"
