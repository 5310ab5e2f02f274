#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 needs Python < 3.11).
set -euo pipefail
for candidate in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v "$candidate"; exit 0
  fi
done
for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
  if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
echo "Python 3.10 not found: install it (e.g. pyenv install 3.10) — Rasa 3.6 needs Python < 3.11" >&2
exit 1
