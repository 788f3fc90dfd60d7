"""Two instances' runtimes on one shared state: takeover, hand-over, fencing, dial leases,
queue order across instances. Run on the in-process state and on a real Redis."""

from __future__ import annotations

import asyncio

from ivr.flow.engine import Phase
from ivr.flow.vocabulary import (
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Hold,
    Outcome,
    PeerHungUp,
)
from ivr.runtime.live_state import Presence
from ivr.state.node import ClusterSettings, Node
from ivr.state.resilient import memory_health
from tests.multi_instance.conftest import Instance, SharedState, instance
from tests.state.helpers import (
    ASSISTANCE,
    CALLER,
    LINE_115_93,
    LISTENERS_93,
    MONDAY_10,
    REFERENTS_93,
    eventually,
)


def last_dial(inst: Instance, call_id: str) -> Dial:
    dial = inst.transport.delivered[call_id][-1]
    assert isinstance(dial, Dial)
    return dial


async def ring_tier1(inst: Instance, call_id: str) -> Dial:
    """An assistance call for the 93, reason 1 (tier 1): until its first referent rings."""
    await inst.start(CallStarted(call_id, ASSISTANCE, CALLER))
    await inst.send(call_id, DigitsReceived("93"))
    await inst.send(call_id, DigitsReceived("1"))
    return last_dial(inst, call_id)


async def test_given_an_instance_dies_while_a_referent_rings_then_another_takes_over_elsewhere(
    shared: SharedState,
) -> None:
    """The referent rung by the dead instance is never rung again for that call."""
    a, b = instance("A", shared), instance("B", shared)
    await shared.heartbeat("A", 0.3)
    await shared.heartbeat("B", 30)
    first = await ring_tier1(a, "c1")
    assert [t.number for t in first.targets] == [REFERENTS_93[0]]

    await asyncio.sleep(0.4)  # A is gone: its lease lapses
    assert await b.runtime.take_over_orphans() == ["c1"]
    assert await shared.call_owner("c1") == "B"
    resumed = last_dial(b, "c1")
    assert [t.number for t in resumed.targets] == [REFERENTS_93[1]]
    assert REFERENTS_93[0] not in [
        t.number
        for cmd in b.transport.delivered["c1"]
        if isinstance(cmd, Dial)
        for t in cmd.targets
    ]

    media = await b.send("c1", DialResult(((REFERENTS_93[1], DialOutcome.ANSWERED),)))
    assert not any(isinstance(m, Dial) for m in media)
    await b.send("c1", PeerHungUp())
    summary, _, _ = b.records.calls[0]
    assert summary.outcome is Outcome.CONNECTED
    assert [(x.number, x.result) for x in summary.attempts] == [
        (REFERENTS_93[0], DialOutcome.FAILED),
        (REFERENTS_93[1], DialOutcome.ANSWERED),
    ]
    assert await shared.last_answerer("93") == REFERENTS_93[1]
    assert await shared.load_call("c1") is None
    assert a.records.calls == []


async def test_given_a_clean_stop_then_the_other_instance_has_the_queued_call_at_once(
    shared: SharedState,
) -> None:
    a, b = instance("A", shared), instance("B", shared)
    await shared.heartbeat("A", 30)
    await shared.heartbeat("B", 30)
    await a.runtime.set_listener_presence("93", LISTENERS_93[0], Presence.BUSY)
    media = await a.start(CallStarted("q1", LINE_115_93, CALLER))
    assert isinstance(media[-1], Hold)
    timers = dict(a.runtime.calls["q1"].timers)
    assert set(timers) == {"max_wait", "announce"}

    assert await a.runtime.hand_over() == 1
    assert a.runtime.calls == {}
    assert await b.runtime.take_over_orphans() == ["q1"]
    held = b.runtime.calls["q1"]
    assert held.state.phase is Phase.QUEUED
    assert held.timers == timers
    assert held.takeovers == 1
    assert b.transport.delivered["q1"] == [Hold()]

    await b.runtime.set_listener_presence("93", LISTENERS_93[0], Presence.AVAILABLE)
    await b.runtime.drain()
    assert [t.number for t in last_dial(b, "q1").targets] == [LISTENERS_93[0]]


async def test_given_a_call_taken_over_while_its_old_instance_still_runs_then_the_old_one_drops_it(
    shared: SharedState,
) -> None:
    a, b = instance("A", shared), instance("B", shared)
    await shared.heartbeat("A", 0.2)
    await shared.heartbeat("B", 30)
    await ring_tier1(a, "c1")
    await asyncio.sleep(0.3)
    assert await b.runtime.take_over_orphans() == ["c1"]

    # A was only cut off: an event reaches it, but its media must not be played.
    media = await a.send("c1", DialResult(((REFERENTS_93[0], DialOutcome.BUSY),)))
    assert media == []
    assert "c1" not in a.runtime.calls
    assert await shared.call_owner("c1") == "B"


