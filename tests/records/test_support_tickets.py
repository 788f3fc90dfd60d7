"""National support's tickets in the records (SQLite and PostgreSQL): escalations open one,
agents open and change them, the inbox filters them, every write is audited, and the
migration v0006 carries the escalations recorded before it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from ivr.records import tickets
from ivr.records.db import downgrade, make_engine, upgrade
from ivr.records.models import EscalationStatus, TicketSource, TicketStatus
from ivr.records.store import RecordStore
from ivr.records.tickets import TicketFields, TicketFilter
from tests.records.conftest import Clock


def audit_of(store: RecordStore) -> list[tuple[str, str, str, str | None, object]]:
    return [
        (e.actor, e.action, e.object_type, e.object_id, e.detail) for e in store.audit_entries()
    ]


def test_given_an_escalation_then_its_ticket_is_new_in_the_inbox(store: RecordStore) -> None:
    escalation_id = store.escalate(
        reason_code="rgpd", by="r.leroy", note="Effacement demandé", call_id="c-1", departement="91"
    )
    (ticket,) = tickets.tickets(store, TicketFilter())
    assert (ticket.source, ticket.escalation_id, ticket.status) == (
        "escalation",
        escalation_id,
        "new",
    )
    assert (ticket.departement, ticket.menu_reason, ticket.note) == (
        "91",
        "rgpd",
        "Effacement demandé",
    )


def test_given_a_ticket_when_resolved_then_audited_and_its_escalation_closed(
    store: RecordStore, clock: Clock
) -> None:
    escalation_id = store.escalate(reason_code="rgpd", by="r.leroy", departement="91")
    (ticket,) = tickets.tickets(store, TicketFilter())
    clock.advance(minutes=5)
    fields = TicketFields("donnees", "rgpd", "Effacement fait", TicketStatus.RESOLVED)
    assert tickets.update_ticket(store, ticket.id, "s.national", fields)
    found = tickets.ticket(store, ticket.id)
    assert found is not None
    assert (found.motif, found.sub_motif, found.status) == ("donnees", "rgpd", "resolved")
    assert (found.closed_at, found.updated_by) == (clock.now, "s.national")
    with store.engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM escalations WHERE id = :id"), {"id": escalation_id}
        ).scalar_one()
    assert status == EscalationStatus.CLOSED.value
    actor, action, kind, obj, detail = audit_of(store)[0]
    assert (actor, action, kind, obj) == ("s.national", "update", "ticket", str(ticket.id))
    assert detail == {"champs": ["motif", "sous_motif", "note", "statut"], "statut": "resolved"}
    assert "Effacement fait" not in str(audit_of(store))  # the note never goes to the audit log
    assert not tickets.update_ticket(store, 999_999, "s.national", fields)


def test_given_tickets_then_the_inbox_filters_by_status_motif_and_departement(
    store: RecordStore, clock: Clock
) -> None:
    def make(motif: str, dep: str, status: TicketStatus) -> int:
        clock.advance(minutes=1)
        return tickets.open_ticket(
            store,
            source=TicketSource.CALL,
            by="s.national",
            fields=TicketFields(motif, None, "", status),
            call_id=f"call-{motif}-{dep}",
            departement=dep,
        )

    a = make("acces", "91", TicketStatus.NEW)
    b = make("incident", "75", TicketStatus.IN_PROGRESS)
    c = make("acces", "75", TicketStatus.CLOSED)

    def ids(
        status: str | None = None, motif: str | None = None, departement: str | None = None
    ) -> list[int]:
        where = TicketFilter(status=status, motif=motif, departement=departement)
        return [t.id for t in tickets.tickets(store, where)]

    assert ids() == [c, b, a]
    assert ids(motif="acces") == [c, a]
    assert ids(departement="75") == [c, b]
    assert ids(status="in_progress") == [b]
    assert ids(status="new", motif="acces", departement="75") == []
    assert tickets.count_by_status(store) == {"new": 1, "in_progress": 1, "closed": 1}
    assert tickets.ticket_of_call(store, "call-acces-91") is not None
    created = [row for row in audit_of(store) if row[1] == "create"]
    assert [row[2] for row in created] == ["ticket"] * 3


def test_given_an_agent_then_their_post_and_presence_are_kept_and_audited(
    store: RecordStore,
) -> None:
    assert tickets.agent(store, "s.national") is None
    tickets.set_agent(store, "s.national", "+33536490001", "available")
    tickets.set_agent(store, "s.national", "+33536490002", "paused")
    found = tickets.agent(store, "s.national")
    assert found is not None
    assert (found.phone, found.presence) == ("+33536490002", "paused")
    assert audit_of(store)[0][:4] == ("s.national", "presence", "support_agent", "s.national")


def test_given_escalations_before_v0006_then_the_upgrade_makes_them_tickets(
    database_url: str,
) -> None:
    engine = make_engine(database_url, create_dir=True)
    try:
        upgrade(engine, "v0005")
        at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        with engine.begin() as conn:
            for reason, status in (("rgpd", "open"), ("connexion", "closed")):
                conn.execute(
                    sa.text(
                        "INSERT INTO escalations (call_id, departement, from_tier, to_tier,"
                        " reason_code, note, status, created_by, created_at, updated_at)"
                        " VALUES ('c', '91', 1, 2, :r, 'n', :s, 'r.leroy', :at, :at)"
                    ),
                    {"r": reason, "s": status, "at": at},
                )
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT source, menu_reason, status, created_by, updated_by"
                    " FROM support_tickets ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("escalation", "rgpd", "new", "r.leroy", "r.leroy"),
            ("escalation", "connexion", "closed", "r.leroy", "r.leroy"),
        ]
        assert downgrade(engine, "v0005") == "v0005"
        assert "support_tickets" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
