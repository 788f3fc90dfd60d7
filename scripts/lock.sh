#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml (needs uv: pip install uv).
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --generate-hashes -q -o requirements.lock --python-version 3.11
uv pip compile pyproject.toml --extra dev --generate-hashes -q -o requirements-dev.lock --python-version 3.11
