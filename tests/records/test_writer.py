"""Write-behind: a call never waits for the database, failed writes are retried, and a
clean stop loses nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from ivr.flow.vocabulary import CallSummary, Line, Outcome
from ivr.records.db import make_engine
from ivr.records.store import CallbackRequest, CallRecord, Item, RecordStore, WriteResult
from ivr.records.writer import RecordWriter
from ivr.runtime.runtime import FinishedCall
from tests.records.conftest import Clock
from tests.state.helpers import eventually

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def finished(n: int) -> FinishedCall:
    summary = CallSummary(f"c{n}", Line.EMERGENCY, "93", "+33612345678", "+33353010930")
    summary.outcome = Outcome.MESSAGE
    return FinishedCall(summary, T0 + timedelta(seconds=n), T0 + timedelta(seconds=n + 30))


class SlowStore(RecordStore):
    """The real store behind a database that takes its time."""

    def __init__(self, engine: sa.Engine, clock: Clock, delay_s: float) -> None:
        super().__init__(engine, clock)
        self.delay_s = delay_s

    def write(self, items: Sequence[Item]) -> WriteResult:
        time.sleep(self.delay_s)
        return super().write(items)


class FlakyStore(RecordStore):
    """The real store behind a database that fails its first ``failures`` writes."""

    def __init__(self, engine: sa.Engine, clock: Clock, failures: int) -> None:
        super().__init__(engine, clock)
        self.failures = failures
        self.attempts = 0

    def write(self, items: Sequence[Item]) -> WriteResult:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise sa.exc.OperationalError("INSERT", None, ConnectionError("server closed"))
        return super().write(items)


class GatedStore(RecordStore):
    """The real store, held until the test opens the gate."""

    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        super().__init__(engine, clock)
        self.gate = threading.Event()

    def write(self, items: Sequence[Item]) -> WriteResult:
        self.gate.wait(10)
        return super().write(items)


async def test_given_a_slow_database_then_finishing_a_call_does_not_wait_for_it(
    engine: sa.Engine, clock: Clock
) -> None:
    writer = RecordWriter(SlowStore(engine, clock, delay_s=0.5))
    writer.start()
    try:
        started = time.perf_counter()
        for n in range(50):
            await writer.call_ended(finished(n))
        assert time.perf_counter() - started < 0.1
        assert writer.stats().queued == 50
        assert writer.flush(10)
    finally:
        writer.stop()
    assert RecordStore(engine, clock).count_calls() == 50


async def test_given_a_database_failing_for_a_while_then_every_record_is_written_once(
    engine: sa.Engine, clock: Clock
) -> None:
    store = FlakyStore(engine, clock, failures=3)
    writer = RecordWriter(store, backoff_initial_s=0.01, backoff_max_s=0.05)
    writer.start()
    try:
        for n in range(20):
            await writer.call_ended(finished(n))
        await writer.register("93", "+33612345678", "c3", T0)
        assert writer.flush(10)
    finally:
        writer.stop()
    stats = writer.stats()
    assert stats.failures == 3
    assert stats.failing is False
    assert stats.last_error is not None
    assert "server closed" in stats.last_error
    assert (stats.written, stats.duplicates) == (21, 0)
    assert store.count_calls() == 20
    assert [c.call_id for c in store.pending_callbacks()] == ["c3"]


async def test_given_the_database_down_at_a_clean_stop_then_records_wait_in_the_spool_file(
    engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    spool = tmp_path / "spool" / "records-pending.jsonl"
    down = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    writer = RecordWriter(RecordStore(down, clock), spool, backoff_initial_s=0.01)
    writer.start()
    for n in range(30):
        await writer.call_ended(finished(n))
    await writer.register("93", "+33612345678", "c7", T0)
    assert writer.stop(timeout_s=0.5) == 31
    down.dispose()
    assert writer.stats().failing is True
    assert len(spool.read_text(encoding="utf-8").splitlines()) == 31

    again = RecordWriter(RecordStore(engine, clock), spool)
    again.start()
    try:
        assert again.flush(10)
    finally:
        again.stop()
    store = RecordStore(engine, clock)
    assert store.count_calls() == 30
    assert [c.call_id for c in store.pending_callbacks()] == ["c7"]
    assert list(spool.parent.iterdir()) == []  # the spool files are gone once written


async def test_given_a_queue_past_its_bound_then_the_rest_waits_in_the_spool_and_is_written(
    engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    store = GatedStore(engine, clock)
    writer = RecordWriter(store, tmp_path / "pending.jsonl", max_queue=5, batch_size=2)
    writer.start()
    try:
        for n in range(12):
            await writer.call_ended(finished(n))
        assert writer.stats().spooled > 0
        store.gate.set()
        await eventually(lambda: store.count_calls() >= 12)
    finally:
        writer.stop()
    assert store.count_calls() == 12


async def test_given_the_same_call_finished_twice_then_the_record_is_written_once(
    engine: sa.Engine, clock: Clock
) -> None:
    writer = RecordWriter(RecordStore(engine, clock))
    writer.start()
    try:
        await writer.call_ended(finished(1))
        writer.flush(10)
        await writer.call_ended(finished(1))
        await writer.call_finished(finished(1).summary, T0, T0)
        writer.flush(10)
    finally:
        writer.stop()
    assert writer.stats().duplicates == 2
    assert RecordStore(engine, clock).count_calls() == 1


def test_given_a_record_then_its_spool_form_round_trips(clock: Clock) -> None:
    record = CallRecord.from_finished(finished(4))
    assert CallRecord.from_dict(record.to_dict()) == record
    callback = CallbackRequest("c4", "93", "+33612345678", T0)
    assert CallbackRequest.from_dict(callback.to_dict()) == callback
