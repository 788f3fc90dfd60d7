"""Call snapshots and the websocket lease on Redis, so that several instances share one app.

``RedisCallSnapshots`` keeps each call's ``CallSnapshot`` as JSON under ``<prefix><call id>``
with a TTL (a call that nobody finishes does not stay forever). ``RedisLeadership`` is a
lease: ``SET key instance NX PX lease`` to take it, a Lua compare-and-set to renew it only
while it is still ours, a Lua compare-and-delete to release it. When a renewal finds the
lease gone or taken, ``lost`` is set: the transport drops its websocket and goes back to
``acquire()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis

from ivr.flow.engine import CallState
from ivr.flow.vocabulary import DialOutcome, DialTarget, Role
from ivr.runtime.commands import decode_media, encode_media
from ivr.transports.ari.ports import CallSnapshot, Leg, MediaSnapshot, Wait

log = logging.getLogger(__name__)

DEFAULT_SNAPSHOT_TTL_S = 6 * 3600  # longer than any call


# --------------------------------------------------------------------------- JSON
# Media commands are encoded as the runtime's snapshots encode them (``ivr.runtime.commands``).


def _target_to(target: DialTarget) -> list[str]:
    return [target.number, target.name, target.role.value]


def _target_from(raw: list[str]) -> DialTarget:
    number, name, role = raw
    return DialTarget(number, name, Role(role))


def snapshot_to_dict(snapshot: CallSnapshot) -> dict[str, Any]:
    media = snapshot.media
    return {
        "state": snapshot.state.to_dict(),
        "media": {
            "called": media.called,
            "caller": media.caller,
            "wait": media.wait.value,
            "current": encode_media(media.current) if media.current is not None else None,
            "pending": [encode_media(c) for c in media.pending],
            "digits": media.digits,
            "legs": [
                {
                    "channel_id": leg.channel_id,
                    "target": _target_to(leg.target),
                    "outcome": leg.outcome.value if leg.outcome is not None else None,
                }
                for leg in media.legs
            ],
            "bridge_id": media.bridge_id,
            "peer": media.peer,
            "recording": media.recording,
            "typed_ahead": media.typed_ahead,
        },
    }


def snapshot_from_dict(raw: dict[str, Any]) -> CallSnapshot:
    media = raw["media"]
    return CallSnapshot(
        state=CallState.from_dict(raw["state"]),
        media=MediaSnapshot(
            called=media["called"],
            caller=media["caller"],
            wait=Wait(media["wait"]),
            current=decode_media(media["current"]) if media["current"] is not None else None,
            pending=[decode_media(c) for c in media["pending"]],
            digits=media["digits"],
            legs=[
                Leg(
                    channel_id=leg["channel_id"],
                    target=_target_from(leg["target"]),
                    outcome=DialOutcome(leg["outcome"]) if leg["outcome"] is not None else None,
                )
                for leg in media["legs"]
            ],
            bridge_id=media["bridge_id"],
            peer=media["peer"],
            recording=media["recording"],
            typed_ahead=str(media.get("typed_ahead", "")),
        ),
    )


# --------------------------------------------------------------------------- snapshots


class RedisCallSnapshots:
    """``CallSnapshots`` on Redis: one JSON string per call, with a TTL."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "ivr:ari:snap:",
        ttl_s: float = DEFAULT_SNAPSHOT_TTL_S,
    ) -> None:
        self._r = redis
        self.prefix = prefix
        self.ttl_ms = max(int(ttl_s * 1000), 1)

    def key(self, call_id: str) -> str:
        return self.prefix + call_id

    async def save(self, call_id: str, snapshot: CallSnapshot) -> None:
        data = json.dumps(snapshot_to_dict(snapshot), separators=(",", ":"))
        await self._r.set(self.key(call_id), data, px=self.ttl_ms)

    async def load(self, call_id: str) -> CallSnapshot | None:
        raw = await self._r.get(self.key(call_id))
        if raw is None:
            return None
        try:
            return snapshot_from_dict(json.loads(raw))
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("call %s: unreadable snapshot (%s), ignored", call_id, exc)
            return None

    async def delete(self, call_id: str) -> None:
        await self._r.delete(self.key(call_id))


