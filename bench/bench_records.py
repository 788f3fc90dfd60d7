"""Call records written per second on PostgreSQL, through the write-behind writer.

Run: ``.venv/bin/python bench/bench_records.py``. PostgreSQL: ``IVR_BENCH_DATABASE_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test_state``); the bench works in a
schema of its own (``ivr_bench``, created by the migrations and dropped at the end).

Workload: 20,000 call records made from simulated calls of both lines (1 to 5 legs each,
deterrence, LRO and call-back events), handed to ``RecordWriter`` as the runtime hands them
(``call_ended``, which never waits), timed until the last one is committed. Baseline, in the
same run: the same store writing one call per transaction with plain INSERTs (2,000 calls),
which is what a write inside each call would cost. Target (issue 3): at least 2,000 records
per second.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from ivr.flow import build_flow
from ivr.records.db import upgrade
from ivr.records.store import CallRecord, RecordStore
from ivr.records.writer import RecordWriter
from ivr.runtime.runtime import FinishedCall
from ivr.sim.simulator import CallScript, Simulator
from routing.loader import load_config

URL = os.environ.get(
    "IVR_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_state"
)
SCHEMA = "ivr_bench"
CALLS = 20_000
BASELINE_CALLS = 2_000
CONFIG = Path(__file__).parent.parent / "config" / "departments.yaml"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def finished_calls() -> list[FinishedCall]:
    """Varied real summaries: the simulator runs a few shapes, each reused under new ids."""
    config = load_config(CONFIG)
    simulator = Simulator(build_flow(config), record_steps=False)
    dep = config.departements["93"]
    line_115 = dep.line_115.inbound_numbers[0]
    assistance = config.national.assistance_number
    shapes = [
        CallScript(assistance, "+33612345678", ["93", "1"]),
        CallScript(assistance, "+33612345678", ["93", "1"], nobody_answers=True),
        CallScript(line_115, "+33612345678", waiting=1, listeners=2),
        CallScript(line_115, "+33612345678", ["1"], waiting=500),
        CallScript(line_115, None, listeners=0),
    ]
    summaries = [simulator.run(shape, T0).state.summary for shape in shapes]
    out = []
    for n in range(CALLS + BASELINE_CALLS):
        summary = summaries[n % len(summaries)]
        copy = type(summary)(**{f: getattr(summary, f) for f in summary.__slots__})
        copy.call_id = f"bench-{n}"
        copy.caller = f"+336{n:08d}"
        start = T0 + timedelta(seconds=n)
        out.append(
            FinishedCall(
                copy,
                start,
                start + timedelta(minutes=4),
                answered_at=start + timedelta(seconds=30),
                instance_id="bench",
                dials=tuple((a.number, start + timedelta(seconds=20)) for a in copy.attempts),
            )
        )
    return out


async def main() -> None:
    engine = sa.create_engine(URL, connect_args={"options": f"-csearch_path={SCHEMA}"})
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    try:
        upgrade(engine)
        calls = finished_calls()
        legs = sum(len(c.summary.attempts) for c in calls[:CALLS])
        print(f"PostgreSQL {engine.url.render_as_string(hide_password=True)} schema {SCHEMA}")
        print(f"{CALLS:,} call records ({legs:,} legs), then {BASELINE_CALLS:,} one by one")
        store = RecordStore(engine, lambda: datetime.now(UTC))

        writer = RecordWriter(store)
        writer.start()
        started = time.perf_counter()
        for call in calls[:CALLS]:
            await writer.call_ended(call)
        handed = time.perf_counter() - started
        assert writer.flush(300), "the writer did not catch up"
        elapsed = time.perf_counter() - started
        writer.stop()
        batched = CALLS / elapsed

        plain = RecordStore(engine, lambda: datetime.now(UTC), use_copy=False)
        started = time.perf_counter()
        for call in calls[CALLS:]:
            plain.write([CallRecord.from_finished(call)])
        single = BASELINE_CALLS / (time.perf_counter() - started)

        assert store.count_calls() == CALLS + BASELINE_CALLS
        print(f"  handing {CALLS:,} records to the writer: {handed * 1e6 / CALLS:.1f} µs each")
        print(f"  batched write-behind (500 per transaction): {batched:>8,.0f} records/s")
        print(f"  one record per transaction, INSERTs (baseline): {single:>5,.0f} records/s")
        print(
            f"  ratio {batched / single:.1f}; target >= 2,000/s: "
            f"{'met' if batched >= 2000 else 'MISSED'}"
        )
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
