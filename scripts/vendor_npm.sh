#!/usr/bin/env bash
# Vendors front-end files from the npm registry into a static folder:
#   scripts/vendor_npm.sh SRC_DIR VENDOR_DIR node_module_path=vendored_name ...
# SRC_DIR holds package.json + package-lock.json (the pinned versions). The vendored files are
# committed, so the pages work where npm is unavailable. Idempotent and quick: when the lock
# file's hash matches VENDOR_DIR/.lock-sha256 and every file is present, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$1; vendor=$2; shift 2
stamp="$vendor/.lock-sha256"
mkdir -p "$vendor"

all_present() {
  local spec
  for spec in "$@"; do [ -s "$vendor/${spec#*=}" ] || return 1; done
}

want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if all_present "$@" && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$src: $vendor/ is up to date"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if all_present "$@"; then
    echo "$src: npm not found, keeping the committed files in $vendor/"
    exit 0
  fi
  echo "$src: npm is required to vendor its packages (apt-get install npm)" >&2
  exit 1
fi
(cd "$src" && npm ci --no-audit --no-fund --loglevel=error)
for spec in "$@"; do
  cp "$src/node_modules/${spec%%=*}" "$vendor/${spec#*=}"
done
echo "$want" > "$stamp"
echo "$src: vendored $# files into $vendor/"
