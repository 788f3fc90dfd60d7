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
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from ivr.cli import run_service
from ivr.composition import Services
from ivr.transports.ari.client import websocket_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--label", default="", help="written on every row (e.g. the process)")
    args = parser.parse_args()
    out = args.out.open("a", encoding="utf-8")

    def write(row: dict[str, Any]) -> None:
        row["wall"] = time.time()
        if args.label:
            row["process"] = args.label
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()

    def install(app: FastAPI, services: Services) -> None:
        transport = services.ari
        if transport is None:
            raise SystemExit("IVR_ARI_URL is not set: nothing to record")

        @asynccontextmanager
        async def recorded(
            url: str, headers: Mapping[str, str]
        ) -> AsyncIterator[AsyncIterator[str]]:
            async with websocket_events(url, headers) as messages:

                async def relay() -> AsyncIterator[str]:
                    async for message in messages:
                        try:
                            write({"dir": "in", "event": json.loads(message)})
                        except ValueError:
                            write({"dir": "in", "raw": message})
                        yield message

                yield relay()

        async def on_response(response: httpx.Response) -> None:
            request = response.request
            if "/ari/" not in request.url.path:
                return
            row: dict[str, Any] = {
                "dir": "out",
                "method": request.method,
                "path": request.url.path.split("/ari", 1)[1],
                "params": dict(request.url.params),
                "status": "ok" if response.status_code < 400 else response.status_code,
            }
            if request.method == "GET":
                await response.aread()
                row["body"] = response.json() if response.content else None
            write(row)

        transport.connector = recorded
        transport.client.http.event_hooks.setdefault("response", []).append(on_response)

    run_service(None, args.port, None, extend=install)


if __name__ == "__main__":
    main()
