#!/usr/bin/env bash
# Builds the dashboard's embedded files (called by CMake): `npm ci` of http/ui's lockfile into
# WORK (again only when the lockfile changed), then embed.py writes OUT. Without npm, or when
# npm ci fails, OUT serves a "dashboard not built" page and the build goes on.
#   build.sh SRC_DIR WORK_DIR OUT_CPP
set -uo pipefail
src=$1 work=$2 out=$3
mkdir -p "$work"
modules=()
if command -v npm >/dev/null 2>&1; then
  if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules" ]; then
    cp "$src/package.json" "$src/package-lock.json" "$work/"
    if ! npm ci --prefix "$work" --no-audit --no-fund --omit=dev >"$work/npm.log" 2>&1; then
      echo "dashboard: npm ci failed (see $work/npm.log): /ui/ will say it was not built" >&2
      rm -rf "$work/node_modules"
    fi
  fi
  [ -d "$work/node_modules" ] && modules=(--modules "$work/node_modules")
else
  echo "dashboard: no npm (Debian nodejs npm): /ui/ will say it was not built" >&2
fi
exec python3 "$src/embed.py" --out "$out" --src "$src" "${modules[@]}"
