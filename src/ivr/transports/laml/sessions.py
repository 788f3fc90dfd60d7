"""What the LaML transport keeps per call (sessions, listener legs, call-back attempts), its
limits, and small helpers."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

from ivr.flow import Phase
from ivr.flow.vocabulary import (
    DialTarget,
    Gather,
    Prompt,
)
from ivr.runtime.runtime import MediaCommand
from ivr.transports.laml.verbs import Document

Query = dict[str, str]
# The queue announcement can be cut short by a key press (the call-back offer says "tapez 1");
# the other messages before a queue (welcome, recording notice) are heard in full.
INTERRUPTIBLE_PROMPTS = frozenset({"queue_position", "queue_callback_offer"})
WAITING_PHASES = frozenset({Phase.QUEUED, Phase.QUEUE_REFRESH, Phase.LISTENER_DIALING})
LISTENER_QUEUE_DIAL_TIMEOUT_S = 10
CALLBACK_RING_TIMEOUT_S = 30
MAX_SESSIONS = 100_000  # live calls; more means calls the provider never ended
MAX_ENDED = 50_000  # finished calls remembered for late and repeated requests
MAX_REMEMBERED_RECORDINGS = 10_000
MAX_CACHED_MENUS = 4096
ANY_STEP = -1  # a call resumed from another instance: its next request sets the step


class OverBudgetError(Exception):
    """The runtime did not answer within the webhook budget."""


@dataclass(slots=True)
class ListenerLeg:
    """The outbound call to a listener offered a queued caller."""

    token: str
    number: str
    departement: str | None = None
    sid: str | None = None
    answered: bool = False
    done: bool = False  # ended, or given up by the service
    cancel_wanted: bool = False  # the caller left before the provider gave the leg's sid
    status_rank: int = -1
    document: bytes | None = None


@dataclass(slots=True)
class CallSession:
    """What the transport remembers of one inbound call."""

    call_id: str
    called: str
    caller: str | None
    step: int = 0
    replies: dict[tuple[str, int], bytes] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    in_queue: bool = False
    queue_sid: str | None = None
    announcement: list[Prompt] = field(default_factory=list)
    pending: list[MediaCommand] | None = None
    dial_step: int = -1
    dial_targets: tuple[DialTarget, ...] = ()
    dial_answered: str | None = None
    listener: ListenerLeg | None = None
    flow_ended: bool = False  # the flow hung up (its Hangup may still wait to be sent)
    ended: bool = False  # the provider's call is over, or it runs the fallback path
    status_rank: int = -1
    asking: Gather | None = None  # the menu of the last document, for "*"
    partial: str = ""  # digits typed before a "*"-free remainder is gathered

    @property
    def queue_name(self) -> str:
        return f"ivr-{self.call_id}"

    def remember(self, route: str, request_step: int, document: bytes) -> bytes:
        """Keep the answer to a request for repeats; the call moves to the next step."""
        self.replies = {key: doc for key, doc in self.replies.items() if key[1] >= request_step - 1}
        self.replies[route, request_step] = document
        self.step = request_step + 1
        return document


@dataclass(slots=True)
class CallbackAttempt:
    """A listener's call-back: first the listener's phone, then the person."""

    callback_id: str
    departement: str
    listener: str
    person: str
    sid: str | None = None
    status_rank: int = -1
    result: str | None = None


def random_token() -> str:
    return secrets.token_hex(8)


def withdrawn_document() -> bytes:
    doc = Document()
    doc.say("Cet appel n'est plus en attente. Merci.")
    doc.hangup()
    return doc.to_bytes()


def int_or_none(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def rfc2822_or_none(raw: str) -> datetime | None:
    """The providers' timestamps: ``Mon, 10 Mar 2025 09:02:11 +0000``."""
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
