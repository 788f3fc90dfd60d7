"""The websocket drops, Asterisk restarts, an instance dies: every call ends or goes on."""

from __future__ import annotations

from ivr.flow import Phase, build_flow
from ivr.flow.vocabulary import Outcome
from ivr.runtime.live_state import Presence
from ivr.sim.simulator import CallScript, Simulator
from ivr.transports.ari import MemorySnapshots
from tests.ari.harness import GATHER_PROMPTS, MONDAY_10H, Harness, flow
from tests.ari.test_scenarios import AIN_115, AIN_LISTENERS, ASSISTANCE, CALLER, story
from tests.support.fake_asterisk import Caller, Destination, settle


def tier1_script() -> CallScript:
    return CallScript(to_number=ASSISTANCE, from_number=CALLER, presses=["01", "1"])


async def test_given_websocket_drops_mid_prompt_when_it_comes_back_then_call_goes_on(
    harness: Harness,
) -> None:
    instance = harness.instance()
    await instance.start()
    caller = Caller(presses=["01", "1"], gather_prompts=GATHER_PROMPTS)
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    await settle()
    harness.fake.drop_websocket()  # the welcome prompt ends while nobody listens
    await harness.clock.advance(0.2)

    await harness.run_until_finished(channel, instance)

    assert harness.fake.connected
    assert instance.transport.connections == 2
    [(summary, _, _)] = harness.records.calls
    expected = Simulator(flow()).run(tier1_script(), MONDAY_10H).state.summary
    assert story(summary) == story(expected)
    assert harness.fake.leaks() == []


async def test_given_websocket_drops_while_referent_answers_then_bridge_is_made_on_resync(
    harness: Harness,
) -> None:
    harness.fake.default_destination = Destination("answer", after_s=5, talk_s=30)
    instance = harness.instance()
    await instance.start()
    caller = Caller(presses=["01", "1"], gather_prompts=GATHER_PROMPTS)
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    while not harness.fake.calls_to("originateWithId"):
        await harness.clock.run_next()
    harness.fake.drop_websocket()
    harness.fake.down = True  # unreachable a while: the answer is never heard
    await harness.clock.advance(6)
    harness.fake.down = False

    await harness.clock.advance(10)  # reconnect and resync
    assert len(harness.fake.calls_to("addChannel")) == 1
    assert harness.fake.channels[channel].bridge is not None

    await harness.run_until_finished(channel, instance)
    [(summary, _, _)] = harness.records.calls
    assert summary.outcome is Outcome.CONNECTED
    assert harness.fake.leaks() == []


async def test_given_waiting_115_caller_when_websocket_drops_then_music_resumes_and_call_goes_on(
    harness: Harness,
) -> None:
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    instance = harness.instance()
    await instance.start()
    channel = harness.fake.incoming_call(AIN_115, CALLER)
    await settle()
    while instance.transport.calls[channel].wait.value != "hold":
        await harness.clock.run_next()
    harness.fake.drop_websocket()
    harness.fake.channels[channel].moh = False  # what a restarted stream would not tell us
    await harness.clock.advance(10)
    assert harness.fake.channels[channel].moh, "the caller hears music again"

    await instance.runtime.set_listener_presence("01", AIN_LISTENERS[0], Presence.AVAILABLE)
    await harness.run_until_finished(channel, instance)

    [(summary, _, _)] = harness.records.calls
    assert summary.outcome is Outcome.CONNECTED
    assert summary.connected_to == AIN_LISTENERS[0]
    assert harness.fake.leaks() == []


async def test_given_asterisk_restarts_then_every_call_is_finished_and_nothing_is_held(
    harness: Harness,
) -> None:
    await harness.listeners("01", 0)
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    instance = harness.instance()
    await instance.start()
    waiting = harness.fake.incoming_call(AIN_115, CALLER)
    menu = harness.fake.incoming_call(ASSISTANCE, CALLER)
    await harness.clock.advance(20)
    assert await harness.live.waiting_calls("01") == [waiting]

    harness.fake.restart()
    harness.fake.down = True
    await harness.clock.advance(5)
    harness.fake.down = False
    await harness.clock.advance(20)

    assert instance.transport.calls == {}
    assert instance.runtime.calls == {}
    outcomes = {s.call_id: s.outcome for s, _, _ in harness.records.calls}
    assert outcomes == {waiting: Outcome.CALLER_HUNG_UP, menu: Outcome.CALLER_HUNG_UP}
    assert await harness.live.waiting_calls("01") == []
    assert harness.fake.leaks() == []


