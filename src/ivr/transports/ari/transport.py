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
import copy
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import httpx

from ivr.flow.engine import CallState, Phase
from ivr.flow.keypad import Collecting, Completed, Ignored, Keypad, Restarted
from ivr.flow.vocabulary import (
    Answer,
    CallerHungUp,
    CallStarted,
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
    Line,
    PeerHungUp,
    Play,
    Prompt,
    StartRecording,
    StopRecording,
    TimerFired,
)
from ivr.runtime.runtime import CallRuntime, LiveCall, MediaCommand, UnknownCallError
from ivr.transports.ari.client import (
    AriClient,
    AriError,
    AriNotFoundError,
    AriUnavailableError,
    EventConnector,
    websocket_events,
)
from ivr.transports.ari.mapping import (
    called_number,
    caller_number,
    dial_endpoint,
    dial_outcome_from_cause,
    dial_outcome_from_status,
    media_uris,
)
from resilience import Backoff

log = logging.getLogger(__name__)

RING_GRACE_S = 2.0  # our own ring timer, in case Asterisk's originate timeout is not heard
DEDUP_WINDOW = 8192
PLAYBACK_WATCHDOG_S = 30.0
STALL_RETRY_S = 2.0
CALL_EVENTS = frozenset(
    {
        "StasisStart",
        "StasisEnd",
        "ChannelDestroyed",
        "ChannelDtmfReceived",
        "Dial",
        "PlaybackFinished",
    }
)


# --------------------------------------------------------------------------- ports


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Where the transport's own timeouts wait (digits, ring, reconnect backoff)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable: ...


