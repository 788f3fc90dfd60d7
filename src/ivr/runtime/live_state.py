"""Live state shared by every call: rotation pointers, 115 queues, listener presence.

``LiveState`` is the port; ``InMemoryLiveState`` the embedded implementation (one process).
A shared implementation (Redis) makes the same operations atomic across instances.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ivr.flow.vocabulary import QueueStatus

RECENT_HANDLING_TIMES = 20


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

    async def claim_next(self, departement: str, at: datetime) -> Claim | None:
        """Pair the head of the queue with an available listener (who becomes busy)."""
        ...

    async def record_handling_time(self, departement: str, seconds: float) -> None: ...

    async def set_platform(
        self, departement: str, *, closed: bool, emergency_closed: bool
    ) -> None: ...


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
    """Live state in this process (the embedded default); single event loop, so atomic."""

    def __init__(self) -> None:
        self._rotation: dict[str, str] = {}
        self._queues: dict[str, _Queue] = {}
        self._seq = itertools.count()

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

    async def claim_next(self, departement: str, at: datetime) -> Claim | None:
        queue = self._queue(departement)
        order = queue.ordered()
        if not order:
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

    async def set_platform(self, departement: str, *, closed: bool, emergency_closed: bool) -> None:
        queue = self._queue(departement)
        queue.closed = closed
        queue.emergency_closed = emergency_closed