async def test_given_instance_dies_then_second_instance_takes_over_waiting_and_connected_calls(
    harness: Harness,
) -> None:
    snapshots = MemorySnapshots()
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    harness.fake.default_destination = Destination("answer", after_s=3, talk_s=600)
    first = harness.instance(snapshots)
    await first.start()
    waiting = harness.fake.incoming_call(AIN_115, CALLER)
    caller = Caller(presses=["01", "1"], gather_prompts=GATHER_PROMPTS)
    talking = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    await harness.clock.advance(30)
    assert first.transport.calls[waiting].wait.value == "hold"
    assert first.transport.calls[talking].wait.value == "connected"

    await first.crash()
    harness.fake.drop_websocket()
    second = harness.instance(snapshots)
    await second.start()
    await harness.clock.advance(5)

    assert set(second.transport.calls) == {waiting, talking}
    assert harness.fake.channels[talking].bridge is not None, "the conversation goes on"
    assert harness.fake.channels[waiting].moh
    state = second.runtime.state(waiting)
    assert state is not None
    assert state.phase in (Phase.QUEUED, Phase.QUEUE_REFRESH)

    await second.runtime.set_listener_presence("01", AIN_LISTENERS[0], Presence.AVAILABLE)
    await harness.run_until_finished(waiting, second)
    await harness.run_until_finished(talking, second)
    outcomes = {s.call_id: (s.outcome, s.connected_to) for s, _, _ in harness.records.calls}
    assert outcomes[waiting] == (Outcome.CONNECTED, AIN_LISTENERS[0])
    assert outcomes[talking][0] is Outcome.CONNECTED
    assert harness.fake.leaks() == []
    assert snapshots.items == {}


async def test_given_no_snapshot_of_a_call_when_instance_takes_over_then_its_flow_starts_again(
    harness: Harness,
) -> None:
    first = harness.instance()
    await first.start()
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER)
    await harness.clock.advance(1.5)
    await first.crash()
    harness.fake.drop_websocket()
    second = harness.instance()
    await second.start()
    await harness.clock.advance(1)

    assert channel in second.transport.calls
    played = harness.fake.played[channel]
    assert played.count("sound:ivr/assistance_welcome") == 2, "welcomed again, not left silent"
    harness.fake.hang_up(channel)
    await settle()
    assert harness.fake.leaks() == []


async def test_given_departement_withdrawn_when_instance_takes_over_a_waiting_caller_then_lro(
    harness: Harness,
) -> None:
    """The survivor routes by a file without the caller's département: the caller does not
    stay on hold for ever, it goes down the national LRO chain."""
    snapshots = MemorySnapshots()
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    harness.fake.default_destination = Destination("answer", after_s=3, talk_s=60)
    first = harness.instance(snapshots)
    await first.start()
    waiting = harness.fake.incoming_call(AIN_115, CALLER)
    await harness.clock.advance(30)
    assert first.transport.calls[waiting].wait.value == "hold"

    await first.crash()
    harness.fake.drop_websocket()
    second = harness.instance(snapshots)
    config = flow().config
    remaining = {k: v for k, v in config.departements.items() if k != "01"}
    second.runtime.flow = build_flow(config.model_copy(update={"departements": remaining}))
    await second.start()
    await harness.run_until_finished(waiting, second)

    summaries = {s.call_id: s for s, _, _ in harness.records.calls}
    assert summaries[waiting].lro_used
    assert summaries[waiting].connected_to == "+33465719900", "the national chain"
    assert summaries[waiting].outcome is Outcome.CONNECTED
    assert harness.fake.leaks() == []
