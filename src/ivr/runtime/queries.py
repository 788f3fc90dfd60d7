"""What the web consoles ask of the calls in progress, answered in plain values.

The consoles import nothing else from ``ivr.runtime`` or ``ivr.flow``: the call states,
snapshots, media commands and flow phases stay behind these few questions, and every
answer is a small frozen dataclass a page can show as it is.

A call is looked for among the calls this instance holds, then, with a registry (several
instances sharing Redis), through the registry's listener index and the call snapshots
another instance saved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ivr.flow.common import MENU_PROMPTS
from ivr.flow.engine import CallState, Phase
from ivr.runtime.commands import decode_media
from ivr.runtime.live_state import Presence
from ivr.runtime.runtime import (
    CallRuntime,
    MediaCommand,
    ringing_phones,
    support_ringing_phones,
)

__all__ = [
    "CallQueries",
    "ListenerCall",
    "ListenerCallStatus",
    "PlatformStatus",
    "Presence",
    "SupportCall",
    "TriedDestination",
    "WaitingCall",
]

log = logging.getLogger(__name__)


class ListenerCallStatus(StrEnum):
    """How a call stands for the listener whose console asks."""

    CONNECTED = "connected"
    RINGING = "ringing"


@dataclass(frozen=True, slots=True)
class ListenerCall:
    """The call ringing or connected to a listener's phone, as the console shows it.

    ``heard_departement_menu``: the caller was asked to choose the département by the
    menu (not found from the number dialled nor by geolocation).
    """

    call_id: str
    status: ListenerCallStatus
    caller: str | None
    called: str
    departement: str
    started_at: datetime | None
    heard_departement_menu: bool


@dataclass(frozen=True, slots=True)
class ListenerActivity:
    """What a listener is doing, as their console says it: the presence the queue knows
    and the call on their phone. The queue counts a listener busy from the moment a call
    is offered to them: ``being_rung`` until they answer, ``in_call`` once connected."""

    presence: Presence
    call: ListenerCall | None

    @property
    def being_rung(self) -> bool:
        return self.call is not None and self.call.status is ListenerCallStatus.RINGING

    @property
    def in_call(self) -> bool:
        return self.call is not None and self.call.status is ListenerCallStatus.CONNECTED


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A call in a département's queue: its place (1: next) and when it arrived (None:
    not known here)."""

    position: int
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class TriedDestination:
    """A destination an assistance call rang before reaching national support: its number,
    tier (``tier1``, ``tier2``) and result (``no-answer``, ``busy``, ``failed``, ``answered``)."""

    number: str
    role: str
    result: str


@dataclass(frozen=True, slots=True)
class SupportCall:
    """An assistance call ringing or connected to a national support agent's phone.

    ``prompts`` are the ids of the prompts the caller heard (how the département was asked,
    whether they gave up on the menu); ``menu_tries`` the département menu's failed tries;
    ``reason`` the menu reason's code (None: none chosen); ``tried`` every destination rung.
    """

    call_id: str
    status: ListenerCallStatus
    caller: str | None
    called: str
    departement: str | None
    started_at: datetime | None
    reason: str | None
    prompts: tuple[str, ...]
    menu_tries: int
    tried: tuple[TriedDestination, ...]


def _support_status(
    phone: str, state: CallState, pending: Sequence[MediaCommand]
) -> ListenerCallStatus | None:
    if state.summary.connected_to == phone and state.phase is Phase.CONNECTED:
        return ListenerCallStatus.CONNECTED
    if phone in support_ringing_phones(state, pending):
        return ListenerCallStatus.RINGING
    return None


def _support_call(state: CallState, status: ListenerCallStatus) -> SupportCall:
    summary = state.summary
    return SupportCall(
        call_id=state.call_id,
        status=status,
        caller=state.caller,
        called=state.called,
        departement=state.departement,
        started_at=state.started_at,
        reason=summary.reason,
        prompts=tuple(summary.prompts),
        menu_tries=state.tries,
        tried=tuple(
            TriedDestination(a.number, a.role.value, a.result.value) for a in summary.attempts
        ),
    )


@dataclass(frozen=True, slots=True)
class PlatformStatus:
    """A département's 115 platform now, without any number: its queue (how many wait,
    since when the oldest), its listeners by presence, the wait the queue estimates and
    whether the platform is closed. ``oldest_started_at`` None: no call waits, or the head
    call's arrival is not known here."""

    departement: str
    waiting: int
    oldest_started_at: datetime | None
    listeners_available: int
    listeners_paused: int
    listeners_busy: int
    estimated_wait_s: int
    closed: bool
    emergency_closed: bool

    @property
    def listeners_logged_in(self) -> int:
        return self.listeners_available + self.listeners_paused + self.listeners_busy


def _status(
    phone: str, state: CallState, listener: str | None, pending: Sequence[MediaCommand]
) -> ListenerCallStatus | None:
    """How the call stands for this listener: connected, ringing, or not theirs."""
    if listener == phone or state.summary.connected_to == phone:
        return ListenerCallStatus.CONNECTED
    if phone in ringing_phones(state, pending):
        return ListenerCallStatus.RINGING
    return None


def _listener_call(state: CallState, status: ListenerCallStatus) -> ListenerCall:
    return ListenerCall(
        call_id=state.call_id,
        status=status,
        caller=state.caller,
        called=state.called,
        departement=state.departement or "",
        started_at=state.started_at,
        heard_departement_menu=MENU_PROMPTS[Phase.DEPT_MENU][0] in state.summary.prompts,
    )


