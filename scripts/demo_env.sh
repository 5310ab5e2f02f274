#!/usr/bin/env bash
# Writes var/demo.env: the secrets `make run` needs when the operator set none
# (a generated console login and Rasa API token), kept across runs.
set -euo pipefail
mkdir -p var
env_file=var/demo.env
if [ ! -f "$env_file" ]; then
  gen() { head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16; }
  {
    echo "CONSOLE_ADMIN_USER=${CONSOLE_ADMIN_USER:-admin}"
    echo "CONSOLE_ADMIN_PASSWORD=${CONSOLE_ADMIN_PASSWORD:-$(gen)}"
    echo "RASA_TOKEN=${RASA_TOKEN:-$(gen)}"
    echo "CONSOLE_SESSION_SECRET=$(gen)$(gen)"
  } > "$env_file"
  chmod 600 "$env_file"
fi
