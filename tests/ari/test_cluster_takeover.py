"""Two instances sharing the calls through the runtime's registry, as with ``IVR_REDIS_URL``.

With Redis, the runtime keeps each call in a shared registry owned by one instance (the
node's takeover) and the ARI transport resumes the calls it finds in Asterisk when it gets
the websocket. Seen on Asterisk 22.10.1 with two instances: the standby took the websocket
about 7 s after the leader was killed, before the dead instance's own lease lapsed, adopted
the queued caller, and its runtime then dropped the call at its next step ("owned by
another instance"); the node's takeover a few seconds later could not resume it either (the
ARI transport was not one the runtime knew): the caller stayed on hold for ever. The
instance holding the websocket now claims the calls it adopts.
"""

from __future__ import annotations

from ivr.flow import Phase
from ivr.flow.vocabulary import Outcome
from ivr.runtime.live_state import Presence
from ivr.transports.ari import MemorySnapshots
from tests.ari.harness import GATHER_PROMPTS, Harness
from tests.ari.test_scenarios import AIN_115, AIN_LISTENERS, ASSISTANCE, CALLER
from tests.support.fake_asterisk import Caller, Destination, settle


async def test_given_leader_killed_before_its_lease_lapses_then_standby_claims_and_carries_calls(
    harness: Harness,
) -> None:
    snapshots = MemorySnapshots()
    registry = harness.live
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    harness.fake.default_destination = Destination("answer", after_s=3, talk_s=600)
    first = harness.instance(snapshots, registry=registry, instance_id="first")
    await first.start()
    waiting = harness.fake.incoming_call(AIN_115, CALLER)
    caller = Caller(presses=["01", "1"], gather_prompts=GATHER_PROMPTS)
    talking = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    await harness.clock.advance(30)
    assert await registry.call_owner(waiting) == "first"
    saved = await registry.load_call(waiting)
    assert saved is not None
    assert saved.transport == "ari"

    await first.crash()  # its registry lease has not lapsed: the calls are still its own
    harness.fake.drop_websocket()
    second = harness.instance(snapshots, registry=registry, instance_id="second")
    await second.start()
    await harness.clock.advance(5)

    assert await registry.call_owner(waiting) == "second"
    assert await registry.call_owner(talking) == "second"
    assert set(second.runtime.calls) == {waiting, talking}, "not dropped at the next step"
    assert harness.fake.channels[talking].bridge is not None
    state = second.runtime.state(waiting)
    assert state is not None
    assert state.phase in (Phase.QUEUED, Phase.QUEUE_REFRESH)
    announced = len(harness.fake.played[waiting])
    await harness.clock.advance(60)
    assert len(harness.fake.played[waiting]) > announced, "announcements go on"

    await second.runtime.set_listener_presence("01", AIN_LISTENERS[0], Presence.AVAILABLE)
    await harness.run_until_finished(waiting, second)
    await harness.run_until_finished(talking, second)
    summaries = {s.call_id: s for s, _, _ in harness.records.calls}
    assert (summaries[waiting].outcome, summaries[waiting].connected_to) == (
        Outcome.CONNECTED,
        AIN_LISTENERS[0],
    )
    assert summaries[talking].outcome is Outcome.CONNECTED
    assert harness.fake.leaks() == []
    assert snapshots.items == {}
    assert await registry.owned_calls("second") == set()


async def test_given_registry_hands_an_ari_call_to_an_instance_without_the_websocket_then_the_leader_keeps_it(  # noqa: E501
    harness: Harness,
) -> None:
    """A clean stop hands the calls over; the node takeover of another instance may claim
    an ARI call before (or without) holding the websocket: it must not drive it blind."""
    snapshots = MemorySnapshots()
    registry = harness.live
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    first = harness.instance(snapshots, registry=registry, instance_id="first")
    await first.start()
    waiting = harness.fake.incoming_call(AIN_115, CALLER)
    await harness.clock.advance(30)

    assert await first.runtime.hand_over() == 1
    assert waiting not in first.transport.calls, "detached, Asterisk left alone"
    await first.crash()
    harness.fake.drop_websocket()
    third = harness.instance(snapshots, registry=registry, instance_id="third")
    assert await third.runtime.take_over_orphans() == [waiting]
    assert waiting not in third.runtime.calls, "no websocket here: not driven here"
    assert harness.fake.channels[waiting].moh

    second = harness.instance(snapshots, registry=registry, instance_id="second")
    await second.start()
    await harness.clock.advance(5)
    assert await registry.call_owner(waiting) == "second"
    assert waiting in second.runtime.calls
    await second.runtime.set_listener_presence("01", AIN_LISTENERS[0], Presence.AVAILABLE)
    await harness.run_until_finished(waiting, second)
    summaries = {s.call_id: s for s, _, _ in harness.records.calls}
    assert summaries[waiting].outcome is Outcome.CONNECTED
    assert harness.fake.leaks() == []


async def test_given_caller_hangs_up_while_nobody_holds_the_websocket_then_the_call_is_recorded(
    harness: Harness,
) -> None:
    snapshots = MemorySnapshots()
    registry = harness.live
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    first = harness.instance(snapshots, registry=registry, instance_id="first")
    await first.start()
    waiting = harness.fake.incoming_call(AIN_115, CALLER)
    await harness.clock.advance(30)

    await first.crash()
    harness.fake.drop_websocket()
    harness.fake.hang_up(waiting)  # during the takeover: no instance hears it
    second = harness.instance(snapshots, registry=registry, instance_id="second")
    await second.start()
    await harness.clock.advance(5)
    assert waiting not in second.transport.calls

    await registry.release_instance("first")  # its lease lapses
    assert await second.runtime.take_over_orphans() == [waiting]
    await settle()

    summaries = {s.call_id: s for s, _, _ in harness.records.calls}
    assert summaries[waiting].outcome is Outcome.CALLER_HUNG_UP
    assert await registry.load_call(waiting) is None
    assert snapshots.items == {}
    assert waiting not in second.runtime.calls
    assert harness.fake.leaks() == []
