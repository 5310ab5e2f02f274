#!/usr/bin/env bash
# Vendors the socket.io browser client for the website widget from the npm registry
# (versions pinned by widget/package-lock.json) into console/static/widget/vendor/.
# The vendored file is committed too, so the page works where npm is unavailable:
# without npm this script keeps the committed copy and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=console/static/widget/vendor
mkdir -p "$vendor"
if ! command -v npm >/dev/null 2>&1; then
  if [ -s "$vendor/socket.io.min.js" ]; then
    echo "widget: npm not found, keeping the committed $vendor/socket.io.min.js"
    exit 0
  fi
  echo "widget: npm is required to vendor socket.io-client (apt-get install npm)" >&2
  exit 1
fi
(
  cd widget
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
)
src=widget/node_modules/socket.io-client/dist
cp "$src/socket.io.min.js" "$vendor/socket.io.min.js"
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' widget/node_modules/socket.io-client/package.json | head -1)
cp widget/node_modules/socket.io-client/LICENSE "$vendor/socket.io-client.LICENSE"
echo "widget: vendored socket.io-client $version into $vendor/"
