#!/usr/bin/env bash
# Sets up and runs the service on its embedded defaults (SQLite, in-process state).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ivr config check config/departments.yaml
.venv/bin/ivr db upgrade
exec .venv/bin/ivr serve "$@"
