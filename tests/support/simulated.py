"""A simulated telephony transport in real time, for driving ``ivr serve`` without Asterisk.

Like ``ivr.sim`` (the simulator behind ``ivr simulate``, the tests and the benchmarks: a
virtual clock, one call at a time in-process), this transport runs calls through the
shared ``CallRuntime``, and its phones answer as the simulator's do (``ivr.sim.caller``:
``dial_outcome`` and ``ring``); it runs them in real time inside a serving instance, with
what the multi-instance tests need besides: the caller presses keys after a delay, a
dialled phone answers after ``answer_delay_s`` unless the script says it is busy, does not
answer or fails, or it is already in a conversation (a phone is a lease shared by every
instance, so a referent in a call is busy for the others too). A
conversation lasts ``conversation_s``. Everything a call needs to go on elsewhere is in
``call_data``: another instance that takes the call over resumes it where it was.

When given a ledger (a Redis list), every dial, answer and hang-up is appended to it, with
the instance that did it: the multi-instance tests read it to check that each call was
handled exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ivr.flow.engine import CallState, Phase
from ivr.flow.vocabulary import (
    CallerHungUp,
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Gather,
    Hangup,
    InputTimedOut,
    PeerHungUp,
)
from ivr.runtime.live_state import CallRegistry
from ivr.runtime.runtime import CallRuntime, MediaCommand
from ivr.sim.caller import dial_outcome, ring

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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimScript:
        return cls(**data)

    def result_for(self, number: str) -> DialOutcome:
        """How a phone answers (leases aside), as in every simulated call."""
        return dial_outcome(number, failed=self.failed, busy=self.busy, no_answer=self.no_answer)


@dataclass(slots=True)
class _Call:
    call_id: str
    script: SimScript
    pressed: int = 0
    phone: str | None = None  # the phone in conversation with the caller
    conversation_ends: float | None = None  # wall-clock time (shared by instances)
    hang_up_at: float | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def data(self) -> dict[str, Any]:
        return {
            "script": self.script.to_dict(),
            "pressed": self.pressed,
            "phone": self.phone,
            "conversation_ends": self.conversation_ends,
            "hang_up_at": self.hang_up_at,
        }

    @classmethod
    def from_data(cls, call_id: str, data: dict[str, Any]) -> _Call:
        return cls(
            call_id,
            SimScript.from_dict(data["script"]),
            pressed=int(data["pressed"]),
            phone=data["phone"],
            conversation_ends=data["conversation_ends"],
            hang_up_at=data["hang_up_at"],
        )


class SimulatedTransport:
    """A ``ResumableTransport`` whose callers and phones are scripts."""

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

    async def start_call(self, event: CallStarted, script: SimScript) -> None:
        """A simulated call arrives at this instance."""
        call = _Call(event.call_id, script)
        if script.hang_up_after_s is not None:
            call.hang_up_at = self.wall_clock() + script.hang_up_after_s
        self._calls[event.call_id] = call
        await self._log(event.call_id, "start")
        media = await self.runtime.start_call(event, self, transport_name=TRANSPORT_NAME)
        self._arm_hang_up(event.call_id, call)
        await self.deliver(event.call_id, media)

    # ----------------------------------------------------------------- ResumableTransport

    def call_data(self, call_id: str) -> dict[str, Any]:
        call = self._calls.get(call_id)
        return call.data() if call is not None else {}

    async def resume(
        self, call_id: str, state: CallState, commands: list[MediaCommand], data: dict[str, Any]
    ) -> None:
        call = _Call.from_data(call_id, data) if data else _Call(call_id, SimScript())
        self._calls[call_id] = call
        await self._log(call_id, "resume", phase=state.phase.value)
        self._arm_hang_up(call_id, call)
        if state.phase is Phase.CONNECTED and call.conversation_ends is not None:
            self._spawn(call_id, self._conversation(call_id, call))
        await self.deliver(call_id, commands)

    def detach(self, call_id: str) -> None:
        call = self._calls.pop(call_id, None)
        if call is not None:
            for task in call.tasks:
                task.cancel()

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        for command in commands:
            match command:
                case Gather():
                    self._spawn(call_id, self._press(call_id, call))
                case Dial():
                    await self._log(call_id, "dial", numbers=[t.number for t in command.targets])
                    self._spawn(call_id, self._ring(call_id, call, command))
                case Hangup(outcome):
                    await self._log(call_id, "hangup", outcome=outcome.value)
                    await self._release_phone(call)
                    self.detach(call_id)
                    return

    # ----------------------------------------------------------------- behaviour

    def _spawn(self, call_id: str, coro: Coroutine[Any, Any, None]) -> None:
        call = self._calls[call_id]
        task = asyncio.get_running_loop().create_task(coro)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    def _arm_hang_up(self, call_id: str, call: _Call) -> None:
        if call.hang_up_at is not None:
            self._spawn(call_id, self._hang_up(call_id, call.hang_up_at))

    async def _hang_up(self, call_id: str, at: float) -> None:
        await asyncio.sleep(max(at - self.wall_clock(), 0.0))
        await self._log(call_id, "caller_hangup")
        await self.runtime.handle_and_deliver(call_id, CallerHungUp())

    async def _press(self, call_id: str, call: _Call) -> None:
        await asyncio.sleep(call.script.digit_delay_s)
        if call.pressed < len(call.script.presses):
            digits = call.script.presses[call.pressed]
            call.pressed += 1
            await self.runtime.handle_and_deliver(call_id, DigitsReceived(digits))
        else:
            await self.runtime.handle_and_deliver(call_id, InputTimedOut())

    async def _ring(self, call_id: str, call: _Call, dial: Dial) -> None:
        script = call.script
        await asyncio.sleep(script.answer_delay_s)
        # The phones answer as in every simulation (``ivr.sim.caller``); one that would
        # answer but is in a conversation already (its lease, shared by every instance) is
        # busy, and once one answers the others stop ringing.
        would_answer = [
            t.number for t in dial.targets if script.result_for(t.number) is DialOutcome.ANSWERED
        ]
        taken: str | None = None
        for number in would_answer:
            if await self._take_phone(call_id, number, script):
                taken = number
                break
        tried = would_answer[: would_answer.index(taken)] if taken else would_answer

        def outcome(number: str) -> DialOutcome:
            return DialOutcome.BUSY if number in tried else script.result_for(number)

        results = ring(dial.targets, outcome)
        if taken is not None:
            call.phone = taken
            call.conversation_ends = self.wall_clock() + script.conversation_s
            await self._log(call_id, "answered", number=taken)
        await self.runtime.handle_and_deliver(call_id, DialResult(tuple(results)))
        if taken is not None and call_id in self._calls:
            self._spawn(call_id, self._conversation(call_id, call))

    async def _conversation(self, call_id: str, call: _Call) -> None:
        assert call.conversation_ends is not None
        await asyncio.sleep(max(call.conversation_ends - self.wall_clock(), 0.0))
        await self._release_phone(call)
        await self.runtime.handle_and_deliver(call_id, PeerHungUp())

    def _phone_lease(self, number: str) -> str:
        return f"sim-phone:{number}"

    async def _take_phone(self, call_id: str, number: str, script: SimScript) -> bool:
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
