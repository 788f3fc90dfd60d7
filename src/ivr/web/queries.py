"""Read-only queries the consoles need beyond ``RecordStore``'s own (same engine, same models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.records.models import (
    Call,
    Callback,
    CallbackStatus,
    ConfigVersion,
    Escalation,
    FlaggedNumber,
    Recording,
    SupportTicket,
)
from ivr.records.store import RecordStore


def calls_from(
    store: RecordStore, number: str, *, exclude: str | None = None, limit: int = 10
) -> list[Call]:
    """Earlier calls from ``number``, newest first."""
    query = sa.select(Call).where(Call.caller == number)
    if exclude is not None:
        query = query.where(Call.call_id != exclude)
    with Session(store.engine, expire_on_commit=False) as session:
        return list(
            session.scalars(query.order_by(Call.arrived_at.desc(), Call.id.desc()).limit(limit))
        )


def flag_of(store: RecordStore, number: str) -> FlaggedNumber | None:
    """The active flag on ``number``, if any."""
    with Session(store.engine, expire_on_commit=False) as session:
        return session.scalar(
            sa.select(FlaggedNumber).where(
                FlaggedNumber.number == number, FlaggedNumber.active.is_(True)
            )
        )


def callbacks_of(
    store: RecordStore, departement: str, *, done_limit: int = 20
) -> tuple[list[Callback], list[Callback]]:
    """The département's call-backs: pending (oldest first), then the latest done ones."""
    with Session(store.engine, expire_on_commit=False) as session:
        base = sa.select(Callback).where(Callback.departement == departement)
        pending = session.scalars(
            base.where(Callback.status == CallbackStatus.REQUESTED.value).order_by(
                Callback.requested_at, Callback.id
            )
        ).all()
        done = session.scalars(
            base.where(Callback.status != CallbackStatus.REQUESTED.value)
            .order_by(Callback.done_at.desc(), Callback.id.desc())
            .limit(done_limit)
        ).all()
        return list(pending), list(done)


def callback(store: RecordStore, callback_id: int) -> Callback | None:
    with Session(store.engine, expire_on_commit=False) as session:
        return session.get(Callback, callback_id)


def escalations(
    store: RecordStore, *, status: str | None = None, departements: list[str] | None = None
) -> list[Escalation]:
    """Escalations, newest first; filtered by status and département when given."""
    query = sa.select(Escalation)
    if status:
        query = query.where(Escalation.status == status)
    if departements is not None:
        query = query.where(Escalation.departement.in_(departements))
    with Session(store.engine, expire_on_commit=False) as session:
        return list(
            session.scalars(query.order_by(Escalation.created_at.desc(), Escalation.id.desc()))
        )


def escalation(store: RecordStore, escalation_id: int) -> Escalation | None:
    with Session(store.engine, expire_on_commit=False) as session:
        return session.get(Escalation, escalation_id)


def callers_of(store: RecordStore, call_ids: list[str]) -> dict[str, str | None]:
    """The caller number of each recorded call among ``call_ids``."""
    if not call_ids:
        return {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(Call.call_id, Call.caller).where(Call.call_id.in_(call_ids))
        ).all()
    return {call_id: caller for call_id, caller in rows}


def overflowed_calls(store: RecordStore, since: datetime, limit: int = 50) -> list[Call]:
    """Assistance calls that reached national support and ended unanswered since ``since``,
    without a ticket yet: newest first."""
    ticketed = sa.select(SupportTicket.call_id).where(SupportTicket.call_id.is_not(None))
    query = (
        sa.select(Call)
        .where(
            Call.line == "assistance",
            Call.tier_reached == "tier2",
            sa.func.coalesce(Call.outcome, "") != "connected",
            Call.arrived_at >= since,
            Call.call_id.not_in(ticketed),
        )
        .order_by(Call.arrived_at.desc(), Call.id.desc())
        .limit(limit)
    )
    with Session(store.engine, expire_on_commit=False) as session:
        return list(session.scalars(query))


def ticket_of_escalation(store: RecordStore, escalation_id: int) -> SupportTicket | None:
    with Session(store.engine, expire_on_commit=False) as session:
        return session.scalar(
            sa.select(SupportTicket).where(SupportTicket.escalation_id == escalation_id)
        )


def recorded_call(store: RecordStore, call_id: str) -> Call | None:
    with Session(store.engine, expire_on_commit=False) as session:
        return session.scalar(sa.select(Call).where(Call.call_id == call_id))


def recent_calls(store: RecordStore, *, line: str, departement: str, limit: int = 20) -> list[Call]:
    with Session(store.engine, expire_on_commit=False) as session:
        return list(
            session.scalars(
                sa.select(Call)
                .where(Call.line == line, Call.departement == departement)
                .order_by(Call.arrived_at.desc(), Call.id.desc())
                .limit(limit)
            )
        )


