"""The live state a simulated call runs on: in memory, with the 115 platform of its script.

``SimulatedPlatform`` is the runtime's ``InMemoryLiveState`` (rotation pointers shared by
every call of a simulator, the simulated call's own queue entry) plus what the script says
of the rest of the platform: how many calls already wait, how many listeners are logged in
and whether the platform is closed. Those calls ahead are served at the département's
default handling time, ``listeners`` at a time; a listener is offered the call (through the
runtime's own dispatch) once they are served, or 5 s after it went back to the head of the
queue. A listener who does not pick up is not offered the call again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ivr.flow.vocabulary import CallSummary, DialOutcome, QueueStatus
from ivr.runtime.live_state import (
    Claim,
    InMemoryLiveState,
    Presence,
    SupportAgentState,
    support_away,
)
from ivr.sim.clock import OFFER, Entry, VirtualTime
from routing.config import RoutingConfig

REQUEUED_OFFER_S = 5


class QueueScript(Protocol):
    """What the platform needs of a call's script."""

    listeners: int
    waiting: int
    closed: bool
    emergency_closed: bool
    support_paused: frozenset[str]
    support_offline: frozenset[str]

    def result_for(self, number: str) -> DialOutcome: ...


Log = Callable[..., None]


@dataclass(slots=True)
class _Platform:
    """The scripted side of the platform, for the call under way."""

    script: QueueScript
    log: Log
    offer: Callable[[str], None]
    queued_at: float | None = None
    offer_entry: Entry | None = None
    cursor: int = 0
    failed: set[str] = field(default_factory=set)


