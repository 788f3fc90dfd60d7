"""Live state shared by every call: rotation pointers, 115 queues, listener presence, and
the presence national support agents give on their page (the tier-2 hunt skips the posts
of agents paused or signed out).

``LiveState`` is the port; ``InMemoryLiveState`` the embedded implementation (one process).
A shared implementation (Redis, ``ivr.state``) makes the same operations atomic across
instances. ``CallRegistry`` is the second port: live-call snapshots, which instance owns each
call, instance and named leases, and dispatch notifications between instances.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from ivr.flow.vocabulary import DialOutcome, QueueStatus

RECENT_HANDLING_TIMES = 20
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once: fast dumps


class Presence(StrEnum):
    """A listener's availability on a 115 platform."""

    AVAILABLE = "available"
    PAUSED = "paused"
    BUSY = "busy"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class ListenerState:
    number: str
    presence: Presence
    since: datetime


@dataclass(frozen=True, slots=True)
class SupportAgentState:
    """A national support agent's post (the phone the assistance line rings) and presence,
    as they gave it on the support page."""

    login: str
    phone: str | None
    presence: Presence
    since: datetime

    def to_json(self) -> str:
        return _JSON.encode(
            {
                "login": self.login,
                "phone": self.phone,
                "presence": self.presence.value,
                "since": self.since.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> SupportAgentState:
        data = json.loads(raw)
        return cls(
            data["login"],
            data["phone"],
            Presence(data["presence"]),
            datetime.fromisoformat(data["since"]),
        )


def support_away(agents: list[SupportAgentState]) -> tuple[tuple[str, DialOutcome], ...]:
    """The posts not to ring: claimed by agents none of whom is available (``OFFLINE`` when
    all of them signed out, else ``PAUSED``). A post nobody claims is not listed."""
    by_phone: dict[str, set[Presence]] = {}
    for agent in agents:
        if agent.phone:
            by_phone.setdefault(agent.phone, set()).add(agent.presence)
    away: list[tuple[str, DialOutcome]] = []
    for phone, presences in sorted(by_phone.items()):
        if Presence.AVAILABLE in presences or Presence.BUSY in presences:
            continue
        offline = presences == {Presence.OFFLINE}
        away.append((phone, DialOutcome.OFFLINE if offline else DialOutcome.PAUSED))
    return tuple(away)


@dataclass(frozen=True, slots=True)
class Claim:
    """A waiting call paired with a free listener, atomically."""

    call_id: str
    departement: str
    listener: str


class LiveState(Protocol):
    """Operations on shared live state; each one is atomic."""

    async def last_answerer(self, key: str) -> str | None: ...

    async def record_answerer(self, key: str, number: str) -> None: ...

    async def enqueue(self, departement: str, call_id: str, priority: int, at: datetime) -> int:
        """Put a call in the queue (or move it); return its 1-based position."""
        ...

    async def dequeue(self, departement: str, call_id: str) -> bool: ...

    async def queue_status(
        self, departement: str, call_id: str | None, default_handling_s: int
    ) -> QueueStatus: ...

    async def waiting_calls(self, departement: str) -> list[str]: ...

    async def set_presence(
        self, departement: str, listener: str, presence: Presence, at: datetime
    ) -> None: ...

    async def listeners(self, departement: str) -> list[ListenerState]: ...

    async def claim_next(
        self, departement: str, at: datetime, owner: str | None = None
    ) -> Claim | None:
        """Pair the head of the queue with an available listener (who becomes busy).

        With ``owner``, only when the head call belongs to that instance (or to nobody): the
        instance that holds a call is the one that offers it, so the queue order is kept
        across instances without handing events from one instance to another.
        """
        ...

    async def record_handling_time(self, departement: str, seconds: float) -> None: ...

    async def set_platform(
        self, departement: str, *, closed: bool, emergency_closed: bool
    ) -> None: ...

    async def set_support_agent(self, agent: SupportAgentState) -> None:
        """Record a national support agent's post and presence (replaces their last)."""
        ...

    async def restore_support_agent(self, agent: SupportAgentState) -> bool:
        """Record it only when nothing is known of that login (what is already there, newer,
        wins); True when written."""
        ...

    async def support_agents(self) -> list[SupportAgentState]: ...


@dataclass(slots=True)
class CallSnapshot:
    """A live call as another instance needs it to take the call over.

    ``state`` is ``CallState.to_dict()``; ``pending`` the media commands the call waits on
    (encoded by the runtime); ``timers`` the flow timers still armed, by due time;
    ``transport_data`` what the transport needs to resume the call (opaque here);
    ``listener_phones`` the listeners whose phone rings for the call or who talk with the
    caller: the registry indexes the call under each of them (``listener_call``), in the
    same atomic write as the snapshot; ``ringing_listener`` the listener offered the call
    whose phone rings (made available again if the caller leaves meanwhile).
    """

    call_id: str
    owner: str
    state: dict[str, Any]
    transport: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    timers: dict[str, datetime] = field(default_factory=dict)
    listener: str | None = None
    connected_at: datetime | None = None
    answered_at: datetime | None = None
    dials: list[tuple[str, datetime]] = field(default_factory=list)
    transport_data: dict[str, Any] = field(default_factory=dict)
    takeovers: int = 0
    listener_phones: list[str] = field(default_factory=list)
    # The listener offered the call whose phone rings: freed if the caller leaves meanwhile,
    # by whichever instance holds the call then.
    ringing_listener: str | None = None

    def to_json(self) -> str:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return _JSON.encode(
            {
                "call_id": self.call_id,
                "owner": self.owner,
                "state": self.state,
                "transport": self.transport,
                "pending": self.pending,
                "timers": {name: due.isoformat() for name, due in self.timers.items()},
                "listener": self.listener,
                "connected_at": iso(self.connected_at),
                "answered_at": iso(self.answered_at),
                "dials": [[number, at.isoformat()] for number, at in self.dials],
                "transport_data": self.transport_data,
                "takeovers": self.takeovers,
                "listener_phones": self.listener_phones,
                "ringing_listener": self.ringing_listener,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> CallSnapshot:
        data = json.loads(raw)

        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value is not None else None

        return cls(
            call_id=data["call_id"],
            owner=data["owner"],
            state=data["state"],
            transport=data["transport"],
            pending=data["pending"],
            timers={name: datetime.fromisoformat(due) for name, due in data["timers"].items()},
            listener=data["listener"],
            connected_at=when(data["connected_at"]),
            answered_at=when(data["answered_at"]),
            dials=[(number, datetime.fromisoformat(at)) for number, at in data["dials"]],
            transport_data=data["transport_data"],
            takeovers=int(data["takeovers"]),
            listener_phones=list(data.get("listener_phones") or []),  # older snapshots: none
            ringing_listener=data.get("ringing_listener"),
        )


class CallRegistry(Protocol):
    """Live calls shared between instances: snapshots, owners, leases, notifications.

    Every operation is atomic. A call belongs to one instance (its owner); an instance keeps
    its own lease alive with ``heartbeat``; when that lease lapses, ``take_over`` lets a
    live instance claim the dead one's calls, each call by exactly one instance.
    """

    async def save_call(self, snapshot: CallSnapshot) -> bool:
        """Store the snapshot unless another instance owns the call now (then False).

        In the same atomic write, the call is indexed under each of its
        ``listener_phones`` and no longer under the phones its previous snapshot named."""
        ...

    async def load_call(self, call_id: str) -> CallSnapshot | None: ...

    async def listener_call(self, number: str) -> CallSnapshot | None:
        """The live call ringing or connected to this listener's phone, from any instance
        (the index kept by ``save_call`` and ``drop_call``); None when there is none."""
        ...

    async def call_owner(self, call_id: str) -> str | None: ...

    async def drop_call(self, call_id: str, owner: str) -> bool:
        """Forget a finished call (and its listener index entries), if ``owner`` still
        owns it."""
        ...

    async def transfer_call(self, call_id: str, from_owner: str, to_owner: str) -> bool:
        """Move a call from one owner to another, if ``from_owner`` still owns it."""
        ...

    async def owned_calls(self, instance: str) -> set[str]: ...

    async def heartbeat(self, instance: str, ttl_s: float) -> None:
        """Register the instance and extend its lease by ``ttl_s``."""
        ...

    async def release_instance(self, instance: str) -> None:
        """End the instance's lease now (a clean stop): its calls may be taken over at once."""
        ...

    async def instance_alive(self, instance: str) -> bool: ...

    async def take_over(self, instance: str, limit: int) -> list[CallSnapshot]:
        """Claim up to ``limit`` calls of instances whose lease lapsed."""
        ...

    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take (or extend) the named lease; False when someone else holds it."""
        ...

    async def release_lease(self, name: str, holder: str) -> bool: ...

    async def lease_holder(self, name: str) -> str | None: ...

    async def notify(self, departement: str) -> None:
        """Tell every instance that a département's queue may be dispatched."""
        ...

    def notifications(self, stop: asyncio.Event) -> AsyncIterator[str]:
        """Départements named by ``notify`` (from any instance), as they come, until
        ``stop`` is set (the iteration then ends by itself, without cancellation)."""
        ...


@dataclass(slots=True)
class _Queue:
    entries: dict[str, tuple[int, datetime, int]] = field(default_factory=dict)
    listeners: dict[str, ListenerState] = field(default_factory=dict)
    handling: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_HANDLING_TIMES))
    closed: bool = False
    emergency_closed: bool = False

    def ordered(self) -> list[str]:
        return [
            call_id
            for call_id, _ in sorted(
                self.entries.items(), key=lambda item: (-item[1][0], item[1][1], item[1][2])
            )
        ]


def estimate_wait(ahead: int, logged_in: int, handling: list[float], default_s: int) -> int:
    """Seconds before a call with ``ahead`` calls in front of it is answered."""
    if logged_in <= 0:
        return 0
    average = sum(handling) / len(handling) if handling else float(default_s)
    return int(ahead * average / logged_in)


class InMemoryLiveState:
    """Live state in this process (the embedded default); single event loop, so atomic.

    It is also the ``CallRegistry`` of a single process (several runtimes in one process,
    as the tests run them, share it like instances share Redis). ``monotonic`` times leases.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rotation: dict[str, str] = {}
        self._support: dict[str, SupportAgentState] = {}  # login -> post and presence
        self._queues: dict[str, _Queue] = {}
        self._seq = itertools.count()
        self._monotonic = monotonic
        self._snapshots: dict[str, str] = {}
        self._owners: dict[str, str] = {}
        self._by_listener: dict[str, str] = {}  # listener phone -> call id
        self._phones: dict[str, list[str]] = {}  # call id -> the phones it is indexed under
        self._instances: dict[str, float] = {}  # instance -> lease expiry
        self._leases: dict[str, tuple[str, float]] = {}
        self._subscribers: set[asyncio.Queue[str]] = set()

    def _queue(self, departement: str) -> _Queue:
        return self._queues.setdefault(departement, _Queue())

    async def last_answerer(self, key: str) -> str | None:
        return self._rotation.get(key)

    async def record_answerer(self, key: str, number: str) -> None:
        self._rotation[key] = number

    async def enqueue(self, departement: str, call_id: str, priority: int, at: datetime) -> int:
        queue = self._queue(departement)
        queue.entries[call_id] = (priority, at, next(self._seq))
        return queue.ordered().index(call_id) + 1

    async def dequeue(self, departement: str, call_id: str) -> bool:
        return self._queue(departement).entries.pop(call_id, None) is not None

    async def queue_status(
        self, departement: str, call_id: str | None, default_handling_s: int
    ) -> QueueStatus:
        queue = self._queue(departement)
        order = queue.ordered()
        position = order.index(call_id) + 1 if call_id in queue.entries else 0
        ahead = position - 1 if position else len(order)
        logged_in = sum(
            1 for lst in queue.listeners.values() if lst.presence is not Presence.OFFLINE
        )
        available = sum(1 for lst in queue.listeners.values() if lst.presence is Presence.AVAILABLE)
        return QueueStatus(
            waiting=len(order) if not position else ahead,
            listeners_logged_in=logged_in,
            listeners_available=available,
            estimated_wait_s=estimate_wait(
                ahead, logged_in, list(queue.handling), default_handling_s
            ),
            position=position,
            closed=queue.closed,
            emergency_closed=queue.emergency_closed,
        )

    async def waiting_calls(self, departement: str) -> list[str]:
        return self._queue(departement).ordered()

    async def set_presence(
        self, departement: str, listener: str, presence: Presence, at: datetime
    ) -> None:
        self._queue(departement).listeners[listener] = ListenerState(listener, presence, at)

    async def listeners(self, departement: str) -> list[ListenerState]:
        return list(self._queue(departement).listeners.values())

    async def claim_next(
        self, departement: str, at: datetime, owner: str | None = None
    ) -> Claim | None:
        queue = self._queue(departement)
        order = queue.ordered()
        if not order:
            return None
        holder = self._owners.get(order[0])
        if owner is not None and holder is not None and holder != owner:
            return None
        free = sorted(
            (lst for lst in queue.listeners.values() if lst.presence is Presence.AVAILABLE),
            key=lambda lst: lst.since,
        )
        if not free:
            return None
        call_id = order[0]
        listener = free[0].number  # the listener free for the longest time
        del queue.entries[call_id]
        queue.listeners[listener] = ListenerState(listener, Presence.BUSY, at)
        return Claim(call_id, departement, listener)

    async def record_handling_time(self, departement: str, seconds: float) -> None:
        self._queue(departement).handling.append(seconds)

    async def set_support_agent(self, agent: SupportAgentState) -> None:
        self._support[agent.login] = agent

    async def restore_support_agent(self, agent: SupportAgentState) -> bool:
        if agent.login in self._support:
            return False
        await self.set_support_agent(agent)
        return True

    async def support_agents(self) -> list[SupportAgentState]:
        return list(self._support.values())

    def known_listeners(self) -> dict[str, list[ListenerState]]:
        return {dep: list(q.listeners.values()) for dep, q in self._queues.items() if q.listeners}

    def rotation_pointers(self) -> dict[str, str]:
        return dict(self._rotation)

    def snapshots(self) -> list[CallSnapshot]:
        return [CallSnapshot.from_json(raw) for raw in self._snapshots.values()]

    def queued_entries(self) -> dict[str, list[tuple[str, int, datetime]]]:
        """Every queued call by département: (call id, priority, arrival), in queue order."""
        out: dict[str, list[tuple[str, int, datetime]]] = {}
        for departement, queue in self._queues.items():
            if queue.entries:
                out[departement] = [
                    (call_id, queue.entries[call_id][0], queue.entries[call_id][1])
                    for call_id in queue.ordered()
                ]
        return out

    async def set_platform(self, departement: str, *, closed: bool, emergency_closed: bool) -> None:
        queue = self._queue(departement)
        queue.closed = closed
        queue.emergency_closed = emergency_closed

    # ----------------------------------------------------------------- CallRegistry

    async def save_call(self, snapshot: CallSnapshot) -> bool:
        holder = self._owners.get(snapshot.call_id)
        if holder is not None and holder != snapshot.owner:
            return False
        self._index(snapshot)
        return True

    def _index(self, snapshot: CallSnapshot) -> None:
        """Keep ``snapshot`` and its owner; index the call by its listeners' phones."""
        self._owners[snapshot.call_id] = snapshot.owner
        self._snapshots[snapshot.call_id] = snapshot.to_json()
        self._unindex(snapshot.call_id)
        for phone in snapshot.listener_phones:
            self._by_listener[phone] = snapshot.call_id
        if snapshot.listener_phones:
            self._phones[snapshot.call_id] = list(snapshot.listener_phones)

    def _unindex(self, call_id: str) -> None:
        for phone in self._phones.pop(call_id, []):
            if self._by_listener.get(phone) == call_id:
                del self._by_listener[phone]

    async def listener_call(self, number: str) -> CallSnapshot | None:
        call_id = self._by_listener.get(number)
        return await self.load_call(call_id) if call_id is not None else None

    async def load_call(self, call_id: str) -> CallSnapshot | None:
        raw = self._snapshots.get(call_id)
        if raw is None:
            return None
        snapshot = CallSnapshot.from_json(raw)
        snapshot.owner = self._owners.get(call_id, snapshot.owner)
        return snapshot

    async def call_owner(self, call_id: str) -> str | None:
        return self._owners.get(call_id)

    async def drop_call(self, call_id: str, owner: str) -> bool:
        if self._owners.get(call_id, owner) != owner:
            return False
        self._owners.pop(call_id, None)
        self._snapshots.pop(call_id, None)
        self._unindex(call_id)
        return True

    async def transfer_call(self, call_id: str, from_owner: str, to_owner: str) -> bool:
        if self._owners.get(call_id) != from_owner:
            return False
        self._owners[call_id] = to_owner
        return True

    async def owned_calls(self, instance: str) -> set[str]:
        return {call_id for call_id, owner in self._owners.items() if owner == instance}

    async def heartbeat(self, instance: str, ttl_s: float) -> None:
        self._instances[instance] = self._monotonic() + ttl_s

    async def release_instance(self, instance: str) -> None:
        self._instances[instance] = float("-inf")

    async def instance_alive(self, instance: str) -> bool:
        return self._instances.get(instance, float("-inf")) > self._monotonic()

    async def take_over(self, instance: str, limit: int) -> list[CallSnapshot]:
        now = self._monotonic()
        dead = {i for i, expiry in self._instances.items() if i != instance and expiry <= now}
        taken: list[CallSnapshot] = []
        for call_id, owner in list(self._owners.items()):
            if len(taken) >= limit:
                break
            if owner in dead:
                self._owners[call_id] = instance
                snapshot = CallSnapshot.from_json(self._snapshots[call_id])
                snapshot.owner = instance
                taken.append(snapshot)
        for gone in dead - set(self._owners.values()):
            del self._instances[gone]
        return taken

    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        now = self._monotonic()
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._leases[name] = (holder, now + ttl_s)
        return True

    async def release_lease(self, name: str, holder: str) -> bool:
        current = self._leases.get(name)
        if current is None or current[0] != holder:
            return False
        del self._leases[name]
        return True

    async def lease_holder(self, name: str) -> str | None:
        current = self._leases.get(name)
        if current is None or current[1] <= self._monotonic():
            return None
        return current[0]

    async def notify(self, departement: str) -> None:
        for queue in self._subscribers:
            queue.put_nowait(departement)

    async def notifications(self, stop: asyncio.Event) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            while not stop.is_set():
                try:
                    yield await asyncio.wait_for(queue.get(), 0.5)
                except TimeoutError:
                    continue
        finally:
            self._subscribers.discard(queue)
