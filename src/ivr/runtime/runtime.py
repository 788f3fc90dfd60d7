"""The call runtime every real transport shares (Asterisk ARI, LaML webhooks).

It steps the pure flow, carries out the commands that concern shared state (rotation,
queues, timers, call-backs, records) and hands the media commands (answer, play, gather,
dial, hold, record, hang up) to the transport that owns the call. Events of one call are
handled in order under that call's own lock; different calls run in parallel.

With a ``CallRegistry`` (several instances sharing Redis), every step ends by saving the
call's snapshot, so that another instance can take the call over when this one dies; a
dial is guarded by a lease per (call, number), so two instances never ring the same person
for one call; and the queue dispatcher only offers the calls this instance holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ivr.flow import CallFlow
from ivr.flow.engine import CallState, Phase
from ivr.flow.vocabulary import (
    Answer,
    CallStarted,
    CancelTimer,
    Command,
    Dequeue,
    Dial,
    DialOutcome,
    DialResult,
    Enqueue,
    Event,
    FetchQueueStatus,
    FetchRotation,
    FetchSupportPresence,
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
    SupportPresenceFetched,
    TimerFired,
)
from ivr.runtime.commands import decode_media, encode_media
from ivr.runtime.live_state import (
    CallRegistry,
    CallSnapshot,
    LiveState,
    Presence,
    SupportAgentState,
    support_away,
)

# The runtime's ports and their in-memory adapters live in ivr.runtime.ports; importing
# them from here still works (they are re-exported, see __all__ below).
from ivr.runtime.ports import (
    AsyncioTimers,
    CallbackSink,
    CallRecordSink,
    CallTransport,
    FinishedCall,
    FinishedCallSink,
    MediaCommand,
    MemoryCallbacks,
    MemoryRecords,
    ResumableTransport,
    TimerService,
    UnknownCallError,
)

__all__ = [
    "DIAL_LEASE_MARGIN_S",
    "PASSED_MEDIA",
    "WAITING_MEDIA",
    "AsyncioTimers",
    "CallRecordSink",
    "CallRuntime",
    "CallTransport",
    "CallbackSink",
    "Clock",
    "FinishedCall",
    "FinishedCallSink",
    "LiveCall",
    "MediaCommand",
    "MemoryCallbacks",
    "MemoryRecords",
    "ResumableTransport",
    "Spawner",
    "TimerService",
    "UnknownCallError",
    "listener_phones",
    "ringing_phones",
    "support_ringing_phones",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Runs work the runtime starts besides a call's step (queue dispatches): by default a task
# on the running loop; a simulation runs it on its own virtual clock.
Spawner = Callable[[Coroutine[Any, Any, None]], None]
WAITING_MEDIA = (Gather, Dial, Hold)
PASSED_MEDIA = frozenset({Play, Answer, Gather, Hold, StartRecording, StopRecording})
DIAL_LEASE_MARGIN_S = 15


def ringing_phones(state: CallState, pending: Sequence[MediaCommand]) -> list[str]:
    """The listeners' phones a call rings now: its pending dial while a listener is offered."""
    if state.phase is not Phase.LISTENER_DIALING:
        return []
    return [t.number for m in pending if isinstance(m, Dial) for t in m.targets]


def support_ringing_phones(state: CallState, pending: Sequence[MediaCommand]) -> list[str]:
    """The national support phones an assistance call rings now (its pending tier 2 dial)."""
    if state.phase is not Phase.TIER2_DIALING:
        return []
    return [t.number for m in pending if isinstance(m, Dial) for t in m.targets]


def listener_phones(
    state: CallState, listener: str | None, pending: Sequence[MediaCommand]
) -> list[str]:
    """The phones a call is found under by a console: the listener connected (or the
    number the call is connected to), the listeners' phones it rings, and the national
    support phones it rings."""
    phones: list[str] = []
    ringing = (*ringing_phones(state, pending), *support_ringing_phones(state, pending))
    for number in (listener, state.summary.connected_to, *ringing):
        if number and number not in phones:
            phones.append(number)
    return phones


