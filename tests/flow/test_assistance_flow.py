"""The assistance line, branch by branch: events in, commands out, no await, no mocks."""

from __future__ import annotations

import pytest

from ivr.flow.engine import Phase
from ivr.flow.vocabulary import (
    Answer,
    CallerHungUp,
    Command,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Event,
    FetchRotation,
    Gather,
    InputTimedOut,
    PeerHungUp,
    RecordAnswerer,
    RotationFetched,
)
from tests.flow.helpers import (
    ASSISTANCE,
    Call,
    answered,
    dialled,
    hung_up_with,
    no_answer,
    paris,
    prompt_ids,
    result,
    texts,
)

REF_A, REF_B, REF_C = "+33199007501", "+33199007502", "+33199007503"
SUPPORT_1, SUPPORT_2 = "+33536490001", "+33536490002"
MONDAY_10 = paris("2026-11-23 10:00")


def to_tier1(call: Call, departement_keys: list[str]) -> list[Command]:
    """Answer the menus, let the reason menu time out; returns the commands after that."""
    for keys in departement_keys:
        call.send(DigitsReceived(keys))
    assert call.phase is Phase.REASON_MENU
    return call.send(InputTimedOut())


def test_given_weekday_morning_when_call_starts_then_welcome_and_departement_menu() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    assert isinstance(call.first[0], Answer)
    assert prompt_ids(call.first) == ["assistance_welcome", "ask_departement"]
    gather = call.first[-1]
    assert isinstance(gather, Gather)
    assert gather.max_digits == 2
    assert call.phase is Phase.DEPT_MENU


def test_given_sunday_when_call_starts_then_closed_message_and_hang_up() -> None:
    call = Call.start(ASSISTANCE, paris("2026-11-22 10:00"))
    assert prompt_ids(call.first) == ["assistance_welcome", "assistance_closed"]
    assert hung_up_with(call.first) == "message"
    assert call.phase is Phase.ENDED


def test_given_75_when_reason_menu_times_out_then_rotation_is_fetched_for_paris() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    commands = to_tier1(call, ["75"])
    assert commands == [FetchRotation("75")]
    assert call.state.departement == "75"


def test_given_no_last_answerer_then_first_referent_rings_and_answer_is_recorded() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    to_tier1(call, ["75"])
    commands = call.send(RotationFetched(None))
    assert prompt_ids(commands) == ["transfer_tier1"]
    assert dialled(commands) == [REF_A]
    commands = call.send(answered(REF_A))
    assert RecordAnswerer("75", REF_A) in commands
    assert call.phase is Phase.CONNECTED
    assert hung_up_with(call.send(PeerHungUp())) == "connected"
    assert call.state.summary.connected_to == REF_A


@pytest.mark.parametrize(
    ("last_answerer", "first_rung"),
    [(REF_A, REF_B), (REF_B, REF_C), (REF_C, REF_A), ("+33199009999", REF_A)],
)
def test_given_rotation_by_last_answerer_then_next_referent_after_him_rings_first(
    last_answerer: str, first_rung: str
) -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    to_tier1(call, ["75"])
    assert dialled(call.send(RotationFetched(last_answerer))) == [first_rung]


def test_given_in_order_strategy_then_referents_ring_in_listed_order_without_rotation() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    commands = to_tier1(call, ["20", "1"])
    assert call.state.departement == "2A"
    assert dialled(commands) == ["+33199002001"]
    assert dialled(call.send(no_answer("+33199002001"))) == ["+33199002002"]


def test_given_ring_all_strategy_then_every_referent_rings_at_once() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    commands = to_tier1(call, ["67"])
    assert dialled(commands) == ["+33199006701", "+33199006702"]
    both_failed = DialResult(
        (("+33199006701", DialOutcome.BUSY), ("+33199006702", DialOutcome.NO_ANSWER))
    )
    commands = call.send(both_failed)
    assert prompt_ids(commands) == ["tier1_unavailable", "transfer_tier2"]
    assert dialled(commands) == [SUPPORT_1]


