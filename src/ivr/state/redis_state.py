"""Live state in Redis, shared by every instance of the service.

Each operation that reads and writes more than one key is one Lua script, so it runs
atomically on the server: two instances racing for the same waiting call, listener, call
or lease get one winner. Keys live under a prefix (``ivr:`` by default):

- ``rot:<key>``: the last answerer of a hunt group (string);
- ``q:<dep>``: the 115 queue of a département (sorted set, score = priority, arrival, seq);
- ``pres:<dep>``: listener presence (hash ``number -> presence|since``) and ``free:<dep>``
  the available ones by the time they became available (sorted set);
- ``ht:<dep>``: recent handling times (list); ``plat:<dep>``: closure flags (hash);
- ``support``: national support agents' posts and presence (hash ``login -> JSON``);
- ``call:<id>``: a live call's snapshot; ``calls``: which instance owns each call (hash);
  ``owned:<instance>``: the calls an instance owns (set); ``listening``: the live call
  ringing or connected to each listener's phone (hash ``number -> call id``, kept by
  ``save_call`` and ``drop_call`` from the snapshots' ``listener_phones``);
- ``inst:<instance>``: an instance's lease (string with a TTL); ``instances``: known ones;
- ``lease:<name>``: named leases (string holder with a TTL); channel ``dispatch``.

Redis Cluster is not supported (scripts touch keys of several slots): use one Redis, with
a replica and Sentinel for failover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ivr.flow.vocabulary import QueueStatus
from ivr.runtime.live_state import (
    RECENT_HANDLING_TIMES,
    CallSnapshot,
    Claim,
    ListenerState,
    Presence,
    SupportAgentState,
    estimate_wait,
)

log = logging.getLogger(__name__)

# Queue scores: (MAX_PRIORITY - priority) * 1e15 + milliseconds since 2024 * 1000 + seq % 1000.
# A double holds integers exactly up to 2**53 (about 9.007e15): that leaves priorities 0..7
# and about 31 years of arrivals; within one millisecond the sequence keeps arrival order.
MAX_PRIORITY = 7
_PRIORITY_STEP = 10**15
_EPOCH_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)

_ENQUEUE = """
local seq = redis.call('INCR', KEYS[2])
local score = tonumber(ARGV[2]) + (seq % 1000)
redis.call('ZADD', KEYS[1], score, ARGV[1])
return redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
"""

_QUEUE_STATUS = """
local rank = -1
if ARGV[1] ~= '' then
  local r = redis.call('ZRANK', KEYS[1], ARGV[1])
  if r then rank = r end
end
return {
  rank,
  redis.call('ZCARD', KEYS[1]),
  redis.call('HVALS', KEYS[2]),
  redis.call('LRANGE', KEYS[3], 0, -1),
  redis.call('HMGET', KEYS[4], 'closed', 'emergency_closed'),
}
"""

_SET_PRESENCE = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
if ARGV[2] == 'available' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""

_RESTORE_PRESENCE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
if ARGV[2] == 'available' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
return 1
"""

_CLAIM_NEXT = """
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not head then return false end
if ARGV[1] ~= '' then
  local owner = redis.call('HGET', KEYS[4], head)
  if owner and owner ~= ARGV[1] then return false end
end
local free = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if not free then return false end
redis.call('ZREM', KEYS[1], head)
redis.call('ZREM', KEYS[2], free)
redis.call('HSET', KEYS[3], free, 'busy|' .. ARGV[2])
return {head, free}
"""

_HANDLING_TIME = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
"""

# Removes the listener index entries (KEYS[4]) of the snapshot stored at KEYS[2], if they
# still name this call (ARGV[1]); the phones are read from the stored snapshot itself.
_UNINDEX = """
local old = redis.call('GET', KEYS[2])
if old then
  local ok, data = pcall(cjson.decode, old)
  if ok and type(data) == 'table' and type(data['listener_phones']) == 'table' then
    for _, phone in ipairs(data['listener_phones']) do
      if redis.call('HGET', KEYS[4], phone) == ARGV[1] then
        redis.call('HDEL', KEYS[4], phone)
      end
    end
  end
end
"""

# Stops (0) when the call (ARGV[1]) is held by another owner than ARGV[2]; ``current`` is its
# owner, if any. Then unindexes its stored snapshot's listeners.
_OWNED_AND_UNINDEXED = (
    """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and current ~= ARGV[2] then return 0 end
"""
    + _UNINDEX
)

# KEYS: calls, call:<id>, owned:<owner>, listening; ARGV: id, owner, snapshot, phones...
_SAVE_CALL = (
    _OWNED_AND_UNINDEXED
    + """
