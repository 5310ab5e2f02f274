#!/usr/bin/env bash
# Uses the Redis at REDIS_URL when it answers; otherwise starts a local redis-server
# (installing it with apt when missing). Only a localhost URL is ever started here.
# The Redis started here keeps what it is given: append-only file, fsync every second, under
# var/redis (a kill -9 loses at most one second of writes; see docs/deployment.md).
set -euo pipefail
url="${REDIS_URL:-redis://localhost:6379/0}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=6379
ping() { (exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ping; then echo "redis: $host:$port answers"; exit 0; fi
case "$host" in localhost|127.0.0.1|::1) ;; *) echo "redis at $host:$port does not answer" >&2; exit 1;; esac
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server missing: installing it with apt"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
fi
mkdir -p var/redis
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" \
  --appendonly yes --appendfsync everysec --appendfilename heatdesk.aof \
  --dir "$PWD/var/redis" --logfile "$PWD/var/redis.log"
for _ in $(seq 1 50); do ping && { echo "redis: started on $host:$port"; exit 0; }; sleep 0.1; done
echo "redis did not start; see var/redis.log" >&2; exit 1
