"""The runtime under a routing file that withdraws the département of calls in progress."""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.flow.vocabulary import CallStarted, Dial, Hold, TimerFired
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.runtime import CallRuntime, MediaCommand
from tests.flow.helpers import PARIS_115, minimal_flow
from tests.flow.test_routing_change import without

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LISTENER = "+33261910751"
OTHER_LISTENER = "+33261910752"
NATIONAL_LRO = "+33465719900"


class Phone:
    def __init__(self) -> None:
        self.delivered: list[MediaCommand] = []

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        self.delivered += commands


async def test_given_queued_call_when_withdrawn_then_no_offer_and_lro_at_next_step() -> None:
    runtime = CallRuntime(minimal_flow(), InMemoryLiveState(), lambda: NOW)
    await runtime.live.set_presence("75", LISTENER, Presence.BUSY, NOW)
    await runtime.live.set_presence("75", OTHER_LISTENER, Presence.PAUSED, NOW)
    phone = Phone()
    first = await runtime.start_call(CallStarted("c1", PARIS_115, "+33612345678"), phone)
    await runtime.drain()
    assert isinstance(first[-1], Hold), "queued"
    assert await runtime.live.waiting_calls("75") == ["c1"]

    runtime.flow = without("75")  # what Services.apply_config does
    await runtime.live.set_presence("75", LISTENER, Presence.AVAILABLE, NOW)
    await runtime.dispatch("75")
    await runtime.drain()
    assert not any(isinstance(c, Dial) for c in phone.delivered), "nobody offered the call"
    presence = {s.number: s.presence for s in await runtime.live.listeners("75")}
    assert presence[LISTENER] is Presence.AVAILABLE, "not claimed for the withdrawn call"

    await runtime.handle_and_deliver("c1", TimerFired("announce"))
    await runtime.drain()

    dials = [c for c in phone.delivered if isinstance(c, Dial)]
    assert [t.number for d in dials for t in d.targets] == [NATIONAL_LRO]
    assert await runtime.live.waiting_calls("75") == []