def test_given_nobody_answers_then_tier1_then_tier2_then_urgent_email_message() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    to_tier1(call, ["75"])
    call.send(RotationFetched(None))
    assert dialled(call.send(no_answer(REF_A))) == [REF_B]
    assert dialled(call.send(result(REF_B, DialOutcome.BUSY))) == [REF_C]
    commands = call.send(result(REF_C, DialOutcome.FAILED))
    assert dialled(commands) == [SUPPORT_1]
    assert dialled(call.send(no_answer(SUPPORT_1))) == [SUPPORT_2]
    commands = call.send(no_answer(SUPPORT_2))
    assert prompt_ids(commands) == ["urgent_email"]
    assert "urgent arobase example" in texts(commands)["urgent_email"]
    assert hung_up_with(commands) == "message"
    roles = [(a.number, a.role.value, a.result.value) for a in call.state.summary.attempts]
    assert roles == [
        (REF_A, "tier1", "no-answer"),
        (REF_B, "tier1", "busy"),
        (REF_C, "tier1", "failed"),
        (SUPPORT_1, "tier2", "no-answer"),
        (SUPPORT_2, "tier2", "no-answer"),
    ]


def test_given_tier2_answers_then_connected_and_national_rotation_recorded() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    commands = to_tier1(call, ["20", "2"])  # 2B has no referents
    assert dialled(commands) == [SUPPORT_1]
    commands = call.send(answered(SUPPORT_1))
    assert RecordAnswerer("national", SUPPORT_1) in commands
    assert call.phase is Phase.CONNECTED


def test_given_departement_without_referents_and_tier2_closed_then_closed_message() -> None:
    call = Call.start(ASSISTANCE, paris("2026-11-23 12:30"))  # 75 open, national support at lunch
    commands = to_tier1(call, ["20", "2"])
    assert prompt_ids(commands) == ["assistance_closed"]
    assert hung_up_with(commands) == "message"


def test_given_tier1_fails_and_tier2_closed_then_urgent_email_not_closed_message() -> None:
    call = Call.start(ASSISTANCE, paris("2026-11-23 12:30"))
    to_tier1(call, ["75"])
    call.send(RotationFetched(None))
    call.send(no_answer(REF_A))
    call.send(no_answer(REF_B))
    commands = call.send(no_answer(REF_C))
    assert prompt_ids(commands) == ["tier1_unavailable", "urgent_email"]


def test_given_level2_reason_then_straight_to_tier2() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.send(DigitsReceived("75"))
    commands = call.send(DigitsReceived("2"))
    assert call.state.summary.reason == "rgpd"
    assert dialled(commands) == [SUPPORT_1]


def test_given_level2_reason_while_tier2_closed_then_tier1_takes_it() -> None:
    call = Call.start(ASSISTANCE, paris("2026-11-23 12:30"))
    call.send(DigitsReceived("75"))
    assert call.send(DigitsReceived("2")) == [FetchRotation("75")]


def test_given_level1_reason_then_tier1_and_reason_kept() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.send(DigitsReceived("75"))
    assert call.send(DigitsReceived("1")) == [FetchRotation("75")]
    assert call.state.summary.reason == "connexion"


def test_given_unknown_reason_digit_then_tier1_without_reason() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.send(DigitsReceived("75"))
    assert call.send(DigitsReceived("9")) == [FetchRotation("75")]
    assert call.state.summary.reason is None


@pytest.mark.parametrize("bad", ["99", "00", "96", "7", "*#", "2A"])
def test_given_invalid_departement_then_it_is_asked_again_with_a_message(bad: str) -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    commands = call.send(DigitsReceived(bad))
    assert prompt_ids(commands) == ["invalid_departement", "ask_departement"]
    assert call.phase is Phase.DEPT_MENU
    call.send(DigitsReceived("75"))
    assert call.state.departement == "75"


def test_given_three_invalid_answers_then_national_support() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.send(DigitsReceived("99"))
    call.send(InputTimedOut())
    commands = call.send(DigitsReceived("98"))
    assert prompt_ids(commands) == ["menu_gave_up", "transfer_tier2"]
    assert dialled(commands) == [SUPPORT_1]
    assert call.state.departement is None


def test_given_three_timeouts_then_national_support() -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    assert prompt_ids(call.send(InputTimedOut())) == ["no_input", "ask_departement"]
    call.send(InputTimedOut())
    assert dialled(call.send(InputTimedOut())) == [SUPPORT_1]


