"""The call runtime's ports (what it needs from transports, timers and records) and the
in-memory adapters used by the simulator, the tests and a service without a database.

``ivr.runtime.runtime`` re-exports every name here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ivr.flow.engine import CallState
from ivr.flow.vocabulary import (
    Answer,
    CallSummary,
    Dial,
    Gather,
    Hangup,
    Hold,
    Play,
    StartRecording,
    StopRecording,
)

MediaCommand = Answer | Play | Gather | Dial | Hold | StartRecording | StopRecording | Hangup


class UnknownCallError(KeyError):
    """An event names a call this runtime does not hold (finished, or never started)."""


class CallTransport(Protocol):
    """The transport side of a call: executes media commands produced outside a request."""

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None: ...


class TimerService(Protocol):
    def start(
        self, key: tuple[str, str], seconds: float, fire: Callable[[], Coroutine[Any, Any, None]]
    ) -> None: ...

    def cancel(self, key: tuple[str, str]) -> None: ...

    def cancel_call(self, call_id: str) -> None: ...


@runtime_checkable
class ResumableTransport(Protocol):
    """A transport that can carry on a call another instance started (after a takeover)."""

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None: ...

    def call_data(self, call_id: str) -> dict[str, Any]:
        """What the transport needs to resume the call elsewhere (saved in its snapshot)."""
        ...

    async def resume(
        self, call_id: str, state: CallState, commands: list[MediaCommand], data: dict[str, Any]
    ) -> None:
        """Carry on a call taken over from another instance: run ``commands`` (what the
        call was waiting on when its instance died), then report events as usual."""
        ...

    def detach(self, call_id: str) -> None:
        """Stop driving a call that another instance now owns (no hang-up)."""
        ...


class CallRecordSink(Protocol):
    """Where finished calls are written (the call records)."""

    async def call_finished(
        self, summary: CallSummary, started_at: datetime, ended_at: datetime
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class FinishedCall:
    """A finished call with what the runtime saw besides the flow's summary."""

    summary: CallSummary
    started_at: datetime
    ended_at: datetime
    answered_at: datetime | None = None
    instance_id: str | None = None
    dials: tuple[tuple[str, datetime], ...] = ()  # (number, when it started ringing)
    takeovers: int = 0  # how many times another instance took the call over
    queued: bool = False  # the call waited in a 115 queue at some point


@runtime_checkable
class FinishedCallSink(Protocol):
    """A record sink that takes the runtime's full view of the call (used when available)."""

    async def call_ended(self, call: FinishedCall) -> None: ...


class CallbackSink(Protocol):
    """Where call-back requests go (the listeners' call-back list)."""

    async def register(self, departement: str, number: str, call_id: str, at: datetime) -> None: ...


class AsyncioTimers:
    """Timers on the running event loop."""

    def __init__(self) -> None:
        self._handles: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(
        self, key: tuple[str, str], seconds: float, fire: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        self.cancel(key)
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._handles.pop(key, None)
            task = loop.create_task(fire())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._handles[key] = loop.call_later(seconds, run)

    def cancel(self, key: tuple[str, str]) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_call(self, call_id: str) -> None:
        for key in [k for k in self._handles if k[0] == call_id]:
            self.cancel(key)


class MemoryRecords:
    """Finished calls kept in memory (used until a database sink is wired)."""

    def __init__(self) -> None:
        self.calls: list[tuple[CallSummary, datetime, datetime]] = []

    async def call_finished(
        self, summary: CallSummary, started_at: datetime, ended_at: datetime
    ) -> None:
        self.calls.append((summary, started_at, ended_at))


class MemoryCallbacks:
    """Call-back requests kept in memory."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, datetime]] = []

    async def register(self, departement: str, number: str, call_id: str, at: datetime) -> None:
        self.requests.append((departement, number, call_id, at))
