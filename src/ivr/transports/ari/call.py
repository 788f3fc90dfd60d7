"""One call on Asterisk: its messages, batches of commands, recording and resync (``AriCall``;
its state, prompts and timers are in ``media.py``, its menus in ``menus.py``, its dialling
and bridge in ``dialling.py``).

Events of one call are handled in order by its own task; calls run in parallel and share
no lock. Every identifier the call chooses embeds the call id.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

from ivr.flow.engine import CallState
from ivr.flow.keypad import Keypad
from ivr.flow.vocabulary import (
    Answer,
    DialOutcome,
    Gather,
    Hangup,
    Hold,
    PeerHungUp,
    Play,
    StartRecording,
    StopRecording,
)
from ivr.flow.vocabulary import Dial as DialCommand
from ivr.runtime.runtime import MediaCommand
from ivr.transports.ari.actor import Handler
from ivr.transports.ari.client import AriError, AriNotFoundError, AriUnavailableError, quietly
from ivr.transports.ari.dialling import Dialling
from ivr.transports.ari.events import (
    Bridge,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    Dial,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
)
from ivr.transports.ari.mapping import (
    PLAYBACK_WATCHDOG_S,
    dial_outcome_from_cause,
    dial_outcome_from_status,
    joined_prompt,
)
from ivr.transports.ari.media import Commands, Message, Reconcile, Start, Timeout
from ivr.transports.ari.menus import Menus
from ivr.transports.ari.ports import CallSnapshot, MediaSnapshot, Wait

log = logging.getLogger(__name__)

STALL_RETRY_S = 2.0
INTERNAL = (Start, Commands, Timeout, Reconcile)  # the call's own messages, not ARI events


# --------------------------------------------------------------------------- one call


class AriCall(Menus, Dialling):
    """One caller's channel and everything the service does with it."""

    # ----------------------------------------------------------------- mailbox

    @property
    def closed(self) -> bool:
        return self.ended

    async def failed(self, message: Message) -> None:
        log.exception("call %s: %s failed", self.call_id, type(message).__name__)
        await self._fail_safe()

    def timed(self, message: Message, seconds: float) -> None:
        """An ARI event's time from its arrival to the end of its handling (the
        event-to-command latency histogram of /metrics)."""
        if self.t.on_event_handled is not None and not isinstance(message, INTERNAL):
            self.t.on_event_handled(seconds)

    async def handled(self) -> None:
        if self.t.snapshots is not None and not self.ended:
            await self._save_snapshot()

    async def _on_start(self, message: Start) -> None:
        media = await self.t.runtime.start_call(message.event, self.t)
        self.wait = Wait.NOTHING
        if media:
            await self.run_batch(media)

    async def _on_reconcile(self, message: Reconcile) -> None:
        await self._reconcile(message.channels, message.bridges)

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

    async def _on_commands(self, message: Commands) -> None:
        """A batch from a timer or a listener offer: the prompts under way are heard first.

        The flow moved on while the call was still saying what the previous batch asked
        for (the recording notice, the queue position): those prompts are kept, the waiting
        command that would have followed them gives way to the new batch.
        """
        commands = message.commands
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
            case Gather():
                await self._ask(command, generation)
                return True
            case DialCommand():
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

    # ----------------------------------------------------------------- timers

    async def _on_timeout(self, message: Timeout) -> None:
        if message.token == self.timer_token:
            self.timer = None
            handler = self.TIMERS.get(message.name)
            if handler is not None:
                await handler(self)

    async def _retry(self) -> None:
        if self.stalled:
            self.stalled = False
            await self._advance()

    async def _playback_overdue(self) -> None:
        """Far longer than the prompt: was its PlaybackFinished lost?"""
        playback = self.playback_id
        if playback is None:
            return
        try:
            await self.t.client.get_playback(playback)
            self._arm_timer("playback", PLAYBACK_WATCHDOG_S)
        except AriNotFoundError:
            await self._playback_finished(playback)
        except AriError:
            self._arm_timer("playback", PLAYBACK_WATCHDOG_S)

    async def _ring_timed_out(self) -> None:
        if self.wait is Wait.DIAL:
            await self._abandon_legs(DialOutcome.NO_ANSWER)
            await self._dial_done()

    # ----------------------------------------------------------------- events

    async def _on_playback_finished(self, event: PlaybackFinished) -> None:
        playback = event.playback
        if playback.state == "failed":
            # Asterisk answers 201 even for a sound file it does not have, then ends
            # the playback at once as "failed": the caller heard nothing of it.
            log.warning(
                "call %s: %s not played (missing sound file?)", self.call_id, playback.media_uri
            )
        await self._playback_finished(playback.id)

    async def _on_dial(self, event: Dial) -> None:
        channel_id = event.peer.id
        if channel_id in self.legs:
            outcome = dial_outcome_from_status(event.dialstatus)
            if outcome is not None:
                await self._leg_ended(channel_id, outcome)

    async def _on_dtmf(self, event: ChannelDtmfReceived) -> None:
        if event.channel.id == self.call_id:
            await self._digit(event.digit)

    async def _on_stasis_start(self, event: StasisStart) -> None:
        if event.channel.id != self.call_id:
            await self._leg_answered(event.channel.id)

    async def _on_stasis_end(self, event: StasisEnd | ChannelDestroyed) -> None:
        channel_id = event.channel.id
        if channel_id == self.call_id:
            await self._caller_left()
        elif channel_id == self.peer:
            self.peer = None
            self.t.owners.pop(channel_id, None)
            await self.feed(PeerHungUp())

    async def _on_channel_destroyed(self, event: ChannelDestroyed) -> None:
        channel_id = event.channel.id
        if channel_id in (self.call_id, self.peer) or channel_id not in self.legs:
            await self._on_stasis_end(event)
        else:
            await self._leg_ended(channel_id, dial_outcome_from_cause(event.cause))

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

    async def _reconcile(
        self, channels: Mapping[str, Channel], bridges: Mapping[str, Bridge]
    ) -> None:
        """Events were lost (websocket down, new instance): bring the call back in line."""
        if self.call_id not in channels:
            await self._caller_left()
        elif self.peer is not None and self.peer not in channels:
            self.peer = None
            await self.feed(PeerHungUp())
        elif self.stalled:
            self.stalled = False
            await self._advance()
        elif self.wait is Wait.CONNECTED and self.peer is not None:
            await self._restore_bridge(bridges)
        elif self.wait is Wait.DIAL:
            await self._reconcile_legs(channels)
        elif self.playback_id is not None:
            await self._check_playback(self.playback_id)
        else:
            await self._resume_waiting()

    async def _check_playback(self, playback: str) -> None:
        try:
            await self.t.client.get_playback(playback)
        except AriNotFoundError:
            await self._playback_finished(playback)
        except AriError as exc:
            log.info("call %s: playback state unknown: %s", self.call_id, exc)

    async def _resume_waiting(self) -> None:
        """No event expected from Asterisk: start again what the call waited on."""
        if self.wait is Wait.HOLD:
            if await self._on_caller(self.t.client.start_moh(self.call_id, self.t.moh_class)):
                self.moh = True
        elif self.wait is Wait.DIGITS:
            if self.timer is None and isinstance(self.current, Gather):
                self._arm_timer("digits", self.current.timeout_s)
        elif self.wait is Wait.NOTHING:
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

    TIMERS: ClassVar[dict[str, Callable[[AriCall], Awaitable[None]]]] = {
        "retry": _retry,
        "playback": _playback_overdue,
        "digits": Menus._digits_timed_out,
        "ring": _ring_timed_out,
    }

    HANDLERS: ClassVar[dict[type, Handler]] = {
        Start: _on_start,
        Commands: _on_commands,
        Timeout: _on_timeout,
        Reconcile: _on_reconcile,
        StasisStart: _on_stasis_start,
        StasisEnd: _on_stasis_end,
        ChannelDestroyed: _on_channel_destroyed,
        ChannelDtmfReceived: _on_dtmf,
        Dial: _on_dial,
        PlaybackFinished: _on_playback_finished,
    }
