#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; `playwright install`
# cannot download browsers here). Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "chromium missing: installing Debian's chromium with apt"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
/usr/bin/chromium --version
