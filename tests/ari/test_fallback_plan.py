"""One fallback plan, two renderings: the Asterisk dialplan and the LaML fallback document
ring the same numbers, in the same order, for as long, and end on the same message, for
every inbound number of the routing file, both lines, in and out of hours."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from ivr.flow import CallFlow
from ivr.transports.ari.dialplan import (
    DEFAULT_TEMPLATE,
    fallback_dialplan,
    header_years,
    number_forms,
)
from ivr.transports.ari.mapping import dial_endpoint
from ivr.transports.laml.config import Urls
from ivr.transports.laml.documents import Speaker, fallback_document
from routing.fallback import LRO_RING_TIMEOUT_S, StepKind
from tests.ari.dialplan_run import Outcome, Runner
from tests.ari.harness import flow, routing_config

PARIS = ZoneInfo("Europe/Paris")
PROMPTS = "https://sons.example/ivr"
YEARS = range(2026, 2031)
MOMENTS = {
    "lundi 10 h (ouvert)": datetime(2026, 12, 7, 10, 0, tzinfo=PARIS),
    "lundi 12 h (pause de midi)": datetime(2026, 12, 7, 12, 0, tzinfo=PARIS),
    "lundi 16 h 29 (dernière minute)": datetime(2026, 12, 7, 16, 29, tzinfo=PARIS),
    "lundi 16 h 30 (fermé)": datetime(2026, 12, 7, 16, 30, tzinfo=PARIS),
    "lundi 22 h (nuit)": datetime(2026, 12, 7, 22, 0, tzinfo=PARIS),
    "dimanche 10 h": datetime(2026, 12, 6, 10, 0, tzinfo=PARIS),
    "Noël (vendredi) 10 h": datetime(2026, 12, 25, 10, 0, tzinfo=PARIS),
    "Ascension 2027 (jeudi) 10 h": datetime(2027, 5, 6, 10, 0, tzinfo=PARIS),
    "lundi d'été 9 h 45": datetime(2027, 6, 28, 9, 45, tzinfo=PARIS),
}


@cache
def dialplan() -> str:
    return fallback_dialplan(routing_config(), DEFAULT_TEMPLATE, YEARS)


def asterisk_path(called: str, now: datetime) -> Outcome:
    # The operator sends the national form, as most French trunks do.
    exten = number_forms(called)[-1] if called.startswith("+33") else called
    return Runner(dialplan(), now).run("ivr-fallback", exten)


def laml_path(call_flow: CallFlow, called: str, now: datetime) -> Outcome:
    """Follow the fallback document step by step, nobody answering."""
    urls = Urls("https://ivr.example")
    speaker = Speaker(PROMPTS)
    outcome = Outcome()
    step = 0
    for _ in range(50):
        raw = fallback_document(call_flow, urls, speaker, called, step, "no-answer", now)
        root = ET.fromstring(raw)
        dial = None
        for verb in root:
            if verb.tag == "Play":
                assert verb.text is not None
                assert verb.text.startswith(PROMPTS + "/")
                outcome.played.append("ivr/" + verb.text[len(PROMPTS) + 1 :].removesuffix(".wav"))
            elif verb.tag == "Dial":
                dial = verb
            else:
                assert verb.tag == "Hangup", verb.tag
        if dial is None:
            return outcome
        numbers = tuple(
            dial_endpoint(DEFAULT_TEMPLATE, n.text or "") for n in dial if n.tag == "Number"
        )
        outcome.dials.append((numbers, int(dial.attrib["timeout"])))
        step = int(dial.attrib["action"].rsplit("step=", 1)[1])
    raise AssertionError("the fallback document loops")


def expected(called: str, now: datetime) -> Outcome:
    plan = flow().fallback.for_number(called)
    outcome = Outcome()
    for step in plan.steps_at(now):
        if step.announcement:
            outcome.played.append(f"ivr/{step.announcement}")
        targets = tuple(dial_endpoint(DEFAULT_TEMPLATE, n) for n in step.numbers)
        outcome.dials.append((targets, step.ring_timeout_s))
    outcome.played.append(f"ivr/{plan.last_word.prompt}")
    return outcome


def numbers() -> list[str]:
    """Every inbound number of the file, and one it does not know."""
    return [*flow().fallback.numbers(), "+33353019876"]


@pytest.mark.parametrize("moment", MOMENTS.values(), ids=MOMENTS.keys())
def test_given_any_inbound_number_then_dialplan_and_laml_follow_the_same_plan(
    moment: datetime,
) -> None:
    call_flow = flow()
    for called in numbers():
        plan = expected(called, moment)
        on_asterisk = asterisk_path(called, moment)
        on_laml = laml_path(call_flow, called, moment)
        assert on_asterisk.dials == plan.dials == on_laml.dials, called
        assert on_asterisk.played == plan.played == on_laml.played, called
        assert on_asterisk.warnings == []


def test_given_the_shipped_file_then_the_plans_are_what_callers_need() -> None:
    plans = flow().fallback
    config = routing_config()
    # The assistance line: national support in its hours, the urgent e-mail message after.
    assistance = config.national.assistance_number
    support = tuple(
        dial_endpoint(DEFAULT_TEMPLATE, c.number) for c in config.national.support.numbers
    )
    opened = asterisk_path(assistance, MOMENTS["lundi 10 h (ouvert)"])
    assert opened.dials == [(support, config.national.support.ring_timeout_s)]
    assert opened.played == ["ivr/transfer_tier2", "ivr/urgent_email"]
    for closed in ("lundi 12 h (pause de midi)", "lundi 22 h (nuit)", "Noël (vendredi) 10 h"):
        at_night = asterisk_path(assistance, MOMENTS[closed])
        assert at_night.dials == [], closed
        assert at_night.played == ["ivr/urgent_email"], closed
    # A département's 115: its listeners together, then the LRO chain, one number each.
    ain = config.departements["01"].line_115
    path = asterisk_path(ain.inbound_numbers[0], MOMENTS["lundi 22 h (nuit)"])
    listeners = tuple(dial_endpoint(DEFAULT_TEMPLATE, c.number) for c in ain.listeners)
    assert path.dials[0] == (listeners, ain.listener_ring_timeout_s)
    lro = plans.plan("115-01").steps[1:]
    assert [s.kind for s in lro] == [StepKind.LRO] * len(lro)
    assert lro
    assert path.dials[1:] == [
        ((dial_endpoint(DEFAULT_TEMPLATE, s.numbers[0]),), LRO_RING_TIMEOUT_S) for s in lro
    ]
    assert path.played == ["ivr/lro_transfer", "ivr/lro_failed"]
    # Every LRO chain ends: no number twice.
    for plan in plans.plans():
        dialled = [n for s in plan.steps for n in s.numbers]
        assert len(dialled) == len(set(dialled)), plan.name


def test_given_a_date_past_the_holiday_window_then_the_dialplan_warns() -> None:
    late = datetime(2031, 1, 6, 10, 0, tzinfo=PARIS)  # a Monday after the listed years
    outcome = asterisk_path(routing_config().national.assistance_number, late)
    assert outcome.warnings
    assert "2030" in outcome.warnings[0]
    assert outcome.dials, "the weekly hours still apply"


def test_given_committed_fallback_then_header_gives_its_years() -> None:
    assert header_years(dialplan()) == YEARS
    assert header_years("[ivr-fallback]") is None
