"""The national monthly report and a département's, on a year of national traffic.

Run: ``bash scripts/bench.sh bench/bench_reports.py``. PostgreSQL: the server of
``IVR_BENCH_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
the bench creates a database of its own (``ivr_bench_reports_<pid>``) and drops it at the end,
whatever happens.

Workload: a year (2025) of generated national traffic, at least 2 million calls of both
lines over the 101 départements (``tests/support/report_traffic.py``: day profile, repeat
callers, answered calls with millisecond waits, abandons in the menu, the queue and while
ringing, deterrence, LRO, call-back offers, reasons), COPYed into ``calls`` and
``call_events`` as the store writes them. The roll-ups are built once (timed), then:

- the national report for November 2025 (indicators of the month and the 12-month trend,
  what ``/admin/rapport?periode=mois&perimetre=national`` computes), target at most 2 s;
- the same for one département (Essonne, 91), target at most 0.5 s;

each measured with the roll-ups (``RollupIndicatorService``, what the pages use; best of 3)
and, in the same run, the naive way (``IndicatorService``: every call of the period and of
the trend read and placed in Python), whose figures the roll-ups must equal exactly.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from tests.support.report_traffic import Traffic

from ivr.records.db import make_engine, upgrade
from ivr.records.indicators import Indicators, IndicatorService, TrendPoint
from ivr.records.periods import Period, Scope, parse_scope
from ivr.records.rollups import RollupIndicatorService
from ivr.records.store import CallRecord, RecordStore
from ivr.web.reporting import COLUMNS
from routing.loader import load_config

URL = os.environ.get("IVR_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CONFIG = Path(__file__).parent.parent / "config" / "departments.yaml"
YEAR_FIRST = date(2025, 1, 1)
DAYS = 365
PER_DAY = int(os.environ.get("IVR_BENCH_PER_DAY", "5700"))  # 2.08 million calls a year
MONTH = Period("mois", date(2025, 11, 1), date(2025, 11, 30))
NATIONAL_TARGET_S = 2.0
DEPARTEMENT_TARGET_S = 0.5
CALL_COLUMNS = (
    "id",
    "call_id",
    "line",
    "departement",
    "caller",
    "called",
    "arrived_at",
    "answered_at",
    "ended_at",
    "outcome",
    "reason",
    "deterrence",
    "lro_used",
    "callback_registered",
    "prompts",
    "takeovers",
)
T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def load(engine: sa.Engine, calls: Traffic) -> int:
    """COPY the generated calls (and their abandon events) straight into the tables."""
    count = 0
    with engine.begin() as conn:
        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cur:
            events: list[tuple[Any, ...]] = []
            with cur.copy(f"COPY calls ({', '.join(CALL_COLUMNS)}) FROM STDIN") as copy:
                for count, call in enumerate(calls.calls(), start=1):
                    copy.write_row(_row(count, call))
                    events.extend(
                        (count, seq, e.kind, e.detail, e.at) for seq, e in enumerate(call.events)
                    )
            columns = "call_pk, seq, kind, detail, at"
            with cur.copy(f"COPY call_events ({columns}) FROM STDIN") as copy:
                for event in events:
                    copy.write_row(event)
            cur.execute("SELECT setval('calls_id_seq', %s)", (count,))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    return count


def _row(pk: int, c: CallRecord) -> tuple[Any, ...]:
    return (
        pk,
        c.call_id,
        c.line,
        c.departement,
        c.caller,
        c.called,
        c.arrived_at,
        c.answered_at,
        c.ended_at,
        c.outcome,
        c.reason,
        c.deterrence,
        c.lro_used,
        c.callback_registered,
        "[]",
        0,
    )


def report(service: IndicatorService, scope: Scope) -> tuple[Indicators, list[TrendPoint]]:
    """What the report page computes for a month: its indicators and the 12-month trend."""
    return service.indicators(MONTH, scope), service.trend(MONTH, scope)


def differences(
    naive: tuple[Indicators, list[TrendPoint]], fast: tuple[Indicators, list[TrendPoint]]
) -> list[str]:
    """Every figure that differs between the two (empty: the same report)."""
    found: list[str] = []
    a, b = naive[0], fast[0]
    groups = [
        *((f"{k}", a.rows[k], b.rows.get(k)) for k in a.rows),
        *((f"ligne {k}", a.by_line[k], b.by_line.get(k)) for k in a.by_line),
        *((f"motif {k}", a.by_reason[k], b.by_reason.get(k)) for k in a.by_reason),
        *((f"{h}h", a.by_hour[h], b.by_hour[h]) for h in range(24)),
        *((f"jour {d}", a.by_weekday[d], b.by_weekday[d]) for d in range(7)),
        ("total", a.total, b.total),
    ]
    if set(a.rows) != set(b.rows):
        found.append("groupes département × ligne différents")
    for name, x, y in groups:
        for column in COLUMNS:
            u = column.value(x)
            v = column.value(y) if y is not None else None
            if u != v and not (u is not None and v is not None and abs(u - v) <= 1e-6 * abs(u)):
                found.append(f"{name} {column.header}: {u} != {v}")
    for p, q in zip(naive[1], fast[1], strict=True):
        if (p.figures.received, p.figures.answered, p.reasons) != (
            q.figures.received,
            q.figures.answered,
            q.reasons,
        ):
            found.append(f"tendance {p.period.label}")
    return found


def main() -> int:
    config = load_config(CONFIG)
    reasons = [r.code for theme in config.national.nomenclature for r in theme.reasons]

    def tz_of(code: str) -> str:
        dep = config.departements.get(code)
        return dep.timezone if dep is not None else "Europe/Paris"

    server = make_url(URL)
    name = f"ivr_bench_reports_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    ok = True
    try:
        upgrade(engine)
        took, count = timed(lambda: load(engine, Traffic(YEAR_FIRST, DAYS, PER_DAY, reasons)))
        print(f"données : {count:,} appels COPY en {took:.1f} s".replace(",", " "))
        with engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        print(f"taille de la base : {int(size or 0) / 1e6:.0f} Mo")

        store = RecordStore(engine, lambda: datetime(2026, 1, 15, tzinfo=UTC))
        fast = RollupIndicatorService(store, tz_of)
        naive = IndicatorService(store, tz_of)
        took, days = timed(lambda: fast.rollups.refresh(YEAR_FIRST, date(2025, 12, 31)))
        print(f"roll-ups : {days} jours agrégés en {took:.1f} s")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM report_rollups")).scalar()
            waits = conn.execute(sa.text("SELECT count(*) FROM report_waits")).scalar()
        print(f"lignes : report_rollups {rows:,} ; report_waits {waits:,}".replace(",", " "))

        for label, scope, target in (
            ("national", parse_scope("national", None), NATIONAL_TARGET_S),
            ("Essonne (91)", parse_scope("dep:91", None), DEPARTEMENT_TARGET_S),
        ):
            runs = [timed(partial(report, fast, scope)) for _ in range(3)]
            best = min(t for t, _ in runs)
            naive_s, expected = timed(partial(report, naive, scope))
            diff = differences(expected, runs[-1][1])
            verdict = "OK" if best <= target and not diff else "ÉCHEC"
            ok = ok and verdict == "OK"
            median = statistics.median(t for t, _ in runs)
            print(
                f"rapport mensuel {label} : roll-ups {best:.3f} s (médiane {median:.3f} s), "
                f"naïf {naive_s:.2f} s, x{naive_s / best:.0f} ; cible {target} s : {verdict} ; "
                f"{expected[0].total.received} appels dans le mois, "
                f"{'mêmes chiffres' if not diff else f'{len(diff)} écarts'}"
            )
            for line in diff[:10]:
                print("  écart :", line)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"base {name} supprimée")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
