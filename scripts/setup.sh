#!/usr/bin/env bash
# Creates .venv and installs the locked dependencies and the project (idempotent).
# Usage: scripts/setup.sh [dev]   ("dev" adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
lock=requirements.lock
[ "${1:-}" = "dev" ] && lock=requirements-dev.lock
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  pipq() { .venv/bin/python -m pip "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
  pipq install --quiet --require-hashes -r "$lock"
  pipq install --quiet --no-deps -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi
