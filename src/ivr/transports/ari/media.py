"""What every part of a call on Asterisk shares: its state, its messages, the flow it feeds,
the prompts it plays and its timers (``CallMedia``, the base of ``AriCall``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from ivr.flow.keypad import Keypad
from ivr.flow.vocabulary import CallerHungUp, CallStarted, Event, Prompt
from ivr.runtime.runtime import MediaCommand, UnknownCallError
from ivr.transports.ari.actor import Actor
from ivr.transports.ari.client import AriError, AriNotFoundError, AriUnavailableError, quietly
from ivr.transports.ari.events import Bridge, CallEvent, Channel
from ivr.transports.ari.mapping import longest_playback_s, media_uris
from ivr.transports.ari.ports import Cancellable, Leg, Wait

if TYPE_CHECKING:
    from ivr.transports.ari.transport import AriTransport


log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- messages


class Start(NamedTuple):
    """The caller's channel entered our application: the flow starts."""

    event: CallStarted


class Commands(NamedTuple):
    """Commands the runtime produced outside an event of this call (timers, offers)."""

    commands: list[MediaCommand]


class Timeout(NamedTuple):
    """One of the call's own timers ran out (stale when ``token`` is not the current one)."""

    name: str
    token: int


class Reconcile(NamedTuple):
    """What Asterisk holds, after events may have been lost."""

    channels: Mapping[str, Channel]
    bridges: Mapping[str, Bridge]


Message = CallEvent | Start | Commands | Timeout | Reconcile


# --------------------------------------------------------------------------- the base


class CallMedia(Actor[Message]):
    """One caller's channel: the state every part of the call reads and its primitives."""

    def __init__(self, transport: AriTransport, call_id: str, called: str, caller: str | None):
        super().__init__(transport.spawn)
        self.t = transport
        self.call_id = call_id
        self.called = called
        self.caller = caller
        self.exten = called  # the number as the dialplan saw it (for the fallback context)
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

    def __repr__(self) -> str:
        return f"call {self.call_id}"

    def _new_id(self, kind: str) -> str:
        self.seq += 1
        return f"{self.call_id}-{kind}{self.seq}-{self.t.token}"

    # ----------------------------------------------------------------- what the call does

    async def run_batch(self, commands: list[MediaCommand]) -> None:
        """A new batch from the flow supersedes whatever the call was doing."""
        raise NotImplementedError

    async def teardown(self, hang_up_caller: bool = False) -> None:
        """Release everything the call holds in Asterisk and forget it (idempotent)."""
        raise NotImplementedError

    async def _advance(self) -> None:
        """Run the pending commands of the batch until one waits for an event."""
        raise NotImplementedError

    # ----------------------------------------------------------------- feeding the flow

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

    # ----------------------------------------------------------------- sound

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

    async def _stop_prompt(self) -> None:
        if self.playback_id is not None:
            playback = self.playback_id
            self._drop_playback(playback)
            await quietly(self.t.client.stop_playback(playback))
        self.prompt_playing = False

    # ----------------------------------------------------------------- timers

    def _arm_timer(self, name: str, seconds: float) -> None:
        self._cancel_timer()
        self.timer_token += 1
        token = self.timer_token
        self.timer = self.t.scheduler.call_later(seconds, lambda: self.post(Timeout(name, token)))

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.timer_token += 1
