"""The runtime frees a listener whose phone rang for a caller who hung up meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.flow.vocabulary import CallerHungUp, CallStarted, Dial, DialOutcome, DialResult
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.runtime import CallRuntime, MediaCommand
from tests.flow.helpers import PARIS_115, minimal_flow

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LISTENER = "+33261910751"


class Phone:
    """A transport that only records what the runtime delivers outside a request."""

    def __init__(self) -> None:
        self.delivered: list[MediaCommand] = []

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        self.delivered += commands


async def queued_call_offered_to_listener() -> tuple[CallRuntime, Phone]:
    runtime = CallRuntime(minimal_flow(), InMemoryLiveState(), lambda: NOW)
    await runtime.live.set_presence("75", LISTENER, Presence.AVAILABLE, NOW)
    phone = Phone()
    await runtime.start_call(CallStarted("c1", PARIS_115, "+33612345678"), phone)
    await runtime.drain()
    assert any(isinstance(c, Dial) for c in phone.delivered), "the listener is rung"
    assert {s.presence for s in await runtime.live.listeners("75")} == {Presence.BUSY}
    return runtime, phone


async def test_given_caller_hangs_up_while_listener_rings_then_listener_is_available_again() -> (
    None
):
    runtime, _ = await queued_call_offered_to_listener()
    await runtime.handle("c1", CallerHungUp())
    await runtime.drain()
    assert [(s.number, s.presence) for s in await runtime.live.listeners("75")] == [
        (LISTENER, Presence.AVAILABLE)
    ]


async def test_given_listener_answers_then_busy_until_the_call_ends() -> None:
    runtime, _ = await queued_call_offered_to_listener()
    await runtime.handle("c1", DialResult(((LISTENER, DialOutcome.ANSWERED),)))
    assert {s.presence for s in await runtime.live.listeners("75")} == {Presence.BUSY}
    await runtime.handle("c1", CallerHungUp())
    await runtime.drain()
    assert {s.presence for s in await runtime.live.listeners("75")} == {Presence.AVAILABLE}


async def test_given_listener_does_not_answer_then_paused_as_acds_do() -> None:
    runtime, _ = await queued_call_offered_to_listener()
    await runtime.handle("c1", DialResult(((LISTENER, DialOutcome.NO_ANSWER),)))
    await runtime.handle("c1", CallerHungUp())
    await runtime.drain()
    assert {s.presence for s in await runtime.live.listeners("75")} == {Presence.PAUSED}
