#!/usr/bin/env bash
# Debian's nginx for the scale-out set-up and its tests (tests/scale): two Rasa servers and two
# action servers behind one load balancer. Only the binary is needed: the tests run nginx as a
# child process with a generated config under var/ (tests/scale/nginx.py), never the system
# service. Idempotent.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
echo "nginx missing: installing Debian's nginx with apt"
apt-get update -qq
# policy-rc.d 101: the package must not start its own service on port 80.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1; fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
/usr/sbin/nginx -v
