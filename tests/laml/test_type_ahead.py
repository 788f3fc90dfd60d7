"""Keys typed ahead, ``*`` and ``#`` through the LaML webhooks.

The provider collects keys only inside a ``<Gather>`` and stops the prompts nested in it at
the first key: the welcome is nested in the département menu's ``<Gather>`` so that a
caller typing ahead during it is routed by what they typed.
"""

from __future__ import annotations

from tests.laml.fakes import ASSISTANCE, PARIS_REFERENTS, InboundCall
from tests.laml.harness import Harness

WELCOME = "Bienvenue sur la ligne d'assistance SI SIAO."


async def test_given_75_typed_during_the_welcome_then_reason_menu_then_paris_referent(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    first = await call.start()
    # The welcome is the first prompt of the <Gather>: 75 typed while it plays counts.
    assert first.only("Gather").children[0].text == WELCOME
    menu = await call.press(first, "75")
    assert menu.only("Gather").attrs["numDigits"] == "1"
    doc = await call.press(menu, "1")
    assert doc.dialled() == [PARIS_REFERENTS[0]]


async def test_given_star_alone_then_the_question_is_asked_again_without_a_try_lost(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    again = await call.press(await call.start(), "9*")
    gather = again.only("Gather")
    assert gather.attrs["numDigits"] == "2"
    assert gather.child("Say").text.startswith("Tapez les deux chiffres de votre département.")
    assert "n'est pas reconnu" not in " ".join(again.said())
    menu = await call.press(again, "75")
    assert menu.only("Gather").attrs["numDigits"] == "1"  # the reason menu: 75 was taken


async def test_given_star_then_one_digit_then_the_missing_digit_is_gathered(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    rest = await call.press(await call.start(), "*7")
    gather = rest.only("Gather")
    assert gather.attrs["numDigits"] == "1"
    assert gather.attrs["timeout"] == "3"  # the inter-digit time-out of the routing file
    assert gather.children == []  # the answer has begun: no question
    menu = await call.press(rest, "5")
    doc = await call.press(menu, "1")
    assert doc.dialled() == [PARIS_REFERENTS[0]]


async def test_given_half_answer_then_silence_then_it_is_judged_as_typed(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    rest = await call.press(await call.start(), "*7")
    retry = await call.stay_silent(rest)
    assert "Ce numéro de département n'est pas reconnu." in retry.said()
