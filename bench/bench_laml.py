"""LaML webhooks per second and their latency, against a bare FastAPI endpoint, same run.

Run: ``.venv/bin/python bench/bench_laml.py`` (or ``scripts/bench.sh bench/bench_laml.py``).

One uvicorn process (one worker, as the service runs: live calls are in its memory) serves
the real LaML routes (signature check, runtime, flows, XML) and ``POST /bare``, a FastAPI
endpoint that returns a constant LaML document. The load comes from this process over
keep-alive connections with a raw HTTP/1.1 client (pre-built, pre-signed requests), so the
client costs far less than the server. With two cores or more, the server is pinned to one
core and the client to another.

Endpoints measured:
- ``bare``: the constant document (the baseline);
- ``entry``: ``POST /laml/voice`` for 0 806 000 156, a new call each time (the document
  asks for the département);
- ``menu``: ``POST /laml/gather?s=1`` with ``Digits=75`` for calls created beforehand
  (untimed), which answers the reason menu.

Two loads, each with 200 concurrent clients (one connection each):
- saturation: every client sends its next request as soon as it has the answer; gives the
  requests per second (the target: at least 70 % of the bare endpoint's);
- paced: every client is one caller and sends one timed request every ``200 / RATE``
  seconds (RATE timed requests per second in all, far above the busiest département's
  webhook rate), between untimed ones that start the call (menu) and hang it up (status
  callback), so the service holds about 200 live calls; gives the latency a provider sees
  (the target: p99 under 20 ms). The bare endpoint gets an untimed second request too.
In a closed loop at saturation, latency is the number of clients divided by the throughput
(Little's law): 200 clients on a server doing 2,000 requests per second wait 100 ms each,
whatever the endpoint, so the latency target is read on the paced load.

The saturation load runs in five interleaved rounds (bare, entry, menu, bare, ...) so that
the other work on the machine weighs on the three endpoints alike.

Environment: BENCH_REQUESTS (per endpoint at saturation, default 10000), BENCH_RATE
(paced, default 400), BENCH_PACED_S (default 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from ivr.transports.laml.signature import compute_signature

CLIENTS = 200
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "10000"))
ROUNDS = 5
RATE = float(os.environ.get("BENCH_RATE", "400"))
PACED_S = float(os.environ.get("BENCH_PACED_S", "10"))
CONFIG = Path(__file__).resolve().parent.parent / "config" / "departments.yaml"
PUBLIC = "https://ivr.example.org"
TOKEN = "jeton-du-banc-d-essai"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
ASSISTANCE = "+33806000156"
AT = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # a Monday, open
BARE_DOCUMENT = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Say language="fr-FR">'
    b"Bienvenue sur la ligne d'assistance SI SIAO.</Say></Response>"
)


# =========================================================================== the server


def serve(port: int) -> None:
    """The service's app with the LaML routes and the bare endpoint, on uvicorn."""
    import uvicorn
    from fastapi import FastAPI
    from starlette.responses import Response

    from ivr.flow import build_flow
    from ivr.flow.vocabulary import CallSummary
    from ivr.runtime.live_state import InMemoryLiveState
    from ivr.runtime.runtime import CallRuntime
    from ivr.transports.laml import LamlConfig, LamlTransport, OutboundCall, laml_router
    from routing.loader import load_config

    class NoProvider:
        """Entry and menu webhooks never use the REST API."""

        async def create_call(self, call: OutboundCall) -> str:
            raise AssertionError("no REST call expected")

        async def redirect_call(self, call_sid: str, url: str) -> None:
            raise AssertionError("no REST call expected")

        async def end_call(self, call_sid: str, *, answered: bool) -> None:
            raise AssertionError("no REST call expected")

        async def delete_queue(self, queue_sid: str) -> None:
            raise AssertionError("no REST call expected")

    class NoRecords:
        """Finished calls are not kept (the service writes them to its database)."""

        async def call_finished(
            self, summary: CallSummary, started_at: datetime, ended_at: datetime
        ) -> None:
            return None

    def clock() -> datetime:
        return AT

    flow = build_flow(load_config(CONFIG))
    runtime = CallRuntime(flow, InMemoryLiveState(), clock, records=NoRecords())
    config = LamlConfig(auth_token=TOKEN, public_base_url=PUBLIC, account_sid=ACCOUNT)
    app = FastAPI()
    app.include_router(laml_router(LamlTransport(runtime, config, NoProvider(), clock)))

    @app.post("/bare")
    async def bare() -> Response:
        return Response(BARE_DOCUMENT, media_type="application/xml")

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )


