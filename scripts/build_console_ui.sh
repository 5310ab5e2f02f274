#!/usr/bin/env bash
# Vendors the agent console's front-end packages from the npm registry (versions pinned
# by console_ui/package-lock.json) into console/static/app/vendor/:
#   chart.js  -> chart.umd.min.js  (dashboard charts)
#   axe-core  -> axe.min.js        (accessibility scans in tests/browser)
# The vendored files are committed, so the console works where npm is unavailable.
# Idempotent and quick: when the lock file's hash matches vendor/.lock-sha256 and every
# vendored file is present, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
src=console_ui
vendor=console/static/app/vendor
stamp="$vendor/.lock-sha256"
files=(chart.umd.min.js chart.js.LICENSE axe.min.js axe-core.LICENSE)
mkdir -p "$vendor"

all_present() {
  local f
  for f in "${files[@]}"; do [ -s "$vendor/$f" ] || return 1; done
}

want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if all_present && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "console ui: vendor/ is up to date"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if all_present; then
    echo "console ui: npm not found, keeping the committed files in $vendor/"
    exit 0
  fi
  echo "console ui: npm is required to vendor chart.js and axe-core (apt-get install npm)" >&2
  exit 1
fi
(cd "$src" && npm ci --no-audit --no-fund --loglevel=error)
modules="$src/node_modules"
cp "$modules/chart.js/dist/chart.umd.min.js" "$vendor/chart.umd.min.js"
cp "$modules/chart.js/LICENSE.md" "$vendor/chart.js.LICENSE"
cp "$modules/axe-core/axe.min.js" "$vendor/axe.min.js"
cp "$modules/axe-core/LICENSE" "$vendor/axe-core.LICENSE"
echo "$want" > "$stamp"
version() { sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$modules/$1/package.json" | head -1; }
echo "console ui: vendored chart.js $(version chart.js) and axe-core $(version axe-core) into $vendor/"
