"""The races Asterisk is known for, each provoked on purpose."""

from __future__ import annotations

from datetime import datetime

from ivr.flow.vocabulary import DialOutcome, Outcome
from ivr.sim.simulator import CallScript, Simulator
from tests.ari.harness import GATHER_PROMPTS, MONDAY_10H, Harness, flow
from tests.ari.test_scenarios import AIN_REFERENTS, ASSISTANCE, CALLER, story
from tests.support.fake_asterisk import Caller, Destination, settle


class Recordings:
    """A ``RecordingSink`` that keeps what it is told."""

    def __init__(self) -> None:
        self.started: list[tuple[str, datetime, str]] = []

    async def recording_started(self, call_id: str, started_at: datetime, location: str) -> None:
        self.started.append((call_id, started_at, location))


FIRST_REFERENT = "+33199000000"
SECOND_REFERENT = "+33199000001"


def tier1_script(**kw: object) -> CallScript:
    return CallScript(to_number=ASSISTANCE, from_number=CALLER, presses=["01", "1"], **kw)  # type: ignore[arg-type]


async def test_given_events_overtake_rest_replies_when_call_runs_then_story_is_unchanged(
    harness: Harness,
) -> None:
    harness.fake.instant_playbacks = True  # PlaybackFinished leaves before the play reply
    harness.fake.reply_yields = 5
    instance = harness.instance()
    await instance.start()

    summary = await harness.run_script(tier1_script(), instance)

    expected = Simulator(flow()).run(tier1_script(), MONDAY_10H).state.summary
    assert story(summary) == story(expected)
    assert harness.fake.leaks() == []


async def test_given_duplicate_events_when_call_runs_then_each_is_handled_once(
    harness: Harness,
) -> None:
    harness.fake.duplicates = True
    instance = harness.instance()
    await instance.start()

    summary = await harness.run_script(tier1_script(), instance)

    expected = Simulator(flow()).run(tier1_script(), MONDAY_10H).state.summary
    assert story(summary) == story(expected)
    assert len(harness.fake.calls_to("addChannel")) == 1
    assert harness.fake.leaks() == []


async def test_given_caller_left_unseen_when_next_prompt_gets_404_then_call_ends_as_hung_up(
    harness: Harness,
) -> None:
    instance = harness.instance()
    await instance.start()
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER)
    await harness.clock.advance(2.5)  # the département menu waits for digits
    assert instance.transport.calls[channel].wait.value == "digits"
    harness.fake.vanish(channel)  # its StasisEnd and ChannelDestroyed are lost

    await harness.run_until_finished(channel, instance)

    [(summary, _, _)] = harness.records.calls
    assert summary.outcome is Outcome.CALLER_HUNG_UP
    assert harness.fake.leaks() == []


async def test_given_a_prompt_fails_then_its_late_playbackfinished_does_not_skip_the_next(
    harness: Harness,
) -> None:
    instance = harness.instance()
    await instance.start()
    harness.fake.fail_next["playWithId"] = 500  # the welcome prompt cannot be played
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER)
    await settle()
    failed = harness.fake.calls_to("playWithId")[0].path.rsplit("/", 1)[1]
    # Asterisk reports the failed playback anyway, after the error reply.
    harness.fake.emit(
        "PlaybackFinished",
        playback={
            "id": failed,
            "media_uri": "sound:ivr/assistance_welcome",
            "target_uri": f"channel:{channel}",
            "language": "fr",
            "state": "done",
        },
        application=harness.fake.app,
    )
    await settle()

    state = instance.runtime.state(channel)
    assert state is not None
    call = instance.transport.calls[channel]
    assert call.wait.value == "digits"
    assert call.prompt_playing
    harness.fake.hang_up(channel)
    await settle()
    assert harness.fake.leaks() == []


async def test_given_local_channel_template_when_referent_answers_then_bridged_and_both_halves_gone(
    harness: Harness,
) -> None:
    instance = harness.instance()
    instance.transport.dial_template = "Local/{number}@ivr-outbound"
    await instance.start()

    summary = await harness.run_script(tier1_script(), instance)

    assert summary.outcome is Outcome.CONNECTED
    assert summary.connected_to == FIRST_REFERENT
    assert harness.fake.leaks() == []


