"""A call's dialling and bridge: destinations rung together, the first to answer bridged
with the caller, the others hung up (``Dialling``, a part of ``AriCall``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ivr.flow.vocabulary import Dial, DialOutcome, DialResult
from ivr.transports.ari.client import AriError, AriUnavailableError, quietly
from ivr.transports.ari.events import Bridge, Channel
from ivr.transports.ari.mapping import dial_endpoint, in_app
from ivr.transports.ari.media import CallMedia
from ivr.transports.ari.ports import Leg, Wait
from routing.phone import mask_number

log = logging.getLogger(__name__)

RING_GRACE_S = 2.0  # our own ring timer, in case Asterisk's originate timeout is not heard


class Dialling(CallMedia):
    """The dialling and bridging part of a call (``AriCall`` is one)."""

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
            await self._originate(leg, command)
        if generation != self.generation or self.ended or self.wait is not Wait.DIAL:
            return
        if self.winner is None:
            self._arm_timer("ring", command.ring_timeout_s + RING_GRACE_S)
        await self._dial_done()

    async def _originate(self, leg: Leg, command: Dial) -> None:
        try:
            await self.t.client.originate(
                channel_id=leg.channel_id,
                endpoint=dial_endpoint(self.t.dial_template, leg.target.number),
                app=self.t.app,
                app_args=["dial", self.call_id],
                caller_id=command.caller_id,
                timeout_s=command.ring_timeout_s,
                # The leg takes the caller's codecs. Without an originator (or formats), a
                # Local leg gets every audio format and Asterisk 22 runs it in slin192:
                # two resamplings each way and both parties heard 6 dB lower (docs/asterisk.md).
                originator=self.call_id,
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

    # ----------------------------------------------------------------- resync

    async def _restore_bridge(self, bridges: Mapping[str, Bridge]) -> None:
        """Connected, but the bridge may be gone (Asterisk restarted): build it again."""
        if self.peer is None or (self.bridge_id is not None and self.bridge_id in bridges):
            return
        bridge = self.bridge_id or f"{self.call_id}-bridge"
        try:
            if bridge not in bridges:
                await self.t.client.create_bridge(bridge, f"{self.t.app}:{self.call_id}")
            self.bridge_id = bridge
            await self.t.client.add_channels(bridge, [self.call_id, self.peer])
        except AriError as exc:
            log.warning("call %s: bridge not restored: %s", self.call_id, exc)

    async def _reconcile_legs(self, channels: Mapping[str, Channel]) -> None:
        """Ringing: the legs that ended or answered while nobody listened."""
        for channel_id, leg in list(self.legs.items()):
            if leg.outcome is not None:
                continue
            channel = channels.get(channel_id)
            if channel is None:
                leg.outcome = DialOutcome.NO_ANSWER  # it ended while we were not listening
                self.t.owners.pop(channel_id, None)
            elif channel.state == "Up" and in_app(channel, self.t.app):
                await self._leg_answered(channel_id)
                if self.wait is not Wait.DIAL:
                    return
        await self._dial_done()
        if self.wait is Wait.DIAL and self.timer is None:
            ring = self.current.ring_timeout_s if isinstance(self.current, Dial) else 30
            self._arm_timer("ring", ring + RING_GRACE_S)
