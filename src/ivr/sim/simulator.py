"""A simulated telephony transport: the real flows and routing, in-process, on a virtual clock.

The simulated caller presses the keys of its script, one answer per menu once its question
is heard, and keys at set times whatever plays (typed ahead, kept for the next menu as the
transports keep them: ``ivr.flow.keypad``); destinations
answer unless the script says they are busy, do not answer or fail; the 115 queue has the
script's listeners and calls already waiting. Nothing sleeps: every wait moves the clock.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ivr.flow import CallFlow, Phase
from ivr.flow.engine import CallState
from ivr.flow.keypad import Collecting, Completed, Ignored, KeyOutcome, Keypad, Restarted
from ivr.flow.vocabulary import (
    Answer,
    CallerHungUp,
    CallStarted,
    CancelTimer,
    Command,
    Dequeue,
    Dial,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Enqueue,
    Event,
    FetchQueueStatus,
    FetchRotation,
    Gather,
    Hangup,
    Hold,
    InputTimedOut,
    ListenerOffered,
    PeerHungUp,
    Play,
    QueueStatus,
    QueueStatusFetched,
    RecordAnswerer,
    RegisterCallback,
    RotationFetched,
    StartRecording,
    StartTimer,
    StopRecording,
    TimerFired,
)
from routing.rotation import InMemoryRotationStore, RotationStore

SPEECH_CHARS_PER_S = 15  # how long a prompt takes to say, roughly
KEY_INTERVAL_S = 1.0  # between two keys of an answer typed once the question is heard
TYPED_KEY_INTERVAL_S = 0.2  # between the keys of one ``typed`` entry
MAX_EVENTS = 2_000


class SimulationError(RuntimeError):
    """The simulation itself went wrong (a flow that never ends, a bad script)."""


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
    """Runs scripted calls through a call flow; shares the rotation store between calls."""

    def __init__(
        self, flow: CallFlow, rotation: RotationStore | None = None, record_steps: bool = True
    ) -> None:
        self.flow = flow
        self.rotation: RotationStore = rotation or InMemoryRotationStore()
        self.record_steps = record_steps
        self._next_id = 0

    def run(self, script: CallScript, at: datetime) -> SimulatedCall:
        if at.tzinfo is None:
            raise SimulationError(
                "l'heure de l'appel doit indiquer son fuseau (ISO 8601 avec décalage)"
            )
        self._next_id += 1
        return _Run(self, script, at, f"sim-{self._next_id}").execute()


class _Run:
    """One simulated call: a tiny event loop over a virtual clock."""

    def __init__(self, sim: Simulator, script: CallScript, at: datetime, call_id: str) -> None:
        self.sim = sim
        self.flow = sim.flow
        self.script = script
        self.start = at
        self.t = 0.0
        self.call_id = call_id
        self.presses = list(script.presses)
        self.keypad = Keypad()
        self._order = itertools.count()
        self.typed: list[tuple[float, int, str]] = []  # (time, order, key), a heap
        for moment, keys in script.typed:
            for index, key in enumerate(keys):
                self._type(moment + index * TYPED_KEY_INTERVAL_S, key)
        self.menu_ahead = False  # the batch under way has a menu before any ring or hold
        self.skipping = False  # a key cut the welcome short: go on to the menu
        self.steps: list[Step] = []
        self.callbacks: list[tuple[str, str]] = []
        self.timers: dict[str, float] = {}
        self.queued_at: float | None = None
        self.offer_at: float | None = None
        self.listener_cursor = 0
        self.failed_listeners: set[str] = set()
        self.connected = False

    # ----------------------------------------------------------------- helpers

    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def log(self, kind: str, **data: Any) -> None:
        if self.sim.record_steps:
            self.steps.append(Step(round(self.t, 1), kind, data))

    # ----------------------------------------------------------------- loop

    def execute(self) -> SimulatedCall:
        s = self.script
        self.log("call", to=s.to_number, caller=s.from_number)
        state, commands = self.flow.start(
            CallStarted(self.call_id, s.to_number, s.from_number, s.hint_departement), self.now
        )
        for _ in range(MAX_EVENTS):
            event = self.perform(state, commands)
            if self.flow.finished(state):
                break
            if event is None:
                raise SimulationError(f"le flux attend sans rien à attendre (phase {state.phase})")
            if s.hang_up_at is not None and state.phase is s.hang_up_at:
                self.log("caller_hangup", phase=state.phase.value)
                event = CallerHungUp()
            commands = self.flow.step(state, event, self.now)
        else:
            raise SimulationError("l'appel simulé ne se termine pas")
        return SimulatedCall(state, self.steps, self.t, self.callbacks)

    def perform(self, state: CallState, commands: list[Command]) -> Event | None:
        """Execute a batch; return the event that answers its last waiting command."""
        event: Event | None = None
        self.skipping = False
        for index, command in enumerate(commands):
            if isinstance(command, Play):
                self.menu_ahead = _menu_ahead(commands[index + 1 :])
            event = self.execute_one(state, command)
        if event is None and state.phase is Phase.CONNECTED:
            self.t += self.script.conversation_s
            self.log("conversation_end", seconds=self.script.conversation_s)
            event = PeerHungUp()
        return event

    def execute_one(self, state: CallState, command: Command) -> Event | None:
        handler = self._handlers[type(command)]
        return handler(self, state, command)

    # One small method per command, dispatched by type: the simulator's hot path.

    def _answer(self, state: CallState, command: Answer) -> Event | None:
        self.log("answer")
        return None

    def _play(self, state: CallState, command: Play) -> Event | None:
        prompt = command.prompt
        interruptible = command.interruptible and self.menu_ahead
        if interruptible and self.skipping:
            self.log("skipped", prompt=prompt.id)
            return None
        self.log("play", prompt=prompt.id, text=prompt.text)
        end = self.t + len(prompt.text) / SPEECH_CHARS_PER_S
        while self.typed and self.typed[0][0] <= end:
            at, _, key = heapq.heappop(self.typed)
            self.t = max(self.t, at)
            if not isinstance(self.keypad.press(key), Ignored):
                self.log("typed_ahead", key=key)
                if interruptible:  # Background(): the welcome stops at the first key
                    self.log("interrupted", prompt=prompt.id)
                    self.skipping = True
                    return None
        self.t = end
        return None

    def _gather(self, state: CallState, command: Gather) -> Event | None:
        self.skipping = False
        answer: KeyOutcome = self.keypad.open(command.max_digits)
        if isinstance(answer, Completed):
            return self._answered(answer.digits, typed_ahead=True)
        heard_at = self.t  # the question starts (or the answer goes on, when typed ahead)
        if not isinstance(answer, Collecting):
            heard_at = self._ask(command)
        deadline = heard_at + (
            command.inter_digit_timeout_s if self.keypad.collected else command.timeout_s
        )
        while self.typed and self.typed[0][0] <= deadline:
            at, _, key = heapq.heappop(self.typed)
            self.t = max(self.t, at)
            answer = self.keypad.press(key)
            if isinstance(answer, Completed):
                return self._answered(answer.digits)
            if isinstance(answer, Restarted):
                deadline = self._ask(command) + command.timeout_s
            elif isinstance(answer, Collecting):
                deadline = self.t + command.inter_digit_timeout_s
        self.t = max(self.t, deadline)
        digits = self.keypad.timed_out().digits
        if digits:
            return self._answered(digits)
        self.log("timeout", seconds=command.timeout_s)
        return InputTimedOut()

    def _ask(self, command: Gather) -> float:
        """The menu's question plays; the caller answers it once heard (``presses``), unless
        keys typed at set times come first. Returns when the question ends."""
        prompt = command.prompt
        self.log("gather", prompt=prompt.id, text=prompt.text, digits=command.max_digits)
        end = self.t + len(prompt.text) / SPEECH_CHARS_PER_S
        if self.presses and not (self.typed and self.typed[0][0] <= end):
            for index, key in enumerate(self.presses.pop(0)):
                self._type(end + (index + 1) * KEY_INTERVAL_S, key)
        if self.typed and self.typed[0][0] <= end:
            return self.t  # the first key stops the question
        self.t = end
        return end

    def _answered(self, digits: str, typed_ahead: bool = False) -> Event:
        self.log("keys", keys=digits, **({"typed_ahead": True} if typed_ahead else {}))
        return DigitsReceived(digits) if digits else InputTimedOut()

    def _type(self, at: float, key: str) -> None:
        heapq.heappush(self.typed, (at, next(self._order), key))

    def _forget_typed(self) -> None:
        """Keys pressed while ringing or talking are not for the menus."""
        while self.typed and self.typed[0][0] <= self.t:
            heapq.heappop(self.typed)
        self.keypad.forget_ahead()

    def _dial(self, state: CallState, command: Dial) -> Event | None:
        self._forget_typed()
        event = self.dial(command.targets, command.ring_timeout_s, command.caller_id)
        self._forget_typed()
        return event

    def _hold(self, state: CallState, command: Hold) -> Event | None:
        return self.hold(state)

    def _enqueue(self, state: CallState, command: Enqueue) -> Event | None:
        self.queued_at = self.t
        self.log("enqueue", departement=command.departement, priority=command.priority)
        self.schedule_offer(state, requeued=command.priority > 0)
        return None

    def _dequeue(self, state: CallState, command: Dequeue) -> Event | None:
        self.queued_at = None
        self.offer_at = None
        self.log("dequeue", departement=command.departement)
        return None

    def _start_timer(self, state: CallState, command: StartTimer) -> Event | None:
        self.timers[command.name] = self.t + command.seconds
        return None

    def _cancel_timer(self, state: CallState, command: CancelTimer) -> Event | None:
        self.timers.pop(command.name, None)
        return None

    def _start_recording(self, state: CallState, command: StartRecording) -> Event | None:
        self.log("recording_started")
        return None

    def _stop_recording(self, state: CallState, command: StopRecording) -> Event | None:
        self.log("recording_stopped")
        return None

    def _fetch_rotation(self, state: CallState, command: FetchRotation) -> Event | None:
        return RotationFetched(self.sim.rotation.last_answerer(command.key))

    def _record_answerer(self, state: CallState, command: RecordAnswerer) -> Event | None:
        self.sim.rotation.record_answerer(command.key, command.number)
        return None

    def _fetch_queue_status(self, state: CallState, command: FetchQueueStatus) -> Event | None:
        return QueueStatusFetched(self.queue_status(command.departement))

    def _register_callback(self, state: CallState, command: RegisterCallback) -> Event | None:
        self.callbacks.append((command.departement, command.number))
        self.log("callback_registered", departement=command.departement, number=command.number)
        return None

    def _hangup(self, state: CallState, command: Hangup) -> Event | None:
        self.log("hangup", outcome=command.outcome.value)
        return None

    _handlers: ClassVar[dict[type, Callable[[_Run, CallState, Any], Event | None]]] = {
        Answer: _answer,
        Play: _play,
        Gather: _gather,
        Dial: _dial,
        Hold: _hold,
        Enqueue: _enqueue,
        Dequeue: _dequeue,
        StartTimer: _start_timer,
        CancelTimer: _cancel_timer,
        StartRecording: _start_recording,
        StopRecording: _stop_recording,
        FetchRotation: _fetch_rotation,
        RecordAnswerer: _record_answerer,
        FetchQueueStatus: _fetch_queue_status,
        RegisterCallback: _register_callback,
        Hangup: _hangup,
    }

    # ----------------------------------------------------------------- dialling

    def result_for(self, number: str) -> DialOutcome:
        s = self.script
        if number in s.failed:
            return DialOutcome.FAILED
        if number in s.busy:
            return DialOutcome.BUSY
        if s.nobody_answers or number in s.no_answer:
            return DialOutcome.NO_ANSWER
        return DialOutcome.ANSWERED

    def dial(self, targets: tuple[Any, ...], ring_timeout_s: int, caller_id: str | None) -> Event:
        results: list[tuple[str, DialOutcome]] = []
        answered = False
        for target in targets:
            outcome = self.result_for(target.number)
            if outcome is DialOutcome.ANSWERED:
                if answered:
                    continue  # ring_all: the others stop ringing once one answers
                answered = True
            results.append((target.number, outcome))
        if answered:
            self.t += min(8, ring_timeout_s)
        elif any(o is DialOutcome.NO_ANSWER for _, o in results):
            self.t += ring_timeout_s
        else:
            self.t += 2  # busy and failed come back at once
        by_number = dict(results)
        for target in targets:
            if target.number in by_number:
                self.log(
                    "dial",
                    number=target.number,
                    name=target.name,
                    role=target.role.value,
                    result=by_number[target.number].value,
                )
        return DialResult(tuple(results))

    # ----------------------------------------------------------------- the 115 queue

    def listeners(self, state: CallState) -> list[tuple[str, str]]:
        dep = self.flow.config.departement(state.departement or "")
        if dep is None:
            return []
        positions = [(c.number, c.name) for c in dep.line_115.listeners]
        count = min(self.script.listeners, len(positions))
        return positions[:count]

    def handling_time(self, departement: str) -> int:
        dep = self.flow.config.departement(departement)
        return dep.line_115.queue.default_handling_time_s if dep else 300

    def estimated_wait(self, departement: str, ahead: int) -> int:
        if self.script.listeners <= 0:
            return 0
        rounds = math.ceil(ahead / self.script.listeners)
        return rounds * self.handling_time(departement)

    def queue_status(self, departement: str) -> QueueStatus:
        ahead = self.script.waiting
        position = 0
        if self.queued_at is not None:
            served = int((self.t - self.queued_at) // max(self.handling_time(departement), 1))
            served *= max(self.script.listeners, 0)
            ahead = max(self.script.waiting - served, 0)
            position = ahead + 1
        return QueueStatus(
            waiting=ahead,
            listeners_logged_in=self.script.listeners,
            listeners_available=self.script.listeners if ahead == 0 else 0,
            estimated_wait_s=self.estimated_wait(departement, ahead),
            position=position,
            closed=self.script.closed,
            emergency_closed=self.script.emergency_closed,
        )

    def schedule_offer(self, state: CallState, requeued: bool) -> None:
        usable = [lst for lst in self.listeners(state) if lst[0] not in self.failed_listeners]
        if not usable:
            self.offer_at = None
            return
        delay = 5 if requeued else self.estimated_wait(state.departement or "", self.script.waiting)
        self.offer_at = self.t + delay

    def hold(self, state: CallState) -> Event:
        """Wait on hold: the first of a timer, a listener offer, or the caller's key press."""
        self.log("hold")
        candidates: list[tuple[float, int, str]] = [
            (due, 1, name) for name, due in self.timers.items()
        ]
        if self.offer_at is not None:
            candidates.append((self.offer_at, 0, "offer"))
        self._forget_typed()
        if self.typed:
            candidates.append((self.typed[0][0], 2, "typed"))
        elif self.presses:
            candidates.append((self.t + 5, 2, "press"))
        if not candidates:
            raise SimulationError("appel en attente sans minuterie ni écoutant")
        heapq.heapify(candidates)
        due, _, what = heapq.heappop(candidates)
        self.t = max(self.t, due)
        if what == "press":
            keys = self.presses.pop(0)
            self.log("keys", keys=keys)
            return DigitsReceived(keys)
        if what == "typed":
            _, _, key = heapq.heappop(self.typed)
            self.log("keys", keys=key)
            return DigitsReceived(key)
        if what == "offer":
            usable = [lst for lst in self.listeners(state) if lst[0] not in self.failed_listeners]
            number, name = usable[self.listener_cursor % len(usable)]
            self.listener_cursor += 1
            if self.result_for(number) is not DialOutcome.ANSWERED:
                self.failed_listeners.add(number)
            self.offer_at = None
            self.queued_at = None
            self.log("listener_offered", number=number, name=name)
            return ListenerOffered(number, name)
        del self.timers[what]
        return TimerFired(what)


def _menu_ahead(commands: list[Command]) -> bool:
    """A menu comes in these commands before any ringing, hold or hang-up."""
    for command in commands:
        if isinstance(command, Gather):
            return True
        if isinstance(command, Dial | Hold | Hangup):
            return False
    return False
