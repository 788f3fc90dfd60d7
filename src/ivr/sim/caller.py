"""The simulated caller and the phones it reaches: the transport of a simulated call.

The runtime hands it the media commands of each step, as it hands them to the Asterisk and
LaML transports. The caller hears each prompt (the clock moves by its length), presses the
keys of its script, one answer per menu once its question is heard, and keys at set times
whatever plays (typed ahead, kept for the next menu as the transports keep them:
``ivr.flow.keypad``); destinations answer unless the script says they are busy, do not
answer or fail. What the caller does next (its keys, a dial's result, the end of a
conversation, hanging up) is the event the runtime gets next: at once (``take_next``) or,
for what comes later (a key pressed on hold, the end of a conversation), on its clock's
agenda.

One caller for every simulation: its clock is a port (``CallerClock``), the virtual clock
of ``ivr.sim.clock`` (``ivr simulate``, the tests, the benchmarks: nothing sleeps) or a
real-time clock whose agenda runs on the event loop (the simulated transport of the
multi-instance tests, ``tests/support/simulated.py``); how long things take is its
``Pace``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ivr.flow.engine import CallState, Phase
from ivr.flow.keypad import Collecting, Completed, Ignored, KeyOutcome, Keypad, Restarted
from ivr.flow.vocabulary import (
    Answer,
    CallerHungUp,
    Command,
    Dial,
    DialOutcome,
    DialResult,
    DialTarget,
    DigitsReceived,
    Event,
    Gather,
    Hangup,
    Hold,
    InputTimedOut,
    PeerHungUp,
    Play,
    StartRecording,
    StopRecording,
)
from ivr.runtime.runtime import MediaCommand
from ivr.sim.clock import CALLER


@dataclass(frozen=True, slots=True)
class Pace:
    """How long the caller and the phones take, in seconds of the caller's clock."""

    speech_chars_per_s: float = 15  # how long a prompt takes to say, roughly
    first_key_s: float = 1.0  # an answer's first key, once the question is heard
    key_interval_s: float = 1.0  # between two keys of an answer
    typed_key_interval_s: float = 0.2  # between the keys of one ``typed`` entry
    hold_key_delay_s: float = 5  # a caller on hold presses its next answer after this long
    answer_s: float = 8  # a phone that answers rings this long (at most the dial's timeout)
    no_answer_s: float | None = None  # None: the dial's ring timeout
    refused_s: float = 2  # busy and failed come back at once


VIRTUAL_PACE = Pace()


class CallerScript(Protocol):
    """What the caller needs of a call's script."""

    @property
    def presses(self) -> list[str]: ...

    @property
    def typed(self) -> list[tuple[float, str]]: ...

    @property
    def conversation_s(self) -> float: ...

    def result_for(self, number: str) -> DialOutcome: ...


class Cancellable(Protocol):
    """Something on a clock's agenda: it does not run once cancelled."""

    cancelled: bool


class CallerClock(Protocol):
    """The clock a caller lives on: it reads and moves it as it hears and presses, and puts
    on its agenda what it does later. The virtual clock jumps; a real-time clock runs ahead
    of the wall clock while the caller answers (its answer is due at ``t``)."""

    @property
    def t(self) -> float: ...

    def move_to(self, t: float) -> None: ...

    def advance(self, seconds: float) -> None: ...

    def at(self, due: float, kind: int, action: Callable[[], None]) -> Cancellable: ...


def dial_outcome(
    number: str,
    *,
    failed: Collection[str] = (),
    busy: Collection[str] = (),
    no_answer: Collection[str] = (),
    nobody_answers: bool = False,
) -> DialOutcome:
    """How a simulated phone answers, as a script says (the first that applies)."""
    if number in failed:
        return DialOutcome.FAILED
    if number in busy:
        return DialOutcome.BUSY
    if nobody_answers or number in no_answer:
        return DialOutcome.NO_ANSWER
    return DialOutcome.ANSWERED


def ring(
    targets: tuple[DialTarget, ...], outcome: Callable[[str], DialOutcome]
) -> list[tuple[str, DialOutcome]]:
    """How the phones of a dial answer: ``outcome`` of each; when several ring at once,
    the others stop ringing once one answers (they are not reported)."""
    results: list[tuple[str, DialOutcome]] = []
    answered = False
    for target in targets:
        result = outcome(target.number)
        if result is DialOutcome.ANSWERED:
            if answered:
                continue
            answered = True
        results.append((target.number, result))
    return results


Log = Callable[..., None]


