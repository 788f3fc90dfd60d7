"""A routing file applied while calls are in progress withdraws their département.

The calls keep going under the new file at their next step: a 115 caller leaves the queue
for the national LRO chain, an assistance caller goes to national support. Never silence,
never a crash of the flow.
"""

from __future__ import annotations

from ivr.flow import CallFlow, build_flow
from ivr.flow.engine import Phase
from ivr.flow.vocabulary import (
    CancelTimer,
    Dequeue,
    DigitsReceived,
    Enqueue,
    FetchQueueStatus,
    FetchRotation,
    ListenerOffered,
    RotationFetched,
    TimerFired,
)
from routing.loader import load_config
from tests.flow.helpers import (
    ASSISTANCE,
    MINIMAL,
    PARIS_115,
    Call,
    answered,
    dialled,
    no_answer,
    paris,
    prompt_ids,
)
from tests.flow.test_emergency_flow import LISTENER_1, NATIONAL_LRO, NOW, PARIS_LRO, status


def without(code: str) -> CallFlow:
    config = load_config(MINIMAL)
    remaining = {k: v for k, v in config.departements.items() if k != code}
    return build_flow(config.model_copy(update={"departements": remaining}))


def queued_then_withdrawn() -> Call:
    call = Call.start(PARIS_115, NOW)
    call.send(status())
    assert call.phase is Phase.QUEUED
    call.flow = without("75")
    return call


def test_given_queued_115_call_when_departement_withdrawn_then_next_announce_goes_to_lro() -> None:
    call = queued_then_withdrawn()
    assert call.send(TimerFired("announce")) == [FetchQueueStatus("75")]

    commands = call.send(status(position=3))

    assert Dequeue("75") in commands
    assert CancelTimer("max_wait") in commands
    assert prompt_ids(commands) == ["lro_transfer"]
    assert dialled(commands) == [NATIONAL_LRO[0]], "the national chain: 75's own LRO is gone"
    assert call.phase is Phase.LRO_DIALING
    assert not call.state.queued
    assert call.state.summary.deterrence == "departement_withdrawn"
    call.send(answered(NATIONAL_LRO[0]))
    assert call.state.summary.connected_to == NATIONAL_LRO[0]


def test_given_queued_115_call_when_withdrawn_and_max_wait_fires_then_lro_not_deterrence() -> None:
    call = queued_then_withdrawn()
    commands = call.send(TimerFired("max_wait"))
    assert Dequeue("75") in commands
    assert dialled(commands) == [NATIONAL_LRO[0]]
    assert call.phase is Phase.LRO_DIALING


def test_given_listener_offered_after_withdrawal_then_call_goes_to_lro() -> None:
    call = queued_then_withdrawn()
    commands = call.send(ListenerOffered(LISTENER_1, "Écoutant 1"))
    assert dialled(commands) == [NATIONAL_LRO[0]]
    assert Enqueue("75") not in commands


def test_given_listener_ringing_when_withdrawn_and_no_answer_then_lro_instead_of_requeue() -> None:
    call = Call.start(PARIS_115, NOW)
    call.send(status())
    call.send(ListenerOffered(LISTENER_1, "Écoutant 1"))
    assert call.phase is Phase.LISTENER_DIALING
    call.flow = without("75")
    commands = call.send(no_answer(LISTENER_1))
    assert not any(isinstance(c, Enqueue) for c in commands)
    assert dialled(commands) == [NATIONAL_LRO[0]]
    numbers = dialled(call.send(no_answer(NATIONAL_LRO[0])))
    assert numbers == [NATIONAL_LRO[1]], "each number once, none of the 75's"
    assert PARIS_LRO not in numbers


def test_given_listener_answers_after_withdrawal_then_connected_without_recording() -> None:
    call = Call.start(PARIS_115, NOW)
    call.send(status())
    call.send(ListenerOffered(LISTENER_1, "Écoutant 1"))
    call.flow = without("75")
    commands = call.send(answered(LISTENER_1))
    assert call.phase is Phase.CONNECTED
    assert not call.state.recording
    assert CancelTimer("max_wait") in commands


def test_given_assistance_call_fetching_rotation_when_withdrawn_then_national_support() -> None:
    call = Call.start(ASSISTANCE, paris("2026-11-23 10:00"))
    commands = call.send(DigitsReceived("75"))
    if call.phase is not Phase.FETCH_ROTATION:  # the reason menu comes first
        commands = call.send(DigitsReceived("1"))
    assert call.phase is Phase.FETCH_ROTATION
    assert commands[-1] == FetchRotation("75")
    call.flow = without("75")

    commands = call.send(RotationFetched(None))

    assert call.phase in (Phase.TIER2_DIALING, Phase.FETCH_ROTATION)
    if call.phase is Phase.FETCH_ROTATION:
        commands = call.send(RotationFetched(None))
    assert "transfer_tier2" in prompt_ids(commands)
