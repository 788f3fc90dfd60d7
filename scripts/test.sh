#!/usr/bin/env bash
# Sets up and runs every check: ruff, mypy --strict, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy --strict src tests
.venv/bin/pytest "$@"
