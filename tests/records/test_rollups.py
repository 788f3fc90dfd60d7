"""The report roll-ups give the same figures as the indicators computed from the calls, on
SQLite and PostgreSQL: the small-scale version of ``bench/bench_reports.py``'s check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ivr.records.indicators import Figures, Indicators, IndicatorService, TrendPoint
from ivr.records.models import ReportWait
from ivr.records.periods import Period, parse_scope
from ivr.records.rollups import RollupIndicatorService, days_between, rollable
from ivr.records.store import CallRecord, RecordStore
from ivr.web.reporting import COLUMNS
from tests.records.conftest import Clock
from tests.support.report_traffic import Traffic, tz_of

NOVEMBER = Period("mois", date(2026, 11, 1), date(2026, 11, 30))
WEEK = Period("semaine", date(2026, 11, 16), date(2026, 11, 22))
SCOPES = [
    parse_scope("national", None),
    parse_scope("dep:75", None),
    parse_scope("dep:974", None),
    parse_scope("region:11", None),
]


def same(naive: Figures, fast: Figures, where: str) -> None:
    for column in COLUMNS:
        expected, got = column.value(naive), column.value(fast)
        if isinstance(expected, float) and got is not None:
            assert got == pytest.approx(expected, rel=1e-9), (where, column.header)
        else:
            assert got == expected, (where, column.header)


def same_indicators(naive: Indicators, fast: Indicators) -> None:
    assert set(fast.rows) == set(naive.rows)
    for key, figures in naive.rows.items():
        same(figures, fast.rows[key], f"rows {key}")
    assert set(fast.by_line) == set(naive.by_line)
    for line, figures in naive.by_line.items():
        same(figures, fast.by_line[line], f"line {line}")
    assert set(fast.by_reason) == set(naive.by_reason)
    for reason, figures in naive.by_reason.items():
        same(figures, fast.by_reason[reason], f"reason {reason}")
    for hour in range(24):
        same(naive.by_hour[hour], fast.by_hour[hour], f"hour {hour}")
    for day in range(7):
        same(naive.by_weekday[day], fast.by_weekday[day], f"weekday {day}")
    same(naive.total, fast.total, "total")


def same_trend(naive: list[TrendPoint], fast: list[TrendPoint]) -> None:
    assert [p.period for p in fast] == [p.period for p in naive]
    for a, b in zip(naive, fast, strict=True):
        for name in ("received", "answered", "abandoned", "deterred", "repeat_7d"):
            assert getattr(b.figures, name) == getattr(a.figures, name), (a.period, name)
        assert b.figures.talk_s == pytest.approx(a.figures.talk_s, rel=1e-9)
        assert b.reasons == a.reasons, a.period


@pytest.fixture
def traffic(store: RecordStore) -> list[CallRecord]:
    calls = list(Traffic(date(2026, 10, 20), 45, 90).calls())
    for i in range(0, len(calls), 1000):
        store.write(calls[i : i + 1000])
    return calls


def test_given_days_over_then_the_rollups_give_the_indicators_of_the_calls(
    store: RecordStore, clock: Clock, traffic: list[CallRecord]
) -> None:
    clock.now = datetime(2026, 12, 20, 12, tzinfo=UTC)  # every day of November is over
    naive = IndicatorService(store, tz_of)
    fast = RollupIndicatorService(store, tz_of, clock)
    for scope in SCOPES:
        for period in (NOVEMBER, WEEK):
            same_indicators(naive.indicators(period, scope), fast.indicators(period, scope))
        same_trend(naive.trend(WEEK, scope), fast.trend(WEEK, scope))
    rolled = fast.rollups.rolled(NOVEMBER.first, NOVEMBER.last)
    assert rolled == set(days_between(NOVEMBER.first, NOVEMBER.last))


def test_given_recent_days_then_they_are_read_from_the_calls_and_the_figures_agree(
    store: RecordStore, clock: Clock, traffic: list[CallRecord]
) -> None:
    clock.now = datetime(2026, 11, 19, 15, tzinfo=UTC)  # mid-month: 17 days over, not 18
    naive = IndicatorService(store, tz_of)
    fast = RollupIndicatorService(store, tz_of, clock)
    for scope in SCOPES[:3]:
        same_indicators(naive.indicators(NOVEMBER, scope), fast.indicators(NOVEMBER, scope))
        same_trend(naive.trend(NOVEMBER, scope), fast.trend(NOVEMBER, scope))
    rolled = fast.rollups.rolled(NOVEMBER.first, NOVEMBER.last)
    assert max(rolled) == date(2026, 11, 17)
    assert not rollable(date(2026, 11, 18), clock.now)


def test_given_a_late_call_in_a_rolled_day_then_that_day_is_read_again(
    store: RecordStore, clock: Clock, traffic: list[CallRecord]
) -> None:
    clock.now = datetime(2026, 12, 20, 12, tzinfo=UTC)
    naive = IndicatorService(store, tz_of)
    fast = RollupIndicatorService(store, tz_of, clock)
    national = SCOPES[0]
    before = fast.indicators(NOVEMBER, national).total.received
    late = Traffic(date(2026, 11, 10), 1, 5, seed=7).calls()
    store.write([replace(c, call_id=f"late-{i}") for i, c in enumerate(late)])
    rolled = fast.rollups.rolled(NOVEMBER.first, NOVEMBER.last)
    assert date(2026, 11, 10) not in rolled
    assert date(2026, 11, 18) not in rolled  # repeat calls: the 8 days after
    assert date(2026, 11, 8) in rolled
    assert date(2026, 11, 20) in rolled
    after = fast.indicators(NOVEMBER, national)
    assert after.total.received > before
    same_indicators(naive.indicators(NOVEMBER, national), after)


def test_given_a_call_written_while_rolling_up_then_the_days_are_not_marked(
    store: RecordStore, clock: Clock, traffic: list[CallRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.now = datetime(2026, 12, 20, 12, tzinfo=UTC)
    fast = RollupIndicatorService(store, tz_of, clock)
    read = fast.call_figures
    at = datetime(2026, 11, 25, 12, tzinfo=UTC)
    late = replace(
        traffic[0],
        call_id="written-meanwhile",
        arrived_at=at,
        ended_at=at + timedelta(minutes=1),
        answered_at=None,
        outcome="message",
        events=(),
    )

    def reading_while_a_call_is_written(*args: Any) -> Iterator[Any]:
        store.write([late])  # committed after the count, before the roll-up is written
        yield from read(*args)

    monkeypatch.setattr(fast, "call_figures", reading_while_a_call_is_written)
    assert fast.rollups.refresh(date(2026, 11, 20), date(2026, 11, 30)) == 0
    assert fast.rollups.rolled(date(2026, 11, 20), date(2026, 11, 30)) == set()
    monkeypatch.undo()
    assert fast.rollups.refresh(date(2026, 11, 20), date(2026, 11, 30)) == 11


def test_given_equal_waits_then_the_histogram_counts_them_and_the_quantiles_agree(
    store: RecordStore, clock: Clock
) -> None:
    at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    calls = [
        CallRecord(
            f"same-{n}",
            "115",
            "93",
            None,
            "+33353010930",
            at + timedelta(minutes=n),
            at + timedelta(minutes=n, seconds=wait + 60),
            answered_at=at + timedelta(minutes=n, seconds=wait),
            outcome="connected",
        )
        for n, wait in enumerate([30, 30, 30, 30, 30, 30, 30, 200, 500, 12])
    ]
    store.write(calls)
    clock.now = datetime(2026, 12, 20, 12, tzinfo=UTC)
    week = Period("semaine", date(2026, 11, 9), date(2026, 11, 15))
    national = SCOPES[0]
    naive = IndicatorService(store, tz_of).indicators(week, national)
    fast = RollupIndicatorService(store, tz_of, clock)
    same_indicators(naive, fast.indicators(week, national))
    total = fast.indicators(week, national).total
    assert (total.wait_median, total.wait_p90, total.wait_max) == (30.0, 200.0, 500.0)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ReportWait.wait_s, ReportWait.calls)).all()
    assert sorted(rows) == [(12.0, 1), (30.0, 7), (200.0, 1), (500.0, 1)]