@dataclass(slots=True)
class LiveCall:
    state: CallState
    transport: CallTransport
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    listener: str | None = None
    connected_at: datetime | None = None
    transport_name: str | None = None
    answered_at: datetime | None = None
    timers: dict[str, datetime] = field(default_factory=dict)
    pending: list[MediaCommand] = field(default_factory=list)
    dials: list[tuple[str, datetime]] = field(default_factory=list)
    takeovers: int = 0
    ringing_listener: str | None = None  # offered this call, phone ringing, not answered yet


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
        *,
        registry: CallRegistry | None = None,
        instance_id: str = "local",
        transports: Mapping[str, CallTransport] | None = None,
        spawn: Spawner | None = None,
    ) -> None:
        self.flow = flow
        self.live = live
        self.clock = clock
        self.timers: TimerService = timers or AsyncioTimers()
        self.records: CallRecordSink = records or MemoryRecords()
        self.callbacks: CallbackSink = callbacks or MemoryCallbacks()
        self.registry = registry
        self.instance_id = instance_id
        self.transports: dict[str, CallTransport] = dict(transports or {})
        self.calls: dict[str, LiveCall] = {}
        self.accepting = True
        self._background: set[asyncio.Task[None]] = set()
        self._spawn = spawn
        self._records_seen: object = None  # the sink ``_full_records`` last looked at
        self._records_full: FinishedCallSink | None = None

    def register_transport(self, name: str, transport: CallTransport) -> None:
        """Name a transport, so that calls it carries can be resumed by another instance."""
        self.transports[name] = transport

    def _transport_name(self, transport: CallTransport) -> str | None:
        for name, known in self.transports.items():
            if known is transport:
                return name
        return None

    # ----------------------------------------------------------------- calls

    async def start_call(
        self, event: CallStarted, transport: CallTransport, *, transport_name: str | None = None
    ) -> list[MediaCommand]:
        """A new call: returns the media commands the transport runs first."""
        if event.call_id in self.calls:
            return []  # a duplicate start (retried webhook, replayed event)
        state, commands = self.flow.start(event, self.clock())
        name = transport_name or self._transport_name(transport)
        call = LiveCall(state, transport, transport_name=name)
        self.calls[event.call_id] = call
        async with call.lock:
            if self.registry is not None and not await self.registry.save_call(self.snapshot(call)):
                self.calls.pop(event.call_id, None)
                return []  # the same start, already taken by another instance
            media = await self._run(call, commands)
            return media if await self._checkpoint(call, media) else []

    async def handle(self, call_id: str, event: Event) -> list[MediaCommand]:
        """Feed one event to a call; returns the media commands that answer it."""
        call = self.calls.get(call_id)
        if call is None:
            raise UnknownCallError(call_id)
        async with call.lock:
            if self.flow.finished(call.state) or self.calls.get(call_id) is not call:
                return []
            if isinstance(event, DialResult):
                await self._release_dials(call_id, [number for number, _ in event.results])
            commands = self.flow.step(call.state, event, self.clock())
            media = await self._run(call, commands)
            if isinstance(event, DialResult):
                if call.answered_at is None and call.state.summary.connected_to is not None:
                    call.answered_at = self.clock()
                await self._after_dial(call)
            return media if await self._checkpoint(call, media, stepped=bool(commands)) else []

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
        index = 0
        while index < len(pending):
            command = pending[index]
            index += 1
            if type(command) in PASSED_MEDIA:  # the most frequent: handed to the transport
                media.append(command)  # type: ignore[arg-type]
                continue
            reply: Event | None = None
            match command:
                case FetchRotation(key):
                    reply = RotationFetched(await self.live.last_answerer(key))
                case FetchSupportPresence():
                    reply = SupportPresenceFetched(support_away(await self.live.support_agents()))
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
                    self._background_task(self.dispatch(departement, notify=True))
                case Dequeue(departement):
                    await self.live.dequeue(departement, call_id)
                case StartTimer(name, seconds):
                    call.timers[name] = self.clock() + timedelta(seconds=seconds)
                    self._arm(call_id, name, seconds)
                case CancelTimer(name):
                    call.timers.pop(name, None)
                    self.timers.cancel((call_id, name))
                case Dial(targets):
                    allowed = await self._lease_dials(call, command)
                    if allowed is None:
                        # Every target is already rung for this call by another instance
                        # (a takeover while the dead instance's dial may still ring).
                        reply = DialResult(tuple((t.number, DialOutcome.FAILED) for t in targets))
                    else:
                        now = self.clock()
                        call.dials.extend((t.number, now) for t in allowed.targets)
                        media.append(allowed)
                case RegisterCallback(departement, number):
                    await self.callbacks.register(departement, number, call_id, self.clock())
                case Answer() | Play() | Gather() | Hold() | StartRecording() | StopRecording():
                    media.append(command)
                case Hangup():
                    media.append(command)
                    await self._finish(call)
            if reply is not None:
                pending.extend(self.flow.step(state, reply, self.clock()))
        return media

    def _arm(self, call_id: str, name: str, seconds: float) -> None:
        self.timers.start(
            (call_id, name), seconds, functools.partial(self._timer_fired, call_id, name)
        )

    async def _timer_fired(self, call_id: str, name: str) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.timers.pop(name, None)
        await self.handle_and_deliver(call_id, TimerFired(name))

    def _dial_lease(self, call_id: str, number: str) -> str:
        return f"dial:{call_id}:{number}"

    async def _lease_dials(self, call: LiveCall, dial: Dial) -> Dial | None:
        """The dial restricted to the targets this instance may ring (None: no target)."""
        if self.registry is None:
            return dial
        ttl = dial.ring_timeout_s + DIAL_LEASE_MARGIN_S
        allowed = tuple(
            [
                target
                for target in dial.targets
                if await self.registry.acquire_lease(
                    self._dial_lease(call.state.call_id, target.number), self.instance_id, ttl
                )
            ]
        )
        if not allowed:
            return None
        return (
            dial
            if len(allowed) == len(dial.targets)
            else dataclasses.replace(dial, targets=allowed)
        )

    async def _release_dials(self, call_id: str, numbers: list[str]) -> None:
        if self.registry is not None:
            for number in numbers:
                await self.registry.release_lease(
                    self._dial_lease(call_id, number), self.instance_id
                )

    # ----------------------------------------------------------------- snapshots

    def snapshot(self, call: LiveCall) -> CallSnapshot:
        """The call as another instance needs it to carry on."""
        transport = call.transport
        data = (
            transport.call_data(call.state.call_id)
            if isinstance(transport, ResumableTransport)
            else {}
        )
        return CallSnapshot(
            call_id=call.state.call_id,
            owner=self.instance_id,
            state=call.state.to_dict(),
            transport=call.transport_name,
            pending=[encode_media(command) for command in call.pending],
            timers=dict(call.timers),
            listener=call.listener,
            connected_at=call.connected_at,
            answered_at=call.answered_at,
            dials=list(call.dials),
            transport_data=data,
            takeovers=call.takeovers,
            listener_phones=listener_phones(call.state, call.listener, call.pending),
            ringing_listener=call.ringing_listener,
        )

    async def _checkpoint(
        self, call: LiveCall, media: list[MediaCommand], *, stepped: bool = True
    ) -> bool:
        """Remember what the call now waits on and save its snapshot.

        ``stepped``: the flow answered with commands (an ignored event leaves the call
        waiting on what it waited on). False when another instance owns the call now (this
        one lost its lease): the call is then dropped here without a hang-up, and its media
        must not be delivered.
        """
        if stepped:
            waiting: list[MediaCommand] = [m for m in media if isinstance(m, WAITING_MEDIA)]
            call.pending = waiting[-1:]
        if self.registry is None or self.flow.finished(call.state):
            return True
        if call.state.call_id not in self.calls:
            return True
        if await self.registry.save_call(self.snapshot(call)):
            return True
        log.warning("call %s is owned by another instance now: dropped here", call.state.call_id)
        self._detach(call)
        return False

    def _detach(self, call: LiveCall) -> None:
        call_id = call.state.call_id
        self.timers.cancel_call(call_id)
        if self.calls.get(call_id) is call:
            del self.calls[call_id]
        if isinstance(call.transport, ResumableTransport):
            call.transport.detach(call_id)

    # ----------------------------------------------------------------- takeover

    async def take_over_orphans(self, limit: int = 50) -> list[str]:
        """Claim and resume calls whose instance died; returns their ids."""
        if self.registry is None or not self.accepting:
            return []
        resumed: list[str] = []
        for snapshot in await self.registry.take_over(self.instance_id, limit):
            try:
                await self.resume(snapshot)
            except Exception:  # one broken snapshot must not stop the others
                log.exception("call %s could not be resumed", snapshot.call_id)
                continue
            resumed.append(snapshot.call_id)
        return resumed

    async def adopt(self, call_id: str) -> bool:
        """Move a call another (live) instance holds to this one, e.g. a webhook that came
        here; the old owner drops it at its next step. False when the call is unknown."""
        if self.registry is None:
            return False
        if call_id in self.calls:
            return True
        snapshot = await self.registry.load_call(call_id)
        if snapshot is None or not await self.registry.transfer_call(
            call_id, snapshot.owner, self.instance_id
        ):
            return False
        snapshot.owner = self.instance_id
        await self.resume(snapshot)
        return True

    async def resume(self, snapshot: CallSnapshot) -> None:
        """Carry on a call from its snapshot: timers re-armed, pending media run again.

        A transport that claims its calls itself (``claims_calls``, the ARI transport: only
        the instance holding the websocket gets a call's events) is only told about the
        call: it claims it (``claim``) where it can drive it, or finishes it when it is
        gone from the media server."""
        transport = self.transports.get(snapshot.transport or "")
        if transport is None:
            transport = next(iter(self.transports.values()), None)
        if transport is None:
            raise UnknownCallError(f"{snapshot.call_id}: no transport to resume it")
        state = CallState.from_dict(snapshot.state)
        if getattr(transport, "claims_calls", False) and isinstance(transport, ResumableTransport):
            await transport.resume(state.call_id, state, [], snapshot.transport_data)
            return
        call = LiveCall(
            state,
            transport,
            listener=snapshot.listener,
            connected_at=snapshot.connected_at,
            transport_name=snapshot.transport,
            answered_at=snapshot.answered_at,
            timers=dict(snapshot.timers),
            dials=list(snapshot.dials),
            takeovers=snapshot.takeovers + 1,
            ringing_listener=snapshot.ringing_listener,
        )
        pending: list[Command] = [decode_media(raw) for raw in snapshot.pending]
        self.calls[state.call_id] = call
        async with call.lock:
            now = self.clock()
            for name, due in call.timers.items():
                self._arm(state.call_id, name, max((due - now).total_seconds(), 0.0))
            media = await self._run(call, pending)
            if not await self._checkpoint(call, media, stepped=bool(pending)):
                return
        if isinstance(transport, ResumableTransport):
            await transport.resume(state.call_id, state, media, snapshot.transport_data)
        elif media:
            await transport.deliver(state.call_id, media)
        if state.queued and state.departement is not None:
            self._background_task(self.dispatch(state.departement))

    async def claim(self, call_id: str, transport: CallTransport) -> LiveCall | None:
        """Carry on here a call whose events now come to this instance (an ARI websocket
        taken over), whether or not its old owner's lease has lapsed: that owner can no
        longer drive it. The call comes back as the registry knows it (listener, answer
        time, dials, timers re-armed) but its pending media are not run again: the
        transport knows what the media server is doing. None without a registry or when
        the registry does not know the call."""
        if self.registry is None:
            return None
        for _ in range(3):  # the owner may change between the read and the transfer
            snapshot = await self.registry.load_call(call_id)
            if snapshot is None:
                return None
            if snapshot.owner == self.instance_id:
                break  # handed to this instance by the registry's takeover already
            if await self.registry.transfer_call(call_id, snapshot.owner, self.instance_id):
                log.warning("call %s claimed from %s", call_id, snapshot.owner)
                break
        else:
            return None
        state = CallState.from_dict(snapshot.state)
        call = LiveCall(
            state,
            transport,
            listener=snapshot.listener,
            connected_at=snapshot.connected_at,
            transport_name=self._transport_name(transport) or snapshot.transport,
            answered_at=snapshot.answered_at,
            timers=dict(snapshot.timers),
            pending=[decode_media(raw) for raw in snapshot.pending],
            dials=list(snapshot.dials),
            takeovers=snapshot.takeovers + 1,
            ringing_listener=snapshot.ringing_listener,
        )
        self.calls[call_id] = call
        now = self.clock()
        for name, due in call.timers.items():
            self._arm(call_id, name, max((due - now).total_seconds(), 0.0))
        await self.registry.save_call(self.snapshot(call))
        if state.queued and state.departement is not None:
            self._background_task(self.dispatch(state.departement))
        return call

    async def verify_ownership(self) -> list[str]:
        """Drop the calls another instance took over (after this one lost its lease, e.g.
        cut off from Redis); returns their ids."""
        if self.registry is None or not self.calls:
            return []
        owned = await self.registry.owned_calls(self.instance_id)
        lost = []
        for call_id, call in list(self.calls.items()):
            if call_id in owned:
                continue
            owner = await self.registry.call_owner(call_id)
            if owner is not None and owner != self.instance_id and self.calls.get(call_id) is call:
                log.warning("call %s was taken over by %s: dropped here", call_id, owner)
                self._detach(call)
                lost.append(call_id)
        return lost

    def queued_departements(self) -> set[str]:
        """Départements where calls held here wait in the queue."""
        return {
            call.state.departement
            for call in self.calls.values()
            if call.state.queued and call.state.departement is not None
        }

    async def hand_over(self) -> int:
        """Stop here cleanly: save every call, drop it locally, end this instance's lease
        so that the others take the calls over at once. Returns how many were handed."""
        self.accepting = False
        if self.registry is None:
            return 0
        count = 0
        for call in list(self.calls.values()):
            async with call.lock:
                if self.calls.get(call.state.call_id) is not call:
                    continue
                await self.registry.save_call(self.snapshot(call))
                self._detach(call)
                count += 1
        await self.registry.release_instance(self.instance_id)
        return count

    def _handling_default(self, departement: str) -> int:
        dep = self.flow.config.departement(departement)
        return dep.line_115.queue.default_handling_time_s if dep else 300

    async def _after_dial(self, call: LiveCall) -> None:
        """Listener bookkeeping once a dial ended: who is busy, who did not pick up."""
        summary = call.state.summary
        departement = call.state.departement
        call.ringing_listener = None
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
                self._background_task(self.dispatch(departement, notify=True))

    def _full_records(self) -> FinishedCallSink | None:
        """The record sink, when it takes ``FinishedCall``s (checked once per sink: a
        protocol ``isinstance`` is slow on the hot path)."""
        records = self.records
        if self._records_seen is not records:
            self._records_seen = records
            self._records_full = records if isinstance(records, FinishedCallSink) else None
        return self._records_full

    async def _finish(self, call: LiveCall) -> None:
        state = call.state
        now = self.clock()
        self.timers.cancel_call(state.call_id)
        call.timers.clear()
        if call.ringing_listener is not None and state.departement is not None:
            # The caller hung up while the offered listener's phone rang: the listener was
            # busy for this call only, and is free again.
            await self.live.set_presence(
                state.departement, call.ringing_listener, Presence.AVAILABLE, now
            )
            call.ringing_listener = None
            self._background_task(self.dispatch(state.departement, notify=True))
        if call.listener is not None and state.departement is not None:
            await self.live.set_presence(state.departement, call.listener, Presence.AVAILABLE, now)
            if call.connected_at is not None:
                seconds = (now - call.connected_at).total_seconds()
                await self.live.record_handling_time(state.departement, seconds)
            self._background_task(self.dispatch(state.departement, notify=True))
        self.calls.pop(state.call_id, None)
        if self.registry is not None:
            await self.registry.drop_call(state.call_id, self.instance_id)
        try:
            full = self._full_records()
            if full is not None:
                await full.call_ended(
                    FinishedCall(
                        summary=state.summary,
                        started_at=state.started_at or now,
                        ended_at=now,
                        answered_at=call.answered_at,
                        instance_id=self.instance_id,
                        dials=tuple(call.dials),
                        takeovers=call.takeovers,
                        queued=state.queued,
                    )
                )
            else:
                await self.records.call_finished(state.summary, state.started_at or now, now)
        except Exception:  # a record failure must never break the call in progress
            log.exception("call record for %s not written", state.call_id)

    # ----------------------------------------------------------------- listeners

    async def set_listener_presence(
        self, departement: str, number: str, presence: Presence
    ) -> None:
        await self.live.set_presence(departement, number, presence, self.clock())
        if presence is Presence.AVAILABLE:
            await self.dispatch(departement, notify=True)

    async def set_support_agent(self, login: str, phone: str | None, presence: Presence) -> None:
        """A national support agent's post and presence: the tier-2 hunt of every instance
        skips a post whose agents are paused or signed out, from the next call on."""
        await self.live.set_support_agent(SupportAgentState(login, phone, presence, self.clock()))

    async def dispatch(self, departement: str, *, notify: bool = False) -> None:
        """Offer waiting calls to available listeners, head of the queue first.

        With a registry, only the calls this instance holds are offered here; ``notify``
        (or a claim made here) tells the other instances to offer theirs.
        """
        dep = self.flow.config.departement(departement)
        if dep is None:
            # Withdrawn from the routing file: its waiting calls go down the LRO chain at
            # their next step (the flow says so), nobody is offered them meanwhile.
            return
        names = {c.number: c.name for c in dep.line_115.listeners}
        owner = self.instance_id if self.registry is not None else None
        while True:
            claim = await self.live.claim_next(departement, self.clock(), owner)
            if claim is None:
                if notify and self.registry is not None:
                    await self.registry.notify(departement)
                return
            notify = True  # the head moved: the next call may be another instance's
            if claim.call_id not in self.calls:
                # The call is gone (hung up meanwhile): free the listener again.
                await self.live.set_presence(
                    departement, claim.listener, Presence.AVAILABLE, self.clock()
                )
                continue
            offer = ListenerOffered(claim.listener, names.get(claim.listener, claim.listener))
            self.calls[claim.call_id].ringing_listener = claim.listener
            await self.handle_and_deliver(claim.call_id, offer)

    def _background_task(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._spawn is not None:
            self._spawn(coro)
            return
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background dispatches (tests, clean shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
