"""A simulated telephony transport in real time, for driving ``ivr serve`` without Asterisk.

The caller and its phones are those of ``ivr.sim`` (``ivr.sim.caller``: prompts heard,
answers pressed once the question is heard, keys typed ahead, menus timed out, ringing,
hold, the end of a conversation, hang-up points), on a real-time clock instead of the
virtual one: its agenda runs on the event loop and its pace is the script's (prompts are
heard at once, an answer is pressed ``digit_delay_s`` after its question, a phone rings
``answer_delay_s``). What this module adds is what real time and several instances need:

- a phone is a lease shared by every instance: one that would answer but is in a
  conversation already is busy, for the other instances' calls too;
- everything a call needs to go on elsewhere is in ``call_data`` (the script, the answers
  not given when the call last waited, when its conversation ends, when the caller hangs
  up): another instance that takes the call over resumes it where it was;
- when given a ledger (a Redis list), every dial, answer and hang-up is appended to it,
  with the instance that did it: the multi-instance tests read it to check that each call
  was handled exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ivr.flow.engine import CallState
from ivr.flow.vocabulary import (
    CallerHungUp,
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    Event,
    Hangup,
    PeerHungUp,
)
from ivr.runtime.live_state import CallRegistry
from ivr.runtime.runtime import CallRuntime, MediaCommand, UnknownCallError
from ivr.sim.caller import Pace, SimulatedCaller, dial_outcome, ring
from ivr.sim.clock import CALLER, Entry

log = logging.getLogger(__name__)

TRANSPORT_NAME = "sim"
Ledger = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class SimScript:
    """What the simulated caller does and how the phones behave (seconds are real)."""

    presses: list[str] = field(default_factory=list)
    digit_delay_s: float = 0.05
    answer_delay_s: float = 0.05
    conversation_s: float = 0.5
    no_answer: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    hang_up_after_s: float | None = None
    # Keys pressed at a set time (seconds after the call starts) whatever plays.
    typed: list[tuple[float, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "presses": list(self.presses),
            "digit_delay_s": self.digit_delay_s,
            "answer_delay_s": self.answer_delay_s,
            "conversation_s": self.conversation_s,
            "no_answer": list(self.no_answer),
            "busy": list(self.busy),
            "failed": list(self.failed),
            "hang_up_after_s": self.hang_up_after_s,
            "typed": [list(entry) for entry in self.typed],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimScript:
        typed = [(float(at), str(keys)) for at, keys in data.get("typed", [])]
        return cls(**{**data, "typed": typed})

    def result_for(self, number: str) -> DialOutcome:
        """How a phone answers (leases aside), as in every simulated call."""
        return dial_outcome(number, failed=self.failed, busy=self.busy, no_answer=self.no_answer)

    def pace(self) -> Pace:
        """The caller's pace in real time: prompts heard at once, each answer pressed whole
        ``digit_delay_s`` after its question (or after going on hold), every phone known
        after ``answer_delay_s``."""
        return Pace(
            speech_chars_per_s=math.inf,
            first_key_s=self.digit_delay_s,
            key_interval_s=0.0,
            hold_key_delay_s=self.digit_delay_s,
            answer_s=self.answer_delay_s,
            no_answer_s=self.answer_delay_s,
            refused_s=self.answer_delay_s,
        )


class RealTime:
    """A caller's clock in real time (``ivr.sim.caller.CallerClock``): seconds of the wall
    clock, shared by the instances. While the caller answers (keys pressed, phones ringing)
    its time runs ahead of the wall clock, as the virtual clock jumps; what falls due runs
    on the event loop then."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self.wall_clock = wall_clock
        self._ahead = 0.0
        self._handles: dict[Entry, asyncio.TimerHandle] = {}

    @property
    def t(self) -> float:
        return max(self._ahead, self.wall_clock())

    def move_to(self, t: float) -> None:
        if t > self._ahead:
            self._ahead = t

    def advance(self, seconds: float) -> None:
        self.move_to(self.t + seconds)

    def at(self, due: float, kind: int, action: Callable[[], None]) -> Entry:
        entry = Entry(due, kind, action)
        delay = max(due - self.wall_clock(), 0.0)
        self._handles[entry] = asyncio.get_running_loop().call_later(delay, self._fire, entry)
        return entry

    def _fire(self, entry: Entry) -> None:
        self._handles.pop(entry, None)
        if not entry.cancelled:
            entry.action()

    def close(self) -> None:
        """Nothing more falls due (the call ended here or went elsewhere)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()


@dataclass(slots=True)
class _Call:
    call_id: str
    script: SimScript
    clock: RealTime
    caller: SimulatedCaller
    phone: str | None = None  # the phone in conversation with the caller
    dial: Dial | None = None  # the last dial, whose phones answer
    # The answers not given and keys not typed when the call last waited: what another
    # instance's caller goes on with (it hears again what the call waited on).
    keys_left: tuple[list[str], list[tuple[float, str]]] = ([], [])
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def data(self) -> dict[str, Any]:
        presses, typed = self.keys_left
        return {
            "script": self.script.to_dict(),
            "presses": presses,
            "typed": [list(entry) for entry in typed],
            "phone": self.phone,
            "conversation_ends": self.caller.conversation_ends,
            "hang_up_at": self.caller.hangs_up_at,
        }


class SimulatedTransport:
    """A ``ResumableTransport`` whose callers are ``ivr.sim``'s, in real time."""

    def __init__(
        self,
        runtime: CallRuntime,
        registry: CallRegistry | None = None,
        ledger: Ledger | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.ledger = ledger
        self.wall_clock = wall_clock
        self._calls: dict[str, _Call] = {}
        runtime.register_transport(TRANSPORT_NAME, self)

    @property
    def instance_id(self) -> str:
        return self.runtime.instance_id

    def _new_call(self, call_id: str, script: SimScript) -> _Call:
        clock = RealTime(self.wall_clock)

        def feed(event: Event) -> None:
            self._spawn(call_id, self._feed(call_id, event))

        def note(kind: str, **data: Any) -> None:
            log.debug("%s %s %s", call_id, kind, data)

        caller = SimulatedCaller(script, clock, note, feed, pace=script.pace())
        call = _Call(call_id, script, clock, caller)
        call.keys_left = caller.keys_left()
        self._calls[call_id] = call
        return call

    async def start_call(self, event: CallStarted, script: SimScript) -> None:
        """A simulated call arrives at this instance."""
        call = self._new_call(event.call_id, script)
        if script.hang_up_after_s is not None:
            call.caller.hangs_up_at = self.wall_clock() + script.hang_up_after_s
        await self._log(event.call_id, "start")
        media = await self.runtime.start_call(event, self, transport_name=TRANSPORT_NAME)
        call.caller.state = self.runtime.state(event.call_id)
        self._arm_hang_up(call)
        await self.deliver(event.call_id, media)

    # ----------------------------------------------------------------- ResumableTransport

    def call_data(self, call_id: str) -> dict[str, Any]:
        call = self._calls.get(call_id)
        return call.data() if call is not None else {}

    async def resume(
        self, call_id: str, state: CallState, commands: list[MediaCommand], data: dict[str, Any]
    ) -> None:
        script = SimScript.from_dict(data["script"]) if data else SimScript()
        call = self._new_call(call_id, script)
        if data:
            typed = [(float(at), str(key)) for at, key in data.get("typed", [])]
            call.caller.carry_on(data["presses"], typed, data["conversation_ends"])
            call.caller.hangs_up_at = data["hang_up_at"]
            call.phone = data["phone"]
            call.keys_left = call.caller.keys_left()
        call.caller.state = state
        await self._log(call_id, "resume", phase=state.phase.value)
        self._arm_hang_up(call)
        await self.deliver(call_id, commands)

    def detach(self, call_id: str) -> None:
        call = self._calls.pop(call_id, None)
        if call is not None:
            call.clock.close()
            for task in call.tasks:
                task.cancel()

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        """The caller hears and answers ``commands``; its answer reaches the runtime when
        it is due on the caller's clock."""
        call = self._calls.get(call_id)
        if call is None:
            return
        hangup: Hangup | None = None
        for command in commands:
            if isinstance(command, Dial):
                call.dial = command
                await self._log(call_id, "dial", numbers=[t.number for t in command.targets])
            elif isinstance(command, Hangup):
                hangup = command
                break
        if hangup is not None:
            await self._log(call_id, "hangup", outcome=hangup.outcome.value)
            await self._release_phone(call)
            self.detach(call_id)
            return
        caller = call.caller
        call.keys_left = caller.keys_left()
        caller.perform(commands)
        event = caller.take_next()
        if event is not None:
            call.clock.at(call.clock.t, CALLER, lambda: caller.send(event))

    # ----------------------------------------------------------------- behaviour

    def _spawn(self, call_id: str, coro: Coroutine[Any, Any, None]) -> None:
        call = self._calls.get(call_id)
        if call is None:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    def _arm_hang_up(self, call: _Call) -> None:
        if call.caller.hangs_up_at is not None:
            call.caller.hang_up_later(call.caller.hangs_up_at)

    async def _feed(self, call_id: str, event: Event) -> None:
        """An event from the caller or its phones: the runtime steps the call, the caller
        hears what it answers."""
        call = self._calls.get(call_id)
        if call is None:
            return
        if isinstance(event, DialResult):
            event = await self._take_phone(call, event)
        elif isinstance(event, PeerHungUp):
            await self._release_phone(call)
        elif isinstance(event, CallerHungUp):
            await self._log(call_id, "caller_hangup")
        try:
            media = await self.runtime.handle(call_id, event)
        except UnknownCallError:
            return
        await self.deliver(call_id, media)

    async def _take_phone(self, call: _Call, result: DialResult) -> DialResult:
        """The phones answer as the caller's script says; one that would answer but is in a
        conversation already (its lease, shared by every instance) is busy, and once one
        answers the others stop ringing."""
        script, dial = call.script, call.dial
        if dial is None:
            return result
        would_answer = [
            t.number for t in dial.targets if script.result_for(t.number) is DialOutcome.ANSWERED
        ]
        taken: str | None = None
        for number in would_answer:
            if await self._lease_phone(call.call_id, number, script):
                taken = number
                break
        tried = would_answer[: would_answer.index(taken)] if taken else would_answer

        def outcome(number: str) -> DialOutcome:
            return DialOutcome.BUSY if number in tried else script.result_for(number)

        if taken is not None:
            call.phone = taken
            await self._log(call.call_id, "answered", number=taken)
        return DialResult(tuple(ring(dial.targets, outcome)))

    def _phone_lease(self, number: str) -> str:
        return f"sim-phone:{number}"

    async def _lease_phone(self, call_id: str, number: str, script: SimScript) -> bool:
        if self.registry is None:
            return True
        ttl = script.conversation_s + 30.0
        return await self.registry.acquire_lease(self._phone_lease(number), call_id, ttl)

    async def _release_phone(self, call: _Call) -> None:
        if self.registry is not None and call.phone is not None:
            await self.registry.release_lease(self._phone_lease(call.phone), call.call_id)
        call.phone = None

    async def _log(self, call_id: str, event: str, **data: Any) -> None:
        if self.ledger is None:
            return
        entry = {"call": call_id, "event": event, "instance": self.instance_id, "at": time.time()}
        try:
            await self.ledger({**entry, **data})
        except Exception:  # the ledger is a test aid: it never breaks a call
            log.exception("ledger entry not written")


def redis_ledger(url: str, key: str = "ivr:sim:ledger") -> tuple[Ledger, Callable[[], Any]]:
    """A ledger appending JSON entries to a Redis list; returns it and its closer."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, decode_responses=True)

    async def append(entry: dict[str, Any]) -> None:
        await client.rpush(key, json.dumps(entry, ensure_ascii=False))

    return append, client.aclose
