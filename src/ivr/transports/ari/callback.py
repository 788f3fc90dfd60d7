"""A call-back placed through Asterisk: the caller rung back, then bridged (``CallbackCall``)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ivr.flow.vocabulary import (
    DialOutcome,
)
from ivr.transports.ari.call import Item
from ivr.transports.ari.client import (
    AriError,
    quietly,
)
from ivr.transports.ari.mapping import (
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
                await quietly(self.t.client.start_moh(self.listener_leg, self.t.moh_class))
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
                await quietly(self.t.client.hangup(leg, "normal"))
        if self.bridge_id is not None:
            await quietly(self.t.client.destroy_bridge(self.bridge_id))
        self.finished.set()
