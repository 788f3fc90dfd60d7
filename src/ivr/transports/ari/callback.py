"""A call-back placed through Asterisk: the caller rung back, then bridged (``CallbackCall``)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from ivr.flow.vocabulary import DialOutcome
from ivr.transports.ari.actor import Actor, Handler
from ivr.transports.ari.client import AriError, quietly
from ivr.transports.ari.events import CallEvent, ChannelDestroyed, Dial, StasisEnd, StasisStart
from ivr.transports.ari.mapping import (
    LEG_FORMATS,
    dial_endpoint,
    dial_outcome_from_cause,
    dial_outcome_from_status,
)

if TYPE_CHECKING:
    from ivr.transports.ari.transport import AriTransport


log = logging.getLogger(__name__)

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


class CallbackCall(Actor[CallEvent]):
    """A listener calls a person back: the listener's phone first, then the person's,
    presenting the emergency services' call-back number (0 800 112 112), then a bridge."""

    def __init__(self, transport: AriTransport, listener: str, number: str, presented: str) -> None:
        super().__init__(transport.spawn)
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
        self.ring_timeout_s = 30

    @property
    def closed(self) -> bool:
        return self.finished.is_set()

    async def failed(self, message: CallEvent) -> None:
        log.exception("call-back %s failed", self.id)
        await self._end(CallbackResult.FAILED)

    async def start(self, ring_timeout_s: int) -> None:
        self.ring_timeout_s = ring_timeout_s
        if not await self._ring(self.listener_leg, self.listener, self.number):
            # The listener sees whom they call back (``self.number``).
            await self._end(CallbackResult.LISTENER_UNREACHABLE)

    async def _ring(self, leg: str, number: str, caller_id: str) -> bool:
        self.t.owners[leg] = self
        # The listener's leg is dialled for nobody: G.711 by name. The person's leg takes
        # the listener's codecs (no Local leg left in slin192: docs/asterisk.md).
        first = leg == self.listener_leg
        try:
            await self.t.client.originate(
                channel_id=leg,
                endpoint=dial_endpoint(self.t.dial_template, number),
                app=self.t.app,
                app_args=["callback", self.id],
                caller_id=caller_id,
                timeout_s=self.ring_timeout_s,
                originator=None if first else self.listener_leg,
                formats=LEG_FORMATS if first else None,
            )
        except AriError as exc:
            who = "listener" if leg == self.listener_leg else "person"
            log.warning("call-back %s: %s not rung: %s", self.id, who, exc)
            return False
        return True

    async def _on_dial(self, event: Dial) -> None:
        # With Local legs (Asterisk 22.10.1) busy and congestion come only as a Dial
        # status: the first half then ends with cause 0, which reads as no answer.
        outcome = dial_outcome_from_status(event.dialstatus)
        if outcome is None:
            return
        if event.peer.id == self.listener_leg:
            await self._end(CallbackResult.LISTENER_UNREACHABLE)
        elif event.peer.id == self.person_leg:
            await self._end(_callback_result(outcome))

    async def _on_stasis_start(self, event: StasisStart) -> None:
        channel_id = event.channel.id
        self.up.add(channel_id)
        if channel_id == self.listener_leg:
            # The listener has picked up: music while the person's phone rings, rather
            # than silence.
            await quietly(self.t.client.start_moh(self.listener_leg, self.t.moh_class))
            if not await self._ring(self.person_leg, self.number, self.presented):
                await self._end(CallbackResult.FAILED)
        elif channel_id == self.person_leg:
            await quietly(self.t.client.stop_moh(self.listener_leg))
            self.bridge_id = f"{self.id}-bridge"
            try:
                await self.t.client.create_bridge(self.bridge_id, f"{self.t.app}:{self.id}")
                await self.t.client.add_channels(
                    self.bridge_id, [self.listener_leg, self.person_leg]
                )
                self.result = CallbackResult.CONNECTED
            except AriError:
                await self._end(CallbackResult.FAILED)

    async def _on_channel_left(self, event: StasisEnd | ChannelDestroyed) -> None:
        channel_id = event.channel.id
        self.up.discard(channel_id)
        self.t.owners.pop(channel_id, None)
        if self.result is CallbackResult.CONNECTED:
            await self._end(CallbackResult.CONNECTED)
        elif channel_id == self.listener_leg:
            await self._end(CallbackResult.LISTENER_UNREACHABLE)
        elif isinstance(event, ChannelDestroyed):
            await self._end(_callback_result(dial_outcome_from_cause(event.cause)))

    async def _end(self, result: CallbackResult) -> None:
        if self.finished.is_set():
            return
        self.result = result
        for leg in (self.listener_leg, self.person_leg):
            if self.t.owners.pop(leg, None) is not None or leg in self.up:
                await quietly(self.t.client.hangup(leg, "normal"))
        if self.bridge_id is not None:
            await quietly(self.t.client.destroy_bridge(self.bridge_id))
        self.finished.set()

    HANDLERS: ClassVar[dict[type, Handler]] = {
        Dial: _on_dial,
        StasisStart: _on_stasis_start,
        StasisEnd: _on_channel_left,
        ChannelDestroyed: _on_channel_left,
    }
