"""Random callers against both flows: whatever happens, the promises of the service hold.

Every batch ends with a command that waits for an event (or the call is connected); every call
ends within a bounded number of events; an ended call always hung up with an outcome; no
destination is dialled twice in one call, except a listener offered again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.flow.engine import CallFlow, FlowContext, FlowDefinition, FlowError, Phase
from ivr.flow.vocabulary import (
    WAITING_COMMANDS,
    CallerHungUp,
    CallStarted,
    Command,
    Dial,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Event,
    FetchQueueStatus,
    FetchRotation,
    FetchSupportPresence,
    Gather,
    Hangup,
    Hold,
    InputTimedOut,
    Line,
    ListenerOffered,
    PeerHungUp,
    QueueStatus,
    QueueStatusFetched,
    RotationFetched,
    SupportPresenceFetched,
    TimerFired,
)
from tests.flow.helpers import ASSISTANCE, ENTRY_115, PARIS_115, minimal_flow, paris

CALLED = [ASSISTANCE, ENTRY_115, PARIS_115, "+33353010200", "+33353010210", "+33199009999"]
KEYS = st.sampled_from(["75", "20", "97", "1", "2", "6", "99", "", "*", "2A", "13", "971"])


def reply(command: Command, data: st.DataObject, step: int) -> Event:
    """A plausible event answering the last waiting command."""
    if data.draw(st.integers(0, 30)) == 0:
        return CallerHungUp()
    match command:
        case Gather():
            return data.draw(st.one_of(KEYS.map(DigitsReceived), st.just(InputTimedOut())))
        case Dial(targets=targets):
            outcomes = st.sampled_from(list(DialOutcome))
            return DialResult(tuple((t.number, data.draw(outcomes)) for t in targets))
        case Hold():
            if step > 60:
                return TimerFired("max_wait")
            return data.draw(
                st.one_of(
                    st.just(TimerFired("announce")),
                    st.just(TimerFired("max_wait")),
                    st.just(ListenerOffered("+33261910751", "Écoutant 1")),
                    KEYS.map(DigitsReceived),
                )
            )
        case FetchRotation():
            return RotationFetched(
                data.draw(st.sampled_from([None, "+33199007502", "+33536490001"]))
            )
        case FetchSupportPresence():
            away = st.sampled_from(["+33536490001", "+33536490002", "+33199009999"])
            why = st.sampled_from([DialOutcome.PAUSED, DialOutcome.OFFLINE])
            return SupportPresenceFetched(
                tuple(data.draw(st.dictionaries(away, why, max_size=3)).items())
            )
        case FetchQueueStatus():
            return QueueStatusFetched(
                QueueStatus(
                    waiting=data.draw(st.integers(0, 60)),
                    listeners_logged_in=data.draw(st.integers(0, 3)),
                    listeners_available=0,
                    estimated_wait_s=data.draw(st.integers(0, 2000)),
                    position=data.draw(st.integers(0, 5)),
                    closed=data.draw(st.booleans()),
                    emergency_closed=data.draw(st.integers(0, 5)) == 0,
                )
            )
    raise AssertionError(f"no reply for {command}")


@settings(max_examples=300, deadline=None)
@given(data=st.data(), called=st.sampled_from(CALLED), hour=st.integers(0, 24 * 7 - 1))
def test_given_any_caller_behaviour_then_the_call_ends_with_an_outcome_and_never_redials(
    data: st.DataObject, called: str, hour: int
) -> None:
    flow = minimal_flow()
    now = paris("2026-11-23 00:00") + timedelta(hours=hour)
    state, commands = flow.start(CallStarted("c", called, "+33612345678"), now)
    dials: list[str] = []
    waiting: Command | None = None
    for step in range(200):
        for command in commands:
            if isinstance(command, Dial):
                dials += [t.number for t in command.targets if t.role.value != "listener"]
        if state.phase is Phase.ENDED:
            assert isinstance(commands[-1], Hangup)
            assert state.summary.outcome is not None
            break
        if state.phase is Phase.CONNECTED:
            ending: list[Event] = [PeerHungUp(), CallerHungUp()]
            event: Event = data.draw(st.sampled_from(ending))
        else:
            # An empty batch (a key pressed on hold that means nothing) keeps the call waiting
            # on what it was waiting for; any other batch must end waiting for something.
            if commands:
                assert isinstance(commands[-1], WAITING_COMMANDS), commands
                waiting = commands[-1]
            assert waiting is not None, f"silence in phase {state.phase}"
            event = reply(waiting, data, step)
        commands = flow.step(state, event, now + timedelta(seconds=step * 10))
    else:
        raise AssertionError("the call never ended")
    assert len(dials) == len(set(dials)), dials


def test_given_handler_leading_to_undeclared_phase_then_flow_error() -> None:
    definition = FlowDefinition(Line.ASSISTANCE)

    @definition.on(Phase.DEPT_MENU, InputTimedOut, to=(Phase.DEPT_MENU,))
    def _wrong(ctx: FlowContext, state: object, event: Event) -> list[Command]:
        state.phase = Phase.CONNECTED  # type: ignore[attr-defined]
        return []

    flow = minimal_flow()
    state, _ = flow.start(CallStarted("c", ASSISTANCE, None), paris("2026-11-23 10:00"))
    with pytest.raises(FlowError, match="connected"):
        definition.step(flow.context(paris("2026-11-23 10:00")), state, InputTimedOut())


def test_given_a_transition_declared_twice_then_flow_error() -> None:
    definition = FlowDefinition(Line.ASSISTANCE)

    def handler(ctx: FlowContext, state: object, event: Event) -> list[Command]:
        return []

    definition.on(Phase.DEPT_MENU, InputTimedOut, to=(Phase.DEPT_MENU,))(handler)
    with pytest.raises(FlowError, match="already handles"):
        definition.on(Phase.DEPT_MENU, InputTimedOut, to=(Phase.DEPT_MENU,))(handler)


def test_flow_type_is_reexported() -> None:
    assert CallFlow is type(minimal_flow())