def config_versions(store: RecordStore, limit: int = 20) -> list[ConfigVersion]:
    with Session(store.engine, expire_on_commit=False) as session:
        return list(
            session.scalars(sa.select(ConfigVersion).order_by(ConfigVersion.id.desc()).limit(limit))
        )


# --------------------------------------------------------------------------- weekly report


@dataclass(slots=True)
class ReportRow:
    """One département and line over the report's period."""

    departement: str
    line: str
    received: int = 0
    answered: int = 0
    abandoned: int = 0
    deterrence: int = 0
    lro: int = 0
    callbacks: int = 0

    @property
    def answer_rate(self) -> str:
        if not self.received:
            return "—"
        return f"{100 * self.answered / self.received:.0f} %"


@dataclass(slots=True)
class Report:
    start: datetime
    end: datetime
    rows: list[ReportRow] = field(default_factory=list)


def weekly_report(
    store: RecordStore, start: datetime, end: datetime, departements: list[str] | None = None
) -> Report:
    """Calls received, answered, abandoned, deterred, sent to the LRO, and call-backs
    registered, per département and line, for calls that arrived in [start, end)."""
    answered = sa.case((Call.answered_at.is_not(None), 1), else_=0)
    abandoned = sa.case((Call.outcome == "caller-hung-up", 1), else_=0)
    deterred = sa.case((Call.deterrence.is_not(None), 1), else_=0)
    lro = sa.case((Call.lro_used.is_(True), 1), else_=0)
    callbacks = sa.case((Call.callback_registered.is_(True), 1), else_=0)
    dep = sa.func.coalesce(Call.departement, "")
    line = sa.func.coalesce(Call.line, "")
    query = (
        sa.select(
            dep,
            line,
            sa.func.count(),
            sa.func.sum(answered),
            sa.func.sum(abandoned),
            sa.func.sum(deterred),
            sa.func.sum(lro),
            sa.func.sum(callbacks),
        )
        .where(Call.arrived_at >= start, Call.arrived_at < end)
        .group_by(dep, line)
        .order_by(dep, line)
    )
    if departements is not None:
        query = query.where(Call.departement.in_(departements))
    report = Report(start, end)
    with store.engine.connect() as conn:
        for d, ln, n, a, ab, de, lr, cb in conn.execute(query).all():
            report.rows.append(
                ReportRow(
                    d,
                    ln,
                    int(n),
                    int(a or 0),
                    int(ab or 0),
                    int(de or 0),
                    int(lr or 0),
                    int(cb or 0),
                )
            )
    return report


# --------------------------------------------------------------------------- recordings


@dataclass(frozen=True, slots=True)
class RecordingRow:
    """A recording with its call's département, line and arrival (no caller number).

    ``location`` is internal (the PBX or provider address): never put it in a page.
    """

    id: int
    call_id: str
    started_at: datetime
    duration_s: float | None
    media_type: str
    location: str | None
    purged_at: datetime | None
    departement: str | None
    line: str | None
    arrived_at: datetime | None

    def expired(self, now: datetime, retention: timedelta) -> bool:
        """Purged, without a file, or older than the retention (the purge may be late)."""
        return (
            self.purged_at is not None or self.location is None or self.started_at < now - retention
        )


def _recordings_query() -> Any:
    return sa.select(Recording, Call.departement, Call.line, Call.arrived_at).outerjoin(
        Call, Call.call_id == Recording.call_id
    )


def _recording_row(
    recording: Recording, dep: str | None, line: str | None, arrived: datetime | None
) -> RecordingRow:
    return RecordingRow(
        id=recording.id,
        call_id=recording.call_id,
        started_at=recording.started_at,
        duration_s=recording.duration_s,
        media_type=recording.media_type,
        location=recording.location,
        purged_at=recording.purged_at,
        departement=dep,
        line=line,
        arrived_at=arrived,
    )


def recordings(
    store: RecordStore,
    *,
    departements: list[str] | None = None,
    call_id: str | None = None,
    limit: int = 200,
) -> list[RecordingRow]:
    """Recordings, newest first; only of calls in ``departements`` when given (None: all,
    including calls whose département is unknown or whose record is not written yet)."""
    query = _recordings_query()
    if departements is not None:
        query = query.where(Call.departement.in_(departements))
    if call_id is not None:
        query = query.where(Recording.call_id == call_id)
    query = query.order_by(Recording.started_at.desc(), Recording.id.desc()).limit(limit)
    with Session(store.engine) as session:
        return [_recording_row(*row) for row in session.execute(query).all()]


def recording(store: RecordStore, recording_id: int) -> RecordingRow | None:
    with Session(store.engine) as session:
        row = session.execute(_recordings_query().where(Recording.id == recording_id)).first()
        return _recording_row(*row) if row is not None else None
