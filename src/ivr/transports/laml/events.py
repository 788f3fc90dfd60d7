"""What the provider tells us besides the flow's events: call statuses, recordings, call-backs.

The transport hands these to a ``ProviderEventSink`` in the background, never inside the
webhook's answer (the sink may write to the database). The call records and the recording
metadata are the integrator's implementation of the sink; ``MemoryProviderEvents`` keeps
them in memory for tests and the embedded mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Leg(StrEnum):
    """Which call a status is about."""

    CALLER = "caller"  # the inbound call (115 caller or assistance user)
    LISTENER = "listener"  # the outbound call to a listener, bridged with a queued caller
    CALLBACK = "callback"  # a listener's call-back: the listener's leg, then the person


@dataclass(frozen=True, slots=True)
class CallStatusUpdate:
    """A status callback, in order (duplicates and late ones are filtered out before)."""

    call_id: str  # the caller's CallSid (the flow's call id), or the call-back id
    leg: Leg
    provider_sid: str  # the CallSid of the leg the status is about
    status: str  # initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled
    duration_s: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingUpdate:
    """A recording status callback: where the file is and how it went."""

    call_id: str
    recording_sid: str
    status: str  # in-progress, completed, absent, failed
    url: str | None  # the provider's media URL (append .wav or .mp3 to fetch a format)
    duration_s: int | None
    channels: int | None
    started_at: datetime | None  # RecordingStartTime, when the provider sends it
    at: datetime


@dataclass(frozen=True, slots=True)
class CallbackUpdate:
    """How a listener's call-back went."""

    callback_id: str
    departement: str
    listener: str
    person: str
    status: str  # placed, listener-unreachable, connected, busy, no-answer, failed
    at: datetime


class ProviderEventSink(Protocol):
    async def call_status(self, update: CallStatusUpdate) -> None: ...

    async def recording(self, update: RecordingUpdate) -> None: ...

    async def callback(self, update: CallbackUpdate) -> None: ...


class MemoryProviderEvents:
    """Provider events kept in memory, in arrival order."""

    def __init__(self) -> None:
        self.statuses: list[CallStatusUpdate] = []
        self.recordings: list[RecordingUpdate] = []
        self.callbacks: list[CallbackUpdate] = []

    async def call_status(self, update: CallStatusUpdate) -> None:
        self.statuses.append(update)

    async def recording(self, update: RecordingUpdate) -> None:
        self.recordings.append(update)

    async def callback(self, update: CallbackUpdate) -> None:
        self.callbacks.append(update)
