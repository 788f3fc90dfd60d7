"""Bench: the SI SIAO outbox replays 10,000 queued requests against the sandbox.

Target (issue 7): at least 200 requests a second, in submission order, none twice.

    .venv/bin/python bench/bench_sisiao_outbox.py [--count 10000] [--db-url URL]

The sandbox runs as its own process (``python -m sisiao_link.cli``) on a fresh SQLite file; the
outbox lives in ``--db-url`` (default: a fresh SQLite file in WAL mode). The requests are queued
while SI SIAO is "down" (nothing drains), then the outbox drains them in one go, as it would
after an outage. Order and uniqueness are checked in the sandbox's own database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.outbox import Outbox, OutboxState, create_schema, sisiao_outbox
from sisiao_link.port import NouvelleDemandeUrgence, NouvellePersonne


def clock() -> datetime:
    return datetime.now(UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sisiao_link.cli", "--port", str(port), "--db", str(db)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"sandbox exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"sandbox did not start:\n{log.read_text()}")


def outbox_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def reset(engine: sa.Engine) -> None:
    from sisiao_link.outbox import outbox_metadata

    outbox_metadata.drop_all(engine)
    create_schema(engine)


def demande(n: int) -> NouvelleDemandeUrgence:
    return NouvelleDemandeUrgence(
        nouvelle_personne=NouvellePersonne(nom=f"BANC{n:05d}", prenom="Essai"),
        departement="91",
        observations=f"banc n° {n}",
    )


async def drain_all(outbox: Outbox) -> tuple[int, int]:
    sent = rounds = 0
    while True:
        report = await outbox.drain_once()
        rounds += 1
        if report.unavailable:
            raise SystemExit(f"SI SIAO unavailable during the bench: {report.error}")
        sent += report.sent
        if report.sent == 0 and report.rejected == 0:
            return sent, rounds


def check(engine: sa.Engine, sandbox_db: Path, count: int) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(sisiao_outbox.c.idempotency_key, sisiao_outbox.c.state).order_by(
                sisiao_outbox.c.seq
            )
        ).all()
    queued_keys = [r.idempotency_key for r in rows]
    wanted = set(queued_keys)
    sandbox = sa.create_engine(f"sqlite:///{sandbox_db}")
    try:
        with sandbox.connect() as conn:
            every_key = conn.execute(
                sa.text(
                    "SELECT cle_idempotence FROM demandes "
                    "WHERE espace = 'production' AND cle_idempotence IS NOT NULL ORDER BY numero"
                )
            ).scalars()
            created = [key for key in every_key if key in wanted]
    finally:
        sandbox.dispose()
    return {
        "queued": len(rows),
        "all_sent": all(r.state == OutboxState.ENVOYEE for r in rows),
        "created_in_sisiao": len(created),
        "distinct_keys_in_sisiao": len(set(created)),
        "in_order": created == queued_keys,
        "ok": len(created) == count == len(set(created)) and created == queued_keys,
    }


async def replay(
    engine: sa.Engine, http: httpx.AsyncClient, port: int, count: int, send_batch: int
) -> tuple[float, float, int]:
    """Queues ``count`` requests, then drains them; (queueing s, draining s, drain rounds)."""
    reset(engine)
    client = HttpSiSiaoClient(http, f"http://127.0.0.1:{port}", "ivr-115", "bac-a-sable", clock)
    outbox = Outbox(engine, client, clock, send_batch=send_batch)
    started = time.perf_counter()
    for n in range(count):
        outbox.submit(demande(n), f"ecoutant{n % 7}@siao91.example")
    queued_in = time.perf_counter() - started
    started = time.perf_counter()
    sent, rounds = await drain_all(outbox)
    drained_in = time.perf_counter() - started
    if sent != count:
        raise SystemExit(f"sent {sent} of {count}")
    return queued_in, drained_in, rounds


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--db-url", default=None, help="outbox database (default: SQLite file)")
    parser.add_argument(
        "--baseline-count",
        type=int,
        default=1_000,
        help="requests for the baseline: the same outbox sending one request per call",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sisiao-") as tmp:
        work = Path(tmp)
        sandbox_db = work / "sandbox.sqlite3"
        port = free_port()
        sandbox = start_sandbox(sandbox_db, port, work / "sandbox.log")
        engine = outbox_engine(args.db_url or f"sqlite:///{work / 'service.sqlite3'}")
        try:
            async with httpx.AsyncClient() as http:
                _, base_drained_in, _ = await replay(engine, http, port, args.baseline_count, 1)
                queued_in, drained_in, rounds = await replay(engine, http, port, args.count, 50)
            result = check(engine, sandbox_db, args.count)
        finally:
            engine.dispose()
            sandbox.terminate()
            sandbox.wait(timeout=10)

    rate = args.count / drained_in
    base_rate = args.baseline_count / base_drained_in
    print(f"outbox database : {engine.dialect.name}")
    print(f"queued          : {args.count} in {queued_in:.2f} s ({args.count / queued_in:.0f}/s)")
    print(f"sent            : {args.count} in {drained_in:.2f} s over {rounds} drain rounds")
    print(f"throughput      : {rate:.0f} requests/s (target >= 200)")
    print(
        f"baseline        : {base_rate:.0f} requests/s, one request per call "
        f"({args.baseline_count} requests; ratio {rate / base_rate:.1f})"
    )
    print(
        f"check           : created in SI SIAO {result['created_in_sisiao']}, "
        f"distinct keys {result['distinct_keys_in_sisiao']}, in order {result['in_order']}, "
        f"all marked sent {result['all_sent']}"
    )
    ok = result["ok"] and result["all_sent"] and rate >= 200
    print("verdict         : " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
