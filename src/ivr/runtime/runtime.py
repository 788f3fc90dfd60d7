"""The call runtime every real transport shares (Asterisk ARI, LaML webhooks).

It steps the pure flow, carries out the commands that concern shared state (rotation,
queues, timers, call-backs, records) and hands the media commands (answer, play, gather,
dial, hold, record, hang up) to the transport that owns the call. Events of one call are
handled in order under that call's own lock; different calls run in parallel.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ivr.flow import CallFlow
from ivr.flow.engine import CallState
from ivr.flow.vocabulary import (
    Answer,
    CallStarted,
    CallSummary,
    CancelTimer,
    Command,
    Dequeue,
    Dial,
    DialResult,
    Enqueue,
    Event,
    FetchQueueStatus,
    FetchRotation,
    Gather,
    Hangup,
    Hold,
    ListenerOffered,
    Play,
    QueueStatusFetched,
    RecordAnswerer,
    RegisterCallback,
    Role,
    RotationFetched,
    StartRecording,
    StartTimer,
    StopRecording,
    TimerFired,
)
from ivr.runtime.live_state import LiveState, Presence

log = logging.getLogger(__name__)

MediaCommand = Answer | Play | Gather | Dial | Hold | StartRecording | StopRecording | Hangup
Clock = Callable[[], datetime]


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


class CallRecordSink(Protocol):
    """Where finished calls are written (the call records)."""

    async def call_finished(
        self, summary: CallSummary, started_at: datetime, ended_at: datetime
    ) -> None: ...


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


@dataclass(slots=True)
class LiveCall:
    state: CallState
    transport: CallTransport
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    listener: str | None = None
    connected_at: datetime | None = None


class CallRuntime:
    """Runs calls through the flow against shared live state."""

    def __init__(
        self,
        flow: CallFlow,
        live: LiveState,
        clock: Clock,
        timers: TimerService | None = None,
        records: CallRecordSink | None = None,
        callbacks: CallbackSink | None = None,
    ) -> None:
        self.flow = flow
        self.live = live
        self.clock = clock
        self.timers: TimerService = timers or AsyncioTimers()
        self.records: CallRecordSink = records or MemoryRecords()
        self.callbacks: CallbackSink = callbacks or MemoryCallbacks()
        self.calls: dict[str, LiveCall] = {}
        self._background: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- calls

    async def start_call(self, event: CallStarted, transport: CallTransport) -> list[MediaCommand]:
        """A new call: returns the media commands the transport runs first."""
        if event.call_id in self.calls:
            return []  # a duplicate start (retried webhook, replayed event)
        state, commands = self.flow.start(event, self.clock())
        call = LiveCall(state, transport)
        self.calls[event.call_id] = call
        async with call.lock:
            return await self._run(call, commands)

    async def handle(self, call_id: str, event: Event) -> list[MediaCommand]:
        """Feed one event to a call; returns the media commands that answer it."""
        call = self.calls.get(call_id)
        if call is None:
            raise UnknownCallError(call_id)
        async with call.lock:
            if self.flow.finished(call.state):
                return []
            commands = self.flow.step(call.state, event, self.clock())
            media = await self._run(call, commands)
            if isinstance(event, DialResult):
                await self._after_dial(call)
            return media

    async def handle_and_deliver(self, call_id: str, event: Event) -> None:
        """Feed an event that no transport request carries (timer, listener offer)."""
        call = self.calls.get(call_id)
        if call is None:
            return
        try:
            media = await self.handle(call_id, event)
        except UnknownCallError:
            return
        if media:
            await call.transport.deliver(call_id, media)

    def state(self, call_id: str) -> CallState | None:
        call = self.calls.get(call_id)
        return call.state if call else None

    # ----------------------------------------------------------------- commands

    async def _run(self, call: LiveCall, commands: list[Command]) -> list[MediaCommand]:
        state = call.state
        call_id = state.call_id
        media: list[MediaCommand] = []
        pending = list(commands)
        while pending:
            command = pending.pop(0)
            reply: Event | None = None
            match command:
                case FetchRotation(key):
                    reply = RotationFetched(await self.live.last_answerer(key))
                case RecordAnswerer(key, number):
                    await self.live.record_answerer(key, number)
                case FetchQueueStatus(departement):
                    reply = QueueStatusFetched(
                        await self.live.queue_status(
                            departement, call_id, self._handling_default(departement)
                        )
                    )
                case Enqueue(departement, priority):
                    await self.live.enqueue(departement, call_id, priority, self.clock())
                    self._background_task(self.dispatch(departement))
                case Dequeue(departement):
                    await self.live.dequeue(departement, call_id)
                case StartTimer(name, seconds):
                    self.timers.start(
                        (call_id, name),
                        seconds,
                        functools.partial(self._timer_fired, call_id, name),
                    )
                case CancelTimer(name):
                    self.timers.cancel((call_id, name))
                case RegisterCallback(departement, number):
                    await self.callbacks.register(departement, number, call_id, self.clock())
                case Hangup():
                    media.append(command)
                    await self._finish(call)
                case (
                    Answer()
                    | Play()
                    | Gather()
                    | Dial()
                    | Hold()
                    | StartRecording()
                    | StopRecording()
                ):
                    media.append(command)
            if reply is not None:
                pending.extend(self.flow.step(state, reply, self.clock()))
        return media

    async def _timer_fired(self, call_id: str, name: str) -> None:
        await self.handle_and_deliver(call_id, TimerFired(name))

    def _handling_default(self, departement: str) -> int:
        dep = self.flow.config.departement(departement)
        return dep.line_115.queue.default_handling_time_s if dep else 300

    async def _after_dial(self, call: LiveCall) -> None:
        """Listener bookkeeping once a dial ended: who is busy, who did not pick up."""
        summary = call.state.summary
        departement = call.state.departement
        if call.listener is None and summary.connected_role is Role.LISTENER and departement:
            call.listener = summary.connected_to
            call.connected_at = self.clock()
        elif departement and summary.attempts and summary.attempts[-1].role is Role.LISTENER:
            last = summary.attempts[-1]
            if summary.connected_to != last.number:
                # A listener offered a call who does not pick up is paused, as ACDs do.
                await self.live.set_presence(
                    departement, last.number, Presence.PAUSED, self.clock()
                )
                self._background_task(self.dispatch(departement))

    async def _finish(self, call: LiveCall) -> None:
        state = call.state
        now = self.clock()
        self.timers.cancel_call(state.call_id)
        if call.listener is not None and state.departement is not None:
            await self.live.set_presence(state.departement, call.listener, Presence.AVAILABLE, now)
            if call.connected_at is not None:
                seconds = (now - call.connected_at).total_seconds()
                await self.live.record_handling_time(state.departement, seconds)
            self._background_task(self.dispatch(state.departement))
        self.calls.pop(state.call_id, None)
        try:
            await self.records.call_finished(state.summary, state.started_at or now, now)
        except Exception:  # a record failure must never break the call in progress
            log.exception("call record for %s not written", state.call_id)

    # ----------------------------------------------------------------- listeners

    async def set_listener_presence(
        self, departement: str, number: str, presence: Presence
    ) -> None:
        await self.live.set_presence(departement, number, presence, self.clock())
        if presence is Presence.AVAILABLE:
            await self.dispatch(departement)

    async def dispatch(self, departement: str) -> None:
        """Offer waiting calls to available listeners, head of the queue first."""
        dep = self.flow.config.departement(departement)
        names = {c.number: c.name for c in dep.line_115.listeners} if dep else {}
        while True:
            claim = await self.live.claim_next(departement, self.clock())
            if claim is None:
                return
            if claim.call_id not in self.calls:
                # The call is gone (hung up meanwhile): free the listener again.
                await self.live.set_presence(
                    departement, claim.listener, Presence.AVAILABLE, self.clock()
                )
                continue
            offer = ListenerOffered(claim.listener, names.get(claim.listener, claim.listener))
            await self.handle_and_deliver(claim.call_id, offer)

    def _background_task(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background dispatches (tests, clean shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
