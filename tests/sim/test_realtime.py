"""The simulated caller in real time (``tests/support/simulated.py``): ``ivr.sim``'s caller
on a real-time clock, with the call data another instance resumes a call from."""

from __future__ import annotations

import asyncio

from ivr.flow.vocabulary import CallStarted, DialOutcome, Outcome
from ivr.runtime.live_state import InMemoryLiveState
from ivr.runtime.runtime import CallRuntime, MemoryRecords
from tests.state.helpers import (
    ASSISTANCE,
    CALLER,
    MONDAY_10,
    REFERENTS_93,
    eventually,
    shipped_flow,
)
from tests.support.simulated import SimScript, SimulatedTransport


def node(live: InMemoryLiveState) -> tuple[SimulatedTransport, MemoryRecords]:
    records = MemoryRecords()
    runtime = CallRuntime(
        shipped_flow(), live, lambda: MONDAY_10, records=records, registry=live, instance_id="A"
    )
    return SimulatedTransport(runtime, live), records


async def test_given_a_scripted_caller_in_real_time_then_it_answers_the_menus_and_talks() -> None:
    transport, records = node(InMemoryLiveState())
    script = SimScript(presses=["93", "1"], digit_delay_s=0.01, conversation_s=0.05)
    await transport.start_call(CallStarted("rt1", ASSISTANCE, CALLER), script)
    await eventually(lambda: bool(records.calls), within=5)
    summary = records.calls[0][0]
    assert summary.outcome is Outcome.CONNECTED
    assert summary.departement == "93"
    assert [(a.number, a.result) for a in summary.attempts] == [
        (REFERENTS_93[0], DialOutcome.ANSWERED)
    ]


async def test_given_an_answer_not_yet_pressed_then_the_call_data_still_has_it() -> None:
    """A call handed over while its caller is about to answer: the other instance's caller
    answers the menu it hears again with the same keys."""
    transport, records = node(InMemoryLiveState())
    script = SimScript(presses=["93", "1"], digit_delay_s=0.3)
    await transport.start_call(CallStarted("rt2", ASSISTANCE, CALLER), script)
    data = transport.call_data("rt2")
    assert data["presses"] == ["93", "1"]
    assert data["script"]["digit_delay_s"] == 0.3
    transport.detach("rt2")
    await asyncio.sleep(0.4)
    assert transport.runtime.state("rt2") is not None  # detached: its caller pressed nothing
    assert records.calls == []
