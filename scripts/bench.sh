#!/usr/bin/env bash
# Runs the benchmarks pinned to one core; each prints its figures and its baseline.
# Usage: scripts/bench.sh [bench/bench_flow.py ...]   (default: every bench/bench_*.py
# but bench_sip.py, which needs a lab Asterisk)
set -euo pipefail
cd "$(dirname "$0")/.."
# The benchmarks drive the fake Asterisk of the test support (tests/support, not shipped).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
scripts/setup.sh dev
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  # Every benchmark but bench_sip.py, which needs a lab Asterisk and SIPp (its docstring
  # and bench/RESULTS.md give its command).
  for f in bench/bench_*.py; do
    [ "$f" = bench/bench_sip.py ] || files+=("$f")
  done
fi
for f in "${files[@]}"; do
  echo "== $f"
  "${pin[@]}" .venv/bin/python "$f"
done
