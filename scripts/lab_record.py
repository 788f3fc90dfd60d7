"""Run ``ivr serve`` against a lab Asterisk and record every ARI event and request.

A lab tool, not part of the service: the same process as ``ivr serve`` (same settings,
``IVR_ARI_*``, ``IVR_DATA_DIR``...), with every websocket event and every REST request and
its status appended to a JSON-lines file, times in seconds since the epoch. ``scripts/
lab_calls.py`` turns such a file into the per-call recordings of ``tests/ari/data``.

    IVR_ARI_URL=http://127.0.0.1:8088 IVR_ARI_USER=ivr IVR_ARI_PASSWORD=ivr-lab \\
    IVR_ARI_DIAL_TEMPLATE='Local/{number}@lab-outbound' \\
        .venv/bin/python scripts/lab_record.py --out /tmp/ari-trace.jsonl --port 8115

The numbers in a lab are the fictitious ones of config/departments.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.ari_trace import recorder  # noqa: E402

from ivr.cli import run_service  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--label", default="", help="written on every row (e.g. the process)")
    args = parser.parse_args()
    run_service(None, args.port, None, extend=recorder(args.out, args.label))


if __name__ == "__main__":
    main()
