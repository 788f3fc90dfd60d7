"""The simulation's virtual clock and agenda: nothing sleeps, every wait moves the clock.

``VirtualTime`` is the clock the runtime reads, its ``TimerService`` and its ``Spawner``
(the queue dispatches it starts besides a step): what falls due is kept in an agenda and
run in time order, each coroutine driven to its end at once. The simulation's ports never
wait (in-memory live state, sinks in memory), so a coroutine that suspends is a bug of the
simulation, reported as such rather than hidden.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

# What runs first among entries due at the same moment.
BACKGROUND = 0  # the runtime's own work started by a step (queue dispatch)
OFFER = 1  # a listener becomes free for the call
TIMER = 2  # a flow timer
CALLER = 3  # what the caller or the phones do


class SimulationError(RuntimeError):
    """The simulation itself went wrong (a flow that never ends, a bad script)."""


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits to its end, at once."""
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise SimulationError("une opération simulée attend hors de l'horloge virtuelle")


class Entry:
    """Something due at ``due`` seconds; ``cancelled`` entries are skipped."""

    __slots__ = ("action", "cancelled", "coro", "due", "kind")

    def __init__(
        self,
        due: float,
        kind: int,
        action: Callable[[], None],
        coro: Coroutine[Any, Any, None] | None = None,
    ) -> None:
        self.due = due
        self.kind = kind
        self.action = action
        self.cancelled = False
        self.coro = coro  # a coroutine the action runs (closed if it never does)


class VirtualTime:
    """A virtual clock with its agenda, for one simulated call at a time."""

    def __init__(self) -> None:
        self.origin = datetime.min
        self.t = 0.0
        self.now = datetime.min
        self._now_t = 0.0
        self._agenda: list[tuple[float, int, int, Entry]] = []
        self._order = itertools.count()
        self._timers: dict[tuple[str, str], Entry] = {}

    def reset(self, start: datetime) -> None:
        """Start again at ``start``, with nothing due."""
        self.clear()
        self.origin = start
        self.t = 0.0
        self.now = start
        self._now_t = 0.0

    def clear(self) -> None:
        """Forget what is still due (the call is over)."""
        for _, _, _, entry in self._agenda:
            if entry.coro is not None:
                entry.coro.close()
        self._agenda.clear()
        self._timers.clear()

    def clock(self) -> datetime:
        if self._now_t != self.t:
            self._now_t = self.t
            self.now = self.origin + timedelta(seconds=self.t)
        return self.now

    def advance(self, seconds: float) -> None:
        self.move_to(self.t + seconds)

    def move_to(self, t: float) -> None:
        """Move the clock to ``t`` (never back)."""
        if t > self.t:
            self.t = t

    def at(
        self,
        due: float,
        kind: int,
        action: Callable[[], None],
        coro: Coroutine[Any, Any, None] | None = None,
    ) -> Entry:
        entry = Entry(due, kind, action, coro)
        heapq.heappush(self._agenda, (due, kind, next(self._order), entry))
        return entry

    def next_entry(self) -> Entry | None:
        """The next entry due (the clock moved to it), or None when nothing is due."""
        while self._agenda:
            entry = heapq.heappop(self._agenda)[3]
            if not entry.cancelled:
                self.move_to(entry.due)
                return entry
        return None

    # ----------------------------------------------------------------- runtime ports

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """``Spawner``: the runtime's background work runs once the current step is done."""
        self.at(self.t, BACKGROUND, lambda: drive(coro), coro)

    def start(
        self, key: tuple[str, str], seconds: float, fire: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """``TimerService``: a flow timer."""
        self.cancel(key)

        def ring() -> None:
            self._timers.pop(key, None)
            drive(fire())

        self._timers[key] = self.at(self.t + seconds, TIMER, ring)

    def cancel(self, key: tuple[str, str]) -> None:
        entry = self._timers.pop(key, None)
        if entry is not None:
            entry.cancelled = True

    def cancel_call(self, call_id: str) -> None:
        for key in [k for k in self._timers if k[0] == call_id]:
            self.cancel(key)
