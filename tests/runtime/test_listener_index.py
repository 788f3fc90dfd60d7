"""The registry finds the call ringing or connected to a listener's phone, from any runtime."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ivr.flow.vocabulary import CallerHungUp, CallStarted, Dial, DialOutcome, DialResult
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.runtime import CallRuntime, MediaCommand
from tests.flow.helpers import PARIS_115, minimal_flow

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LISTENER = "+33261910751"


class Phone:
    def __init__(self) -> None:
        self.delivered: list[MediaCommand] = []

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        self.delivered += commands


async def offered() -> tuple[CallRuntime, InMemoryLiveState]:
    """A call queued on instance A and offered to the only listener, whose phone rings."""
    live = InMemoryLiveState()
    runtime = CallRuntime(minimal_flow(), live, lambda: NOW, registry=live, instance_id="A")
    await live.set_presence("75", LISTENER, Presence.AVAILABLE, NOW)
    phone = Phone()
    await runtime.start_call(CallStarted("c1", PARIS_115, "+33612345678"), phone)
    await runtime.drain()
    assert any(isinstance(c, Dial) for c in phone.delivered), "the listener is rung"
    return runtime, live


async def test_given_a_call_offered_to_a_listener_then_their_phone_finds_it_ringing() -> None:
    _, live = await offered()
    found = await live.listener_call(LISTENER)
    assert found is not None
    assert (found.call_id, found.owner, found.listener) == ("c1", "A", None)
    assert found.listener_phones == [LISTENER]


async def test_given_the_listener_answers_then_the_call_stays_found_until_it_ends() -> None:
    runtime, live = await offered()
    await runtime.handle("c1", DialResult(((LISTENER, DialOutcome.ANSWERED),)))
    found = await live.listener_call(LISTENER)
    assert found is not None
    assert found.listener == LISTENER
    await runtime.handle("c1", CallerHungUp())
    await runtime.drain()
    assert await live.listener_call(LISTENER) is None


async def test_given_the_listener_does_not_answer_then_the_call_is_no_longer_theirs() -> None:
    runtime, live = await offered()
    await runtime.handle("c1", DialResult(((LISTENER, DialOutcome.NO_ANSWER),)))
    await runtime.drain()
    assert await live.listener_call(LISTENER) is None
    assert await live.load_call("c1") is not None, "the call itself goes on"


async def test_given_the_caller_hangs_up_while_the_listener_rings_then_the_index_is_cleared() -> (
    None
):
    runtime, live = await offered()
    await runtime.handle("c1", CallerHungUp())
    await runtime.drain()
    assert await live.listener_call(LISTENER) is None
    assert await live.load_call("c1") is None


async def test_given_instance_dies_while_listener_rings_then_survivor_frees_them_on_hang_up() -> (
    None
):
    """The survivor knows whose phone rang for the call: when the caller leaves, that
    listener is made available again (not left busy for ever)."""
    runtime_a, live = await offered()
    await live.heartbeat("A", 0.05)
    runtime_b = CallRuntime(minimal_flow(), live, lambda: NOW, registry=live, instance_id="B")
    runtime_b.register_transport("phone", Phone())
    await live.heartbeat("B", 30)
    runtime_a.calls.clear()  # A is gone without handing anything over
    await asyncio.sleep(0.1)  # its lease lapses

    assert await runtime_b.take_over_orphans() == ["c1"]
    assert runtime_b.calls["c1"].ringing_listener == LISTENER
    await runtime_b.handle("c1", CallerHungUp())
    await runtime_b.drain()

    assert {s.presence for s in await live.listeners("75")} == {Presence.AVAILABLE}