# --------------------------------------------------------------------------- leadership


async def _stopped_within(stop: asyncio.Event | None, seconds: float) -> bool:
    """Wait up to ``seconds``; True as soon as ``stop`` is set."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    if stop.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
    return stop.is_set()


_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _reraise_swallowed_cancel() -> None:
    """Raise ``CancelledError`` if this task was cancelled but the await did not say so.

    redis-py (seen with 8.1.0 on Python 3.11) can swallow a cancellation that lands while a
    command is in flight: the command returns normally and the task runs on, still marked
    as cancelling. A loop that then carries on (renewing a lease forever, say) makes
    whoever waits for it hang. Called after every Redis await of the loops below."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class RedisLeadership:
    """``Leadership`` as a Redis lease renewed in the background while this instance holds it.

    ``lost`` is set when a renewal finds the lease no longer ours (expired while Redis was
    unreachable or this process stalled, or taken by another instance); ``acquire()``
    clears it once the lease is ours again. Nothing here relies on cancellation alone to
    stop: the renewal loop and the wait for the lease both watch an event."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        instance_id: str,
        lease_s: float = 10,
        renew_every_s: float = 3,
        retry_s: float = 0.5,
    ) -> None:
        if renew_every_s >= lease_s:
            raise ValueError("renew_every_s must be shorter than lease_s")
        self._r = redis
        self.key = key
        self.instance_id = instance_id
        self.lease_ms = max(int(lease_s * 1000), 1)
        self.renew_every_s = renew_every_s
        self.retry_s = retry_s
        self.lost = asyncio.Event()
        self.leading = False
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._renewer: asyncio.Task[None] | None = None
        self._stop_renewer = asyncio.Event()

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Return True once the lease is ours, waiting (retrying) while another instance
        holds it; False as soon as ``stop`` is set without the lease."""
        while True:
            if stop is not None and stop.is_set():
                return False
            try:
                got = await self._r.set(self.key, self.instance_id, nx=True, px=self.lease_ms)
                if not got:
                    # Ours already (a reconnect while still leading): renew rather than wait.
                    got = await self._renewed()
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                log.warning("leadership %s: %s", self.key, exc)
                got = False
            _reraise_swallowed_cancel()
            if got:
                break
            if await _stopped_within(stop, self.retry_s):
                return False
        self.leading = True
        self.lost.clear()
        if self._renewer is None or self._renewer.done():
            self._stop_renewer = asyncio.Event()
            self._renewer = asyncio.ensure_future(self._keep(self._stop_renewer))
        return True

    async def _renewed(self) -> bool:
        """Whether the lease is ours (then extended by ``lease_ms``)."""
        return bool(await self._renew(keys=[self.key], args=[self.instance_id, self.lease_ms]))

    async def _keep(self, stop: asyncio.Event) -> None:
        while not await _stopped_within(stop, self.renew_every_s):
            try:
                ours = await self._renewed()
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                # Not known to be lost yet: retry at the next beat, the lease may still run.
                log.warning("leadership %s: renewal failed: %s", self.key, exc)
                ours = True
            _reraise_swallowed_cancel()
            if stop.is_set():
                return
            if not ours:
                log.warning("leadership %s: lease lost by %s", self.key, self.instance_id)
                self.leading = False
                self.lost.set()
                return

    async def stop_renewing(self) -> None:
        """Stop the background renewal (the lease then runs out by itself)."""
        task, self._renewer = self._renewer, None
        self._stop_renewer.set()
        if task is None:
            return
        task.cancel()
        # The loop ends by itself at its next step even if the cancellation was swallowed;
        # a Redis that does not answer at all is bounded by the same wait.
        done, _ = await asyncio.wait({task}, timeout=self.renew_every_s + 5)
        if not done:
            log.error("leadership %s: renewal task did not stop", self.key)

    async def release(self) -> bool:
        """Stop renewing and delete the lease if it is still ours; True when it was."""
        await self.stop_renewing()
        self.leading = False
        with contextlib.suppress(aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            return bool(await self._release(keys=[self.key], args=[self.instance_id]))
        return False

    async def holder(self) -> str | None:
        raw = await self._r.get(self.key)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)
