"""The flow engine: call state, transitions declared as data, and dispatch.

A flow is a table ``(phase, event type) -> handler`` where each handler also declares the
phases it may lead to. The engine checks every transition against that declaration, and the
diagrams under ``docs/`` are generated from the same table, so the picture cannot drift from
the code. Handlers are pure: they read the configuration, the state, the event and the clock
they are given, mutate the state and return commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ivr.flow.vocabulary import (
    Attempt,
    CallStarted,
    CallSummary,
    Command,
    DialOutcome,
    DialTarget,
    Event,
    Line,
    Outcome,
    Role,
)
from routing.config import RoutingConfig
from routing.fallback import FallbackPlans
from routing.index import RouteIndex


class Phase(StrEnum):
    """Where a call is: each phase waits for one kind of event."""

    START = "start"
    DEPT_MENU = "dept_menu"
    CORSE_MENU = "corse_menu"
    OUTREMER_MENU = "outremer_menu"
    REASON_MENU = "reason_menu"
    FETCH_PRESENCE = "fetch_presence"
    FETCH_ROTATION = "fetch_rotation"
    TIER1_DIALING = "tier1_dialing"
    TIER2_DIALING = "tier2_dialing"
    QUEUE_STATUS = "queue_status"
    SATURATION_OFFER = "saturation_offer"
    QUEUED = "queued"
    QUEUE_REFRESH = "queue_refresh"
    LISTENER_DIALING = "listener_dialing"
    LRO_DIALING = "lro_dialing"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(slots=True)
class CallState:
    """Everything a call's flow remembers; small, and rebuilt from plain data on takeover."""

    call_id: str
    called: str
    caller: str | None
    line: Line | None = None
    phase: Phase = Phase.START
    departement: str | None = None
    started_at: datetime | None = None
    tries: int = 0
    hunt_key: str = ""
    hunt_targets: tuple[DialTarget, ...] = ()
    hunt_all: bool = False  # ring every target at once (ring_all)
    hunt_ring_timeout_s: int = 20
    queued: bool = False
    recording: bool = False
    callback_offered: bool = False
    summary: CallSummary = field(init=False)

    def __post_init__(self) -> None:
        self.summary = CallSummary(
            call_id=self.call_id,
            line=None,
            departement=None,
            caller=self.caller,
            called=self.called,
        )

    def attempt(self, attempt: Attempt) -> None:
        self.summary.attempts.append(attempt)

    def tried_numbers(self) -> set[str]:
        return {a.number for a in self.summary.attempts}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, for live-call snapshots another instance can take over."""
        s = self.summary
        return {
            "call_id": self.call_id,
            "called": self.called,
            "caller": self.caller,
            "line": self.line.value if self.line else None,
            "phase": self.phase.value,
            "departement": self.departement,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "tries": self.tries,
            "hunt_key": self.hunt_key,
            "hunt_targets": [[t.number, t.name, t.role.value] for t in self.hunt_targets],
            "hunt_all": self.hunt_all,
            "hunt_ring_timeout_s": self.hunt_ring_timeout_s,
            "queued": self.queued,
            "recording": self.recording,
            "callback_offered": self.callback_offered,
            "summary": {
                "line": s.line.value if s.line else None,
                "departement": s.departement,
                "prompts": list(s.prompts),
                "attempts": [[a.number, a.role.value, a.result.value] for a in s.attempts],
                "connected_to": s.connected_to,
                "connected_role": s.connected_role.value if s.connected_role else None,
                "outcome": s.outcome.value if s.outcome else None,
                "reason": s.reason,
                "deterrence": s.deterrence,
                "lro_used": s.lro_used,
                "callback_registered": s.callback_registered,
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallState:
        """The state ``to_dict`` described (raises ``KeyError``/``ValueError`` on bad data)."""
        state = cls(call_id=data["call_id"], called=data["called"], caller=data["caller"])
        state.line = Line(data["line"]) if data["line"] else None
        state.phase = Phase(data["phase"])
        state.departement = data["departement"]
        started = data["started_at"]
        state.started_at = datetime.fromisoformat(started) if started else None
        state.tries = int(data["tries"])
        state.hunt_key = data["hunt_key"]
        state.hunt_targets = tuple(
            DialTarget(number, name, Role(role)) for number, name, role in data["hunt_targets"]
        )
        state.hunt_all = bool(data["hunt_all"])
        state.hunt_ring_timeout_s = int(data["hunt_ring_timeout_s"])
        state.queued = bool(data["queued"])
        state.recording = bool(data["recording"])
        state.callback_offered = bool(data["callback_offered"])
        s, raw = state.summary, data["summary"]
        s.line = Line(raw["line"]) if raw["line"] else None
        s.departement = raw["departement"]
        s.prompts = list(raw["prompts"])
        s.attempts = [
            Attempt(number, Role(role), DialOutcome(result))
            for number, role, result in raw["attempts"]
        ]
        s.connected_to = raw["connected_to"]
        s.connected_role = Role(raw["connected_role"]) if raw["connected_role"] else None
        s.outcome = Outcome(raw["outcome"]) if raw["outcome"] else None
        s.reason = raw["reason"]
        s.deterrence = raw["deterrence"]
        s.lro_used = bool(raw["lro_used"])
        s.callback_registered = bool(raw["callback_registered"])
        return state


@dataclass(slots=True)
class FlowContext:
    """What handlers may read besides the state: the configuration and the clock."""

    config: RoutingConfig
    routes: RouteIndex
    now: datetime


Handler = Callable[[FlowContext, CallState, Event], list[Command]]


@dataclass(frozen=True, slots=True)
class Transition:
    phase: Phase | None  # None: from any phase not yet ended
    event: type[Event]
    targets: tuple[Phase, ...]
    handler: Handler
    label: str


class FlowError(RuntimeError):
    """A handler moved a call to a phase its declaration does not allow (a bug)."""


class FlowDefinition:
    """The transitions of one line's flow."""

    def __init__(self, line: Line) -> None:
        self.line = line
        self.transitions: dict[tuple[Phase | None, type[Event]], Transition] = {}

    def on(
        self,
        phases: Phase | tuple[Phase, ...] | None,
        event: type[Event],
        to: tuple[Phase, ...],
        label: str = "",
    ) -> Callable[[Handler], Handler]:
        """Declare a handler for ``event`` in ``phases`` that may lead to the phases ``to``."""
        phase_list: tuple[Phase | None, ...] = (
            (phases,) if phases is None or isinstance(phases, Phase) else phases
        )

        def register(handler: Handler) -> Handler:
            for phase in phase_list:
                key = (phase, event)
                if key in self.transitions:
                    raise FlowError(f"{self.line}: {phase} already handles {event.__name__}")
                self.transitions[key] = Transition(
                    phase, event, to, handler, label or event.__name__
                )
            return handler

        return register

    def step(self, ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
        if state.phase is Phase.ENDED:
            return []
        transition = self.transitions.get((state.phase, type(event))) or self.transitions.get(
            (None, type(event))
        )
        if transition is None:
            return []  # a stale or irrelevant event (late timer, duplicate): nothing to do
        commands = transition.handler(ctx, state, event)
        if state.phase not in transition.targets:
            raise FlowError(
                f"{self.line}: {transition.label} from {transition.phase} led to {state.phase}, "
                f"declared {[str(t) for t in transition.targets]}"
            )
        return commands


class CallFlow:
    """Entry point for transports: starts calls on the right line and steps them."""

    def __init__(
        self,
        config: RoutingConfig,
        assistance: FlowDefinition,
        emergency: FlowDefinition,
        start: Callable[[FlowContext, CallState, CallStarted], list[Command]],
    ) -> None:
        self.config = config
        self.routes = RouteIndex(config)
        # Where a call goes when the service cannot take it (rendered by each transport).
        self.fallback = FallbackPlans(config, self.routes)
        self._definitions = {Line.ASSISTANCE: assistance, Line.EMERGENCY: emergency}
        self._start = start
        # Where a call should go when its number does not say (geolocation); a read of
        # in-memory answers, given by the composition root, so starting a call stays I/O-free.
        self.locate: Callable[[str, str | None, datetime], str | None] | None = None

    def context(self, now: datetime) -> FlowContext:
        return FlowContext(self.config, self.routes, now)

    def start(self, event: CallStarted, now: datetime) -> tuple[CallState, list[Command]]:
        if event.hint_departement is None and self.locate is not None:
            hint = self.locate(event.to_number, event.from_number, now)
            if hint is not None:
                event = replace(event, hint_departement=hint)
        state = CallState(call_id=event.call_id, called=event.to_number, caller=event.from_number)
        state.started_at = now
        commands = self._start(self.context(now), state, event)
        return state, commands

    def step(self, state: CallState, event: Event, now: datetime) -> list[Command]:
        if state.line is None:
            return []
        return self._definitions[state.line].step(self.context(now), state, event)

    def finished(self, state: CallState) -> bool:
        return state.phase is Phase.ENDED

    @staticmethod
    def outcome(state: CallState) -> Outcome | None:
        return state.summary.outcome
