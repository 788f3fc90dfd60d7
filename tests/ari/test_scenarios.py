"""The simulator's scenarios, through the ARI transport and the fake Asterisk.

Each scenario runs twice: in the simulator (the reference) and as a real call through ARI
requests checked against Asterisk's documents. Both must tell the same story (line,
département, destinations tried and their results, prompts, outcome), and the fake must
hold no channel, bridge or live recording once the call is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ivr.flow import Phase
from ivr.flow.vocabulary import CallSummary, Outcome
from ivr.prompts_audio import prompt_texts
from ivr.runtime.live_state import Presence
from ivr.sim.simulator import CallScript, Simulator
from tests.ari.harness import MONDAY_10H, Harness, flow, routing_config

ASSISTANCE = "+33806000156"
AIN_115 = "+33353010000"
NATIONAL_115 = "+33353019999"
CALLER = "+33612345678"
AIN_REFERENTS = frozenset({"+33199000000", "+33199000001", "+33199000002"})
SUPPORT = frozenset({"+33536490001", "+33536490002"})
AIN_LISTENERS = ("+33261910000", "+33261910001", "+33261910002")


@dataclass(frozen=True)
class Scenario:
    name: str
    script: CallScript
    listeners_busy: int = 0  # 115: listeners logged in but on a call
    already_waiting: int = 0  # 115: calls already in the queue


def assistance(name: str, presses: list[str], **kw: Any) -> Scenario:
    return Scenario(
        name, CallScript(to_number=ASSISTANCE, from_number=CALLER, presses=presses, **kw)
    )


def line_115(name: str, to: str = AIN_115, busy: int = 0, waiting: int = 0, **kw: Any) -> Scenario:
    script = CallScript(to_number=to, from_number=CALLER, waiting=waiting, **kw)
    return Scenario(name, script, listeners_busy=busy, already_waiting=waiting)


SCENARIOS = [
    assistance("assistance-tier1-answers", ["01", "1"]),
    assistance("assistance-no-reason-chosen", ["01"]),
    assistance("assistance-tier1-silent-tier2-answers", ["01", "1"], no_answer=AIN_REFERENTS),
    assistance("assistance-tier1-busy-tier2-answers", ["01", "2"], busy=AIN_REFERENTS),
    assistance("assistance-tier1-failed-tier2-answers", ["01", "3"], failed=AIN_REFERENTS),
    assistance("assistance-level2-reason-goes-to-tier2", ["20", "1", "4"]),
    assistance("assistance-overseas-reunion", ["97", "4", "1"]),
    assistance("assistance-invalid-three-times", ["99", "00", "98"]),
    assistance("assistance-no-input-at-all", []),
    assistance("assistance-nobody-answers", ["01", "1"], nobody_answers=True),
    Scenario(
        "assistance-withheld-number",
        CallScript(to_number=ASSISTANCE, from_number=None, presses=["01", "1"]),
    ),
    line_115("115-listener-answers", listeners=1),
    line_115("115-no-listener-logged-in-lro", listeners=0),
    line_115("115-national-entry-asks-departement", to=NATIONAL_115, listeners=1, presses=["01"]),
    line_115("115-saturation-callback", busy=1, waiting=30, listeners=1, presses=["1"]),
    line_115("115-saturation-no-choice", busy=1, waiting=30, listeners=1),
    line_115("115-callback-pressed-on-hold", busy=1, waiting=2, listeners=1, presses=["1"]),
    line_115(
        "115-listener-silent-max-wait-then-lro-fails",
        listeners=1,
        nobody_answers=True,
    ),
]

HANG_UPS = [
    assistance("assistance-hangup-dept-menu", ["01"], hang_up_at=Phase.DEPT_MENU),
    assistance("assistance-hangup-corse-menu", ["20"], hang_up_at=Phase.CORSE_MENU),
    assistance("assistance-hangup-outremer-menu", ["97"], hang_up_at=Phase.OUTREMER_MENU),
    assistance("assistance-hangup-reason-menu", ["01"], hang_up_at=Phase.REASON_MENU),
    assistance("assistance-hangup-tier1-ringing", ["01", "1"], hang_up_at=Phase.TIER1_DIALING),
    assistance(
        "assistance-hangup-tier2-ringing",
        ["01", "1"],
        no_answer=AIN_REFERENTS,
        hang_up_at=Phase.TIER2_DIALING,
    ),
    assistance("assistance-hangup-connected", ["01", "1"], hang_up_at=Phase.CONNECTED),
    line_115("115-hangup-dept-menu", to=NATIONAL_115, listeners=1, hang_up_at=Phase.DEPT_MENU),
    line_115("115-hangup-queued", busy=1, waiting=2, listeners=1, hang_up_at=Phase.QUEUED),
    line_115("115-hangup-listener-ringing", listeners=1, hang_up_at=Phase.LISTENER_DIALING),
    line_115("115-hangup-connected", listeners=1, hang_up_at=Phase.CONNECTED),
    line_115(
        "115-hangup-saturation-offer",
        busy=1,
        waiting=30,
        listeners=1,
        hang_up_at=Phase.SATURATION_OFFER,
    ),
    line_115("115-hangup-lro-ringing", listeners=0, hang_up_at=Phase.LRO_DIALING),
]


ANNOUNCEMENTS = ("queue_position", "queue_callback_offer")


def story(summary: CallSummary) -> dict[str, object]:
    # How many periodic announcements a long wait hears depends on the exact timing of
    # prompts, which the simulator only estimates: the first of each is kept.
    prompts = [
        p
        for i, p in enumerate(summary.prompts)
        if p not in ANNOUNCEMENTS or p not in summary.prompts[:i]
    ]
    return {
        "line": summary.line,
        "departement": summary.departement,
        "attempts": [(a.number, a.role, a.result) for a in summary.attempts],
        "connected_to": summary.connected_to,
        "prompts": prompts,
        "outcome": summary.outcome,
        "reason": summary.reason,
        "deterrence": summary.deterrence,
        "lro_used": summary.lro_used,
        "callback_registered": summary.callback_registered,
    }


async def prepare_115(harness: Harness, scenario: Scenario) -> None:
    script = scenario.script
    if script.to_number not in (AIN_115, NATIONAL_115):
        return
    busy = scenario.listeners_busy
    for index, number in enumerate(AIN_LISTENERS[: script.listeners]):
        presence = Presence.BUSY if index < busy else Presence.AVAILABLE
        await harness.live.set_presence("01", number, presence, harness.clock.now())
    for index in range(scenario.already_waiting):
        await harness.live.enqueue("01", f"earlier-{index}", 0, harness.clock.now())


@pytest.mark.parametrize("scenario", SCENARIOS + HANG_UPS, ids=lambda s: s.name)
async def test_given_simulator_scenario_when_run_through_ari_then_same_story_and_nothing_left(
    harness: Harness, scenario: Scenario
) -> None:
    expected = Simulator(flow()).run(scenario.script, MONDAY_10H).state.summary
    instance = harness.instance()
    await instance.start()
    await prepare_115(harness, scenario)

    summary = await harness.run_script(scenario.script, instance)

    assert story(summary) == story(expected)
    assert harness.fake.leaks() == []
    assert harness.fake.violations == []
    # Every sound Asterisk was asked for is one ``ivr prompts build`` renders.
    played = {uri for uris in harness.fake.played.values() for uri in uris}
    sounds = {uri.removeprefix("sound:ivr/") for uri in played if uri.startswith("sound:ivr/")}
    assert sounds <= set(prompt_texts(routing_config())), sounds - set(
        prompt_texts(routing_config())
    )
    if scenario.script.hang_up_at is not None:
        assert summary.outcome in (Outcome.CALLER_HUNG_UP, Outcome.CONNECTED)
