"""One call on Asterisk: its mailbox, media, menus, timers, dialling and bridge (``AriCall``).

Events of one call are handled in order by its own task; calls run in parallel and share
no lock. Every identifier the call chooses embeds the call id.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from ivr.flow.engine import CallState
from ivr.flow.keypad import Collecting, Completed, Ignored, Keypad, Restarted
from ivr.flow.vocabulary import (
    Answer,
    CallerHungUp,
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Event,
    Gather,
    Hangup,
    Hold,
    InputTimedOut,
    PeerHungUp,
    Play,
    Prompt,
    StartRecording,
    StopRecording,
)
from ivr.runtime.runtime import MediaCommand, UnknownCallError
from ivr.transports.ari.client import (
    AriError,
    AriNotFoundError,
    AriUnavailableError,
    quietly,
)
from ivr.transports.ari.mapping import (
    PLAYBACK_WATCHDOG_S,
    dial_endpoint,
    dial_outcome_from_cause,
    dial_outcome_from_status,
    in_app,
    joined_prompt,
    longest_playback_s,
    media_uris,
)
from ivr.transports.ari.ports import CallSnapshot, Cancellable, Leg, MediaSnapshot, Wait
from routing.phone import mask_number

if TYPE_CHECKING:
    from ivr.transports.ari.transport import AriTransport


log = logging.getLogger(__name__)

RING_GRACE_S = 2.0  # our own ring timer, in case Asterisk's originate timeout is not heard
STALL_RETRY_S = 2.0


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
        self.posted: deque[float] = deque()  # when each mailbox item arrived (monotonic)
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
        self.posted.append(time.monotonic())
        if not self.busy:
            self.busy = True
            self.t.spawn(self._drain())

    async def _drain(self) -> None:
        try:
            while self.mailbox:
                kind, data = self.mailbox.popleft()
                posted = self.posted.popleft()
                if self.ended and kind != "forget":
                    continue
                try:
                    await self._process(kind, data)
                except Exception:
                    log.exception("call %s: %s failed", self.call_id, kind)
                    await self._fail_safe()
                if kind == "event" and self.t.on_event_handled is not None:
                    self.t.on_event_handled(time.monotonic() - posted)
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
            await quietly(self.t.client.stop_playback(playback))
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
                    prompt = joined_prompt(prompt, following.prompt)
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

    async def _quiet(self, keep_moh: bool = False) -> None:
        if self.moh and not keep_moh:
            self.moh = False
            await quietly(self.t.client.stop_moh(self.call_id))
        if self.ringing:
            self.ringing = False
            await quietly(self.t.client.ring_stop(self.call_id))

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
            self._arm_timer("playback", longest_playback_s(prompt))
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
            await quietly(self.t.client.stop_playback(playback))
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
                log.warning(
                    "call %s: %s not dialled: %s", self.call_id, mask_number(leg.target.number), exc
                )
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
            await quietly(self.t.client.hangup(channel_id, "answered_elsewhere"))
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
                await quietly(self.t.client.hangup(leg.channel_id, reason))

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
            await quietly(self.t.client.stop_recording(name))

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
                await quietly(self.t.client.hangup(leg.channel_id, "normal"))
        self.legs = {}
        if self.peer is not None:
            peer, self.peer = self.peer, None
            self.t.owners.pop(peer, None)
            await quietly(self.t.client.hangup(peer, "normal"))
        if self.bridge_id is not None:
            bridge, self.bridge_id = self.bridge_id, None
            await quietly(self.t.client.destroy_bridge(bridge))
        if hang_up_caller and not self.caller_gone:
            await quietly(self.t.client.hangup(self.call_id, "normal"))
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
                elif channel.get("state") == "Up" and in_app(channel, self.t.app):
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
