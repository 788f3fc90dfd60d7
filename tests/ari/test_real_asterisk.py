"""What a real Asterisk 22.10.1 showed that the fake did not, each kept as a test.

Found by running the service against Asterisk 22.10.1 built from source, with Local
channels for callers and destinations (docs/asterisk.md, "Checked against a real Asterisk").
"""

from __future__ import annotations

import logging

import pytest

from ivr.flow.vocabulary import DialOutcome, Outcome
from ivr.runtime.live_state import Presence
from ivr.sim.simulator import CallScript
from ivr.transports.ari.dialplan import fallback_dialplan
from ivr.transports.ari.mapping import dial_endpoint
from tests.ari.harness import GATHER_PROMPTS, Harness, routing_config
from tests.ari.test_scenarios import AIN_115, AIN_LISTENERS, ASSISTANCE, CALLER
from tests.support.fake_asterisk import Caller, Destination, settle

LOCAL = "Local/{number}@ivr-outbound"
FIRST_REFERENT = "+33199000000"


def tier1_script() -> CallScript:
    return CallScript(to_number=ASSISTANCE, from_number=CALLER, presses=["01", "1"])


async def test_given_local_legs_when_websocket_drops_while_bridged_then_conversation_goes_on(
    harness: Harness,
) -> None:
    # Asterisk names the second half of a Local leg "<leg id>;2" and it is not in Stasis:
    # the resync after a reconnect took it for a stray leg and hung it up, which cut the
    # caller off from the referent.
    harness.fake.default_destination = Destination("answer", after_s=2, talk_s=60)
    instance = harness.instance()
    instance.transport.dial_template = LOCAL
    await instance.start()
    caller = Caller(presses=["01", "1"], gather_prompts=GATHER_PROMPTS)
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    while not harness.fake.calls_to("addChannel"):
        await harness.clock.run_next()
    leg = harness.fake.calls_to("originateWithId")[0].path.rsplit("/", 1)[1]
    assert f"{leg};2" in harness.fake.channels

    harness.fake.drop_websocket()
    await harness.clock.advance(10)  # reconnect and resync

    assert instance.transport.connections == 2
    assert f"{leg};2" in harness.fake.channels, "the referent's half is still there"
    assert harness.fake.channels[channel].bridge is not None
    await harness.run_until_finished(channel, instance)
    [(summary, _, _)] = harness.records.calls
    assert summary.outcome is Outcome.CONNECTED
    assert not [r for r in harness.fake.calls_to("hangup") if r.path.endswith(";2")]
    assert harness.fake.leaks() == []


@pytest.mark.parametrize(
    ("behaviour", "outcome"),
    [
        ("busy", DialOutcome.BUSY),  # Dial BUSY, then the first half ends with cause 0
        ("no_answer", DialOutcome.NO_ANSWER),  # no Dial NOANSWER: cause 19 only
        ("fail", DialOutcome.FAILED),  # Dial CONGESTION, then cause 0
    ],
)
async def test_given_local_destination_when_it_does_not_answer_then_outcome_is_told_apart(
    harness: Harness, behaviour: str, outcome: DialOutcome
) -> None:
    harness.fake.destinations[FIRST_REFERENT] = Destination(behaviour, after_s=2)
    instance = harness.instance()
    instance.transport.dial_template = LOCAL
    await instance.start()

    summary = await harness.run_script(tier1_script(), instance)

    assert (summary.attempts[0].number, summary.attempts[0].result) == (FIRST_REFERENT, outcome)
    assert summary.outcome is Outcome.CONNECTED  # the next referent answered
    assert harness.fake.leaks() == []