class SimulatedCaller:
    """A ``CallTransport`` for one simulated call: its caller and the phones it dials."""

    def __init__(
        self,
        script: CallerScript,
        time: CallerClock,
        log: Log,
        feed: Callable[[Event], None],
        *,
        pace: Pace = VIRTUAL_PACE,
        hang_up_at: Phase | None = None,
    ) -> None:
        self.script = script
        self.time = time
        self.log = log
        self.feed = feed  # hands an event to the runtime and performs what it answers
        self.pace = pace
        self.hang_up_at = hang_up_at  # the caller hangs up on reaching this phase
        self.state: CallState | None = None
        self.presses = list(script.presses)
        self.keypad = Keypad()
        self._order = itertools.count()
        self.typed: list[tuple[float, int, str]] = []  # (time, order, key), a heap
        start = time.t
        for moment, keys in script.typed:
            for index, key in enumerate(keys):
                self._type(start + moment + index * pace.typed_key_interval_s, key)
        self.menu_ahead = False  # the batch under way has a menu before any ring or hold
        self.skipping = False  # a key cut the welcome short: go on to the menu
        self.waiting: Cancellable | None = None  # what the caller does next on hold
        self.next_event: Event | None = None  # what answers the batch just played
        self.conversation_ends: float | None = None  # set when a phone answers
        self.peer_hang_up: Cancellable | None = None
        self.hangs_up_at: float | None = None  # a hang-up at a set time (``hang_up_later``)

    # ----------------------------------------------------------------- CallTransport

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        self.perform(commands)

    def perform(self, commands: list[MediaCommand]) -> None:
        """Play a batch; the event that answers its last waiting command goes on the agenda."""
        if self.waiting is not None:  # new media: the caller no longer just waits on hold
            self.waiting.cancelled = True
            self.waiting = None
        event: Event | None = None
        self.skipping = False
        for index, command in enumerate(commands):
            if isinstance(command, Play):
                self.menu_ahead = _menu_ahead(commands[index + 1 :])
            event = self._handlers[type(command)](self, command)
        if event is not None:
            self.next_event = event
        elif (
            self.state is not None
            and self.state.phase is Phase.CONNECTED
            and self.peer_hang_up is None
        ):
            ends = self.conversation_ends
            if ends is None:
                ends = self.time.t + self.script.conversation_s
            self.peer_hang_up = self.time.at(ends, CALLER, self._hang_up_peer)

    def take_next(self) -> Event | None:
        """The event the last batch ended on, due now (None: the caller waits)."""
        event = self.next_event
        self.next_event = None
        return event

    def send(self, event: Event) -> None:
        """An event from the caller's side to the runtime; a caller who hangs up at a phase
        does so instead of that event."""
        state = self.state
        hang_up_at = self.hang_up_at
        if state is not None and hang_up_at is not None and state.phase is hang_up_at:
            self.log("caller_hangup", phase=state.phase.value)
            event = CallerHungUp()
        self.feed(event)

    def hang_up_later(self, at: float) -> None:
        """The caller hangs up at ``at`` (on its clock), whatever the call is doing."""
        self.hangs_up_at = at
        self.time.at(at, CALLER, self._hang_up)

    def _hang_up(self) -> None:
        self.log("caller_hangup")
        self.feed(CallerHungUp())

    def _hang_up_peer(self) -> None:
        self.peer_hang_up = None
        self.conversation_ends = None
        self.log("conversation_end", seconds=self.script.conversation_s)
        self.send(PeerHungUp())

    # ----------------------------------------------------------------- carrying on

    def keys_left(self) -> tuple[list[str], list[tuple[float, str]]]:
        """The answers not given yet and the keys still to type (time, key)."""
        return list(self.presses), [(at, key) for at, _, key in sorted(self.typed)]

    def carry_on(
        self,
        presses: list[str],
        typed: list[tuple[float, str]],
        conversation_ends: float | None,
    ) -> None:
        """Carry on a caller another host drove: what it has still to press and type, and
        when its conversation ends (if it is in one)."""
        self.presses = list(presses)
        self.typed = []
        for at, key in typed:
            self._type(at, key)
        self.conversation_ends = conversation_ends

    # One small method per command, dispatched by type: the simulator's hot path.

    def _answer(self, command: Answer) -> Event | None:
        self.log("answer")
        return None

    def _play(self, command: Play) -> Event | None:
        prompt = command.prompt
        interruptible = command.interruptible and self.menu_ahead
        if interruptible and self.skipping:
            self.log("skipped", prompt=prompt.id)
            return None
        self.log("play", prompt=prompt.id, text=prompt.text)
        time = self.time
        end = time.t + len(prompt.text) / self.pace.speech_chars_per_s
        while self.typed and self.typed[0][0] <= end:
            at, _, key = heapq.heappop(self.typed)
            time.move_to(at)
            if not isinstance(self.keypad.press(key), Ignored):
                self.log("typed_ahead", key=key)
                if interruptible:  # Background(): the welcome stops at the first key
                    self.log("interrupted", prompt=prompt.id)
                    self.skipping = True
                    return None
        time.move_to(end)
        return None

    def _gather(self, command: Gather) -> Event | None:
        self.skipping = False
        answer: KeyOutcome = self.keypad.open(command.max_digits)
        if isinstance(answer, Completed):
            return self._answered(answer.digits, typed_ahead=True)
        time = self.time
        heard_at = time.t  # the question starts (or the answer goes on, when typed ahead)
        if not isinstance(answer, Collecting):
            heard_at = self._ask(command)
        deadline = heard_at + (
            command.inter_digit_timeout_s if self.keypad.collected else command.timeout_s
        )
        while self.typed and self.typed[0][0] <= deadline:
            at, _, key = heapq.heappop(self.typed)
            time.move_to(at)
            answer = self.keypad.press(key)
            if isinstance(answer, Completed):
                return self._answered(answer.digits)
            if isinstance(answer, Restarted):
                deadline = self._ask(command) + command.timeout_s
            elif isinstance(answer, Collecting):
                deadline = time.t + command.inter_digit_timeout_s
        time.move_to(deadline)
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
        time = self.time
        pace = self.pace
        end = time.t + len(prompt.text) / pace.speech_chars_per_s
        if self.presses and not (self.typed and self.typed[0][0] <= end):
            for index, key in enumerate(self.presses.pop(0)):
                self._type(end + (pace.first_key_s + index * pace.key_interval_s), key)
        if self.typed and self.typed[0][0] <= end:
            return time.t  # the first key stops the question
        time.move_to(end)
        return end

    def _answered(self, digits: str, typed_ahead: bool = False) -> Event:
        self.log("keys", keys=digits, **({"typed_ahead": True} if typed_ahead else {}))
        return DigitsReceived(digits) if digits else InputTimedOut()

    def _type(self, at: float, key: str) -> None:
        heapq.heappush(self.typed, (at, next(self._order), key))

    def _forget_typed(self) -> None:
        """Keys pressed while ringing or talking are not for the menus."""
        while self.typed and self.typed[0][0] <= self.time.t:
            heapq.heappop(self.typed)
        self.keypad.forget_ahead()

    def _dial(self, command: Dial) -> Event | None:
        self._forget_typed()
        results = ring(command.targets, self.script.result_for)
        time = self.time
        pace = self.pace
        if any(result is DialOutcome.ANSWERED for _, result in results):
            time.advance(min(pace.answer_s, command.ring_timeout_s))
            self.conversation_ends = time.t + self.script.conversation_s
        elif any(result is DialOutcome.NO_ANSWER for _, result in results):
            no_answer_s = pace.no_answer_s
            time.advance(command.ring_timeout_s if no_answer_s is None else no_answer_s)
        else:
            time.advance(pace.refused_s)
        by_number = dict(results)
        for target in command.targets:
            if target.number in by_number:
                self.log(
                    "dial",
                    number=target.number,
                    name=target.name,
                    role=target.role.value,
                    result=by_number[target.number].value,
                )
        self._forget_typed()
        return DialResult(tuple(results))

    def _hold(self, command: Hold) -> Event | None:
        """On hold, the caller presses its next answer after a while (or a key typed at a
        set time) unless a listener, a timer or the flow comes first."""
        self.log("hold")
        self._forget_typed()
        if self.typed:
            self.waiting = self.time.at(self.typed[0][0], CALLER, self._typed_on_hold)
        elif self.presses:
            due = self.time.t + self.pace.hold_key_delay_s
            self.waiting = self.time.at(due, CALLER, self._press_on_hold)
        return None

    def _typed_on_hold(self) -> None:
        self.waiting = None
        _, _, key = heapq.heappop(self.typed)
        self.log("keys", keys=key)
        self.send(DigitsReceived(key))

    def _press_on_hold(self) -> None:
        self.waiting = None
        keys = self.presses.pop(0)
        self.log("keys", keys=keys)
        self.send(DigitsReceived(keys))

    def _start_recording(self, command: StartRecording) -> Event | None:
        self.log("recording_started")
        return None

    def _stop_recording(self, command: StopRecording) -> Event | None:
        self.log("recording_stopped")
        return None

    def _hangup(self, command: Hangup) -> Event | None:
        self.log("hangup", outcome=command.outcome.value)
        return None

    _handlers: ClassVar[dict[type, Callable[[SimulatedCaller, Any], Event | None]]] = {
        Answer: _answer,
        Play: _play,
        Gather: _gather,
        Dial: _dial,
        Hold: _hold,
        StartRecording: _start_recording,
        StopRecording: _stop_recording,
        Hangup: _hangup,
    }


def _menu_ahead(commands: list[MediaCommand] | list[Command]) -> bool:
    """A menu comes in these commands before any ringing, hold or hang-up."""
    for command in commands:
        if isinstance(command, Gather):
            return True
        if isinstance(command, Dial | Hold | Hangup):
            return False
    return False