@pytest.mark.parametrize(
    ("keys", "code"),
    [
        (["20", "1"], "2A"),
        (["20", "2"], "2B"),
        (["97", "1"], "971"),
        (["97", "2"], "972"),
        (["97", "3"], "973"),
        (["97", "4"], "974"),
        (["97", "6"], "976"),
    ],
)
def test_given_corsica_and_overseas_submenus_then_the_third_answer_names_the_departement(
    keys: list[str], code: str
) -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    commands = call.send(DigitsReceived(keys[0]))
    assert prompt_ids(commands) == ["ask_corse" if keys[0] == "20" else "ask_outremer"]
    assert isinstance(commands[-1], Gather)
    assert commands[-1].max_digits == 1
    call.send(DigitsReceived(keys[1]))
    assert call.state.departement == code


@pytest.mark.parametrize(
    ("first", "bad", "menu"),
    [("20", "3", "ask_corse"), ("97", "5", "ask_outremer"), ("97", "0", "ask_outremer")],
)
def test_given_invalid_submenu_answer_then_submenu_is_asked_again(
    first: str, bad: str, menu: str
) -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    call.send(DigitsReceived(first))
    assert prompt_ids(call.send(DigitsReceived(bad))) == ["invalid_departement", menu]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-23 14:00", "tier1"),  # 09:00 in Guadeloupe: open
        ("2026-11-23 10:00", "tier2"),  # 05:00 in Guadeloupe: closed, national support open
    ],
)
def test_given_overseas_departement_then_its_own_time_zone_decides(
    moment: str, expected: str
) -> None:
    call = Call.start(ASSISTANCE, paris(moment))
    commands = to_tier1(call, ["97", "1"])
    if expected == "tier1":
        assert commands == [FetchRotation("971")]
    else:
        assert dialled(commands) == [SUPPORT_1]


def test_given_public_holiday_then_everything_is_closed() -> None:
    call = Call.start(ASSISTANCE, paris("2026-12-25 10:00"))
    assert prompt_ids(call.first)[-1] == "assistance_closed"


def test_given_good_friday_then_alsace_is_closed_but_paris_open() -> None:
    paris_call = Call.start(ASSISTANCE, paris("2026-04-03 15:00"))
    assert to_tier1(paris_call, ["75"]) == [FetchRotation("75")]
    alsace_call = Call.start(ASSISTANCE, paris("2026-04-03 15:00"))
    assert dialled(to_tier1(alsace_call, ["67"])) == [SUPPORT_1]


def test_given_saint_stephen_saturday_then_alsace_closed_while_a_normal_saturday_is_open() -> None:
    routes = Call.start(ASSISTANCE, MONDAY_10).flow.routes
    assert routes.tier1_open("67", paris("2026-12-19 10:00"))
    assert not routes.tier1_open("67", paris("2026-12-26 10:00"))


def test_given_dated_exceptions_then_closed_day_and_short_day_apply() -> None:
    routes = Call.start(ASSISTANCE, MONDAY_10).flow.routes
    assert not routes.tier1_open("75", paris("2026-11-27 10:00"))  # séminaire
    assert routes.tier1_open("75", paris("2026-12-24 10:00"))
    assert not routes.tier1_open("75", paris("2026-12-24 14:00"))


STAGES = [
    "dept_menu",
    "reason_menu",
    "fetch_rotation",
    "tier1_dialing",
    "tier2_dialing",
    "connected",
]


@pytest.mark.parametrize("stage", STAGES)
def test_given_caller_hangs_up_at_each_stage_then_call_ends_cleanly(stage: str) -> None:
    call = Call.start(ASSISTANCE, MONDAY_10)
    script: list[Event] = [
        DigitsReceived("75"),
        InputTimedOut(),
        RotationFetched(None),
        no_answer(REF_A),
        no_answer(REF_B),
        no_answer(REF_C),
        answered(SUPPORT_1),
    ]
    for event in script:
        if call.phase.value == stage:
            break
        call.send(event)
    assert call.phase.value == stage
    commands = call.send(CallerHungUp())
    expected = "connected" if stage == "connected" else "caller-hung-up"
    assert hung_up_with(commands) == expected
    assert call.phase is Phase.ENDED
    assert call.send(PeerHungUp()) == []  # late events after the end do nothing
