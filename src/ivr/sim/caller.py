"""The simulated caller and the phones it reaches: the transport of a simulated call.

The runtime hands it the media commands of each step, as it hands them to the Asterisk and
LaML transports. The caller hears each prompt (the clock moves by its length), presses the
keys of its script, one answer per menu once its question is heard, and keys at set times
whatever plays (typed ahead, kept for the next menu as the transports keep them:
``ivr.flow.keypad``); destinations answer unless the script says they are busy, do not
answer or fail. What the caller does next (its keys, a dial's result, the end of a
conversation) is the event the runtime gets next: at once (``take_next``) or, for what
comes later (a key pressed on hold, the end of a conversation), on the virtual clock's
agenda.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection
from typing import Any, ClassVar, Protocol

from ivr.flow.engine import CallState, Phase
from ivr.flow.keypad import Collecting, Completed, Ignored, KeyOutcome, Keypad, Restarted
from ivr.flow.vocabulary import (
    Answer,
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
from ivr.sim.clock import CALLER, Entry, VirtualTime

SPEECH_CHARS_PER_S = 15  # how long a prompt takes to say, roughly
KEY_INTERVAL_S = 1.0  # between two keys of an answer typed once the question is heard
TYPED_KEY_INTERVAL_S = 0.2  # between the keys of one ``typed`` entry
HOLD_KEY_DELAY_S = 5  # a caller on hold presses its next answer after this long


class CallerScript(Protocol):
    """What the caller needs of a call's script."""

    presses: list[str]
    typed: list[tuple[float, str]]
    conversation_s: int

    def result_for(self, number: str) -> DialOutcome: ...


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
        time: VirtualTime,
        log: Log,
        feed: Callable[[Event], None],
    ) -> None:
        self.script = script
        self.time = time
        self.log = log
        self.feed = feed  # hands an event to the runtime and performs what it answers
        self.state: CallState | None = None
        self.presses = list(script.presses)
        self.keypad = Keypad()
        self._order = itertools.count()
        self.typed: list[tuple[float, int, str]] = []  # (time, order, key), a heap
        for moment, keys in script.typed:
            for index, key in enumerate(keys):
                self._type(moment + index * TYPED_KEY_INTERVAL_S, key)
        self.menu_ahead = False  # the batch under way has a menu before any ring or hold
        self.skipping = False  # a key cut the welcome short: go on to the menu
        self.waiting: Entry | None = None  # what the caller does next on hold
        self.next_event: Event | None = None  # what answers the batch just played

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
        elif self.state is not None and self.state.phase is Phase.CONNECTED:
            self.time.at(self.time.t + self.script.conversation_s, CALLER, self._hang_up_peer)

    def take_next(self) -> Event | None:
        """The event the last batch ended on, due now (None: the caller waits)."""
        event = self.next_event
        self.next_event = None
        return event

    def _hang_up_peer(self) -> None:
        self.log("conversation_end", seconds=self.script.conversation_s)
        self.feed(PeerHungUp())

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
        end = time.t + len(prompt.text) / SPEECH_CHARS_PER_S
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
        end = time.t + len(prompt.text) / SPEECH_CHARS_PER_S
        if self.presses and not (self.typed and self.typed[0][0] <= end):
            for index, key in enumerate(self.presses.pop(0)):
                self._type(end + (index + 1) * KEY_INTERVAL_S, key)
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
        if any(result is DialOutcome.ANSWERED for _, result in results):
            time.advance(min(8, command.ring_timeout_s))
        elif any(result is DialOutcome.NO_ANSWER for _, result in results):
            time.advance(command.ring_timeout_s)
        else:
            time.advance(2)  # busy and failed come back at once
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
            self.waiting = self.time.at(self.time.t + HOLD_KEY_DELAY_S, CALLER, self._press_on_hold)
        return None

    def _typed_on_hold(self) -> None:
        self.waiting = None
        _, _, key = heapq.heappop(self.typed)
        self.log("keys", keys=key)
        self.feed(DigitsReceived(key))

    def _press_on_hold(self) -> None:
        self.waiting = None
        keys = self.presses.pop(0)
        self.log("keys", keys=keys)
        self.feed(DigitsReceived(keys))

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
