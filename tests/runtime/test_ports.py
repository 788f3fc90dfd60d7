"""The runtime's injected ports: its background work goes where it is told to run."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from ivr.flow.vocabulary import CallStarted, Dial
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.runtime import CallRuntime
from tests.flow.helpers import PARIS_115, minimal_flow
from tests.runtime.test_listener_release import LISTENER, Phone

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_given_a_spawner_then_the_queue_dispatch_runs_only_when_it_says() -> None:
    spawned: list[Coroutine[Any, Any, None]] = []
    runtime = CallRuntime(minimal_flow(), InMemoryLiveState(), lambda: NOW, spawn=spawned.append)
    await runtime.live.set_presence("75", LISTENER, Presence.AVAILABLE, NOW)
    phone = Phone()
    await runtime.start_call(CallStarted("c1", PARIS_115, "+33612345678"), phone)
    await runtime.drain()
    assert len(spawned) == 1, "the dispatch the enqueue starts"
    assert not any(isinstance(c, Dial) for c in phone.delivered), "not run yet"
    await spawned.pop()
    assert any(isinstance(c, Dial) for c in phone.delivered), "the listener is rung"
