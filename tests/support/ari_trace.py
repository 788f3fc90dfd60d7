"""Every ARI event and request of a running service, appended to a JSON-lines file.

Lab support, not part of the service: ``scripts/lab_record.py`` (``ivr serve`` recorded)
and the SIP suite's service (``tests/sip/lab_service.py --trace``) install it on the
service's ARI transport. Each row: ``dir`` ``in`` (a websocket event) or ``out`` (a REST
request, its parameters and status; a GET also its answer), ``wall`` (seconds since the
epoch) and ``process`` (the label, when given). ``scripts/lab_calls.py`` cuts whole calls
out of such a file for ``tests/ari/data/real-calls.jsonl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from ivr.composition import Services
from ivr.transports.ari.client import websocket_events

Install = Callable[[FastAPI, Services], None]


def recorder(out_path: Path, label: str = "") -> Install:
    """The ``extend`` hook of ``ivr.cli.run_service`` that records to ``out_path``."""
    out = out_path.open("a", encoding="utf-8")

    def write(row: dict[str, Any]) -> None:
        row["wall"] = time.time()
        if label:
            row["process"] = label
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

    return install
