"""Simulated calls: the real flows, routing and call runtime, in-process, on a virtual clock.

Each call runs through the ``CallRuntime`` every transport shares (rotation, queue, timers,
call-backs and records are the runtime's own work) on in-memory live state
(``ivr.sim.platform``: the script's 115 platform around the call) and a virtual clock
(``ivr.sim.clock``); the simulated caller and the phones it dials are the call's transport
(``ivr.sim.caller``): the caller presses the keys of its script, one answer per menu once
its question is heard, and keys at set times whatever plays; destinations answer unless
the script says they are busy, do not answer or fail. Nothing sleeps: every wait moves the
clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.flow import CallFlow, Phase
from ivr.flow.engine import CallState
from ivr.flow.vocabulary import CallerHungUp, CallStarted, DialOutcome, Event
from ivr.runtime.runtime import CallRuntime
from ivr.sim.caller import SimulatedCaller, dial_outcome
from ivr.sim.clock import OFFER, TIMER, SimulationError, VirtualTime, drive
from ivr.sim.platform import SimulatedPlatform, SimulatedSinks

__all__ = ["CallScript", "SimulatedCall", "SimulationError", "Simulator", "Step"]

MAX_EVENTS = 2_000


@dataclass(slots=True)
class CallScript:
    """What the simulated caller does and how the destinations behave."""

    to_number: str
    from_number: str | None = None
    presses: list[str] = field(default_factory=list)
    # Keys pressed at a set time (seconds after the call is answered) whatever plays.
    typed: list[tuple[float, str]] = field(default_factory=list)
    no_answer: frozenset[str] = frozenset()
    busy: frozenset[str] = frozenset()
    failed: frozenset[str] = frozenset()
    nobody_answers: bool = False
    listeners: int = 1
    waiting: int = 0
    closed: bool = False
    emergency_closed: bool = False
    hang_up_at: Phase | None = None
    conversation_s: int = 300
    hint_departement: str | None = None
    # National support posts whose agents said on the support page they are paused or
    # signed out: tier 2 does not ring them.
    support_paused: frozenset[str] = frozenset()
    support_offline: frozenset[str] = frozenset()

    def result_for(self, number: str) -> DialOutcome:
        """How a destination answers."""
        return dial_outcome(
            number,
            failed=self.failed,
            busy=self.busy,
            no_answer=self.no_answer,
            nobody_answers=self.nobody_answers,
        )


@dataclass(slots=True)
class Step:
    """One thing that happened, at ``t`` seconds into the call."""

    t: float
    kind: str
    data: dict[str, Any]


@dataclass(slots=True)
class SimulatedCall:
    state: CallState
    steps: list[Step]
    duration_s: float
    callbacks: list[tuple[str, str]]

    def summary(self) -> dict[str, Any]:
        s = self.state.summary
        return {
            "type": "summary",
            "call_id": s.call_id,
            "line": s.line.value if s.line else None,
            "departement": s.departement,
            "caller": s.caller,
            "called": s.called,
            "destinations_tried": [
                {"number": a.number, "role": a.role.value, "result": a.result.value}
                for a in s.attempts
            ],
            "connected_to": s.connected_to,
            "connected_role": s.connected_role.value if s.connected_role else None,
            "prompts": list(s.prompts),
            "outcome": s.outcome.value if s.outcome else None,
            "reason": s.reason,
            "deterrence": s.deterrence,
            "lro_used": s.lro_used,
            "callback_registered": s.callback_registered,
            "duration_s": round(self.duration_s, 1),
        }


class Simulator:
    """Runs scripted calls through the real ``CallRuntime`` on in-memory live state and a
    virtual clock; the rotation pointers are shared between its calls."""

    def __init__(self, flow: CallFlow, record_steps: bool = True) -> None:
        self.flow = flow
        self.record_steps = record_steps
        self.time = VirtualTime()
        self.live = SimulatedPlatform(flow.config, self.time)
        self.sinks = SimulatedSinks()
        self.runtime = CallRuntime(
            flow,
            self.live,
            self.time.clock,
            timers=self.time,
            records=self.sinks,
            callbacks=self.sinks,
            instance_id="simulateur",
            spawn=self.time.spawn,
        )
        self._next_id = 0

    def run(self, script: CallScript, at: datetime) -> SimulatedCall:
        if at.tzinfo is None:
            raise SimulationError(
                "l'heure de l'appel doit indiquer son fuseau (ISO 8601 avec décalage)"
            )
        self._next_id += 1
        run = _Run(self, script, at, f"sim-{self._next_id}")
        try:
            return run.execute()
        finally:
            self.time.clear()
            self.live.end()
            self.runtime.calls.pop(run.call_id, None)


class _Run:
    """One simulated call: the runtime steps it, the caller answers, the clock moves."""

    def __init__(self, sim: Simulator, script: CallScript, at: datetime, call_id: str) -> None:
        self.sim = sim
        self.runtime = sim.runtime
        self.time = sim.time
        self.script = script
        self.call_id = call_id
        self.steps: list[Step] = []
        log = self.log if sim.record_steps else _ignore
        self.time.reset(at)
        self.caller = SimulatedCaller(
            script, self.time, log, self.feed, hang_up_at=script.hang_up_at
        )
        sim.live.begin(script, log, self.offer)
        sim.sinks.begin(log)
        self.state: CallState | None = None

    def log(self, kind: str, **data: Any) -> None:
        self.steps.append(Step(round(self.time.t, 1), kind, data))

    def feed(self, event: Event) -> None:
        """An event from the caller's side (``SimulatedCaller.send``): the runtime steps
        the call, the caller plays what it answers."""
        self.caller.perform(drive(self.runtime.handle(self.call_id, event)))

    def offer(self, departement: str) -> None:
        """A listener is free: the runtime's own dispatch offers them the call."""
        drive(self.runtime.dispatch(departement))

    def execute(self) -> SimulatedCall:
        s = self.script
        if self.sim.record_steps:
            self.log("call", to=s.to_number, caller=s.from_number)
        start = CallStarted(self.call_id, s.to_number, s.from_number, s.hint_departement)
        media = drive(self.runtime.start_call(start, self.caller))
        state = self.state = self.caller.state = self.runtime.state(self.call_id)
        self.caller.perform(media)
        hang_up_at = s.hang_up_at
        for _ in range(MAX_EVENTS):
            if state is None or state.phase is Phase.ENDED:
                break
            event = self.caller.take_next()
            if event is not None:
                self.caller.send(event)
                continue
            entry = self.time.next_entry()
            if entry is None:
                raise SimulationError(f"le flux attend sans rien à attendre (phase {state.phase})")
            if entry.kind in HANG_UP_INSTEAD and state.phase is hang_up_at:
                self.caller.send(CallerHungUp())  # instead of the timer or the listener's offer
            else:
                entry.action()
        else:
            raise SimulationError("l'appel simulé ne se termine pas")
        if state is None:  # ended as soon as it started
            state = _ended_state(start, self.sim.sinks)
        return SimulatedCall(state, self.steps, self.time.t, self.sim.sinks.callbacks)


HANG_UP_INSTEAD = (OFFER, TIMER)


def _ended_state(event: CallStarted, sinks: SimulatedSinks) -> CallState:
    """The state of a call the flow ended in its first step (the runtime no longer holds
    it): its summary, as the runtime handed it to the records."""
    state = CallState(event.call_id, event.to_number, event.from_number, phase=Phase.ENDED)
    if sinks.summary is not None:
        state.summary = sinks.summary
        state.line = sinks.summary.line
        state.departement = sinks.summary.departement
    return state


def _ignore(kind: str, **data: Any) -> None:
    return None