redis.call('SET', KEYS[2], ARGV[3])
for i = 4, #ARGV do redis.call('HSET', KEYS[4], ARGV[i], ARGV[1]) end
if not current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[1])
end
return 1
"""
)

_LISTENER_CALL = """
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return {redis.call('HGET', KEYS[2], id), redis.call('GET', ARGV[2] .. id)}
"""

_LOAD_CALL = """
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2])}
"""

# KEYS: calls, call:<id>, owned:<owner>, listening; ARGV: id, owner
_DROP_CALL = (
    _OWNED_AND_UNINDEXED
    + """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return 1
"""
)

_TRANSFER_CALL = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

_HEARTBEAT = """
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS: instances, calls; ARGV: me, limit, prefix
_TAKE_OVER = """
local prefix = ARGV[3]
local me = ARGV[1]
local limit = tonumber(ARGV[2])
local out = {}
for _, inst in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if #out >= limit then break end
  if inst ~= me and redis.call('EXISTS', prefix .. 'inst:' .. inst) == 0 then
    local owned = prefix .. 'owned:' .. inst
    while #out < limit do
      local id = redis.call('SPOP', owned)
      if not id then break end
      if redis.call('HGET', KEYS[2], id) == inst then
        local snapshot = redis.call('GET', prefix .. 'call:' .. id)
        if snapshot then
          redis.call('HSET', KEYS[2], id, me)
          redis.call('SADD', prefix .. 'owned:' .. me, id)
          table.insert(out, snapshot)
        else
          redis.call('HDEL', KEYS[2], id)
        end
      end
    end
    if redis.call('SCARD', owned) == 0 then redis.call('SREM', KEYS[1], inst) end
  end
end
return out
"""

_ACQUIRE_LEASE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


def queue_score(priority: int, at: datetime) -> int:
    """The score base of a queue entry: higher priority first, then earlier arrival."""
    level = MAX_PRIORITY - min(max(priority, 0), MAX_PRIORITY)
    millis = max(int(at.timestamp() * 1000) - _EPOCH_MS, 0)
    return level * _PRIORITY_STEP + millis * 1000


def _presence(raw: str) -> tuple[Presence, datetime]:
    presence, _, since = raw.partition("|")
    return Presence(presence), datetime.fromisoformat(since)


def _snapshot(owner: str | None, raw: str | None) -> CallSnapshot | None:
    """A stored snapshot with its owner as the call index says, if there is one."""
    if not raw:
        return None
    snapshot = CallSnapshot.from_json(raw)
    if owner:
        snapshot.owner = owner
    return snapshot


def _ms(value: float) -> int:
    return max(int(value * 1000), 1)


