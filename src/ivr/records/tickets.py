"""National support's tickets and agents' posts, over the records' engine.

A ticket is the outcome of an assistance call answered by tier 2 (the screen pop), of a
call that overflowed to tier 2, or of a referent's escalation (``RecordStore.escalate``
opens it with the escalation). Every write is audited in the same transaction; a
ticket's note never goes into the audit log (it may name people), only which fields changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.records.models import (
    AuditEntry,
    Escalation,
    EscalationStatus,
    SupportAgent,
    SupportTicket,
    TicketSource,
    TicketStatus,
)

ESCALATION_OF = {
    TicketStatus.NEW: EscalationStatus.OPEN,
    TicketStatus.IN_PROGRESS: EscalationStatus.IN_PROGRESS,
    TicketStatus.WAITING: EscalationStatus.IN_PROGRESS,
    TicketStatus.RESOLVED: EscalationStatus.CLOSED,
    TicketStatus.CLOSED: EscalationStatus.CLOSED,
}
DONE = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class _Store(Protocol):
    """What this module needs of ``RecordStore`` (its engine and clock)."""

    engine: sa.Engine
    clock: Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class TicketFields:
    """What an agent sets on a ticket."""

    motif: str | None
    sub_motif: str | None
    note: str
    status: TicketStatus


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """The inbox's filters (None: any)."""

    status: str | None = None
    motif: str | None = None
    departement: str | None = None
    limit: int = 200


def _audit(
    session: Session, at: datetime, by: str, action: str, ticket_id: int, detail: dict[str, Any]
) -> None:
    session.add(
        AuditEntry(
            at=at,
            actor=by,
            action=action,
            object_type="ticket",
            object_id=str(ticket_id),
            detail=detail,
        )
    )


def escalation_ticket(escalation: Escalation) -> SupportTicket:
    """The ticket a referent's escalation opens in national support's inbox."""
    return SupportTicket(
        source=TicketSource.ESCALATION.value,
        call_id=escalation.call_id,
        escalation_id=escalation.id,
        departement=escalation.departement,
        menu_reason=escalation.reason_code,
        note=escalation.note,
        status=TicketStatus.NEW.value,
        created_by=escalation.created_by,
        created_at=escalation.created_at,
        updated_by=escalation.created_by,
        updated_at=escalation.created_at,
    )


def open_ticket(
    store: _Store,
    *,
    source: TicketSource,
    by: str,
    fields: TicketFields,
    call_id: str | None = None,
    departement: str | None = None,
    menu_reason: str | None = None,
) -> int:
    """Record a new ticket (audited ``create ticket``); returns its id."""
    now = store.clock()
    with Session(store.engine) as session, session.begin():
        ticket = SupportTicket(
            source=source.value,
            call_id=call_id,
            departement=departement,
            menu_reason=menu_reason,
            motif=fields.motif,
            sub_motif=fields.sub_motif,
            note=fields.note,
            status=fields.status.value,
            created_by=by,
            created_at=now,
            updated_by=by,
            updated_at=now,
            closed_at=now if fields.status in DONE else None,
        )
        session.add(ticket)
        session.flush()
        detail = {"source": source.value, "appel": call_id, "statut": fields.status.value}
        _audit(session, now, by, "create", ticket.id, detail)
        return ticket.id


def update_ticket(store: _Store, ticket_id: int, by: str, fields: TicketFields) -> bool:
    """Change a ticket (audited ``update ticket`` with the fields changed); False when the
    ticket does not exist. The escalation it comes from follows its status."""
    now = store.clock()
    with Session(store.engine) as session, session.begin():
        ticket = session.get(SupportTicket, ticket_id)
        if ticket is None:
            return False
        changed = [
            name
            for name, value in (
                ("motif", fields.motif),
                ("sous_motif", fields.sub_motif),
                ("note", fields.note),
                ("statut", fields.status.value),
            )
            if getattr(ticket, _COLUMN[name]) != value
        ]
        ticket.motif, ticket.sub_motif = fields.motif, fields.sub_motif
        ticket.note, ticket.status = fields.note, fields.status.value
        ticket.updated_by, ticket.updated_at = by, now
        if fields.status in DONE:
            ticket.closed_at = ticket.closed_at or now
        else:
            ticket.closed_at = None
        if ticket.escalation_id is not None:
            escalation = session.get(Escalation, ticket.escalation_id)
            if escalation is not None:
                escalation.status = ESCALATION_OF[fields.status].value
                escalation.updated_at = now
                escalation.closed_at = ticket.closed_at
        _audit(session, now, by, "update", ticket_id, {"champs": changed, "statut": ticket.status})
        return True


_COLUMN = {"motif": "motif", "sous_motif": "sub_motif", "note": "note", "statut": "status"}


def ticket(store: _Store, ticket_id: int) -> SupportTicket | None:
    with Session(store.engine, expire_on_commit=False) as session:
        return session.get(SupportTicket, ticket_id)


def ticket_of_call(store: _Store, call_id: str) -> SupportTicket | None:
    """The latest ticket recorded for a call (an agent's screen pop fills one per call)."""
    query = (
        sa.select(SupportTicket)
        .where(SupportTicket.call_id == call_id, SupportTicket.source != "escalation")
        .order_by(SupportTicket.id.desc())
        .limit(1)
    )
    with Session(store.engine, expire_on_commit=False) as session:
        return session.scalar(query)


def tickets(store: _Store, where: TicketFilter) -> list[SupportTicket]:
    """The inbox: tickets newest first, filtered."""
    query = sa.select(SupportTicket)
    if where.status:
        query = query.where(SupportTicket.status == where.status)
    if where.motif:
        query = query.where(SupportTicket.motif == where.motif)
    if where.departement:
        query = query.where(SupportTicket.departement == where.departement)
    query = query.order_by(SupportTicket.created_at.desc(), SupportTicket.id.desc())
    with Session(store.engine, expire_on_commit=False) as session:
        return list(session.scalars(query.limit(where.limit)))


def count_by_status(store: _Store) -> dict[str, int]:
    query = sa.select(SupportTicket.status, sa.func.count()).group_by(SupportTicket.status)
    with store.engine.connect() as conn:
        return {status: int(n) for status, n in conn.execute(query).all()}


# --------------------------------------------------------------------------- agents


def agent(store: _Store, login: str) -> SupportAgent | None:
    with Session(store.engine, expire_on_commit=False) as session:
        return session.get(SupportAgent, login)


def set_agent(store: _Store, login: str, phone: str | None, presence: str) -> None:
    """Record the agent's post and presence (one row per agent; audited ``presence``)."""
    now = store.clock()
    with Session(store.engine) as session, session.begin():
        row = session.get(SupportAgent, login)
        if row is None:
            session.add(SupportAgent(login=login, phone=phone, presence=presence, updated_at=now))
        else:
            row.phone, row.presence, row.updated_at = phone, presence, now
        session.add(
            AuditEntry(
                at=now,
                actor=login,
                action="presence",
                object_type="support_agent",
                object_id=login,
                detail={"presence": presence, "poste": bool(phone)},
            )
        )


def away_agents(store: _Store) -> list[SupportAgent]:
    """The agents on a post who said « en pause » or « déconnecté » (what the live state is
    given at start when it does not know them yet)."""
    query = (
        sa.select(SupportAgent)
        .where(SupportAgent.phone.is_not(None), SupportAgent.presence.in_(("paused", "offline")))
        .order_by(SupportAgent.login)
    )
    with Session(store.engine, expire_on_commit=False) as session:
        return list(session.scalars(query))
