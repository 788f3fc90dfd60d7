"""RecentPositions: the latest AML position per caller number, within a window."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from geoloc.aml import AmlReport
from geoloc.model import Position
from geoloc.store import RecentPositions

T0 = datetime(2026, 1, 15, 10, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def report(at: datetime = T0, lat: float = 48.39) -> AmlReport:
    return AmlReport(
        position=Position(lat=lat, lon=-4.48, accuracy_m=20.0, at=at), at=at, method="G"
    )


def test_given_report_attached_then_latest_within_window_returns_it() -> None:
    clock = FakeClock(T0)
    store = RecentPositions(window=timedelta(minutes=15), clock=clock)
    first = report()
    assert store.attach("+33612345678", first) is True
    assert store.latest("+33612345678", T0 + timedelta(minutes=14)) is first


def test_given_national_and_e164_forms_then_same_caller() -> None:
    store = RecentPositions(clock=FakeClock(T0))
    first = report()
    store.attach("06 12 34 56 78", first)
    assert store.latest("+33 6 12 34 56 78", T0) is first
    assert store.latest("0033612345678", T0) is first


def test_given_overseas_national_number_then_keyed_by_its_own_country_code() -> None:
    store = RecentPositions(clock=FakeClock(T0))
    first = report()
    store.attach("0696 20 12 34", first)
    assert store.latest("+596696201234", T0) is first
    assert store.latest("+33696201234", T0) is None


def test_given_window_elapsed_then_nothing() -> None:
    store = RecentPositions(window=timedelta(minutes=15), clock=FakeClock(T0))
    store.attach("+33612345678", report())
    assert store.latest("+33612345678", T0 + timedelta(minutes=15, seconds=1)) is None


def test_given_other_number_then_nothing() -> None:
    store = RecentPositions(clock=FakeClock(T0))
    store.attach("+33612345678", report())
    assert store.latest("+33612345679", T0) is None


def test_given_newer_report_then_it_replaces_the_older() -> None:
    store = RecentPositions(clock=FakeClock(T0))
    store.attach("+33612345678", report(at=T0))
    newer = report(at=T0 + timedelta(seconds=30), lat=48.40)
    assert store.attach("+33612345678", newer) is True
    assert store.latest("+33612345678", T0 + timedelta(minutes=1)) is newer


def test_given_older_report_arriving_late_then_the_newer_is_kept() -> None:
    store = RecentPositions(clock=FakeClock(T0))
    newer = report(at=T0 + timedelta(seconds=30))
    store.attach("+33612345678", newer)
    assert store.attach("+33612345678", report(at=T0)) is False
    assert store.latest("+33612345678", T0 + timedelta(minutes=1)) is newer


def test_given_latest_without_now_then_the_injected_clock_is_used() -> None:
    clock = FakeClock(T0)
    store = RecentPositions(window=timedelta(minutes=5), clock=clock)
    store.attach("+33612345678", report())
    clock.now = T0 + timedelta(minutes=6)
    assert store.latest("+33612345678") is None


def test_given_stale_entries_then_they_are_dropped_on_the_next_attach() -> None:
    clock = FakeClock(T0)
    store = RecentPositions(window=timedelta(minutes=5), clock=clock)
    store.attach("+33612345678", report())
    clock.now = T0 + timedelta(minutes=10)
    store.attach("+33612345679", report(at=clock.now))
    assert len(store) == 1


def test_given_more_callers_than_the_cap_then_the_oldest_are_dropped() -> None:
    clock = FakeClock(T0)
    store = RecentPositions(clock=clock, max_entries=3)
    for i in range(5):
        store.attach(f"+3361234567{i}", report())
    assert len(store) == 3
    assert store.latest("+33612345670", T0) is None
    assert store.latest("+33612345674", T0) is not None


def test_given_invalid_number_then_attach_refuses() -> None:
    store = RecentPositions(clock=FakeClock(T0))
    with pytest.raises(ValueError, match="numéro d'appelant invalide"):
        store.attach("pas un numéro", report())


def test_given_non_positive_window_then_refused() -> None:
    with pytest.raises(ValueError, match="window must be positive"):
        RecentPositions(window=timedelta(0))


def test_given_concurrent_writers_then_every_number_keeps_its_latest() -> None:
    store = RecentPositions(clock=FakeClock(T0), max_entries=100_000)

    def writer(offset: int) -> None:
        for i in range(200):
            number = f"+336{offset:02d}{i:06d}"
            store.attach(number, report(at=T0 + timedelta(seconds=i)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 8 * 200
    assert store.latest("+33607000199", T0) is not None
