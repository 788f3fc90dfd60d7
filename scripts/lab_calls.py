"""Cut the per-call recordings of ``tests/ari/data`` out of a ``scripts/lab_record.py`` trace.

A lab tool, not part of the service. A call is named by the id of the service's channel in
Asterisk (the ``;2`` half of the operator's Local channel, whose ``StasisStart`` begins it):
every event and request whose text holds that id belongs to it (its legs, bridge and
playbacks carry it in their ids), and so do the ``GET /channels`` and ``GET /bridges`` of
a process that started while it was up (their answers list it). Times become seconds since
the call's first row; the process label of each row is kept (a restart shows as rows of a
second process).

    .venv/bin/python scripts/lab_calls.py --trace /tmp/ari-trace.jsonl \\
        --call assistance-type-ahead-welcome=1796529897.27 \\
        --out tests/ari/data/real-calls.jsonl

Rows of the named calls already in ``--out`` are replaced; the other calls are kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any


def rows_of(trace: list[dict[str, Any]], channel_id: str) -> list[dict[str, Any]]:
    mention = re.compile(re.escape(channel_id) + r"(?![0-9])")
    picked = [row for row in trace if mention.search(json.dumps(row, ensure_ascii=False))]
    if not picked:
        raise SystemExit(f"no row of the trace mentions {channel_id}")
    start = min(row["wall"] for row in picked)
    out = []
    for row in sorted(picked, key=lambda r: r["wall"]):
        kept = {k: v for k, v in row.items() if k != "wall"}
        out.append({"t": round(row["wall"] - start, 3), **kept})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", type=Path, required=True)
    parser.add_argument("--call", action="append", required=True, help="NAME=CHANNEL_ID")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    trace = [json.loads(line) for line in args.trace.read_text(encoding="utf-8").splitlines()]
    wanted: dict[str, str] = {}
    for item in args.call:
        name, _, channel_id = item.partition("=")
        if not name or not channel_id:
            sys.exit(f"--call {item}: expected NAME=CHANNEL_ID")
        wanted[name] = channel_id
    kept: list[str] = []
    if args.out.exists():
        for line in args.out.read_text(encoding="utf-8").splitlines():
            if json.loads(line)["call"] not in wanted:
                kept.append(line)
    for name, channel_id in wanted.items():
        for row in rows_of(trace, channel_id):
            kept.append(json.dumps({"call": name, **row}, ensure_ascii=False))
    args.out.write_text("\n".join(kept) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(kept)} rows, calls {', '.join(wanted)}")


if __name__ == "__main__":
    main()
