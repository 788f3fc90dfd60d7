"""Tier 2 skips the national support posts whose agents are paused or signed out.

The presence reaches the pure flow as data: ``FetchSupportPresence`` is answered by
``SupportPresenceFetched`` (the runtime reads the live state). A skipped post is written to
the call's story as an attempt that was never rung.
"""

from __future__ import annotations

from ivr.flow import CallFlow, build_flow
from ivr.flow.engine import Phase
from ivr.flow.vocabulary import (
    DialOutcome,
    DialResult,
    DigitsReceived,
    FetchRotation,
    FetchSupportPresence,
    RotationFetched,
    SupportPresenceFetched,
)
from routing.config import HuntStrategy
from routing.loader import load_config
from tests.flow.helpers import (
    ASSISTANCE,
    MINIMAL,
    Call,
    dialled,
    hung_up_with,
    no_answer,
    paris,
    prompt_ids,
)

SUPPORT_1, SUPPORT_2 = "+33536490001", "+33536490002"
MONDAY_10 = paris("2026-11-23 10:00")
PAUSED, OFFLINE = DialOutcome.PAUSED, DialOutcome.OFFLINE


def support_flow(strategy: HuntStrategy) -> CallFlow:
    config = load_config(MINIMAL)
    support = config.national.support.model_copy(update={"strategy": strategy})
    national = config.national.model_copy(update={"support": support})
    return build_flow(config.model_copy(update={"national": national}))


def to_tier2(
    away: tuple[tuple[str, DialOutcome], ...], strategy: HuntStrategy = HuntStrategy.IN_ORDER
) -> tuple[Call, list[str]]:
    """A level-2 reason (straight to tier 2) with ``away`` posts; returns the call and the
    numbers its first tier-2 dial rings."""
    call = Call.start(ASSISTANCE, MONDAY_10, flow=support_flow(strategy))
    call.away = away
    call.send(DigitsReceived("75"))
    commands = call.send(DigitsReceived("2"))
    if strategy is HuntStrategy.ROTATE_LAST_ANSWERER and call.phase is Phase.FETCH_ROTATION:
        assert commands[-1] == FetchRotation("national")
        commands = call.send(RotationFetched(None))
    return call, dialled(commands)


def story(call: Call) -> list[tuple[str, str]]:
    return [(a.number, a.result.value) for a in call.state.summary.attempts]


def test_given_tier2_then_flow_asks_presence_before_ringing() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.answer_presence = False
    call.send(DigitsReceived("75"))
    assert call.send(DigitsReceived("2")) == [FetchSupportPresence()]
    assert call.phase is Phase.FETCH_PRESENCE
    commands = call.send(SupportPresenceFetched(((SUPPORT_1, PAUSED),)))
    assert prompt_ids(commands) == ["transfer_tier2"]
    assert dialled(commands) == [SUPPORT_2]


def test_given_first_post_paused_when_tier2_hunts_then_second_rings_and_story_says_paused() -> None:
    call, rung = to_tier2(((SUPPORT_1, PAUSED),))
    assert rung == [SUPPORT_2]
    assert story(call) == [(SUPPORT_1, "paused")]


def test_given_first_post_offline_when_tier2_hunts_then_second_rings_and_story_says_offline() -> (
    None
):
    call, rung = to_tier2(((SUPPORT_1, OFFLINE),))
    assert rung == [SUPPORT_2]
    assert story(call) == [(SUPPORT_1, "offline")]


def test_given_no_post_claimed_when_tier2_hunts_then_every_post_rings_as_configured() -> None:
    call, rung = to_tier2(())
    assert rung == [SUPPORT_1]
    assert dialled(call.send(no_answer(SUPPORT_1))) == [SUPPORT_2]
    assert story(call) == [(SUPPORT_1, "no-answer")]


def test_given_a_number_outside_national_support_reported_away_then_ignored() -> None:
    call, rung = to_tier2((("+33199009999", PAUSED),))
    assert rung == [SUPPORT_1]
    assert story(call) == []


def test_given_every_post_away_when_tier2_hunts_then_urgent_email_as_if_nobody_answered() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.away = ((SUPPORT_1, PAUSED), (SUPPORT_2, OFFLINE))
    call.send(DigitsReceived("75"))
    commands = call.send(DigitsReceived("2"))
    assert dialled(commands) == []
    assert prompt_ids(commands) == ["urgent_email"]
    assert hung_up_with(commands) == "message"
    assert story(call) == [(SUPPORT_1, "paused"), (SUPPORT_2, "offline")]


def test_given_ring_all_and_one_post_paused_then_only_the_others_ring_together() -> None:
    call, rung = to_tier2(((SUPPORT_2, PAUSED),), HuntStrategy.RING_ALL)
    assert rung == [SUPPORT_1]
    assert story(call) == [(SUPPORT_2, "paused")]


def test_given_ring_all_and_every_post_away_then_urgent_email() -> None:
    call, rung = to_tier2(((SUPPORT_1, PAUSED), (SUPPORT_2, PAUSED)), HuntStrategy.RING_ALL)
    assert rung == []
    assert call.phase is Phase.ENDED
    assert call.state.summary.outcome is not None
    assert call.state.summary.outcome.value == "message"


def test_given_rotation_after_support_1_and_support_2_paused_then_support_1_rings() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10, flow=support_flow(HuntStrategy.ROTATE_LAST_ANSWERER))
    call.away = ((SUPPORT_2, PAUSED),)
    call.send(DigitsReceived("75"))
    assert call.send(DigitsReceived("2")) == [FetchRotation("national")]
    # Next after the last answerer would be SUPPORT_2, paused: the hunt passes to SUPPORT_1.
    assert dialled(call.send(RotationFetched(SUPPORT_1))) == [SUPPORT_1]
    assert story(call) == [(SUPPORT_2, "paused")]


def test_given_rotation_and_every_post_away_then_no_rotation_fetch_and_urgent_email() -> None:
    call, rung = to_tier2(
        ((SUPPORT_1, OFFLINE), (SUPPORT_2, PAUSED)), HuntStrategy.ROTATE_LAST_ANSWERER
    )
    assert rung == []
    assert call.phase is Phase.ENDED
    assert prompt_ids(call.history[-1]) == ["urgent_email"]


def test_given_tier1_failed_and_every_post_paused_then_urgent_email_after_tier1() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.away = ((SUPPORT_1, PAUSED), (SUPPORT_2, PAUSED))
    call.send(DigitsReceived("67"))  # ring_all referents, no reason menu answer
    if call.phase is Phase.REASON_MENU:
        call.send(DigitsReceived("9"))
    assert call.phase is Phase.TIER1_DIALING, call.phase
    referents = dialled(call.history[-1])
    assert referents
    commands = call.send(DialResult(tuple((n, DialOutcome.NO_ANSWER) for n in referents)))
    assert prompt_ids(commands) == ["tier1_unavailable", "urgent_email"]
    assert hung_up_with(commands) == "message"
