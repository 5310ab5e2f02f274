#!/usr/bin/env bash
# Vendors the socket.io browser client for the website widget from the npm registry
# (version pinned by widget/package-lock.json) into console/static/widget/vendor/.
# The vendored file is committed too, so the page works where npm is unavailable.
# Idempotent and quick: when the lock file's hash matches vendor/.lock-sha256 and the
# vendored files are present, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
src=widget
vendor=console/static/widget/vendor
stamp="$vendor/.lock-sha256"
files=(socket.io.min.js socket.io-client.LICENSE)
mkdir -p "$vendor"

all_present() {
  local f
  for f in "${files[@]}"; do [ -s "$vendor/$f" ] || return 1; done
}

want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if all_present && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "widget: vendor/ is up to date"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if all_present; then
    echo "widget: npm not found, keeping the committed files in $vendor/"
    exit 0
  fi
  echo "widget: npm is required to vendor socket.io-client (apt-get install npm)" >&2
  exit 1
fi
(cd "$src" && npm ci --no-audit --no-fund --loglevel=error)
modules="$src/node_modules"
cp "$modules/socket.io-client/dist/socket.io.min.js" "$vendor/socket.io.min.js"
cp "$modules/socket.io-client/LICENSE" "$vendor/socket.io-client.LICENSE"
echo "$want" > "$stamp"
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$modules/socket.io-client/package.json" | head -1)
echo "widget: vendored socket.io-client $version into $vendor/"
