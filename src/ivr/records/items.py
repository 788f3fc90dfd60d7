"""What the write-behind writer carries to the records: a finished call's record (with its
legs and events) and a call-back request, each as a plain value that round-trips through a
dict (the spool file and the Redis queue hold them as JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.flow.vocabulary import CallSummary
from ivr.records.outcomes import abandon_phase
from ivr.runtime.runtime import FinishedCall


def iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class LegRecord:
    number: str
    role: str
    result: str
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    kind: str  # deterrence, lro, callback, takeover
    detail: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What is written for one finished call."""

    call_id: str
    line: str | None
    departement: str | None
    caller: str | None
    called: str
    arrived_at: datetime
    ended_at: datetime
    answered_at: datetime | None = None
    outcome: str | None = None
    tier_reached: str | None = None
    connected_to: str | None = None
    connected_role: str | None = None
    reason: str | None = None
    deterrence: str | None = None
    lro_used: bool = False
    callback_registered: bool = False
    prompts: tuple[str, ...] = ()
    legs: tuple[LegRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()
    instance_id: str | None = None
    takeovers: int = 0

    @classmethod
    def from_summary(
        cls,
        summary: CallSummary,
        arrived_at: datetime,
        ended_at: datetime,
        *,
        answered_at: datetime | None = None,
        dials: Sequence[tuple[str, datetime]] = (),
        instance_id: str | None = None,
        takeovers: int = 0,
        queued: bool = False,
    ) -> CallRecord:
        """The record of a call from the flow's summary and what the transport timed."""
        started: dict[str, list[datetime]] = {}
        for number, at in dials:
            started.setdefault(number, []).append(at)
        legs = []
        for attempt in summary.attempts:
            times = started.get(attempt.number)
            legs.append(
                LegRecord(
                    attempt.number,
                    attempt.role.value,
                    attempt.result.value,
                    times.pop(0) if times else None,
                )
            )
        events = []
        if summary.deterrence:
            events.append(EventRecord("deterrence", summary.deterrence))
        if summary.lro_used:
            lro = [leg for leg in legs if leg.role == "lro"]
            if summary.connected_role is not None and summary.connected_role.value == "lro":
                detail = "connecté"
            else:
                detail = f"{len(lro)} destination(s) sans réponse" if lro else "aucune destination"
            events.append(EventRecord("lro", detail))
        if summary.callback_registered:
            events.append(EventRecord("callback", "demandé", ended_at))
        if takeovers:
            events.append(EventRecord("takeover", f"{takeovers} reprise(s)", None))
        phase = abandon_phase(summary, answered_at, len(dials), queued)
        if phase is not None:
            events.append(EventRecord("abandon", phase, ended_at))
        if summary.connected_role is not None:
            tier: str | None = summary.connected_role.value
        else:
            tier = summary.attempts[-1].role.value if summary.attempts else None
        return cls(
            call_id=summary.call_id,
            line=summary.line.value if summary.line else None,
            departement=summary.departement,
            caller=summary.caller,
            called=summary.called,
            arrived_at=arrived_at,
            ended_at=ended_at,
            answered_at=answered_at,
            outcome=summary.outcome.value if summary.outcome else None,
            tier_reached=tier,
            connected_to=summary.connected_to,
            connected_role=summary.connected_role.value if summary.connected_role else None,
            reason=summary.reason,
            deterrence=summary.deterrence,
            lro_used=summary.lro_used,
            callback_registered=summary.callback_registered,
            prompts=tuple(summary.prompts),
            legs=tuple(legs),
            events=tuple(events),
            instance_id=instance_id,
            takeovers=takeovers,
        )

    @classmethod
    def from_finished(cls, call: FinishedCall) -> CallRecord:
        return cls.from_summary(
            call.summary,
            call.started_at,
            call.ended_at,
            answered_at=call.answered_at,
            dials=call.dials,
            instance_id=call.instance_id,
            takeovers=call.takeovers,
            queued=call.queued,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "call",
            "call_id": self.call_id,
            "line": self.line,
            "departement": self.departement,
            "caller": self.caller,
            "called": self.called,
            "arrived_at": self.arrived_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "answered_at": iso_or_none(self.answered_at),
            "outcome": self.outcome,
            "tier_reached": self.tier_reached,
            "connected_to": self.connected_to,
            "connected_role": self.connected_role,
            "reason": self.reason,
            "deterrence": self.deterrence,
            "lro_used": self.lro_used,
            "callback_registered": self.callback_registered,
            "prompts": list(self.prompts),
            "legs": [[g.number, g.role, g.result, iso_or_none(g.started_at)] for g in self.legs],
            "events": [[e.kind, e.detail, iso_or_none(e.at)] for e in self.events],
            "instance_id": self.instance_id,
            "takeovers": self.takeovers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallRecord:
        return cls(
            call_id=data["call_id"],
            line=data["line"],
            departement=data["departement"],
            caller=data["caller"],
            called=data["called"],
            arrived_at=datetime.fromisoformat(data["arrived_at"]),
            ended_at=datetime.fromisoformat(data["ended_at"]),
            answered_at=_when(data["answered_at"]),
            outcome=data["outcome"],
            tier_reached=data["tier_reached"],
            connected_to=data["connected_to"],
            connected_role=data["connected_role"],
            reason=data["reason"],
            deterrence=data["deterrence"],
            lro_used=data["lro_used"],
            callback_registered=data["callback_registered"],
            prompts=tuple(data["prompts"]),
            legs=tuple(LegRecord(n, r, res, _when(at)) for n, r, res, at in data["legs"]),
            events=tuple(EventRecord(k, d, _when(at)) for k, d, at in data["events"]),
            instance_id=data["instance_id"],
            takeovers=data["takeovers"],
        )


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A call-back a caller asked for during a call."""

    call_id: str
    departement: str
    number: str
    requested_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "callback",
            "call_id": self.call_id,
            "departement": self.departement,
            "number": self.number,
            "requested_at": self.requested_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallbackRequest:
        return cls(
            data["call_id"],
            data["departement"],
            data["number"],
            datetime.fromisoformat(data["requested_at"]),
        )


Item = CallRecord | CallbackRequest


def item_from_dict(data: dict[str, Any]) -> Item:
    if data.get("kind") == "callback":
        return CallbackRequest.from_dict(data)
    return CallRecord.from_dict(data)
