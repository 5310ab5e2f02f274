#!/usr/bin/env bash
# Trains the Rasa model only when its inputs changed: the model is cached under
# var/models/<hash>.tar.gz, keyed on config, domain, training data and the custom
# NLU/policy code, and var/models/current.tar.gz points at the one in use.
set -euo pipefail
cd "$(dirname "$0")/.."
RASA=.venv/rasa/bin/rasa
hash=$(cat config.yml domain.yml $(find nlu_data bot/nlu bot/handoff/policy.py bot/handoff/triggers.py -type f \( -name '*.yml' -o -name '*.py' -o -name '*.txt' \) | LC_ALL=C sort) \
  | sha256sum | cut -c1-16)
mkdir -p var/models
model="var/models/heatdesk-$hash.tar.gz"
if [ -f "$model" ]; then
  echo "model up to date: $model"
else
  echo "training $model (inputs changed) ..."
  start=$(date +%s)
  export ACTION_PORT="${ACTION_PORT:-5055}"
  "$RASA" train --config config.yml --domain domain.yml --data nlu_data \
    --out var/models --fixed-model-name "heatdesk-$hash" > var/train.log 2>&1 &
  pid=$!
  .venv/rasa/bin/python scripts/train_progress.py var/train.log --pid "$pid" || true
  wait "$pid" || { tail -40 var/train.log; exit 1; }
  echo "trained in $(( $(date +%s) - start )) s"
fi
ln -sfn "heatdesk-$hash.tar.gz" var/models/current.tar.gz
