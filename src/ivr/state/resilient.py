"""Live state that survives Redis going away.

Every operation goes to Redis and is mirrored in a local in-memory state. When Redis fails
(connection refused, timeout), the instance switches to degraded mode: operations run on
the local mirror, so calls in progress finish on what this instance holds and new calls are
still routed; the writes are journaled. A probe retries Redis every second; once it answers,
the journal is replayed in order; then, in case Redis lost its data, what this instance knows
is put back where Redis has nothing (its calls, their queue places, listener presence,
rotation pointers); the resync hooks run, and normal mode resumes.

What degraded mode cannot know: other instances' calls and the listener changes made
through them. Two degraded instances may offer the same listener at once; the second offer
then fails as busy and the call goes back to the head of its queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import redis.asyncio as aioredis

from ivr.flow.vocabulary import QueueStatus
from ivr.runtime.live_state import (
    CallSnapshot,
    Claim,
    InMemoryLiveState,
    ListenerState,
    Presence,
    SupportAgentState,
)
from ivr.state.redis_state import RedisLiveState

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
PrimaryOp = Callable[[RedisLiveState], Awaitable[object]]

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    aioredis.ConnectionError,
    aioredis.TimeoutError,
    OSError,
    TimeoutError,
)
MAX_JOURNAL = 100_000


@dataclass(frozen=True, slots=True)
class StateHealth:
    """What ``/healthz`` reports about the live state."""

    backend: str  # "redis", "local" (the embedded file) or "memory"
    degraded: bool
    since: datetime | None = None  # when degraded mode began
    last_error: str | None = None
    journal: int = 0  # writes waiting to be replayed on Redis
    dropped: int = 0  # writes lost because the journal was full

    def as_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "degraded": self.degraded,
            "since": self.since.isoformat() if self.since else None,
            "last_error": self.last_error,
            "journal": self.journal,
            "dropped": self.dropped,
        }


def memory_health() -> StateHealth:
    return StateHealth(backend="memory", degraded=False)


def local_health() -> StateHealth:
    """The embedded default: this process's state, kept in a local file across restarts."""
    return StateHealth(backend="local", degraded=False)


