"""``ivr serve`` for the SIP suite, with two routes a test needs and a person would click.

The same process as ``ivr serve`` (``IVR_*`` settings from the environment), plus, on
127.0.0.1 only and for the tests only:

- ``POST /lab/presence`` ``{"departement", "phone", "presence"}``: what the listener console's
  presence buttons do (``CallQueries.set_listener_presence``);
- ``POST /lab/callback`` ``{"listener", "person"}``: what the console's « Rappeler
  maintenant » does (``AriTransport.place_callback`` presenting the configured call-back
  number), answering once the call-back has ended with its result.

    .venv/bin/python tests/sip/lab_service.py --port 8190 [--trace ari-trace.jsonl]

``--trace`` (or ``IVR_LAB_TRACE`` for the suite) records every ARI event and request, as
``scripts/lab_record.py`` does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from ivr.cli import run_service
from ivr.composition import Services
from ivr.runtime.live_state import Presence

if __package__ in (None, ""):  # run as a script: the project's root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.ari_trace import recorder


def install(app: FastAPI, services: Services) -> None:
    @app.post("/lab/presence")
    async def presence(request: Request) -> dict[str, str]:
        body: dict[str, Any] = await request.json()
        await services.runtime.set_listener_presence(
            str(body["departement"]), str(body["phone"]), Presence(str(body["presence"]))
        )
        return {"ok": "yes"}

    @app.post("/lab/callback")
    async def callback(request: Request) -> dict[str, str]:
        body: dict[str, Any] = await request.json()
        transport = services.ari
        if transport is None:
            raise RuntimeError("IVR_ARI_URL is not set")
        call = await transport.place_callback(
            str(body["listener"]), str(body["person"]), services.config.national.callback_number
        )
        await call.finished.wait()
        return {"id": call.id, "result": str(call.result.value if call.result else "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument(
        "--trace", type=Path, default=None, help="record every ARI event and request there"
    )
    args = parser.parse_args()
    if args.trace is None:
        run_service("127.0.0.1", args.port, args.config, install)
        return
    record = recorder(args.trace)

    def both(app: FastAPI, services: Services) -> None:
        install(app, services)
        record(app, services)

    run_service("127.0.0.1", args.port, args.config, both)


if __name__ == "__main__":
    main()
