"""Keys typed ahead and multi-digit answers, through ARI and the fake Asterisk.

Asterisk sends ``ChannelDtmfReceived`` while a playback runs and does not stop the playback
itself (a real caller typed 7 then 5 during the welcome and was misrouted: the 7 was
dropped). Each call here also runs in the simulator, which must tell the same story.
"""

from __future__ import annotations

from ivr.flow.vocabulary import Outcome
from ivr.sim.simulator import CallScript, Simulator
from tests.ari.harness import MONDAY_10H, Harness, flow
from tests.ari.test_scenarios import ASSISTANCE, CALLER, story
from tests.support.fake_asterisk import Caller

PARIS_REFERENT = "+33199000750"
SUPPORT = {"+33536490001", "+33536490002"}
# The fake plays each media for 1 s: the welcome from 0 to 1 s, then the menu.
WELCOME_S = 1.0


def _sounds(harness: Harness, channel: str) -> list[str]:
    return [uri.removeprefix("sound:ivr/") for uri in harness.fake.played.get(channel, [])]


def _stopped(harness: Harness) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in harness.fake.requests if r.nickname == "stop"]


async def _call(
    harness: Harness, script: CallScript, *, like_simulator: bool = True
) -> tuple[str, object]:
    """The call through ARI; ``like_simulator``: the simulator tells the same story (only
    where the keys' times do not depend on how long each prompt lasts: the fake plays each
    sound for 1 s, the simulator estimates 15 characters a second)."""
    instance = harness.instance()
    await instance.start()
    summary = await harness.run_script(script, instance)
    channel = summary.call_id
    if like_simulator:
        expected = Simulator(flow()).run(script, MONDAY_10H).state.summary
        assert story(summary) == story(expected)
    assert harness.fake.leaks() == []
    return channel, summary


async def test_given_75_typed_during_welcome_then_paris_referent_without_menu_prompt(
    harness: Harness,
) -> None:
    script = CallScript(ASSISTANCE, CALLER, presses=["1"], typed=[(0.4, "7"), (0.6, "5")])

    channel, summary = await _call(harness, script)

    assert summary.connected_to == PARIS_REFERENT  # type: ignore[attr-defined]
    assert summary.departement == "75"  # type: ignore[attr-defined]
    sounds = _sounds(harness, channel)
    # The welcome started, the first key stopped it (Background()), the question of the
    # département was never asked: the answer was already there.
    assert sounds[0] == "assistance_welcome"
    assert "ask_departement" not in sounds
    assert any("-p1-" in playback for playback in _stopped(harness))


async def test_given_first_digit_then_second_within_inter_digit_timeout_then_both_count(
    harness: Harness,
) -> None:
    # 7 during the menu's question, 5 two and a half seconds later (inter-digit 3 s).
    script = CallScript(ASSISTANCE, CALLER, presses=["1"], typed=[(1.5, "7"), (4.0, "5")])

    _, summary = await _call(harness, script)

    assert summary.departement == "75"  # type: ignore[attr-defined]
    assert summary.connected_to == PARIS_REFERENT  # type: ignore[attr-defined]


async def test_given_second_digit_after_inter_digit_timeout_then_first_judged_alone(
    harness: Harness,
) -> None:
    script = CallScript(ASSISTANCE, CALLER, typed=[(1.5, "7"), (5.5, "5")])

    _, summary = await _call(harness, script)

    prompts = summary.prompts  # type: ignore[attr-defined]
    assert prompts.count("invalid_departement") >= 1
    assert summary.departement is None  # type: ignore[attr-defined]
    assert {a.number for a in summary.attempts} <= SUPPORT  # type: ignore[attr-defined]


async def test_given_star_then_answer_starts_again_and_hash_ends_it(harness: Harness) -> None:
    # "9*" starts again, "75" is the answer; in the reason menu "#" alone means no reason.
    script = CallScript(ASSISTANCE, CALLER, typed=[(1.5, "9*75")], presses=["#"])

    _, summary = await _call(harness, script)

    assert summary.departement == "75"  # type: ignore[attr-defined]
    assert summary.reason is None  # type: ignore[attr-defined]
    assert summary.connected_to == PARIS_REFERENT  # type: ignore[attr-defined]


async def test_given_keys_during_a_message_that_is_not_interruptible_then_kept_not_cut(
    harness: Harness,
) -> None:
    # "99" is refused; "75" typed while "ce numéro n'est pas reconnu" plays is kept for the
    # next question, and that message is heard to its end.
    script = CallScript(ASSISTANCE, CALLER, presses=["99", "1"], typed=[(2.3, "75")])

    channel, summary = await _call(harness, script, like_simulator=False)

    assert summary.departement == "75"  # type: ignore[attr-defined]
    assert summary.connected_to == PARIS_REFERENT  # type: ignore[attr-defined]
    sounds = _sounds(harness, channel)
    assert sounds.count("ask_departement") == 1  # asked once; the retry was answered ahead
    refused = [
        r.path.rsplit("/", 1)[1]
        for r in harness.fake.requests
        if r.nickname == "playWithId" and "invalid_departement" in r.params.get("media", "")
    ]
    assert refused
    assert not set(refused) & set(_stopped(harness))


async def test_given_caller_types_ahead_then_hangs_up_then_nothing_left(
    harness: Harness,
) -> None:
    instance = harness.instance()
    await instance.start()
    caller = Caller(typed=[(0.3, "7")])
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    await harness.clock.advance(2.5)
    harness.fake.hang_up(channel)
    await harness.run_until_finished(channel, instance)

    summary = next(s for s, _, _ in harness.records.calls if s.call_id == channel)
    assert summary.outcome is Outcome.CALLER_HUNG_UP
    assert harness.fake.leaks() == []