async def test_given_an_instance_whose_calls_were_taken_then_its_ownership_check_drops_them(
    shared: SharedState,
) -> None:
    a, b = instance("A", shared), instance("B", shared)
    await shared.heartbeat("A", 0.2)
    await shared.heartbeat("B", 30)
    await ring_tier1(a, "c1")
    await asyncio.sleep(0.3)
    await b.runtime.take_over_orphans()
    assert await a.runtime.verify_ownership() == ["c1"]
    assert a.runtime.calls == {}


async def test_given_the_same_call_started_on_two_instances_then_only_the_first_runs_it(
    shared: SharedState,
) -> None:
    a, b = instance("A", shared), instance("B", shared)
    event = CallStarted("dup", ASSISTANCE, CALLER)
    assert await a.start(event)
    assert await b.start(event) == []
    assert "dup" not in b.runtime.calls


async def test_given_a_connected_call_taken_over_then_the_new_instance_ends_and_records_it(
    shared: SharedState,
) -> None:
    a, b = instance("A", shared), instance("B", shared)
    await shared.heartbeat("A", 0.2)
    await shared.heartbeat("B", 30)
    await ring_tier1(a, "c1")
    media = await a.send("c1", DialResult(((REFERENTS_93[0], DialOutcome.ANSWERED),)))
    assert media == []  # connected: nothing to play (recording is off on this line)
    answered_at = a.runtime.calls["c1"].answered_at
    await asyncio.sleep(0.3)
    await b.runtime.take_over_orphans()
    assert b.runtime.calls["c1"].answered_at == answered_at
    assert b.transport.delivered["c1"] == []  # the bridge lives on in the telephony side
    await b.send("c1", PeerHungUp())
    summary, started, _ = b.records.calls[0]
    assert (summary.outcome, summary.connected_to) == (Outcome.CONNECTED, REFERENTS_93[0])
    assert started == MONDAY_10


async def test_given_waiting_calls_on_two_instances_then_listeners_take_them_in_arrival_order(
    shared: SharedState,
) -> None:
    a, b = instance("A", shared), instance("B", shared)
    fast = ClusterSettings(lease_s=30, heartbeat_s=0.05)
    nodes = [Node(i.runtime, shared, None, memory_health, fast) for i in (a, b)]
    for node in nodes:
        await node.start()
    try:
        for listener in LISTENERS_93:
            await a.runtime.set_listener_presence("93", listener, Presence.PAUSED)
        arrivals = [("q1", a), ("q2", b), ("q3", a), ("q4", b)]
        for call_id, inst in arrivals:
            await inst.start(CallStarted(call_id, LINE_115_93, CALLER))
        offered: list[str] = []
        await b.runtime.set_listener_presence("93", LISTENERS_93[0], Presence.AVAILABLE)
        for call_id, inst in arrivals:
            await eventually(
                lambda inst=inst, call_id=call_id: isinstance(  # type: ignore[misc]
                    inst.transport.delivered[call_id][-1], Dial
                ),
                within=5,
            )
            offered.append(call_id)
            # Only this call may be offered while the listener is busy with it.
            assert all(
                not isinstance(other.transport.delivered[o][-1], Dial)
                for o, other in arrivals
                if o not in offered
            )
            await inst.send(call_id, DialResult(((LISTENERS_93[0], DialOutcome.ANSWERED),)))
            await inst.send(call_id, PeerHungUp())
        assert offered == ["q1", "q2", "q3", "q4"]
    finally:
        for node in nodes:
            await node.stop()


async def test_given_a_dead_instance_with_a_queued_call_then_the_survivor_offers_it_in_its_turn(
    shared: SharedState,
) -> None:
    a, b = instance("A", shared), instance("B", shared)
    await shared.heartbeat("A", 0.2)
    await shared.heartbeat("B", 30)
    for listener in LISTENERS_93:
        await b.runtime.set_listener_presence("93", listener, Presence.PAUSED)
    await a.start(CallStarted("first", LINE_115_93, CALLER))
    await b.start(CallStarted("second", LINE_115_93, CALLER))
    await asyncio.sleep(0.3)
    # Before the takeover, the head of the queue is the dead instance's: B may not skip it.
    await b.runtime.set_listener_presence("93", LISTENERS_93[0], Presence.AVAILABLE)
    await b.runtime.drain()
    assert isinstance(b.transport.delivered["second"][-1], Hold)
    assert await b.runtime.take_over_orphans() == ["first"]
    await b.runtime.drain()
    assert [t.number for t in last_dial(b, "first").targets] == [LISTENERS_93[0]]
    assert isinstance(b.transport.delivered["second"][-1], Hold)