def test_given_number_as_typed_in_an_account_then_dial_string_is_e164() -> None:
    # A listener's phone comes from the console account as typed: "Local/02 61 91 07 50@..."
    # made Asterisk destroy the channel at once (cause 0, no Dial event).
    assert dial_endpoint(LOCAL, "02 61 91 07 50") == "Local/+33261910750@ivr-outbound"
    assert dial_endpoint("PJSIP/{national}@operator", "+33 2 61 91 07 50") == (
        "PJSIP/0261910750@operator"
    )
    assert dial_endpoint(LOCAL, "+33261910750") == "Local/+33261910750@ivr-outbound"
    assert dial_endpoint(LOCAL, "12 34") == "Local/1234@ivr-outbound"  # not a number: no spaces


async def test_given_listener_account_phone_with_spaces_when_offered_then_dialled_in_e164(
    harness: Harness,
) -> None:
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    instance = harness.instance()
    instance.transport.dial_template = LOCAL
    await instance.start()
    channel = harness.fake.incoming_call(AIN_115, CALLER)
    await settle()
    while instance.transport.calls[channel].wait.value != "hold":
        await harness.clock.run_next()

    await instance.runtime.set_listener_presence("01", "02 61 91 00 00", Presence.AVAILABLE)
    await settle()
    await harness.clock.advance(10)

    [originate] = harness.fake.calls_to("originateWithId")
    assert originate.params["endpoint"] == "Local/+33261910000@ivr-outbound"
    assert harness.fake.channels[channel].bridge is not None
    harness.fake.hang_up(channel)
    await harness.run_until_finished(channel, instance)
    assert harness.fake.leaks() == []


async def test_given_missing_prompt_file_then_playback_fails_and_call_goes_on_with_a_warning(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Asterisk answers 201 for a file it does not have, then PlaybackFinished "failed".
    harness.fake.missing_media = {"sound:ivr/reason_menu"}
    instance = harness.instance()
    await instance.start()
    script = CallScript(to_number=ASSISTANCE, from_number=CALLER, presses=["01"])

    with caplog.at_level(logging.WARNING, logger="ivr.transports.ari.transport"):
        summary = await harness.run_script(script, instance)

    assert summary.outcome is Outcome.CONNECTED  # no reason chosen: tier 1 all the same
    assert "sound:ivr/reason_menu not played (missing sound file?)" in caplog.text
    assert harness.fake.leaks() == []


async def test_given_queued_caller_when_announcement_plays_then_music_stops_and_is_started_again(
    harness: Harness,
) -> None:
    # Heard on Asterisk 22.10.1: a playback replaces the channel's music on hold (no mix,
    # no ducking) and the music does not come back by itself afterwards.
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    instance = harness.instance()
    await instance.start()
    channel = harness.fake.incoming_call(AIN_115, CALLER)
    await settle()
    while instance.transport.calls[channel].wait.value != "hold":
        await harness.clock.run_next()
    assert harness.fake.channels[channel].moh
    holds = len(harness.fake.calls_to("startMoh"))

    while len(harness.fake.calls_to("playWithId")) < 2:  # the next announcement
        await harness.clock.run_next()
    assert not harness.fake.channels[channel].moh, "no music under the announcement"
    while instance.transport.calls[channel].wait.value != "hold":
        await harness.clock.run_next()

    assert harness.fake.channels[channel].moh, "music again after it"
    assert len(harness.fake.calls_to("startMoh")) == holds + 1
    assert not harness.fake.calls_to("stopMoh")  # the playback itself stopped the music
    harness.fake.hang_up(channel)
    await harness.run_until_finished(channel, instance)
    assert harness.fake.leaks() == []


def test_given_fallback_dialplan_then_prompts_are_played_in_french() -> None:
    # Playback(ivr/lro_failed) found no file on a channel whose language was "en".
    generated = fallback_dialplan(routing_config())
    contexts = generated.split("\n[ivr-fallback-")[1:]
    assert contexts
    for context in contexts:
        if context.startswith("hours-"):
            continue  # the opening-hours subroutine plays nothing
        lines = context.splitlines()
        language = lines.index(" same => n,Set(CHANNEL(language)=fr)")
        playback = next(i for i, line in enumerate(lines) if "Playback(" in line)
        assert language < playback
