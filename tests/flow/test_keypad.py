"""The keypad: keys typed ahead, multi-digit answers, ``#`` and ``*``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ivr.flow.keypad import (
    MAX_TYPED_AHEAD,
    Collecting,
    Completed,
    Ignored,
    Kept,
    Keypad,
    Restarted,
    Waiting,
)


def test_given_keys_typed_before_any_menu_then_kept_and_applied_in_order() -> None:
    pad = Keypad()
    assert pad.press("7") == Kept()
    assert pad.press("5") == Kept()
    assert pad.press("1") == Kept()

    assert pad.open(2) == Completed("75")
    assert pad.open(1) == Completed("1")  # what the first menu did not need
    assert pad.open(1) == Waiting()


def test_given_one_digit_of_two_typed_ahead_then_collecting_until_the_second() -> None:
    pad = Keypad()
    pad.press("7")
    assert pad.open(2) == Collecting()
    assert pad.press("5") == Completed("75")


def test_given_half_answer_when_time_runs_out_then_it_is_judged_as_typed() -> None:
    pad = Keypad()
    assert pad.open(2) == Waiting()
    assert pad.press("7") == Collecting()
    assert pad.timed_out() == Completed("7")
    assert not pad.asking


def test_given_hash_then_answer_ends_early_and_alone_means_nothing() -> None:
    pad = Keypad()
    pad.open(2)
    assert pad.press("7") == Collecting()
    assert pad.press("#") == Completed("7")
    pad.open(2)
    assert pad.press("#") == Completed("")


def test_given_star_then_answer_starts_again() -> None:
    pad = Keypad()
    pad.open(2)
    pad.press("9")
    assert pad.press("*") == Restarted()
    assert pad.press("7") == Collecting()
    assert pad.press("5") == Completed("75")
    # typed ahead too: "9*75" is 75
    for key in "9*75":
        pad.press(key)
    assert pad.open(2) == Completed("75")


def test_given_garbage_then_ignored_and_nothing_changes() -> None:
    pad = Keypad()
    for bad in ("", "77", "x", "é", "\x00"):
        assert pad.press(bad) == Ignored()
    assert pad.ahead == ""
    assert pad.press("a") == Kept()  # DTMF A, as some phones send it
    assert pad.ahead == "A"


def test_given_caller_leaning_on_keypad_then_typed_ahead_is_bounded() -> None:
    pad = Keypad()
    for _ in range(1000):
        pad.press("1")
    assert len(pad.ahead) == MAX_TYPED_AHEAD


def test_given_keys_while_ringing_then_forgotten() -> None:
    pad = Keypad()
    pad.press("3")
    pad.forget_ahead()
    assert pad.open(1) == Waiting()


@given(st.text(alphabet="0123456789*#", max_size=40), st.integers(min_value=1, max_value=3))
def test_given_any_keys_then_every_answer_is_digits_within_the_limit(keys: str, size: int) -> None:
    pad = Keypad()
    for key in keys:
        pad.press(key)
    answers = []
    for _ in range(50):
        outcome = pad.open(size)
        if not isinstance(outcome, Completed):
            answers.append(pad.timed_out().digits)
            break
        answers.append(outcome.digits)
    assert all(a.isdigit() or a == "" for a in answers)
    assert all(len(a) <= size for a in answers)
    assert set("".join(answers)) <= set(keys)
