"""The virtual clock: its agenda, the runtime's timers and background work on it."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime

import pytest

from ivr.sim.clock import BACKGROUND, CALLER, TIMER, SimulationError, VirtualTime, drive

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def _noop() -> None:
    return None


def test_given_entries_then_they_run_in_time_order_background_first_at_a_moment() -> None:
    time = VirtualTime()
    time.reset(T0)
    ran: list[str] = []
    time.at(5, CALLER, lambda: ran.append("caller at 5"))
    time.at(5, TIMER, lambda: ran.append("timer at 5"))
    time.at(2, CALLER, lambda: ran.append("caller at 2"))
    time.at(5, BACKGROUND, lambda: ran.append("background at 5"))
    while (entry := time.next_entry()) is not None:
        entry.action()
    assert ran == ["caller at 2", "background at 5", "timer at 5", "caller at 5"]
    assert time.clock() == datetime(2026, 11, 23, 9, 0, 5, tzinfo=UTC)


def test_given_timers_then_cancelled_ones_never_fire() -> None:
    time = VirtualTime()
    time.reset(T0)
    fired: list[str] = []

    def timer(name: str) -> None:
        async def fire() -> None:
            fired.append(name)

        time.start(("c1", name), 10, fire)

    timer("announce")
    timer("max_wait")
    time.cancel(("c1", "announce"))
    timer("max_wait")  # re-armed: one firing only
    while (entry := time.next_entry()) is not None:
        entry.action()
    assert fired == ["max_wait"]
    timer("announce")
    time.cancel_call("c1")
    assert time.next_entry() is None


def test_given_a_coroutine_that_waits_then_the_simulation_says_so() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    assert drive(_noop()) is None
    with pytest.raises(SimulationError, match="attend"):
        drive(waits())


def test_given_background_work_never_run_then_clearing_closes_it() -> None:
    time = VirtualTime()
    time.reset(T0)
    coro = _noop()
    time.spawn(coro)
    time.clear()
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED, "never reported unawaited"
