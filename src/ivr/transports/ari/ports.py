"""The ports of the ARI transport: scheduling, leadership, recordings, call snapshots."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ivr.flow.engine import CallState
from ivr.flow.vocabulary import (
    DialOutcome,
    DialTarget,
)
from ivr.runtime.runtime import MediaCommand

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- ports


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Where the transport's own timeouts wait (digits, ring, reconnect backoff)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable: ...


class LoopScheduler:
    """The running event loop's timers."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay, callback)


class Leadership(Protocol):
    """Which instance may hold the application's websocket (ARI allows one)."""

    leading: bool  # holds it now (False while standing by)

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Return True once this instance leads; the others wait here as standbys, and
        return False as soon as ``stop`` is set.

        A leadership that can be lost may also expose ``lost: asyncio.Event``: when it is
        set, the transport drops its websocket and its calls and calls ``acquire()`` again."""
        ...


class RecordingSink(Protocol):
    """Where the transport says a recording was started (the records' ``recordings``)."""

    async def recording_started(self, call_id: str, started_at: datetime, location: str) -> None:
        """``location`` is ``ari:<recordingName>``: the stored recording on Asterisk."""
        ...


class AlwaysLeader:
    """A single instance: it always leads."""

    leading = True

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        return True


class Wait(StrEnum):
    """What a call is waiting for."""

    NOTHING = "nothing"
    STARTING = "starting"
    PLAYBACK = "playback"
    DIGITS = "digits"
    DIAL = "dial"
    HOLD = "hold"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(slots=True)
class Leg:
    """One destination rung for a ``Dial``."""

    channel_id: str
    target: DialTarget
    outcome: DialOutcome | None = None


@dataclass(slots=True)
class MediaSnapshot:
    """What the transport knows of a call, so that another instance can resume it."""

    called: str
    caller: str | None
    wait: Wait
    current: MediaCommand | None
    pending: list[MediaCommand]
    digits: str  # the answer typed so far in the menu asking
    legs: list[Leg]
    bridge_id: str | None
    peer: str | None
    recording: str | None
    typed_ahead: str = ""  # keys pressed before a menu asked for them


@dataclass(slots=True)
class CallSnapshot:
    state: CallState
    media: MediaSnapshot


class CallSnapshots(Protocol):
    """Where call snapshots live so that a second instance can take calls over."""

    async def save(self, call_id: str, snapshot: CallSnapshot) -> None: ...

    async def load(self, call_id: str) -> CallSnapshot | None: ...

    async def delete(self, call_id: str) -> None: ...


class MemorySnapshots:
    """Snapshots in memory (one process; tests share one between two transports)."""

    def __init__(self) -> None:
        self.items: dict[str, CallSnapshot] = {}

    async def save(self, call_id: str, snapshot: CallSnapshot) -> None:
        self.items[call_id] = copy.deepcopy(snapshot)

    async def load(self, call_id: str) -> CallSnapshot | None:
        item = self.items.get(call_id)
        return copy.deepcopy(item) if item is not None else None

    async def delete(self, call_id: str) -> None:
        self.items.pop(call_id, None)