class ResilientLiveState:
    """``LiveState`` and ``CallRegistry``: Redis when it answers, this process otherwise."""

    def __init__(
        self,
        primary: RedisLiveState,
        clock: Clock,
        local: InMemoryLiveState | None = None,
        retry_every_s: float = 1.0,
        max_journal: int = MAX_JOURNAL,
    ) -> None:
        self.primary = primary
        self.local = local or InMemoryLiveState()
        self._clock = clock
        self._retry_every_s = retry_every_s
        self._journal: deque[tuple[str, PrimaryOp]] = deque()
        self._max_journal = max_journal
        self._dropped = 0
        self._degraded_since: datetime | None = None
        self._last_error: str | None = None
        self._probe: asyncio.Task[None] | None = None
        self._closed = False
        self.resync_hooks: list[Callable[[], Awaitable[None]]] = []

    # ----------------------------------------------------------------- mode

    @property
    def degraded(self) -> bool:
        return self._degraded_since is not None

    def health(self) -> StateHealth:
        return StateHealth(
            backend="redis",
            degraded=self.degraded,
            since=self._degraded_since,
            last_error=self._last_error,
            journal=len(self._journal),
            dropped=self._dropped,
        )

    def _fail(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"
        if self._degraded_since is None:
            self._degraded_since = self._clock()
            log.error("Redis unavailable, live state degraded to this instance: %s", exc)
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._recover())

    def _journal_op(self, what: str, op: PrimaryOp) -> None:
        if len(self._journal) >= self._max_journal:
            self._journal.popleft()
            self._dropped += 1
        self._journal.append((what, op))

    async def _recover(self) -> None:
        # ``_closed`` ends the loop even if redis-py swallowed the cancellation of ``close``
        # (it can when the cancel lands while a command is in flight).
        while self.degraded and not self._closed:
            await asyncio.sleep(self._retry_every_s)
            try:
                await self.primary.ping()
                await self._resync()
            except REDIS_ERRORS as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                continue
            log.warning(
                "Redis is back: live state resynchronised after %s",
                self._clock() - (self._degraded_since or self._clock()),
            )
            self._degraded_since = None

    async def _resync(self) -> None:
        while self._journal:
            _, op = self._journal[0]
            await op(self.primary)
            self._journal.popleft()
        # Redis may have lost its data (a restart without persistence): put back what this
        # instance knows, without overwriting what other instances wrote meanwhile.
        for snapshot in self.local.snapshots():
            await self.primary.save_call(snapshot)
        for departement, entries in self.local.queued_entries().items():
            for call_id, priority, at in entries:
                await self.primary.enqueue(departement, call_id, priority, at)
        for departement, listeners in self.local.known_listeners().items():
            for listener in listeners:
                await self.primary.restore_presence(departement, listener)
        for key, number in self.local.rotation_pointers().items():
            await self.primary.restore_answerer(key, number)
        for agent in await self.local.support_agents():
            await self.primary.restore_support_agent(agent)
        for hook in self.resync_hooks:
            await hook()
        if self._journal:  # written while the hooks ran
            await self._resync()

    async def close(self) -> None:
        self._closed = True
        if self._probe is not None:
            self._probe.cancel()
        await self.primary.close()

    async def _write(
        self,
        what: str,
        primary: Callable[[RedisLiveState], Awaitable[T]],
        mirror: Callable[[T], Awaitable[object]],
        fallback: Callable[[], Awaitable[T]],
    ) -> T:
        if not self.degraded:
            try:
                result = await primary(self.primary)
            except REDIS_ERRORS as exc:
                self._fail(exc)
            else:
                await mirror(result)
                return result
        self._journal_op(what, primary)
        return await fallback()

    async def _read(
        self,
        primary: Callable[[RedisLiveState], Awaitable[T]],
        fallback: Callable[[], Awaitable[T]],
    ) -> T:
        if not self.degraded:
            try:
                return await primary(self.primary)
            except REDIS_ERRORS as exc:
                self._fail(exc)
        return await fallback()

    # ----------------------------------------------------------------- LiveState

    async def last_answerer(self, key: str) -> str | None:
        value = await self._read(
            lambda r: r.last_answerer(key), lambda: self.local.last_answerer(key)
        )
        if value is not None and not self.degraded:
            await self.local.record_answerer(key, value)
        return value

    async def record_answerer(self, key: str, number: str) -> None:
        await self._write(
            "record_answerer",
            lambda r: r.record_answerer(key, number),
            lambda _: self.local.record_answerer(key, number),
            lambda: self.local.record_answerer(key, number),
        )

    async def enqueue(self, departement: str, call_id: str, priority: int, at: datetime) -> int:
        return await self._write(
            "enqueue",
            lambda r: r.enqueue(departement, call_id, priority, at),
            lambda _: self.local.enqueue(departement, call_id, priority, at),
            lambda: self.local.enqueue(departement, call_id, priority, at),
        )

    async def dequeue(self, departement: str, call_id: str) -> bool:
        return await self._write(
            "dequeue",
            lambda r: r.dequeue(departement, call_id),
            lambda _: self.local.dequeue(departement, call_id),
            lambda: self.local.dequeue(departement, call_id),
        )

    async def queue_status(
        self, departement: str, call_id: str | None, default_handling_s: int
    ) -> QueueStatus:
        return await self._read(
            lambda r: r.queue_status(departement, call_id, default_handling_s),
            lambda: self.local.queue_status(departement, call_id, default_handling_s),
        )

    async def waiting_calls(self, departement: str) -> list[str]:
        return await self._read(
            lambda r: r.waiting_calls(departement), lambda: self.local.waiting_calls(departement)
        )

    async def set_presence(
        self, departement: str, listener: str, presence: Presence, at: datetime
    ) -> None:
        await self._write(
            "set_presence",
            lambda r: r.set_presence(departement, listener, presence, at),
            lambda _: self.local.set_presence(departement, listener, presence, at),
            lambda: self.local.set_presence(departement, listener, presence, at),
        )

    async def listeners(self, departement: str) -> list[ListenerState]:
        found = await self._read(
            lambda r: r.listeners(departement), lambda: self.local.listeners(departement)
        )
        if not self.degraded:  # keep the mirror as fresh as what this instance has seen
            for lst in found:
                await self.local.set_presence(departement, lst.number, lst.presence, lst.since)
        return found

    async def claim_next(
        self, departement: str, at: datetime, owner: str | None = None
    ) -> Claim | None:
        async def mirror(claim: Claim | None) -> None:
            if claim is not None:
                await self.local.dequeue(departement, claim.call_id)
                await self.local.set_presence(departement, claim.listener, Presence.BUSY, at)

        async def replay(r: RedisLiveState, claim: list[Claim | None]) -> None:
            if claim and claim[0] is not None:
                await r.dequeue(departement, claim[0].call_id)
                await r.set_presence(departement, claim[0].listener, Presence.BUSY, at)

        if not self.degraded:
            try:
                result = await self.primary.claim_next(departement, at, owner)
            except REDIS_ERRORS as exc:
                self._fail(exc)
            else:
                await mirror(result)
                return result
        local = await self.local.claim_next(departement, at, owner)
        if local is not None:
            self._journal_op("claim_next", lambda r: replay(r, [local]))
        return local

    async def record_handling_time(self, departement: str, seconds: float) -> None:
        await self._write(
            "record_handling_time",
            lambda r: r.record_handling_time(departement, seconds),
            lambda _: self.local.record_handling_time(departement, seconds),
            lambda: self.local.record_handling_time(departement, seconds),
        )

    async def set_support_agent(self, agent: SupportAgentState) -> None:
        await self._write(
            "set_support_agent",
            lambda r: r.set_support_agent(agent),
            lambda _: self.local.set_support_agent(agent),
            lambda: self.local.set_support_agent(agent),
        )

    async def restore_support_agent(self, agent: SupportAgentState) -> bool:
        async def mirror(restored: bool) -> None:
            if restored:
                await self.local.set_support_agent(agent)

        return await self._write(
            "restore_support_agent",
            lambda r: r.restore_support_agent(agent),
            mirror,
            lambda: self.local.restore_support_agent(agent),
        )

    async def support_agents(self) -> list[SupportAgentState]:
        found = await self._read(lambda r: r.support_agents(), self.local.support_agents)
        if not self.degraded:  # keep the mirror as fresh as what this instance has seen
            for agent in found:
                await self.local.set_support_agent(agent)
        return found

    async def set_platform(self, departement: str, *, closed: bool, emergency_closed: bool) -> None:
        await self._write(
            "set_platform",
            lambda r: r.set_platform(departement, closed=closed, emergency_closed=emergency_closed),
            lambda _: self.local.set_platform(
                departement, closed=closed, emergency_closed=emergency_closed
            ),
            lambda: self.local.set_platform(
                departement, closed=closed, emergency_closed=emergency_closed
            ),
        )

    # ----------------------------------------------------------------- CallRegistry

    async def save_call(self, snapshot: CallSnapshot) -> bool:
        return await self._write(
            "save_call",
            lambda r: r.save_call(snapshot),
            lambda _: self.local.save_call(snapshot),
            lambda: self.local.save_call(snapshot),
        )

    async def load_call(self, call_id: str) -> CallSnapshot | None:
        return await self._read(
            lambda r: r.load_call(call_id), lambda: self.local.load_call(call_id)
        )

    async def listener_call(self, number: str) -> CallSnapshot | None:
        # Degraded: only the calls this instance saved (its mirror) can be found.
        return await self._read(
            lambda r: r.listener_call(number), lambda: self.local.listener_call(number)
        )

    async def call_owner(self, call_id: str) -> str | None:
        return await self._read(
            lambda r: r.call_owner(call_id), lambda: self.local.call_owner(call_id)
        )

    async def drop_call(self, call_id: str, owner: str) -> bool:
        return await self._write(
            "drop_call",
            lambda r: r.drop_call(call_id, owner),
            lambda _: self.local.drop_call(call_id, owner),
            lambda: self.local.drop_call(call_id, owner),
        )

    async def transfer_call(self, call_id: str, from_owner: str, to_owner: str) -> bool:
        if self.degraded:
            return False  # ownership can only move where every instance sees it
        try:
            return await self.primary.transfer_call(call_id, from_owner, to_owner)
        except REDIS_ERRORS as exc:
            self._fail(exc)
            return False

    async def owned_calls(self, instance: str) -> set[str]:
        return await self._read(
            lambda r: r.owned_calls(instance), lambda: self.local.owned_calls(instance)
        )

    async def heartbeat(self, instance: str, ttl_s: float) -> None:
        await self._read(lambda r: r.heartbeat(instance, ttl_s), _nothing)

    async def release_instance(self, instance: str) -> None:
        await self._read(lambda r: r.release_instance(instance), _nothing)

    async def instance_alive(self, instance: str) -> bool:
        return await self._read(lambda r: r.instance_alive(instance), _false)

    async def take_over(self, instance: str, limit: int) -> list[CallSnapshot]:
        return await self._read(lambda r: r.take_over(instance, limit), _no_calls)

    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        if self.degraded:
            return await self.local.acquire_lease(name, holder, ttl_s)
        try:
            return await self.primary.acquire_lease(name, holder, ttl_s)
        except REDIS_ERRORS as exc:
            self._fail(exc)
            return await self.local.acquire_lease(name, holder, ttl_s)

    async def release_lease(self, name: str, holder: str) -> bool:
        await self.local.release_lease(name, holder)
        return await self._read(lambda r: r.release_lease(name, holder), _false)

    async def lease_holder(self, name: str) -> str | None:
        return await self._read(
            lambda r: r.lease_holder(name), lambda: self.local.lease_holder(name)
        )

    async def notify(self, departement: str) -> None:
        await self._read(lambda r: r.notify(departement), _nothing)

    def notifications(self, stop: asyncio.Event) -> AsyncIterator[str]:
        return self.primary.notifications(stop)


async def _nothing() -> None:
    return None


async def _false() -> bool:
    return False


async def _no_calls() -> list[CallSnapshot]:
    return []