class LoopScheduler:
    """The running event loop's timers."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay, callback)


class Leadership(Protocol):
    """Which instance may hold the application's websocket (ARI allows one)."""

    leading: bool  # holds it now (False while standing by)

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Return True once this instance leads; the others wait here as standbys, and
        return False as soon as ``stop`` is set.

        A leadership that can be lost may also expose ``lost: asyncio.Event``: when it is
        set, the transport drops its websocket and its calls and calls ``acquire()`` again."""
        ...


class RecordingSink(Protocol):
    """Where the transport says a recording was started (the records' ``recordings``)."""

    async def recording_started(self, call_id: str, started_at: datetime, location: str) -> None:
        """``location`` is ``ari:<recordingName>``: the stored recording on Asterisk."""
        ...


class AlwaysLeader:
    """A single instance: it always leads."""

    leading = True

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        return True


class Wait(StrEnum):
    """What a call is waiting for."""

    NOTHING = "nothing"
    STARTING = "starting"
    PLAYBACK = "playback"
    DIGITS = "digits"
    DIAL = "dial"
    HOLD = "hold"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(slots=True)
class Leg:
    """One destination rung for a ``Dial``."""

    channel_id: str
    target: DialTarget
    outcome: DialOutcome | None = None


@dataclass(slots=True)
class MediaSnapshot:
    """What the transport knows of a call, so that another instance can resume it."""

    called: str
    caller: str | None
    wait: Wait
    current: MediaCommand | None
    pending: list[MediaCommand]
    digits: str  # the answer typed so far in the menu asking
    legs: list[Leg]
    bridge_id: str | None
    peer: str | None
    recording: str | None
    typed_ahead: str = ""  # keys pressed before a menu asked for them


@dataclass(slots=True)
class CallSnapshot:
    state: CallState
    media: MediaSnapshot


class CallSnapshots(Protocol):
    """Where call snapshots live so that a second instance can take calls over."""

    async def save(self, call_id: str, snapshot: CallSnapshot) -> None: ...

    async def load(self, call_id: str) -> CallSnapshot | None: ...

    async def delete(self, call_id: str) -> None: ...


class MemorySnapshots:
    """Snapshots in memory (one process; tests share one between two transports)."""

    def __init__(self) -> None:
        self.items: dict[str, CallSnapshot] = {}

    async def save(self, call_id: str, snapshot: CallSnapshot) -> None:
        self.items[call_id] = copy.deepcopy(snapshot)

    async def load(self, call_id: str) -> CallSnapshot | None:
        item = self.items.get(call_id)
        return copy.deepcopy(item) if item is not None else None

    async def delete(self, call_id: str) -> None:
        self.items.pop(call_id, None)


Item = tuple[str, Any]


# --------------------------------------------------------------------------- one call


class AriCall:
    """One caller's channel and everything the service does with it."""

    def __init__(self, transport: AriTransport, call_id: str, called: str, caller: str | None):
        self.t = transport
        self.call_id = call_id
        self.called = called
        self.caller = caller
        self.exten = called  # the number as the dialplan saw it (for the fallback context)
        self.mailbox: deque[Item] = deque()
        self.busy = False
        self.wait = Wait.STARTING
        self.generation = 0  # bumped by every new batch: an older batch stops where it is
        self.pending: deque[MediaCommand] = deque()
        self.current: MediaCommand | None = None
        self.playback_id: str | None = None
        self.prompt_playing = False
        self.play_interruptible = False  # the playback under way stops at a key (welcome)
        self.keys = Keypad()
        self.timer: Cancellable | None = None
        self.timer_token = 0
        self.legs: dict[str, Leg] = {}
        self.winner: str | None = None
        self.bridge_id: str | None = None
        self.peer: str | None = None
        self.recording: str | None = None
        self.moh = False
        self.ringing = False
        self.caller_gone = False
        self.stalled = False  # Asterisk unreachable: the batch waits, it does not skip
        self.ended = False
        self.seq = 0

    # ----------------------------------------------------------------- mailbox

    def post(self, item: Item) -> None:
        self.mailbox.append(item)
        if not self.busy:
            self.busy = True
            self.t.spawn(self._drain())

    async def _drain(self) -> None:
        try:
            while self.mailbox:
                kind, data = self.mailbox.popleft()
                if self.ended and kind != "forget":
                    continue
                try:
                    await self._process(kind, data)
                except Exception:
                    log.exception("call %s: %s failed", self.call_id, kind)
                    await self._fail_safe()
                if self.t.snapshots is not None and not self.ended:
                    await self._save_snapshot()
        finally:
            self.busy = False

    async def _process(self, kind: str, data: Any) -> None:
        if kind == "event":
            await self._on_event(data)
        elif kind == "commands":
            await self._delivered(data)
        elif kind == "timer":
            name, token = data
            if token == self.timer_token:
                self.timer = None
                await self._on_timer(name)
        elif kind == "start":
            await self._start(data)
        elif kind == "reconcile":
            channels, bridges = data
            await self._reconcile(channels, bridges)

    def _new_id(self, kind: str) -> str:
        self.seq += 1
        return f"{self.call_id}-{kind}{self.seq}-{self.t.token}"

    # ----------------------------------------------------------------- feeding the flow

    async def _start(self, event: CallStarted) -> None:
        media = await self.t.runtime.start_call(event, self.t)
        self.wait = Wait.NOTHING
        if media:
            await self.run_batch(media)

    async def feed(self, event: Event) -> None:
        try:
            media = await self.t.runtime.handle(self.call_id, event)
        except UnknownCallError:
            await self.teardown()
            return
        if media:
            await self.run_batch(media)

    async def _caller_left(self) -> None:
        if self.caller_gone and self.ended:
            return
        self.caller_gone = True
        await self.feed(CallerHungUp())

    async def _fail_safe(self) -> None:
        """A bug in handling this call: hand the caller back to the dialplan's own routing."""
        if self.ended:
            return
        try:
            await self.t.client.request(
                "POST",
                f"/channels/{self.call_id}/continue",
                {"context": self.t.fallback_context, "extension": self.exten, "priority": 1},
            )
        except AriError:
            log.warning("call %s: could not hand the caller back to the dialplan", self.call_id)
        self.caller_gone = True  # it left our application either way
        await self.teardown()

    # ----------------------------------------------------------------- commands

    async def _delivered(self, commands: list[MediaCommand]) -> None:
        """A batch from a timer or a listener offer: the prompts under way are heard first.

        The flow moved on while the call was still saying what the previous batch asked
        for (the recording notice, the queue position): those prompts are kept, the waiting
        command that would have followed them gives way to the new batch.
        """
        if self.wait is Wait.PLAYBACK:
            self.pending = deque([c for c in self.pending if isinstance(c, Play)] + list(commands))
            return
        await self.run_batch(commands)

    async def run_batch(self, commands: list[MediaCommand]) -> None:
        """A new batch from the flow supersedes whatever the call was doing."""
        if self.ended:
            return
        self.generation += 1
        await self._interrupt()
        self.pending = deque(commands)
        await self._advance()

    async def _interrupt(self) -> None:
        self._cancel_timer()
        if self.playback_id is not None:
            playback, self.playback_id = self.playback_id, None
            self.t.playbacks.pop(playback, None)
            await self._quietly(self.t.client.stop_playback(playback))
        self.prompt_playing = False
        self.play_interruptible = False
        self.keys.close()  # what was typed ahead stays for the next menu
        if self.legs and self.winner is None:
            await self._abandon_legs(DialOutcome.NO_ANSWER)
        self.current = None

    async def _advance(self) -> None:
        generation = self.generation
        while self.pending and not self.ended and generation == self.generation:
            command = self.pending.popleft()
            self.current = command
            try:
                if await self._execute(command, generation):
                    return
            except AriUnavailableError as exc:
                # Nothing is skipped while Asterisk cannot be reached: the command waits
                # for it (retried shortly, and on resync after the reconnect).
                log.warning("call %s: Asterisk unreachable (%s), waiting", self.call_id, exc)
                self.pending.appendleft(command)
                self.current = None
                self.wait = Wait.NOTHING
                self.stalled = True
                self._arm_timer("retry", STALL_RETRY_S)
                return
            self.current = None

    async def _execute(self, command: MediaCommand, generation: int) -> bool:
        """Run one command; True when the call now waits for an event."""
        match command:
            case Answer():
                await self._on_caller(self.t.client.answer(self.call_id))
            case Play(prompt, interruptible):
                # Prompts in a row go out as one playback (ARI plays a list of media).
                while (
                    self.pending
                    and isinstance(self.pending[0], Play)
                    and self.pending[0].interruptible == interruptible
                ):
                    following = self.pending.popleft()
                    assert isinstance(following, Play)
                    prompt = _joined(prompt, following.prompt)
                if await self._play(prompt):
                    self.wait = Wait.PLAYBACK
                    self.play_interruptible = interruptible
                    return True
            case Gather(prompt, max_digits, timeout_s, inter_digit_s):
                self.wait = Wait.DIGITS
                answer = self.keys.open(max_digits)
                if isinstance(answer, Completed):
                    # Typed ahead in full: the menu is not even heard.
                    await self._end_gather(answer.digits)
                elif isinstance(answer, Collecting):
                    self._arm_timer("digits", inter_digit_s)
                elif await self._play(prompt):
                    self.prompt_playing = True
                elif generation == self.generation and not self.ended:
                    self._arm_timer("digits", timeout_s)
                return True
            case Dial():
                self.keys.forget_ahead()
                await self._dial(command)
                return True
            case Hold():
                self.keys.forget_ahead()
                self.wait = Wait.HOLD
                await self._quiet(keep_moh=True)
                if await self._on_caller(self.t.client.start_moh(self.call_id, self.t.moh_class)):
                    self.moh = True
                return True
            case StartRecording():
                await self._start_recording()
            case StopRecording():
                await self._stop_recording()
            case Hangup():
                await self.teardown(hang_up_caller=True)
                return True
        return False

    async def _on_caller(self, request: Awaitable[None]) -> bool:
        """A request on the caller's channel; a 404 means the caller just left."""
        try:
            await request
            return True
        except AriNotFoundError:
            await self._caller_left()
            return False
        except AriUnavailableError:
            raise
        except AriError as exc:
            log.warning("call %s: %s", self.call_id, exc)
            return False

    @staticmethod
    async def _quietly(request: Awaitable[Any]) -> None:
        """A clean-up request whose failure changes nothing (the thing is already gone)."""
        try:
            await request
        except AriError as exc:
            if not isinstance(exc, AriNotFoundError):
                log.info("clean-up request failed: %s", exc)

    async def _quiet(self, keep_moh: bool = False) -> None:
        if self.moh and not keep_moh:
            self.moh = False
            await self._quietly(self.t.client.stop_moh(self.call_id))
        if self.ringing:
            self.ringing = False
            await self._quietly(self.t.client.ring_stop(self.call_id))

    async def _play(self, prompt: Prompt) -> bool:
        """Start a prompt; False when it could not start (the call goes on without it)."""
        generation = self.generation
        # Why no DELETE /moh first: a file playback deactivates the channel's generator,
        # music on hold included (Asterisk's ast_openstream_full); Hold starts it again.
        self.moh = False
        await self._quiet()
        if generation != self.generation or self.ended:
            return False
        playback = self._new_id("p")
        self.playback_id = playback
        self.t.playbacks[playback] = self
        try:
            await self.t.client.play(
                self.call_id, playback, media_uris(prompt, self.t.sound_dir), self.t.language
            )
            self._arm_timer("playback", _longest_playback_s(prompt))
            return True
        except AriNotFoundError:
            self._drop_playback(playback)
            await self._caller_left()
        except AriUnavailableError:
            self._drop_playback(playback)
            raise
        except AriError as exc:
            # Not playable (409/412/5xx): a PlaybackFinished may still come for this id; it
            # will no longer match and is ignored.
            log.warning("call %s: prompt %s not played: %s", self.call_id, prompt.id, exc)
            self._drop_playback(playback)
        return False

    def _drop_playback(self, playback: str) -> None:
        self.t.playbacks.pop(playback, None)
        if self.playback_id == playback:
            self.playback_id = None

    # ----------------------------------------------------------------- timers

    def _arm_timer(self, name: str, seconds: float) -> None:
        self._cancel_timer()
        self.timer_token += 1
        token = self.timer_token
        self.timer = self.t.scheduler.call_later(
            seconds, lambda: self.post(("timer", (name, token)))
        )

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.timer_token += 1

    async def _on_timer(self, name: str) -> None:
        if name == "retry":
            if self.stalled:
                self.stalled = False
                await self._advance()
        elif name == "playback" and self.playback_id is not None:
            # Far longer than the prompt: was its PlaybackFinished lost?
            playback = self.playback_id
            try:
                await self.t.client.get_playback(playback)
                self._arm_timer("playback", PLAYBACK_WATCHDOG_S)
            except AriNotFoundError:
                await self._playback_finished(playback)
            except AriError:
                self._arm_timer("playback", PLAYBACK_WATCHDOG_S)
        elif name == "digits" and self.wait is Wait.DIGITS:
            await self._end_gather(self.keys.timed_out().digits)
        elif name == "ring" and self.wait is Wait.DIAL:
            await self._abandon_legs(DialOutcome.NO_ANSWER)
            await self._dial_done()

    # ----------------------------------------------------------------- events

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "PlaybackFinished":
            playback = event["playback"]
            if playback.get("state") == "failed":
                # Asterisk answers 201 even for a sound file it does not have, then ends
                # the playback at once as "failed": the caller heard nothing of it.
                log.warning(
                    "call %s: %s not played (missing sound file?)",
                    self.call_id,
                    playback.get("media_uri"),
                )
            await self._playback_finished(playback["id"])
            return
        if kind == "Dial":
            channel_id = event["peer"]["id"]
            if channel_id in self.legs:
                outcome = dial_outcome_from_status(event.get("dialstatus", ""))
                if outcome is not None:
                    await self._leg_ended(channel_id, outcome)
            return
        channel_id = event["channel"]["id"]
        if channel_id == self.call_id:
            if kind == "ChannelDtmfReceived":
                await self._digit(event["digit"])
            elif kind in ("StasisEnd", "ChannelDestroyed"):
                await self._caller_left()
            return
        if kind == "StasisStart":
            await self._leg_answered(channel_id)
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            if channel_id == self.peer:
                self.peer = None
                self.t.owners.pop(channel_id, None)
                await self.feed(PeerHungUp())
            elif channel_id in self.legs and kind == "ChannelDestroyed":
                await self._leg_ended(channel_id, dial_outcome_from_cause(event.get("cause")))

    async def _playback_finished(self, playback: str) -> None:
        if playback != self.playback_id:
            return  # stopped by us, failed to start, or a duplicate: nothing waits on it
        self._drop_playback(playback)
        self._cancel_timer()
        if self.wait is Wait.DIGITS and self.prompt_playing:
            self.prompt_playing = False
            command = self.current
            if isinstance(command, Gather):
                started = bool(self.keys.collected)
                self._arm_timer(
                    "digits", command.inter_digit_timeout_s if started else command.timeout_s
                )
            return
        if self.wait is Wait.PLAYBACK:
            self.wait = Wait.NOTHING
            self.current = None
            self.play_interruptible = False
            await self._advance()

    async def _digit(self, digit: str) -> None:
        if self.wait is Wait.HOLD or (
            self.wait is Wait.PLAYBACK and any(isinstance(c, Hold) for c in self.pending)
        ):
            # On hold, or hearing the announcements that lead to it: the flow decides.
            await self.feed(DigitsReceived(digit))
            return
        command = self.current
        if self.wait is Wait.DIGITS and isinstance(command, Gather):
            await self._menu_key(command, digit)
        elif self.wait in (Wait.STARTING, Wait.NOTHING, Wait.PLAYBACK):
            # Typed ahead: kept for the next menu. The welcome stops at the first key when
            # a menu follows it, as Background() does; other prompts play to their end.
            kept = self.keys.press(digit)
            if (
                not isinstance(kept, Ignored)
                and self.wait is Wait.PLAYBACK
                and self.play_interruptible
                and self._menu_ahead()
            ):
                await self._skip_to_menu()
        # Ringing, connected, ended: keys are not for the menus (a connected call's DTMF).

    async def _menu_key(self, command: Gather, digit: str) -> None:
        answer = self.keys.press(digit)
        if isinstance(answer, Ignored):
            log.info("call %s: key %r ignored", self.call_id, digit)
            return
        await self._stop_prompt()
        if isinstance(answer, Completed):
            await self._end_gather(answer.digits)
        elif isinstance(answer, Restarted):
            # "*": the answer starts again, and the caller hears the question again.
            self._cancel_timer()
            if await self._play(command.prompt):
                self.prompt_playing = True
            elif not self.ended:
                self._arm_timer("digits", command.timeout_s)
        else:
            self._arm_timer("digits", command.inter_digit_timeout_s)

    def _menu_ahead(self) -> bool:
        """A menu comes next in this batch (before any ringing, hold or hang-up)."""
        for command in self.pending:
            if isinstance(command, Gather):
                return True
            if isinstance(command, Dial | Hold | Hangup):
                return False
        return False

    async def _skip_to_menu(self) -> None:
        """Stop the interruptible prompt under way and go on to the menu that follows."""
        await self._stop_prompt()
        self._cancel_timer()
        while self.pending and isinstance(self.pending[0], Play) and self.pending[0].interruptible:
            self.pending.popleft()
        self.wait = Wait.NOTHING
        self.current = None
        self.play_interruptible = False
        await self._advance()

    async def _stop_prompt(self) -> None:
        if self.playback_id is not None:
            playback = self.playback_id
            self._drop_playback(playback)
            await self._quietly(self.t.client.stop_playback(playback))
        self.prompt_playing = False

    async def _end_gather(self, digits: str) -> None:
        self.keys.close()
        self._cancel_timer()
        await self._stop_prompt()
        self.wait = Wait.NOTHING
        self.current = None
        await self.feed(DigitsReceived(digits) if digits else InputTimedOut())

    # ----------------------------------------------------------------- dialling

    async def _dial(self, command: Dial) -> None:
        generation = self.generation
        await self._quiet()
        self.wait = Wait.DIAL
        self.winner = None
        self.legs = {}
        if not await self._on_caller(self.t.client.ring(self.call_id)):
            if self.caller_gone or generation != self.generation:
                return
        else:
            self.ringing = True
        for target in command.targets:
            leg = Leg(self._new_id("leg"), target)
            self.legs[leg.channel_id] = leg
            self.t.owners[leg.channel_id] = self
        for leg in list(self.legs.values()):
            if generation != self.generation or self.ended:
                return
            try:
                await self.t.client.originate(
                    channel_id=leg.channel_id,
                    endpoint=dial_endpoint(self.t.dial_template, leg.target.number),
                    app=self.t.app,
                    app_args=["dial", self.call_id],
                    caller_id=command.caller_id,
                    timeout_s=command.ring_timeout_s,
                )
            except AriUnavailableError:
                await self._abandon_legs(DialOutcome.NO_ANSWER)
                self.legs = {}
                raise
            except AriError as exc:
                log.warning("call %s: %s not dialled: %s", self.call_id, leg.target.number, exc)
                if leg.outcome is None:
                    leg.outcome = DialOutcome.FAILED
                self.t.owners.pop(leg.channel_id, None)
        if generation != self.generation or self.ended or self.wait is not Wait.DIAL:
            return
        if self.winner is None:
            self._arm_timer("ring", command.ring_timeout_s + RING_GRACE_S)
        await self._dial_done()

    async def _leg_answered(self, channel_id: str) -> None:
        leg = self.legs.get(channel_id)
        if (
            leg is None
            or leg.outcome is not None
            or self.winner is not None
            or self.wait is not Wait.DIAL
        ):
            # Answered after its ring timeout, after another destination, or after the
            # caller left: that person must not be left on a dead line.
            self.t.owners.pop(channel_id, None)
            await self._quietly(self.t.client.hangup(channel_id, "answered_elsewhere"))
            return
        self.winner = channel_id
        leg.outcome = DialOutcome.ANSWERED
        self._cancel_timer()
        await self._abandon_legs(DialOutcome.NO_ANSWER, reason="answered_elsewhere")
        await self._quiet()
        bridge = self.bridge_id or f"{self.call_id}-bridge"
        try:
            if self.bridge_id is None:
                await self.t.client.create_bridge(bridge, f"{self.t.app}:{self.call_id}")
                self.bridge_id = bridge
            await self.t.client.add_channels(bridge, [self.call_id, channel_id])
        except AriError as exc:
            log.info("call %s: bridge failed (%s): caller gone?", self.call_id, exc)
            self.peer = channel_id
            await self._caller_left()
            return
        self.peer = channel_id
        self.wait = Wait.CONNECTED
        await self._report_dial()

    async def _leg_ended(self, channel_id: str, outcome: DialOutcome) -> None:
        leg = self.legs.get(channel_id)
        if leg is None or leg.outcome is not None:
            return
        leg.outcome = outcome
        self.t.owners.pop(channel_id, None)
        await self._dial_done()

    async def _abandon_legs(self, outcome: DialOutcome, reason: str = "no_answer") -> None:
        for leg in list(self.legs.values()):
            if leg.outcome is None:
                leg.outcome = outcome
                self.t.owners.pop(leg.channel_id, None)
                await self._quietly(self.t.client.hangup(leg.channel_id, reason))

    async def _dial_done(self) -> None:
        if self.wait is not Wait.DIAL or self.winner is not None:
            return
        if any(leg.outcome is None for leg in self.legs.values()):
            return
        self._cancel_timer()
        await self._quiet()
        self.wait = Wait.NOTHING
        await self._report_dial()

    async def _report_dial(self) -> None:
        results = tuple(
            (leg.target.number, leg.outcome or DialOutcome.NO_ANSWER) for leg in self.legs.values()
        )
        self.legs = {}
        self.winner = None
        self.current = None
        await self.feed(DialResult(results))

    # ----------------------------------------------------------------- recording

    async def _start_recording(self) -> None:
        name = self._new_id("rec")
        try:
            if self.bridge_id is not None:
                await self.t.client.record_bridge(self.bridge_id, name)
            else:
                await self.t.client.record_channel(self.call_id, name)
            self.recording = name
        except AriError as exc:
            log.warning("call %s: recording not started: %s", self.call_id, exc)
            return
        # Written when it starts, so that an instance dying mid-call loses no recording.
        self.t.spawn(self.t.note_recording(self.call_id, self.t.runtime.clock(), name))

    async def _stop_recording(self) -> None:
        if self.recording is not None:
            name, self.recording = self.recording, None
            # Stop, never DELETE: DELETE on a live recording discards it.
            await self._quietly(self.t.client.stop_recording(name))

    # ----------------------------------------------------------------- the end

    async def teardown(self, hang_up_caller: bool = False) -> None:
        """Release everything the call holds in Asterisk and forget it (idempotent)."""
        if self.ended:
            return
        self.ended = True
        self.wait = Wait.ENDED
        self.generation += 1
        self._cancel_timer()
        if self.playback_id is not None:
            self._drop_playback(self.playback_id)
        await self._stop_recording()
        for leg in list(self.legs.values()):
            if leg.outcome is None:
                self.t.owners.pop(leg.channel_id, None)
                await self._quietly(self.t.client.hangup(leg.channel_id, "normal"))
        self.legs = {}
        if self.peer is not None:
            peer, self.peer = self.peer, None
            self.t.owners.pop(peer, None)
            await self._quietly(self.t.client.hangup(peer, "normal"))
        if self.bridge_id is not None:
            bridge, self.bridge_id = self.bridge_id, None
            await self._quietly(self.t.client.destroy_bridge(bridge))
        if hang_up_caller and not self.caller_gone:
            await self._quietly(self.t.client.hangup(self.call_id, "normal"))
        self.t.forget(self)
        if self.t.snapshots is not None:
            await self.t.snapshots.delete(self.call_id)

    # ----------------------------------------------------------------- resync

    async def _reconcile(self, channels: Mapping[str, Any], bridges: Mapping[str, Any]) -> None:
        """Events were lost (websocket down, new instance): bring the call back in line."""
        if self.call_id not in channels:
            await self._caller_left()
            return
        if self.peer is not None and self.peer not in channels:
            self.peer = None
            await self.feed(PeerHungUp())
            return
        if self.stalled:
            self.stalled = False
            await self._advance()
            return
        if self.wait is Wait.CONNECTED and self.peer is not None:
            if self.bridge_id is None or self.bridge_id not in bridges:
                bridge = self.bridge_id or f"{self.call_id}-bridge"
                try:
                    if bridge not in bridges:
                        await self.t.client.create_bridge(bridge, f"{self.t.app}:{self.call_id}")
                    self.bridge_id = bridge
                    await self.t.client.add_channels(bridge, [self.call_id, self.peer])
                except AriError as exc:
                    log.warning("call %s: bridge not restored: %s", self.call_id, exc)
            return
        if self.wait is Wait.DIAL:
            for channel_id, leg in list(self.legs.items()):
                if leg.outcome is not None:
                    continue
                channel = channels.get(channel_id)
                if channel is None:
                    leg.outcome = DialOutcome.NO_ANSWER  # it ended while we were not listening
                    self.t.owners.pop(channel_id, None)
                elif channel.get("state") == "Up" and _in_app(channel, self.t.app):
                    await self._leg_answered(channel_id)
                    if self.wait is not Wait.DIAL:
                        return
            await self._dial_done()
            if self.wait is Wait.DIAL and self.timer is None:
                ring = self.current.ring_timeout_s if isinstance(self.current, Dial) else 30
                self._arm_timer("ring", ring + RING_GRACE_S)
            return
        if self.playback_id is not None:
            try:
                await self.t.client.get_playback(self.playback_id)
            except AriNotFoundError:
                await self._playback_finished(self.playback_id)
            except AriError as exc:
                log.info("call %s: playback state unknown: %s", self.call_id, exc)
            return
        if self.wait is Wait.HOLD:
            if await self._on_caller(self.t.client.start_moh(self.call_id, self.t.moh_class)):
                self.moh = True
            return
        if self.wait is Wait.DIGITS and self.timer is None and isinstance(self.current, Gather):
            self._arm_timer("digits", self.current.timeout_s)
            return
        if self.wait is Wait.NOTHING:
            # The command in progress was lost with the previous instance (or a restart):
            # run it again, then what followed it.
            if self.current is not None:
                self.pending.appendleft(self.current)
                self.current = None
            if self.pending:
                await self._advance()

    def snapshot(self, state: CallState) -> CallSnapshot:
        return CallSnapshot(
            state=state,
            media=MediaSnapshot(
                called=self.called,
                caller=self.caller,
                wait=self.wait,
                current=self.current,
                pending=list(self.pending),
                digits=self.keys.collected,
                legs=list(self.legs.values()),
                bridge_id=self.bridge_id,
                peer=self.peer,
                recording=self.recording,
                typed_ahead=self.keys.ahead,
            ),
        )

    async def _save_snapshot(self) -> None:
        state = self.t.runtime.state(self.call_id)
        if state is not None and self.t.snapshots is not None:
            await self.t.snapshots.save(self.call_id, self.snapshot(state))

    def restore(self, media: MediaSnapshot) -> None:
        self.wait = media.wait
        self.current = media.current
        self.pending = deque(media.pending)
        # The answer begun before the takeover counts, ahead of what was typed after it.
        self.keys = Keypad(ahead=media.digits + media.typed_ahead)
        self.legs = {leg.channel_id: leg for leg in media.legs}
        for leg in media.legs:
            if leg.outcome is None:
                self.t.owners[leg.channel_id] = self
        self.bridge_id = media.bridge_id
        self.peer = media.peer
        if media.peer is not None:
            self.t.owners[media.peer] = self
        self.recording = media.recording
        if self.wait in (Wait.PLAYBACK, Wait.DIGITS) and self.current is not None:
            # The prompt in progress restarts from its beginning.
            self.pending.appendleft(self.current)
            self.current = None
            self.wait = Wait.NOTHING
        elif self.wait is Wait.STARTING:
            self.wait = Wait.NOTHING


def _joined(first: Prompt, second: Prompt) -> Prompt:
    return Prompt(
        f"{first.id}+{second.id}", f"{first.text} {second.text}", first.segments + second.segments
    )


def _longest_playback_s(prompt: Prompt) -> float:
    """Far more than a prompt lasts (French speech: about 15 characters a second)."""
    return PLAYBACK_WATCHDOG_S + len(prompt.text) / 5


def _in_app(channel: Mapping[str, Any], app: str) -> bool:
    dialplan = channel.get("dialplan") or {}
    return bool(
        dialplan.get("app_name") == "Stasis"
        and str(dialplan.get("app_data", "")).split(",")[0] == app
    )


def _app_args(channel: Mapping[str, Any]) -> list[str]:
    return str((channel.get("dialplan") or {}).get("app_data", "")).split(",")[1:]


# --------------------------------------------------------------------------- call-backs


class CallbackResult(StrEnum):
    CONNECTED = "connected"
    LISTENER_UNREACHABLE = "listener-unreachable"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"


def _callback_result(outcome: DialOutcome) -> CallbackResult:
    if outcome is DialOutcome.BUSY:
        return CallbackResult.BUSY
    if outcome is DialOutcome.NO_ANSWER:
        return CallbackResult.NO_ANSWER
    return CallbackResult.FAILED


class CallbackCall:
    """A listener calls a person back: the listener's phone first, then the person's,
    presenting the emergency services' call-back number (0 800 112 112), then a bridge."""

    def __init__(self, transport: AriTransport, listener: str, number: str, presented: str) -> None:
        self.t = transport
        self.id = f"cb{uuid.uuid4().hex[:10]}"
        self.listener = listener
        self.number = number
        self.presented = presented
        self.listener_leg = f"{self.id}-leg1-{transport.token}"
        self.person_leg = f"{self.id}-leg2-{transport.token}"
        self.bridge_id: str | None = None
        self.up: set[str] = set()
        self.result: CallbackResult | None = None
        self.finished = asyncio.Event()
        self.mailbox: deque[Item] = deque()
        self.busy = False

    def post(self, item: Item) -> None:
        self.mailbox.append(item)
        if not self.busy:
            self.busy = True
            self.t.spawn(self._drain())

    async def _drain(self) -> None:
        try:
            while self.mailbox:
                _, event = self.mailbox.popleft()
                if not self.finished.is_set():
                    try:
                        await self._on_event(event)
                    except Exception:
                        log.exception("call-back %s failed", self.id)
                        await self._end(CallbackResult.FAILED)
        finally:
            self.busy = False

    async def start(self, ring_timeout_s: int) -> None:
        self.ring_timeout_s = ring_timeout_s
        self.t.owners[self.listener_leg] = self
        try:
            await self.t.client.originate(
                channel_id=self.listener_leg,
                endpoint=dial_endpoint(self.t.dial_template, self.listener),
                app=self.t.app,
                app_args=["callback", self.id],
                caller_id=self.number,  # the listener sees whom they call back
                timeout_s=ring_timeout_s,
            )
        except AriError as exc:
            log.warning("call-back %s: listener not rung: %s", self.id, exc)
            await self._end(CallbackResult.LISTENER_UNREACHABLE)

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        channel_id = event["peer" if kind == "Dial" else "channel"]["id"]
        if kind == "Dial":
            # With Local legs (Asterisk 22.10.1) busy and congestion come only as a Dial
            # status: the first half then ends with cause 0, which reads as no answer.
            outcome = dial_outcome_from_status(str(event.get("dialstatus", "")))
            if outcome is None:
                return
            if channel_id == self.listener_leg:
                await self._end(CallbackResult.LISTENER_UNREACHABLE)
            elif channel_id == self.person_leg:
                await self._end(_callback_result(outcome))
            return
        if kind == "StasisStart":
            self.up.add(channel_id)
            if channel_id == self.listener_leg:
                # The listener has picked up: music while the person's phone rings, rather
                # than silence.
                await AriCall._quietly(self.t.client.start_moh(self.listener_leg, self.t.moh_class))
                self.t.owners[self.person_leg] = self
                try:
                    await self.t.client.originate(
                        channel_id=self.person_leg,
                        endpoint=dial_endpoint(self.t.dial_template, self.number),
                        app=self.t.app,
                        app_args=["callback", self.id],
                        caller_id=self.presented,
                        timeout_s=self.ring_timeout_s,
                    )
                except AriError as exc:
                    log.warning("call-back %s: person not rung: %s", self.id, exc)
                    await self._end(CallbackResult.FAILED)
            elif channel_id == self.person_leg:
                await AriCall._quietly(self.t.client.stop_moh(self.listener_leg))
                self.bridge_id = f"{self.id}-bridge"
                try:
                    await self.t.client.create_bridge(self.bridge_id, f"{self.t.app}:{self.id}")
                    await self.t.client.add_channels(
                        self.bridge_id, [self.listener_leg, self.person_leg]
                    )
                    self.result = CallbackResult.CONNECTED
                except AriError:
                    await self._end(CallbackResult.FAILED)
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            self.up.discard(channel_id)
            self.t.owners.pop(channel_id, None)
            if self.result is CallbackResult.CONNECTED:
                await self._end(CallbackResult.CONNECTED)
            elif channel_id == self.listener_leg:
                await self._end(CallbackResult.LISTENER_UNREACHABLE)
            elif kind == "ChannelDestroyed":
                await self._end(_callback_result(dial_outcome_from_cause(event.get("cause"))))

    async def _end(self, result: CallbackResult) -> None:
        if self.finished.is_set():
            return
        self.result = result
        for leg in (self.listener_leg, self.person_leg):
            if self.t.owners.pop(leg, None) is not None or leg in self.up:
                await AriCall._quietly(self.t.client.hangup(leg, "normal"))
        if self.bridge_id is not None:
            await AriCall._quietly(self.t.client.destroy_bridge(self.bridge_id))
        self.finished.set()


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
        self.owners: dict[str, AriCall | CallbackCall] = {}  # channel id -> its call
        self.playbacks: dict[str, AriCall] = {}
        self.connected = asyncio.Event()
        self.connections = 0
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
            channels = {str(c["id"]): c for c in await self.client.list_channels()}
            bridges = {str(b["id"]): b for b in await self.client.list_bridges()}
        except AriError as exc:
            log.warning("call %s taken over, Asterisk unreachable: %s", call_id, exc)
            return
        channel = channels.get(call_id)
        if channel is not None:
            if self.connected.is_set() and _in_app(channel, self.app):
                await self._adopt(channel, _app_args(channel), channels, bridges)
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
            call.post(("commands", commands))

    # ----------------------------------------------------------------- events

    def on_message(self, raw: str | bytes) -> None:
        """One websocket message: parse, filter, route to its call's mailbox. Never blocks."""
        import json

        try:
            event = json.loads(raw)
        except ValueError:
            log.warning("ARI: unreadable event %r", raw[:200])
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if event.get("application") != self.app:
            return  # the same event once per application the socket listens to
        self.received += 1
        if kind == "ApplicationReplaced":
            self._replaced = True
            return
        if kind not in CALL_EVENTS:
            return
        obj = event.get("channel") or event.get("playback") or event.get("peer") or {}
        key = (
            kind,
            event.get("timestamp"),
            obj.get("id"),
            obj.get("state"),
            event.get("digit"),
            event.get("dialstatus"),
        )
        if key in self._seen:
            return  # a duplicate
        self._seen[key] = None
        if len(self._seen) > DEDUP_WINDOW:
            del self._seen[next(iter(self._seen))]
        self.events += 1
        self._route(kind, event, obj)

    def _route(self, kind: str, event: dict[str, Any], obj: dict[str, Any]) -> None:
        if kind == "PlaybackFinished":
            call = self.playbacks.get(obj.get("id", ""))
            if call is not None:
                call.post(("event", event))
            return
        channel_id = obj.get("id", "")
        owner = self.owners.get(channel_id)
        if owner is not None:
            owner.post(("event", event))
            return
        if kind != "StasisStart":
            return  # a channel that is not ours (the other half of a Local channel, ...)
        args = [str(a) for a in event.get("args") or []]
        role = args[0] if args else ""
        if role in ("dial", "callback"):
            # A destination that answered for a call that is over (or never ours).
            self.spawn(self._hang_up_stray(channel_id))
            return
        self._new_call(event["channel"], args)

    def _new_call(self, channel: dict[str, Any], args: list[str]) -> AriCall:
        call_id = str(channel["id"])
        if args and args[0] == "inbound" and len(args) > 1:
            raw_called = args[1]
        elif args and args[0] != "inbound":
            raw_called = args[0]
        else:
            raw_called = str((channel.get("dialplan") or {}).get("exten", ""))
        call = AriCall(self, call_id, called_number(raw_called), caller_number(channel))
        call.exten = raw_called or call.called
        self.calls[call_id] = call
        self.owners[call_id] = call
        call.post(("start", CallStarted(call_id, call.called, call.caller)))
        return call

    async def _hang_up_stray(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):
            await self.client.hangup(channel_id, "normal")

    # ----------------------------------------------------------------- resync

    async def reconcile(self) -> None:
        """After (re)connecting: finish or resume every call against what Asterisk holds."""
        try:
            channels = {str(c["id"]): c for c in await self.client.list_channels()}
            bridges = {str(b["id"]): b for b in await self.client.list_bridges()}
        except AriError as exc:
            log.warning("ARI resync impossible: %s", exc)
            return
        for call in list(self.calls.values()):
            call.post(("reconcile", (channels, bridges)))
        # Channels in our application that no call of ours holds: another instance's calls.
        for channel_id, channel in channels.items():
            if channel_id in self.owners or not _in_app(channel, self.app):
                continue
            args = _app_args(channel)
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
            args = _app_args(channel) if _in_app(channel, self.app) else []
            ours = (args and args[0] == "dial") or "-leg" in channel_id
            if ours:
                await self._hang_up_stray(channel_id)  # a leg whose call is gone
        prefix = f"{self.app}:"
        for bridge_id, bridge in bridges.items():
            name = str(bridge.get("name", ""))
            if name.startswith(prefix) and name[len(prefix) :] not in self.calls:
                with contextlib.suppress(AriError):
                    await self.client.destroy_bridge(bridge_id)

    async def _adopt(
        self,
        channel: dict[str, Any],
        args: list[str],
        channels: Mapping[str, Any],
        bridges: Mapping[str, Any],
    ) -> None:
        call_id = str(channel["id"])
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
        call.post(("reconcile", (channels, bridges)))

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