class CallQueries:
    """The questions the consoles ask of a ``CallRuntime`` (and the commands they send:
    a listener's presence, a national support agent's post and presence)."""

    def __init__(self, runtime: CallRuntime) -> None:
        self._runtime = runtime

    async def listener_presence(self, departement: str, phone: str | None) -> Presence:
        """The presence of the listener on ``phone`` in the département (offline when the
        phone is unknown there, or when there is no phone)."""
        if not phone:
            return Presence.OFFLINE
        for state in await self._runtime.live.listeners(departement):
            if state.number == phone:
                return state.presence
        return Presence.OFFLINE

    async def listener_activity(self, departement: str, phone: str | None) -> ListenerActivity:
        """The listener's presence and the call ringing or connected to their phone."""
        presence = await self.listener_presence(departement, phone)
        return ListenerActivity(presence, await self.listener_call(phone, departement))

    async def set_listener_presence(self, departement: str, phone: str, presence: Presence) -> None:
        """Record the listener's presence (an available listener is offered the queue)."""
        await self._runtime.set_listener_presence(departement, phone, presence)

    async def set_support_presence(self, login: str, phone: str | None, presence: Presence) -> None:
        """Record a national support agent's post and presence (the tier-2 hunt does not
        ring the post of an agent paused or signed out)."""
        await self._runtime.set_support_agent(login, phone, presence)

    async def waiting_calls(self, departement: str) -> list[WaitingCall]:
        """The département's queue, head first."""
        runtime = self._runtime
        rows = []
        for position, call_id in enumerate(await runtime.live.waiting_calls(departement), 1):
            started: datetime | None = None
            local = runtime.calls.get(call_id)
            if local is not None:
                started = local.state.started_at
            elif runtime.registry is not None:
                snapshot = await runtime.registry.load_call(call_id)
                if snapshot is not None and snapshot.state.get("started_at"):
                    started = datetime.fromisoformat(snapshot.state["started_at"])
            rows.append(WaitingCall(position, started))
        return rows

    async def platform(self, departement: str, default_handling_s: int) -> PlatformStatus:
        """The département's 115 platform now (queue, listeners, closure): what the
        wallboard and the metrics show."""
        live = self._runtime.live
        status = await live.queue_status(departement, None, default_handling_s)
        presences = [state.presence for state in await live.listeners(departement)]
        oldest: datetime | None = None
        if status.waiting:
            head = await self.waiting_calls(departement)
            known = [row.started_at for row in head if row.started_at is not None]
            oldest = min(known) if known else None
        return PlatformStatus(
            departement=departement,
            waiting=status.waiting,
            oldest_started_at=oldest,
            listeners_available=presences.count(Presence.AVAILABLE),
            listeners_paused=presences.count(Presence.PAUSED),
            listeners_busy=presences.count(Presence.BUSY),
            estimated_wait_s=status.estimated_wait_s,
            closed=status.closed,
            emergency_closed=status.emergency_closed,
        )

    def live_calls(self) -> dict[tuple[str, str], int]:
        """The calls this instance holds now, by (line, département); "" when not known
        yet (a caller still in the first menu)."""
        counts: dict[tuple[str, str], int] = {}
        for call in list(self._runtime.calls.values()):
            state = call.state
            key = (state.line.value if state.line is not None else "", state.departement or "")
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def listener_call(self, phone: str | None, departement: str) -> ListenerCall | None:
        """The call of the département ringing or connected to this listener's phone: among
        the calls this instance holds, else through the registry's listener index (a call
        another instance holds)."""
        if not phone:
            return None
        for call in list(self._runtime.calls.values()):
            if call.state.departement != departement:
                continue
            status = _status(phone, call.state, call.listener, call.pending)
            if status is not None:
                return _listener_call(call.state, status)
        return await self._elsewhere(phone, departement)

    async def support_call(self, phone: str | None) -> SupportCall | None:
        """The assistance call ringing or connected to this national support phone: among
        the calls this instance holds, else through the registry's phone index."""
        if not phone:
            return None
        for call in list(self._runtime.calls.values()):
            status = _support_status(phone, call.state, call.pending)
            if status is not None:
                return _support_call(call.state, status)
        found = await self._indexed(phone)
        if found is None:
            return None
        state, _listener, pending = found
        status = _support_status(phone, state, pending)
        return _support_call(state, status) if status is not None else None

    async def _indexed(self, phone: str) -> tuple[CallState, str | None, list[MediaCommand]] | None:
        """The live call another instance indexed under ``phone`` (None: none, finished,
        or a snapshot this release cannot read)."""
        registry = self._runtime.registry
        if registry is None:
            return None
        snapshot = await registry.listener_call(phone)
        if snapshot is None:
            return None
        try:
            state = CallState.from_dict(snapshot.state)
            pending = [decode_media(raw) for raw in snapshot.pending]
        except (KeyError, TypeError, ValueError):  # a snapshot from another release
            log.warning("snapshot of call %s not readable here", snapshot.call_id)
            return None
        if self._runtime.flow.finished(state):
            return None
        return state, snapshot.listener, pending

    async def _elsewhere(self, phone: str, departement: str) -> ListenerCall | None:
        found = await self._indexed(phone)
        if found is None:
            return None
        state, listener, pending = found
        if state.departement != departement:
            return None
        status = _status(phone, state, listener, pending)
        return _listener_call(state, status) if status is not None else None
