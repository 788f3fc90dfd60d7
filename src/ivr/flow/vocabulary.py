"""The one vocabulary every transport speaks: events into a call flow, commands out of it.

A transport (the simulator, Asterisk ARI, LaML webhooks) feeds events and executes the
commands of each batch in order. Every batch ends with a command that waits for an event
(``Gather``, ``Dial``, ``Hold``, a ``Fetch*`` request) or with ``Hangup``; ``Play`` and the
bookkeeping commands complete on their own before the next command runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# --------------------------------------------------------------------------- prompts


@dataclass(frozen=True, slots=True)
class Sound:
    """A recorded sound file, by name (``prompts/fr/<name>.wav``)."""

    name: str


@dataclass(frozen=True, slots=True)
class SayNumber:
    """A number spoken by the platform (Asterisk ``number:``, a ``Say`` in LaML)."""

    value: int


Segment = Sound | SayNumber


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the caller hears: an id, the French text, and how to render it from sound files."""

    id: str
    text: str
    segments: tuple[Segment, ...]


# --------------------------------------------------------------------------- shared values


class Line(StrEnum):
    ASSISTANCE = "assistance"
    EMERGENCY = "115"


class Role(StrEnum):
    """Who a dialled destination is."""

    TIER1 = "tier1"
    TIER2 = "tier2"
    LISTENER = "listener"
    LRO = "lro"


class DialOutcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    # Never rung: the flow skipped a national support number whose agent(s) said so on the
    # support page (never a transport's answer).
    PAUSED = "paused"
    OFFLINE = "offline"


SKIPPED_OUTCOMES = frozenset({DialOutcome.PAUSED, DialOutcome.OFFLINE})


class Outcome(StrEnum):
    """How a call ended, from the caller's side."""

    CONNECTED = "connected"
    CALLBACK = "callback"
    MESSAGE = "message"
    CALLER_HUNG_UP = "caller-hung-up"


@dataclass(frozen=True, slots=True)
class DialTarget:
    number: str
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """What deterrence and announcements need to know about a département's 115 queue."""

    waiting: int
    listeners_logged_in: int
    listeners_available: int
    estimated_wait_s: int
    position: int = 0  # this call's position, 0 when it is not queued
    closed: bool = False
    emergency_closed: bool = False


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A call arrived on ``to_number`` (E.164). ``from_number`` is None when withheld."""

    call_id: str
    to_number: str
    from_number: str | None
    hint_departement: str | None = None  # from geolocation, when the number does not say


@dataclass(frozen=True, slots=True)
class DigitsReceived:
    digits: str


@dataclass(frozen=True, slots=True)
class InputTimedOut:
    pass


@dataclass(frozen=True, slots=True)
class DialResult:
    """How a ``Dial`` ended; ``results`` has one entry per target rung."""

    results: tuple[tuple[str, DialOutcome], ...]

    @property
    def answered_by(self) -> str | None:
        for number, outcome in self.results:
            if outcome is DialOutcome.ANSWERED:
                return number
        return None


@dataclass(frozen=True, slots=True)
class PeerHungUp:
    """The person the caller was connected to hung up."""


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    pass


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str


@dataclass(frozen=True, slots=True)
class RotationFetched:
    last_answerer: str | None


@dataclass(frozen=True, slots=True)
class SupportPresenceFetched:
    """National support numbers not to ring now: each claimed as their post by agents none
    of whom is available, with why (``PAUSED``, or ``OFFLINE`` when all are signed out).
    A number no agent claims is not listed (it rings as configured)."""

    away: tuple[tuple[str, DialOutcome], ...] = ()


@dataclass(frozen=True, slots=True)
class QueueStatusFetched:
    status: QueueStatus


@dataclass(frozen=True, slots=True)
class ListenerOffered:
    """The queue dispatcher chose this waiting call for a free listener."""

    number: str
    name: str


Event = (
    CallStarted
    | DigitsReceived
    | InputTimedOut
    | DialResult
    | PeerHungUp
    | CallerHungUp
    | TimerFired
    | RotationFetched
    | SupportPresenceFetched
    | QueueStatusFetched
    | ListenerOffered
)

# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Answer:
    pass


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``prompt``. Keys the caller presses meanwhile are kept for the next ``Gather``;
    an ``interruptible`` prompt (the welcome) also stops at the first key when a menu
    follows it, as ``Background()`` does."""

    prompt: Prompt
    interruptible: bool = False


@dataclass(frozen=True, slots=True)
class Gather:
    """Play ``prompt`` (interruptible) then collect up to ``max_digits`` digits.

    Keys typed ahead count first; the prompt stops at the first key of the answer; the
    answer ends at ``max_digits`` digits, on ``#``, or ``inter_digit_timeout_s`` after the
    last key (``timeout_s`` before the first); ``*`` starts it again (see ``keypad``)."""

    prompt: Prompt
    max_digits: int
    timeout_s: int
    inter_digit_timeout_s: int = 3


@dataclass(frozen=True, slots=True)
class Dial:
    """Ring the targets together, bridge the first that answers with the caller."""

    targets: tuple[DialTarget, ...]
    ring_timeout_s: int
    caller_id: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Music on hold until the next event; digits the caller presses still arrive."""


@dataclass(frozen=True, slots=True)
class Enqueue:
    departement: str
    priority: int = 0  # higher goes first; a call whose listener did not answer comes back first


@dataclass(frozen=True, slots=True)
class Dequeue:
    departement: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: str
    seconds: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class StartRecording:
    pass


@dataclass(frozen=True, slots=True)
class StopRecording:
    pass


@dataclass(frozen=True, slots=True)
class FetchRotation:
    key: str  # a département code, or "national" for tier 2


@dataclass(frozen=True, slots=True)
class FetchSupportPresence:
    """Which national support numbers to skip (answered by ``SupportPresenceFetched``)."""


@dataclass(frozen=True, slots=True)
class RecordAnswerer:
    key: str
    number: str


@dataclass(frozen=True, slots=True)
class FetchQueueStatus:
    departement: str


@dataclass(frozen=True, slots=True)
class RegisterCallback:
    departement: str
    number: str


@dataclass(frozen=True, slots=True)
class Hangup:
    outcome: Outcome


Command = (
    Answer
    | Play
    | Gather
    | Dial
    | Hold
    | Enqueue
    | Dequeue
    | StartTimer
    | CancelTimer
    | StartRecording
    | StopRecording
    | FetchRotation
    | FetchSupportPresence
    | RecordAnswerer
    | FetchQueueStatus
    | RegisterCallback
    | Hangup
)

WAITING_COMMANDS = (
    Gather,
    Dial,
    Hold,
    FetchRotation,
    FetchSupportPresence,
    FetchQueueStatus,
    Hangup,
)


@dataclass(slots=True)
class Attempt:
    """One destination tried during a call, for the record and the summary."""

    number: str
    role: Role
    result: DialOutcome


@dataclass(slots=True)
class CallSummary:
    """What happened in a call, as the simulator and the records report it."""

    call_id: str
    line: Line | None
    departement: str | None
    caller: str | None
    called: str
    prompts: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    connected_to: str | None = None
    connected_role: Role | None = None
    outcome: Outcome | None = None
    reason: str | None = None
    deterrence: str | None = None
    lro_used: bool = False
    callback_registered: bool = False
