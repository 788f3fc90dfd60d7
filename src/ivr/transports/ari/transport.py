"""The Asterisk ARI transport: websocket events in, flow events out; flow commands in, REST out.

Each call is a small state machine (``AriCall``) with its own mailbox: events of one call
are handled in order, calls in parallel, and no lock is shared between calls. The websocket
reader only parses and posts, so Asterisk never waits on us (it drops slow consumers).
Every identifier the service chooses (outbound legs, bridge, playbacks, recordings) embeds
the call id and is known before its REST request goes out, so an event that overtakes the
REST reply, or one that arrives after a reconnect or on another instance, finds its call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

import httpx

from ivr.flow.engine import CallState, Phase
from ivr.flow.vocabulary import (
    CallerHungUp,
    CallStarted,
    Line,
    TimerFired,
)
from ivr.runtime.runtime import CallRuntime, LiveCall, MediaCommand, UnknownCallError
from ivr.transports.ari.call import AriCall
from ivr.transports.ari.callback import CallbackCall
from ivr.transports.ari.client import (
    AriClient,
    AriError,
    EventConnector,
    websocket_events,
)
from ivr.transports.ari.events import (
    Bridge,
    CallEvent,
    Channel,
    MalformedEventError,
    PlaybackFinished,
    StasisStart,
    dedup_key,
    parse_bridge,
    parse_channel,
    parse_event,
    subject,
)
from ivr.transports.ari.mapping import app_args, called_number, caller_number, in_app
from ivr.transports.ari.media import CallMedia, Commands, Reconcile, Start
from ivr.transports.ari.ports import (
    AlwaysLeader,
    CallSnapshots,
    Leadership,
    LoopScheduler,
    RecordingSink,
    Scheduler,
)
from resilience import Backoff

log = logging.getLogger(__name__)


DEDUP_WINDOW = 8192


# --------------------------------------------------------------------------- the transport


class AriTransport:
    """Runs the calls of one Stasis application through the ``CallRuntime``."""

    # Only the instance holding the websocket gets a call's events: it claims the calls it
    # finds in Asterisk itself (``CallRuntime.claim``) rather than the runtime resuming them
    # wherever an instance's lease lapsed.
    claims_calls = True

    def __init__(
        self,
        *,
        url: str,
        user: str,
        password: str,
        app: str,
        dial_template: str,
        runtime: CallRuntime,
        http: httpx.AsyncClient,
        connector: EventConnector | None = None,
        scheduler: Scheduler | None = None,
        snapshots: CallSnapshots | None = None,
        leadership: Leadership | None = None,
        recordings: RecordingSink | None = None,
        backoff: Backoff | None = None,
        moh_class: str = "default",
        sound_dir: str = "ivr",
        language: str = "fr",
        fallback_context: str = "ivr-fallback",
    ) -> None:
        self.client = AriClient(http, url, user, password)
        self.app = app
        self.dial_template = dial_template
        self.runtime = runtime
        self.connector: EventConnector = connector or websocket_events
        self.scheduler: Scheduler = scheduler or LoopScheduler()
        self.snapshots = snapshots
        self.leadership: Leadership = leadership or AlwaysLeader()
        self.recordings = recordings
        self.backoff = backoff or Backoff()
        self.moh_class = moh_class
        self.sound_dir = sound_dir
        self.language = language
        self.fallback_context = fallback_context
        self.token = uuid.uuid4().hex[:6]  # tells this instance's ids from another's
        self.calls: dict[str, AriCall] = {}
        self.owners: dict[str, CallMedia | CallbackCall] = {}  # channel id -> its call
        self.playbacks: dict[str, CallMedia] = {}
        self.connected = asyncio.Event()
        self.connections = 0
        # Told the seconds from an event's arrival to its handling done (the metrics).
        self.on_event_handled: Callable[[float], None] | None = None
        self.events = 0  # routed to a call
        self.received = 0  # every event of our application
        self._seen: dict[tuple[Any, ...], None] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._replaced = False
        # Named, so that the calls it carries are told apart in the shared call registry.
        runtime.register_transport("ari", self)

    # ----------------------------------------------------------------- lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the event stream until ``stop``; reconnect with backoff and resync each time."""
        attempt = 0
        while not stop.is_set():
            if not await self.leadership.acquire(stop):
                break  # stopped while standing by
            try:
                async with self.connector(
                    self.client.events_url(self.app), self.client._headers
                ) as messages:
                    attempt = 0
                    self.connections += 1
                    self._replaced = False
                    self.connected.set()
                    self.spawn(self.reconcile())
                    await self._consume(messages, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the stream broke or never opened: retry
                log.warning("ARI events for %s: %s", self.app, exc or type(exc).__name__)
            finally:
                self.connected.clear()
            if stop.is_set():
                break
            if self._lease_lost():
                # Another instance may lead now: its calls are its own.
                log.warning("ARI events for %s: leadership lost, standing by", self.app)
                self._abandon_all()
                continue
            if self._replaced:
                # Another instance holds the application now: its calls are its own.
                self._abandon_all()
                attempt = max(attempt, 32)
            await self._sleep(self.backoff.delay(attempt), stop)
            attempt += 1

    async def _consume(self, messages: Any, stop: asyncio.Event) -> None:
        async def read() -> None:
            async for raw in messages:
                self.on_message(raw)
                if self._replaced:
                    return

        reader = asyncio.ensure_future(read())
        stopper = asyncio.ensure_future(stop.wait())
        watched: set[asyncio.Future[Any]] = {reader, stopper}
        lost: asyncio.Event | None = getattr(self.leadership, "lost", None)
        if lost is not None:
            watched.add(asyncio.ensure_future(lost.wait()))
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in watched:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*watched, return_exceptions=True)
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()

    def _lease_lost(self) -> bool:
        lost: asyncio.Event | None = getattr(self.leadership, "lost", None)
        return lost is not None and lost.is_set()

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        woken = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.scheduler.call_later(seconds, wake)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({woken, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            stopper.cancel()
            await asyncio.gather(stopper, return_exceptions=True)

    async def close(self) -> None:
        """Stop this process's work; calls stay in Asterisk for the next instance to resume."""
        for call in list(self.calls.values()):
            call._cancel_timer()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def note_recording(self, call_id: str, started_at: datetime, name: str) -> None:
        if self.recordings is None:
            return
        try:
            await self.recordings.recording_started(call_id, started_at, f"ari:{name}")
        except Exception:  # the call goes on; Asterisk keeps the file under this name
            log.exception("call %s: recording %s not written to the records", call_id, name)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def forget(self, call: AriCall | CallbackCall) -> None:
        if isinstance(call, AriCall):
            if self.calls.get(call.call_id) is call:
                del self.calls[call.call_id]
            self.owners.pop(call.call_id, None)
        for key in [k for k, v in self.owners.items() if v is call]:
            del self.owners[key]
        for key in [k for k, v in self.playbacks.items() if v is call]:
            del self.playbacks[key]

    def _abandon_all(self) -> None:
        """Drop every call without touching Asterisk (another instance now owns them)."""
        for call in list(self.calls.values()):
            call.ended = True
            call._cancel_timer()
            self.runtime.timers.cancel_call(call.call_id)
            self.runtime.calls.pop(call.call_id, None)
        self.calls.clear()
        self.owners.clear()
        self.playbacks.clear()

    # ----------------------------------------------------------------- call-backs

    async def place_callback(
        self, listener: str, number: str, presented: str, ring_timeout_s: int = 30
    ) -> CallbackCall:
        """Ring ``listener``, then ``number`` presenting ``presented``; bridge them.

        ``presented`` is the configured call-back number (``national.callback_number``,
        0 800 112 112). Await ``finished`` on the result to know how it ended.
        """
        callback = CallbackCall(self, listener, number, presented)
        await callback.start(ring_timeout_s)
        return callback

    # ----------------------------------------------------------------- ResumableTransport

    def call_data(self, call_id: str) -> dict[str, Any]:
        return {}  # the media state is in the call snapshots (``snapshots``)

    async def resume(
        self, call_id: str, state: CallState, commands: list[MediaCommand], data: dict[str, Any]
    ) -> None:
        """The registry handed this instance a call whose instance died (or stopped).

        A call still in Asterisk is carried on by whoever holds the websocket: here when it
        is this instance (adopted now if the resync has not already), otherwise left for
        the leader, whose resync claims it. A call gone from Asterisk meanwhile (the caller
        hung up while nobody held the websocket) is finished here, so that its record is
        written and nothing of it stays in the registry."""
        if call_id in self.calls:
            return
        try:
            channels, bridges = await self._asterisk_holds()
        except AriError as exc:
            log.warning("call %s taken over, Asterisk unreachable: %s", call_id, exc)
            return
        channel = channels.get(call_id)
        if channel is not None:
            if self.connected.is_set() and in_app(channel, self.app):
                await self._adopt(channel, app_args(channel), channels, bridges)
            return
        live = await self.runtime.claim(call_id, self)
        if live is not None:
            log.warning("call %s ended while no instance held its events", call_id)
            with contextlib.suppress(UnknownCallError):
                await self.runtime.handle(call_id, CallerHungUp())
            self.runtime.calls.pop(call_id, None)
            self.runtime.timers.cancel_call(call_id)
        if self.snapshots is not None:
            await self.snapshots.delete(call_id)

    def detach(self, call_id: str) -> None:
        """Another instance owns the call now: stop driving it, leave Asterisk alone."""
        call = self.calls.get(call_id)
        if call is None:
            return
        call.ended = True
        call._cancel_timer()
        self.forget(call)

    # ----------------------------------------------------------------- CallTransport

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        """Commands the runtime produced outside an event of ours (timers, listener offers)."""
        call = self.calls.get(call_id)
        if call is not None and commands:
            call.post(Commands(commands))

    # ----------------------------------------------------------------- events

    def on_message(self, raw: str | bytes) -> None:
        """One websocket message: parse, filter, route to its call's mailbox. Never blocks."""
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("ARI: unreadable event %r", raw[:200])
            return
        if not isinstance(message, dict) or message.get("application") != self.app:
            return  # the same event once per application the socket listens to
        self.received += 1
        try:
            event = parse_event(message)
        except MalformedEventError as exc:
            log.warning("ARI: malformed event dropped: %s", exc)
            return
        if event is None:
            if message.get("type") == "ApplicationReplaced":
                self._replaced = True
            return  # an event no call acts on
        key = dedup_key(event)
        if key in self._seen:
            return  # a duplicate
        self._seen[key] = None
        if len(self._seen) > DEDUP_WINDOW:
            del self._seen[next(iter(self._seen))]
        self.events += 1
        self._route(event)

    def _route(self, event: CallEvent) -> None:
        owner: CallMedia | CallbackCall | None
        if isinstance(event, PlaybackFinished):
            owner = self.playbacks.get(event.playback.id)
            if owner is not None:
                owner.post(event)
            return
        owner = self.owners.get(subject(event).id)
        if owner is not None:
            owner.post(event)
        elif isinstance(event, StasisStart):
            self._stasis_start(event)
        # Otherwise a channel that is not ours (the other half of a Local channel, ...).

    def _stasis_start(self, event: StasisStart) -> None:
        args = list(event.args)
        role = args[0] if args else ""
        if role in ("dial", "callback"):
            # A destination that answered for a call that is over (or never ours).
            self.spawn(self._hang_up_stray(event.channel.id))
            return
        self._new_call(event.channel, args)

    def _new_call(self, channel: Channel, args: list[str]) -> AriCall:
        call_id = channel.id
        if args and args[0] == "inbound" and len(args) > 1:
            raw_called = args[1]
        elif args and args[0] != "inbound":
            raw_called = args[0]
        else:
            raw_called = channel.dialplan.exten
        call = AriCall(self, call_id, called_number(raw_called), caller_number(channel))
        call.exten = raw_called or call.called
        self.calls[call_id] = call
        self.owners[call_id] = call
        call.post(Start(CallStarted(call_id, call.called, call.caller)))
        return call

    async def _hang_up_stray(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):
            await self.client.hangup(channel_id, "normal")

    # ----------------------------------------------------------------- resync

    async def _asterisk_holds(self) -> tuple[dict[str, Channel], dict[str, Bridge]]:
        """Every channel and bridge Asterisk holds now, by id."""
        channels = {c.id: c for c in map(parse_channel, await self.client.list_channels())}
        bridges = {b.id: b for b in map(parse_bridge, await self.client.list_bridges())}
        return channels, bridges

    async def reconcile(self) -> None:
        """After (re)connecting: finish or resume every call against what Asterisk holds."""
        try:
            channels, bridges = await self._asterisk_holds()
        except AriError as exc:
            log.warning("ARI resync impossible: %s", exc)
            return
        for call in list(self.calls.values()):
            call.post(Reconcile(channels, bridges))
        # Channels in our application that no call of ours holds: another instance's calls.
        for channel_id, channel in channels.items():
            if channel_id in self.owners or not in_app(channel, self.app):
                continue
            args = app_args(channel)
            if args and args[0] == "dial":
                continue  # legs: looked at once every caller is adopted
            await self._adopt(channel, args, channels, bridges)
        for channel_id, channel in channels.items():
            if channel_id in self.owners:
                continue
            first, _, half = channel_id.partition(";")
            if half and (first in self.owners or first in channels):
                # The second half of a Local leg ("<leg id>;2", as Asterisk names it): it
                # goes with its first half. Hanging it up cut a bridged conversation after
                # a reconnect (seen on Asterisk 22.10.1).
                continue
            args = app_args(channel) if in_app(channel, self.app) else []
            ours = (args and args[0] == "dial") or "-leg" in channel_id
            if ours:
                await self._hang_up_stray(channel_id)  # a leg whose call is gone
        prefix = f"{self.app}:"
        for bridge_id, bridge in bridges.items():
            name = bridge.name
            if name.startswith(prefix) and name[len(prefix) :] not in self.calls:
                with contextlib.suppress(AriError):
                    await self.client.destroy_bridge(bridge_id)

    async def _adopt(
        self,
        channel: Channel,
        args: list[str],
        channels: Mapping[str, Channel],
        bridges: Mapping[str, Bridge],
    ) -> None:
        call_id = channel.id
        snapshot = await self.snapshots.load(call_id) if self.snapshots is not None else None
        if snapshot is None:
            # Nothing known of this call: start its flow again rather than leave it silent.
            log.warning("call %s: no snapshot, its flow starts again", call_id)
            call = self._new_call(channel, args)
            return
        media = snapshot.media
        call = AriCall(self, call_id, media.called, media.caller)
        self.calls[call_id] = call
        self.owners[call_id] = call
        call.restore(media)
        if await self.runtime.claim(call_id, self) is None:
            # No shared registry (or it does not know the call): the flow state saved with
            # the media, and the queue's timers armed again.
            self.runtime.calls[call_id] = LiveCall(snapshot.state, self)
            self._rearm_flow_timers(snapshot.state)
        call.post(Reconcile(channels, bridges))

    def _rearm_flow_timers(self, state: CallState) -> None:
        """The runtime's timers died with the other instance: arm the queue's again."""
        if state.line is not Line.EMERGENCY or state.phase not in (
            Phase.QUEUED,
            Phase.QUEUE_REFRESH,
            Phase.LISTENER_DIALING,
        ):
            return
        runtime = self.runtime
        call_id = state.call_id

        def fire(name: str) -> Callable[[], Coroutine[Any, Any, None]]:
            async def run() -> None:
                await runtime.handle_and_deliver(call_id, TimerFired(name))

            return run

        dep = self.runtime.flow.config.departement(state.departement or "")
        if dep is None:
            # Withdrawn from the routing file meanwhile: the flow sends the caller down the
            # national LRO chain at its next step, which must not wait for ever on hold.
            runtime.timers.start((call_id, "max_wait"), 1.0, fire("max_wait"))
            return
        queue = dep.line_115.queue
        now: datetime = self.runtime.clock()
        elapsed = (now - state.started_at).total_seconds() if state.started_at else 0.0

        runtime.timers.start(
            (call_id, "max_wait"), max(queue.max_time_in_queue_s - elapsed, 1.0), fire("max_wait")
        )
        if state.phase is Phase.QUEUED:
            runtime.timers.start((call_id, "announce"), 1.0, fire("announce"))
