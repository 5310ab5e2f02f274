#!/usr/bin/env bash
# Fetches the real rasa-webchat bundle (version and sha512 pinned by
# tests/browser/webchat/package-lock.json) for the browser test that proves our socket.io
# channel is Rasa-compatible. Test-only: it lands in tests/browser/webchat/node_modules
# (git-ignored) and is never served to residents. The UMD bundle lib/index.js is
# self-contained, so only the package's own tarball is fetched (`npm pack`), checked against
# the lock's integrity, and unpacked; nothing to do when it is already there for this lock.
set -euo pipefail
cd "$(dirname "$0")/../tests/browser/webchat"
target=node_modules/rasa-webchat
stamp=$target/.lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -s "$target/lib/index.js" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required for the rasa-webchat browser test (apt-get install npm)" >&2
  exit 1
fi
read -r version integrity < <(node -e '
  const pkg = require("./package-lock.json").packages["node_modules/rasa-webchat"];
  console.log(pkg.version, pkg.integrity);')
echo "fetching rasa-webchat $version for the browser tests (npm pack) ..."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack "rasa-webchat@$version" --pack-destination "$work" --loglevel=error >/dev/null
tarball=$(ls "$work"/rasa-webchat-*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "rasa-webchat $version: integrity mismatch (lock $integrity, got $got)" >&2
  exit 1
fi
rm -rf "$target"
mkdir -p "$target"
tar -xzf "$tarball" -C "$target" --strip-components=1
echo "$want" > "$stamp"