async def test_given_destination_answers_after_its_ring_timeout_then_it_is_hung_up_not_bridged(
    harness: Harness,
) -> None:
    harness.fake.destinations[FIRST_REFERENT] = Destination(
        "answer", after_s=60, ignores_timeout=True, answers_while_hung_up=True
    )
    instance = harness.instance()
    await instance.start()

    summary = await harness.run_script(tier1_script(), instance)

    assert [(a.number, a.result) for a in summary.attempts[:2]] == [
        (FIRST_REFERENT, DialOutcome.NO_ANSWER),
        (SECOND_REFERENT, DialOutcome.ANSWERED),
    ]
    first_leg = harness.fake.calls_to("originateWithId")[0].path.rsplit("/", 1)[1]
    [bridged] = harness.fake.calls_to("addChannel")
    assert first_leg not in bridged.params["channel"]
    assert any(r.nickname == "hangup" and first_leg in r.path for r in harness.fake.requests)
    assert harness.fake.leaks() == []


async def test_given_causes_only_when_destinations_fail_then_busy_no_answer_failure_told_apart(
    harness: Harness,
) -> None:
    harness.fake.dial_events = False  # only the hangup cause tells what happened
    referents = sorted(AIN_REFERENTS)
    harness.fake.destinations[referents[0]] = Destination("busy", after_s=1)
    harness.fake.destinations[referents[1]] = Destination("no_answer")
    harness.fake.destinations[referents[2]] = Destination("fail")
    instance = harness.instance()
    await instance.start()

    summary = await harness.run_script(tier1_script(), instance)

    assert [(a.number, a.result) for a in summary.attempts[:3]] == [
        (referents[0], DialOutcome.BUSY),
        (referents[1], DialOutcome.NO_ANSWER),
        (referents[2], DialOutcome.FAILED),
    ]


async def test_given_caller_hangs_up_during_dial_then_outbound_leg_is_hung_up_and_no_bridge_left(
    harness: Harness,
) -> None:
    harness.fake.default_destination = Destination("answer", after_s=15)
    instance = harness.instance()
    await instance.start()
    caller = Caller(presses=["01", "1"], gather_prompts=GATHER_PROMPTS)
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    await harness.clock.advance(8)
    assert harness.fake.calls_to("originateWithId"), "the referent is ringing"

    harness.fake.hang_up(channel)
    await settle()

    leg = harness.fake.calls_to("originateWithId")[0].path.rsplit("/", 1)[1]
    assert any(r.nickname == "hangup" and leg in r.path for r in harness.fake.requests)
    assert harness.fake.leaks() == []
    [(summary, _, _)] = harness.records.calls
    assert summary.outcome is Outcome.CALLER_HUNG_UP


async def test_given_115_call_connected_then_notice_first_and_recording_stopped_not_discarded(
    harness: Harness,
) -> None:
    await harness.listeners("01", 1)
    instance = harness.instance()
    sink = Recordings()
    instance.transport.recordings = sink
    await instance.start()

    summary = await harness.run_script(
        CallScript(to_number="+33353010000", from_number=CALLER, listeners=1), instance
    )

    assert summary.outcome is Outcome.CONNECTED
    # Written to the records when it started, under the name Asterisk stores it by.
    assert [(call_id, location) for call_id, _, location in sink.started] == [
        (summary.call_id, f"ari:{harness.fake.stored_recordings[0]}")
    ]
    nicknames = [r.nickname for r in harness.fake.requests]
    notice = next(
        i
        for i, r in enumerate(harness.fake.requests)
        if r.nickname == "playWithId" and "recording_notice" in r.params["media"]
    )
    assert notice < nicknames.index("record")
    assert "stop" in nicknames
    assert "cancel" not in nicknames
    assert len(harness.fake.stored_recordings) == 1
    assert harness.fake.discarded_recordings == []
    assert harness.fake.leaks() == []