# =========================================================================== requests


def fields(call_sid: str, **extra: str) -> dict[str, str]:
    base = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Called": ASSISTANCE,
        "Caller": "+33612345678",
        "Direction": "inbound",
        "From": "+33612345678",
        "FromCountry": "FR",
        "To": ASSISTANCE,
        "ToCountry": "FR",
    }
    base.update(extra)
    return base


def request(path: str, form: dict[str, str]) -> bytes:
    body = urlencode(form).encode()
    signature = compute_signature(TOKEN, PUBLIC + path, form.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: ivr.example.org\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def sids(prefix: str, count: int) -> list[str]:
    return [f"CA{prefix}{i:030d}" for i in range(count)]


def entry_requests(prefix: str, count: int) -> list[bytes]:
    return [request("/laml/voice", fields(sid)) for sid in sids(prefix, count)]


def menu_requests(prefix: str, count: int) -> list[bytes]:
    return [
        request("/laml/gather?s=1", fields(sid, CallStatus="in-progress", Digits="75"))
        for sid in sids(prefix, count)
    ]


def hangup_requests(prefix: str, count: int) -> list[bytes]:
    """The status callbacks that end the calls (so live calls stay as many as in service)."""
    return [
        request("/laml/status", fields(sid, CallStatus="completed", CallDuration="60"))
        for sid in sids(prefix, count)
    ]


def bare_requests(count: int) -> list[bytes]:
    return [request("/bare", fields(sid)) for sid in sids("ba", count)]


# =========================================================================== the load


@dataclass
class Run:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<16} {self.requests:>7} req  {self.per_second:>8.0f} req/s  "
            f"p50 {self.percentile(0.50):6.1f} ms  p99 {self.percentile(0.99):6.1f} ms  "
            f"max {max(self.latencies) * 1000:6.1f} ms  failures {self.failures}"
        )


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> bool:
    """Send one request and read its whole answer; True when it is a 200."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200")


async def one_client(
    port: int,
    work: list[bytes],
    latencies: list[float],
    failures: list[int],
    pace: Callable[[int], float] | None,
    before: list[bytes] | None = None,
    after: list[bytes] | None = None,
) -> None:
    """One connection: ``before[i]`` (untimed), ``work[i]`` timed, ``after[i]`` (untimed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for index, raw in enumerate(work):
            if pace is not None:
                delay = pace(index) - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if before is not None and not await exchange(reader, writer, before[index]):
                failures.append(1)
            start = time.perf_counter()
            ok = await exchange(reader, writer, raw)
            latencies.append(time.perf_counter() - start)
            if not ok:
                failures.append(1)
            if after is not None and not await exchange(reader, writer, after[index]):
                failures.append(1)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def saturate(name: str, port: int, work: list[bytes]) -> Run:
    latencies: list[float] = []
    failures: list[int] = []
    chunks = [work[i::CLIENTS] for i in range(CLIENTS)]
    start = time.perf_counter()
    await asyncio.gather(*(one_client(port, c, latencies, failures, None) for c in chunks))
    return Run(name, len(work), time.perf_counter() - start, latencies, len(failures))


async def paced(
    name: str, port: int, work: list[bytes], before: list[bytes] | None, after: list[bytes]
) -> Run:
    """Every client sends a request every ``CLIENTS / RATE`` seconds, timed, between its
    untimed ``before`` (the call's start, for the menu) and ``after`` (its hang-up): each
    client is one caller with one live call at a time, so the service holds about as many
    calls as there are clients, as in service."""
    latencies: list[float] = []
    failures: list[int] = []
    interval = CLIENTS / RATE
    chunks = [work[i::CLIENTS] for i in range(CLIENTS)]
    befores = [before[i::CLIENTS] if before is not None else None for i in range(CLIENTS)]
    afters = [after[i::CLIENTS] for i in range(CLIENTS)]
    origin = time.perf_counter() + 0.2

    def schedule(client: int) -> Callable[[int], float]:
        offset = origin + interval * client / CLIENTS
        return lambda index: offset + index * interval

    start = time.perf_counter()
    await asyncio.gather(
        *(
            one_client(port, c, latencies, failures, schedule(i), befores[i], afters[i])
            for i, c in enumerate(chunks)
        )
    )
    return Run(name, len(work), time.perf_counter() - start, latencies, len(failures))


# =========================================================================== main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def merge(name: str, runs: list[Run]) -> Run:
    latencies = [latency for run in runs for latency in run.latencies]
    return Run(
        name,
        sum(run.requests for run in runs),
        sum(run.seconds for run in runs),
        latencies,
        sum(run.failures for run in runs),
    )


async def measure(port: int) -> tuple[list[Run], list[float], list[float]]:
    """Saturation in interleaved rounds (bare, entry, menu, bare, ...), so that the other
    work on the machine weighs on the three alike; then the paced load."""
    # Warm both paths (imports, caches, the first connections), untimed.
    await saturate("warm-up", port, bare_requests(400) + entry_requests("wu", 400))
    await saturate("warm-up", port, menu_requests("wu", 400))
    await saturate("warm-up", port, hangup_requests("wu", 400))

    per_round = REQUESTS // ROUNDS
    rounds: dict[str, list[Run]] = {"bare": [], "entry": [], "menu": []}
    for index in range(ROUNDS):
        prefix = f"r{index}"
        await saturate("setup", port, entry_requests("m" + prefix, per_round))
        rounds["bare"].append(await saturate("bare", port, bare_requests(per_round)))
        rounds["entry"].append(
            await saturate("entry", port, entry_requests("e" + prefix, per_round))
        )
        rounds["menu"].append(await saturate("menu", port, menu_requests("m" + prefix, per_round)))
        await saturate("teardown", port, hangup_requests("m" + prefix, per_round))
        await saturate("teardown", port, hangup_requests("e" + prefix, per_round))
    runs = [merge(name, parts) for name, parts in rounds.items()]
    entry_ratios = [
        e.per_second / b.per_second for e, b in zip(rounds["entry"], rounds["bare"], strict=True)
    ]
    menu_ratios = [
        m.per_second / b.per_second for m, b in zip(rounds["menu"], rounds["bare"], strict=True)
    ]

    count = int(RATE * PACED_S)
    bare, entry, menu = (
        bare_requests(count),
        entry_requests("pe", count),
        menu_requests("pm", count),
    )
    runs.append(await paced("bare paced", port, bare, None, bare))
    runs.append(await paced("entry paced", port, entry, None, hangup_requests("pe", count)))
    starts, hangups = entry_requests("pm", count), hangup_requests("pm", count)
    runs.append(await paced("menu paced", port, menu, starts, hangups))
    return runs, entry_ratios, menu_ratios


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        pin(1)
        serve(int(sys.argv[2]))
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_ready(port, server)
        pin(0)
        runs, entry_ratios, menu_ratios = asyncio.run(measure(port))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{CLIENTS} concurrent clients, {os.cpu_count()} cores, {ROUNDS} interleaved rounds")
    for run in runs:
        print(run.line())
    by_name = {run.name: run for run in runs}
    bare = by_name["bare"].per_second
    for name, ratios in (("entry", entry_ratios), ("menu", menu_ratios)):
        ratio = by_name[name].per_second / bare
        p99 = by_name[f"{name} paced"].percentile(0.99)
        print(
            f"{name}: {ratio:.0%} of the bare endpoint's throughput (target ≥ 70 %; per round "
            f"{', '.join(f'{r:.0%}' for r in ratios)}), paced p99 {p99:.1f} ms (target < 20 ms)"
        )
    median = statistics.median(by_name["bare paced"].latencies) * 1000
    print(
        f"paced load: {RATE:.0f} req/s offered; median latency of the bare endpoint {median:.1f} ms"
    )


if __name__ == "__main__":
    main()