class RedisLiveState:
    """``LiveState`` and ``CallRegistry`` on a Redis server (``redis.asyncio``)."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "ivr:",
        pubsub_client: aioredis.Redis | None = None,
    ) -> None:
        self._r = client
        self._pubsub_client = pubsub_client or client
        self.prefix = prefix
        self._enqueue = client.register_script(_ENQUEUE)
        self._queue_status = client.register_script(_QUEUE_STATUS)
        self._set_presence = client.register_script(_SET_PRESENCE)
        self._restore_presence = client.register_script(_RESTORE_PRESENCE)
        self._claim_next = client.register_script(_CLAIM_NEXT)
        self._handling_time = client.register_script(_HANDLING_TIME)
        self._save_call = client.register_script(_SAVE_CALL)
        self._load_call = client.register_script(_LOAD_CALL)
        self._listener_call = client.register_script(_LISTENER_CALL)
        self._drop_call = client.register_script(_DROP_CALL)
        self._transfer_call = client.register_script(_TRANSFER_CALL)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._take_over = client.register_script(_TAKE_OVER)
        self._acquire_lease = client.register_script(_ACQUIRE_LEASE)
        self._release_lease = client.register_script(_RELEASE_LEASE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "ivr:", timeout_s: float = 0.5) -> RedisLiveState:
        """Clients for ``url``: short timeouts, so that a lost server is noticed at once."""
        # One immediate retry replaces a pooled connection that died with a Redis restart;
        # more would only delay the switch to degraded mode (ivr.state.resilient).
        client = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),
        )
        pubsub = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=None,
            socket_connect_timeout=timeout_s,
            health_check_interval=5,
        )
        return cls(client, prefix, pubsub)

    async def close(self) -> None:
        await self._r.aclose()
        if self._pubsub_client is not self._r:
            await self._pubsub_client.aclose()

    async def ping(self) -> bool:
        return bool(await self._r.ping())

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def _run(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await script(keys=list(keys), args=list(args))

    # ----------------------------------------------------------------- rotation

    async def last_answerer(self, key: str) -> str | None:
        return cast(str | None, await self._r.get(self._k("rot", key)))

    async def record_answerer(self, key: str, number: str) -> None:
        await self._r.set(self._k("rot", key), number)

    # ----------------------------------------------------------------- queues

    async def enqueue(self, departement: str, call_id: str, priority: int, at: datetime) -> int:
        position = await self._run(
            self._enqueue,
            [self._k("q", departement), self._k("seq")],
            [call_id, queue_score(priority, at)],
        )
        return int(position)

    async def dequeue(self, departement: str, call_id: str) -> bool:
        return bool(await self._r.zrem(self._k("q", departement), call_id))

    async def queue_status(
        self, departement: str, call_id: str | None, default_handling_s: int
    ) -> QueueStatus:
        rank, count, presences, handling, flags = await self._run(
            self._queue_status,
            [
                self._k("q", departement),
                self._k("pres", departement),
                self._k("ht", departement),
                self._k("plat", departement),
            ],
            [call_id or ""],
        )
        position = int(rank) + 1 if int(rank) >= 0 else 0
        waiting = int(count)
        ahead = position - 1 if position else waiting
        states = [_presence(raw)[0] for raw in presences]
        logged_in = sum(1 for p in states if p is not Presence.OFFLINE)
        available = sum(1 for p in states if p is Presence.AVAILABLE)
        closed, emergency = flags
        return QueueStatus(
            waiting=waiting if not position else ahead,
            listeners_logged_in=logged_in,
            listeners_available=available,
            estimated_wait_s=estimate_wait(
                ahead, logged_in, [float(h) for h in handling], default_handling_s
            ),
            position=position,
            closed=closed == "1",
            emergency_closed=emergency == "1",
        )

    async def waiting_calls(self, departement: str) -> list[str]:
        return cast(list[str], await self._r.zrange(self._k("q", departement), 0, -1))

    async def set_presence(
        self, departement: str, listener: str, presence: Presence, at: datetime
    ) -> None:
        await self._run(
            self._set_presence,
            [self._k("pres", departement), self._k("free", departement)],
            [listener, presence.value, at.isoformat(), int(at.timestamp() * 1000)],
        )

    async def restore_presence(self, departement: str, listener: ListenerState) -> bool:
        """Set a listener's presence only if Redis knows nothing of them (after data loss)."""
        at = listener.since
        restored = await self._run(
            self._restore_presence,
            [self._k("pres", departement), self._k("free", departement)],
            [listener.number, listener.presence.value, at.isoformat(), int(at.timestamp() * 1000)],
        )
        return bool(restored)

    async def restore_answerer(self, key: str, number: str) -> bool:
        """Set a rotation pointer only if Redis has none (after data loss)."""
        return bool(await self._r.set(self._k("rot", key), number, nx=True))

    async def listeners(self, departement: str) -> list[ListenerState]:
        raw = cast(dict[str, str], await self._r.hgetall(self._k("pres", departement)))
        out = []
        for number, value in raw.items():
            presence, since = _presence(value)
            out.append(ListenerState(number, presence, since))
        return out

    async def set_support_agent(self, agent: SupportAgentState) -> None:
        await self._r.hset(self._k("support"), agent.login, agent.to_json())

    async def restore_support_agent(self, agent: SupportAgentState) -> bool:
        """Set an agent's post and presence only if Redis has none (after data loss)."""
        return bool(await self._r.hsetnx(self._k("support"), agent.login, agent.to_json()))

    async def support_agents(self) -> list[SupportAgentState]:
        raw = cast(dict[str, str], await self._r.hgetall(self._k("support")))
        return [SupportAgentState.from_json(value) for value in raw.values()]

    async def claim_next(
        self, departement: str, at: datetime, owner: str | None = None
    ) -> Claim | None:
        claimed = await self._run(
            self._claim_next,
            [
                self._k("q", departement),
                self._k("free", departement),
                self._k("pres", departement),
                self._k("calls"),
            ],
            [owner or "", at.isoformat()],
        )
        if not claimed:
            return None
        call_id, listener = claimed
        return Claim(call_id, departement, listener)

    async def record_handling_time(self, departement: str, seconds: float) -> None:
        await self._run(
            self._handling_time,
            [self._k("ht", departement)],
            [repr(float(seconds)), RECENT_HANDLING_TIMES],
        )

    async def set_platform(self, departement: str, *, closed: bool, emergency_closed: bool) -> None:
        await self._r.hset(
            self._k("plat", departement),
            mapping={"closed": int(closed), "emergency_closed": int(emergency_closed)},
        )

    # ----------------------------------------------------------------- calls

    async def save_call(self, snapshot: CallSnapshot) -> bool:
        saved = await self._run(
            self._save_call,
            [
                self._k("calls"),
                self._k("call", snapshot.call_id),
                self._k("owned", snapshot.owner),
                self._k("listening"),
            ],
            [snapshot.call_id, snapshot.owner, snapshot.to_json(), *snapshot.listener_phones],
        )
        return bool(saved)

    async def load_call(self, call_id: str) -> CallSnapshot | None:
        owner, raw = await self._run(
            self._load_call, [self._k("calls"), self._k("call", call_id)], [call_id]
        )
        return _snapshot(owner, raw)

    async def listener_call(self, number: str) -> CallSnapshot | None:
        # The snapshot key is built in the script from the id it reads (one round trip);
        # fine on one Redis, which is what this module supports (no Cluster).
        found = await self._run(
            self._listener_call,
            [self._k("listening"), self._k("calls")],
            [number, self._k("call", "")],
        )
        if not found:
            return None
        owner, raw = found
        return _snapshot(owner, raw)

    async def call_owner(self, call_id: str) -> str | None:
        return cast(str | None, await self._r.hget(self._k("calls"), call_id))

    async def drop_call(self, call_id: str, owner: str) -> bool:
        dropped = await self._run(
            self._drop_call,
            [
                self._k("calls"),
                self._k("call", call_id),
                self._k("owned", owner),
                self._k("listening"),
            ],
            [call_id, owner],
        )
        return bool(dropped)

    async def transfer_call(self, call_id: str, from_owner: str, to_owner: str) -> bool:
        moved = await self._run(
            self._transfer_call,
            [self._k("calls"), self._k("owned", from_owner), self._k("owned", to_owner)],
            [call_id, from_owner, to_owner],
        )
        return bool(moved)

    async def owned_calls(self, instance: str) -> set[str]:
        return cast(set[str], await self._r.smembers(self._k("owned", instance)))

    async def heartbeat(self, instance: str, ttl_s: float) -> None:
        await self._run(
            self._heartbeat,
            [self._k("inst", instance), self._k("instances")],
            [instance, datetime.now(UTC).isoformat(), _ms(ttl_s)],
        )

    async def release_instance(self, instance: str) -> None:
        await self._r.delete(self._k("inst", instance))

    async def instance_alive(self, instance: str) -> bool:
        return bool(await self._r.exists(self._k("inst", instance)))

    async def take_over(self, instance: str, limit: int) -> list[CallSnapshot]:
        raws = await self._run(
            self._take_over,
            [self._k("instances"), self._k("calls")],
            [instance, limit, self.prefix],
        )
        out = []
        for raw in raws:
            snapshot = CallSnapshot.from_json(raw)
            snapshot.owner = instance
            out.append(snapshot)
        return out

    # ----------------------------------------------------------------- leases

    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        got = await self._run(self._acquire_lease, [self._k("lease", name)], [holder, _ms(ttl_s)])
        return bool(got)

    async def release_lease(self, name: str, holder: str) -> bool:
        released = await self._run(self._release_lease, [self._k("lease", name)], [holder])
        return bool(released)

    async def lease_holder(self, name: str) -> str | None:
        return cast(str | None, await self._r.get(self._k("lease", name)))

    # ----------------------------------------------------------------- notifications

    async def notify(self, departement: str) -> None:
        await self._r.publish(self._k("dispatch"), departement)

    async def notifications(self, stop: asyncio.Event) -> AsyncIterator[str]:
        """Départements to dispatch; reconnects by itself when the server comes back.

        It polls with a short timeout and ends when ``stop`` is set: cancelling a pub/sub
        read in redis-py can leave its connection pool locked."""
        channel = self._k("dispatch")
        while not stop.is_set():
            pubsub: PubSub = self._pubsub_client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=0.25)
                    if message is not None and message.get("type") == "message":
                        yield str(message["data"])
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                log.warning("dispatch notifications interrupted: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            finally:
                with contextlib.suppress(aioredis.ConnectionError, aioredis.TimeoutError, OSError):
                    await cast(Any, pubsub).aclose()  # untyped in redis-py