class SimulatedPlatform(InMemoryLiveState):
    """In-memory live state with a scripted 115 platform around the simulated call."""

    def __init__(self, config: RoutingConfig, time: VirtualTime) -> None:
        super().__init__()
        self.config = config
        self.time = time
        self._run: _Platform | None = None
        self._offering = False

    def begin(self, script: QueueScript, log: Log, offer: Callable[[str], None]) -> None:
        """A new simulated call: ``offer(departement)`` runs the runtime's dispatch."""
        self._run = _Platform(script, log, offer)

    def end(self) -> None:
        self._run = None

    @property
    def run(self) -> _Platform:
        if self._run is None:
            raise RuntimeError("no simulated call under way")
        return self._run

    # ----------------------------------------------------------------- the script's model

    def _handling(self, departement: str) -> int:
        dep = self.config.departement(departement)
        return dep.line_115.queue.default_handling_time_s if dep else 300

    def _listeners(self, departement: str) -> list[tuple[str, str]]:
        dep = self.config.departement(departement)
        if dep is None:
            return []
        positions = [(c.number, c.name) for c in dep.line_115.listeners]
        return positions[: min(self.run.script.listeners, len(positions))]

    def _next_listener(self, departement: str) -> tuple[str, str] | None:
        """The next listener in rank order after the last one offered, skipping those who
        did not pick up (offered 1, 2, 3 in turn, as the routing file ranks them)."""
        listeners = self._listeners(departement)
        for step in range(len(listeners)):
            index = (self.run.cursor + step) % len(listeners)
            if listeners[index][0] not in self.run.failed:
                self.run.cursor = index + 1
                return listeners[index]
        return None

    def _usable(self, departement: str) -> list[tuple[str, str]]:
        return [lst for lst in self._listeners(departement) if lst[0] not in self.run.failed]

    def _estimated_wait(self, departement: str, ahead: int) -> int:
        listeners = self.run.script.listeners
        if listeners <= 0:
            return 0
        return math.ceil(ahead / listeners) * self._handling(departement)

    def _schedule_offer(self, departement: str, requeued: bool) -> None:
        run = self.run
        if run.offer_entry is not None:
            run.offer_entry.cancelled = True
            run.offer_entry = None
        if not self._usable(departement):
            return
        delay = (
            REQUEUED_OFFER_S if requeued else self._estimated_wait(departement, run.script.waiting)
        )
        run.offer_entry = self.time.at(self.time.t + delay, OFFER, lambda: self._offer(departement))

    def _offer(self, departement: str) -> None:
        self.run.offer_entry = None
        self._offering = True
        try:
            self.run.offer(departement)
        finally:
            self._offering = False

    # ----------------------------------------------------------------- LiveState

    async def enqueue(self, departement: str, call_id: str, priority: int, at: datetime) -> int:
        position = await super().enqueue(departement, call_id, priority, at)
        run = self.run
        run.queued_at = self.time.t
        run.log("enqueue", departement=departement, priority=priority)
        self._schedule_offer(departement, requeued=priority > 0)
        return position + run.script.waiting

    async def dequeue(self, departement: str, call_id: str) -> bool:
        run = self.run
        run.queued_at = None
        if run.offer_entry is not None:
            run.offer_entry.cancelled = True
            run.offer_entry = None
        run.log("dequeue", departement=departement)
        return await super().dequeue(departement, call_id)

    async def queue_status(
        self, departement: str, call_id: str | None, default_handling_s: int
    ) -> QueueStatus:
        run = self.run
        script = run.script
        ahead = script.waiting
        position = 0
        if run.queued_at is not None:
            handling = max(self._handling(departement), 1)
            served = int((self.time.t - run.queued_at) // handling) * max(script.listeners, 0)
            ahead = max(script.waiting - served, 0)
            position = ahead + 1
        return QueueStatus(
            waiting=ahead,
            listeners_logged_in=script.listeners,
            listeners_available=script.listeners if ahead == 0 else 0,
            estimated_wait_s=self._estimated_wait(departement, ahead),
            position=position,
            closed=script.closed,
            emergency_closed=script.emergency_closed,
        )

    async def support_agents(self) -> list[SupportAgentState]:
        """The agents the script says are paused or signed out (one per post), and the
        national support posts the call's tier 2 will not ring for that reason (logged)."""
        script, now = self.run.script, self.time.clock()
        agents = await super().support_agents()
        for presence, numbers in (
            (Presence.PAUSED, script.support_paused),
            (Presence.OFFLINE, script.support_offline),
        ):
            agents += [SupportAgentState(f"sim:{n}", n, presence, now) for n in sorted(numbers)]
        names = {c.number: c.name for c in self.config.national.support.numbers}
        for number, why in support_away(agents):
            if number in names:
                self.run.log("support_away", number=number, name=names[number], result=why.value)
        return agents

    async def claim_next(
        self, departement: str, at: datetime, owner: str | None = None
    ) -> Claim | None:
        """A listener is free only when the script's model says so (``_offer``)."""
        if not self._offering:
            return None
        self._offering = False
        run = self.run
        waiting = await self.waiting_calls(departement)
        chosen = self._next_listener(departement)
        if not waiting or chosen is None:
            return None
        number, name = chosen
        if run.script.result_for(number) is not DialOutcome.ANSWERED:
            run.failed.add(number)
        run.queued_at = None
        await super().dequeue(departement, waiting[0])
        run.log("listener_offered", number=number, name=name)
        return Claim(waiting[0], departement, number)


class SimulatedSinks:
    """The runtime's record and call-back sinks for simulated calls (kept in memory)."""

    def __init__(self) -> None:
        self.callbacks: list[tuple[str, str]] = []
        self.log: Log = _ignore
        self.summary: CallSummary | None = None

    def begin(self, log: Log) -> None:
        self.callbacks = []
        self.log = log
        self.summary = None

    async def register(self, departement: str, number: str, call_id: str, at: datetime) -> None:
        self.callbacks.append((departement, number))
        self.log("callback_registered", departement=departement, number=number)

    async def call_finished(
        self, summary: CallSummary, started_at: datetime, ended_at: datetime
    ) -> None:
        self.summary = summary


def _ignore(kind: str, **data: Any) -> None:
    return None
