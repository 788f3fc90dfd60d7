"""Call records and the records around them, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ivr.flow.vocabulary import Attempt, CallSummary, DialOutcome, Line, Outcome, Role
from ivr.records.models import AccountRole, Call, CallbackStatus, Escalation, EscalationStatus
from ivr.records.store import CallbackRequest, CallRecord, EventRecord, LegRecord, RecordStore
from ivr.runtime.runtime import FinishedCall
from ivr.sim.simulator import CallScript, Simulator
from tests.records.conftest import Clock
from tests.state.helpers import CALLER, LINE_115_93, LISTENERS_93, MONDAY_10, shipped_flow

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def assistance_summary(call_id: str = "c1") -> CallSummary:
    """Tier 1 busy, tier 1 no answer, tier 2 answers."""
    summary = CallSummary(call_id, Line.ASSISTANCE, "93", CALLER, "+33806000156")
    summary.prompts = ["assistance_welcome", "ask_departement", "transfer_tier1"]
    summary.attempts = [
        Attempt("+33199000930", Role.TIER1, DialOutcome.BUSY),
        Attempt("+33199000931", Role.TIER1, DialOutcome.NO_ANSWER),
        Attempt("+33536490001", Role.TIER2, DialOutcome.ANSWERED),
    ]
    summary.connected_to = "+33536490001"
    summary.connected_role = Role.TIER2
    summary.outcome = Outcome.CONNECTED
    summary.reason = "rgpd"
    return summary


def test_given_a_finished_call_then_its_record_keeps_every_leg_time_and_outcome(
    store: RecordStore,
) -> None:
    finished = FinishedCall(
        summary=assistance_summary(),
        started_at=T0,
        ended_at=T0 + timedelta(minutes=6),
        answered_at=T0 + timedelta(seconds=70),
        instance_id="ivr-a",
        dials=(
            ("+33199000930", T0 + timedelta(seconds=20)),
            ("+33199000931", T0 + timedelta(seconds=22)),
            ("+33536490001", T0 + timedelta(seconds=45)),
        ),
        takeovers=1,
    )
    result = store.write([CallRecord.from_finished(finished)])
    assert (result.calls, result.duplicates) == (1, [])

    row = store.call("c1")
    assert row is not None
    assert (row.line, row.departement, row.caller, row.called) == (
        "assistance",
        "93",
        CALLER,
        "+33806000156",
    )
    assert (row.arrived_at, row.answered_at, row.ended_at) == (
        T0,
        T0 + timedelta(seconds=70),
        T0 + timedelta(minutes=6),
    )
    assert row.arrived_at.tzinfo is not None
    assert (row.outcome, row.tier_reached, row.connected_to) == (
        "connected",
        "tier2",
        "+33536490001",
    )
    assert row.legs == (
        LegRecord("+33199000930", "tier1", "busy", T0 + timedelta(seconds=20)),
        LegRecord("+33199000931", "tier1", "no-answer", T0 + timedelta(seconds=22)),
        LegRecord("+33536490001", "tier2", "answered", T0 + timedelta(seconds=45)),
    )
    assert row.events == (EventRecord("takeover", "1 reprise(s)", None),)
    assert (row.instance_id, row.takeovers) == ("ivr-a", 1)
    assert row.as_json()["duration_s"] == 360.0


def test_given_a_saturated_115_call_then_deterrence_lro_and_callback_are_recorded(
    store: RecordStore,
) -> None:
    summary = CallSummary("c2", Line.EMERGENCY, "93", CALLER, LINE_115_93)
    summary.deterrence = "saturation"
    summary.callback_registered = True
    summary.outcome = Outcome.CALLBACK
    store.write(
        [
            CallRecord.from_summary(summary, T0, T0 + timedelta(seconds=40)),
            CallbackRequest("c2", "93", CALLER, T0 + timedelta(seconds=39)),
        ]
    )
    row = store.call("c2")
    assert row is not None
    assert row.events == (
        EventRecord("deterrence", "saturation", None),
        EventRecord("callback", "demandé", T0 + timedelta(seconds=40)),
    )
    assert row.tier_reached is None
    pending = store.pending_callbacks("93")
    assert [(c.call_id, c.number, c.requested_at) for c in pending] == [
        ("c2", CALLER, T0 + timedelta(seconds=39))
    ]


def test_given_an_lro_call_then_the_lro_event_says_how_it_ended(store: RecordStore) -> None:
    summary = CallSummary("c3", Line.EMERGENCY, "93", None, LINE_115_93)
    summary.lro_used = True
    summary.attempts = [Attempt("+33465719900", Role.LRO, DialOutcome.ANSWERED)]
    summary.connected_to, summary.connected_role = "+33465719900", Role.LRO
    summary.outcome = Outcome.CONNECTED
    store.write([CallRecord.from_summary(summary, T0, T0 + timedelta(seconds=90))])
    row = store.call("c3")
    assert row is not None
    assert (row.caller, row.tier_reached) == (None, "lro")
    assert row.events == (EventRecord("lro", "connecté", None),)


def test_given_a_record_written_twice_then_one_row_stays_and_the_second_is_a_duplicate(
    store: RecordStore, engine: sa.Engine
) -> None:
    record = CallRecord.from_summary(assistance_summary(), T0, T0 + timedelta(minutes=1))
    changed = dataclasses.replace(record, outcome="message")
    assert store.write([record]).duplicates == []
    assert store.write([changed, record]).duplicates == ["c1", "c1"]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Call)) == 1
    row = store.call("c1")
    assert row is not None
    assert row.outcome == "connected"  # the first write stays
    assert len(row.legs) == 3


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "insert"])
def test_given_a_batch_then_new_and_known_calls_are_told_apart(
    engine: sa.Engine, clock: Clock, use_copy: bool
) -> None:
    store = RecordStore(engine, clock, use_copy=use_copy)
    records = [
        CallRecord.from_summary(assistance_summary(f"c{n}"), T0, T0 + timedelta(minutes=n))
        for n in range(5)
    ]
    store.write(records[:2])
    result = store.write([*records, records[4]])
    assert result.calls == 3
    assert sorted(result.duplicates) == ["c0", "c1", "c4"]
    assert store.count_calls() == 5
    assert [len(row.legs) for row in store.latest_calls()] == [3] * 5


def test_given_simulated_calls_then_latest_calls_lists_the_most_recent_first(
    store: RecordStore,
) -> None:
    simulator = Simulator(shipped_flow())
    for n in range(4):
        call = simulator.run(
            CallScript(LINE_115_93, CALLER, listeners=2), MONDAY_10 + timedelta(minutes=n)
        )
        arrived = MONDAY_10 + timedelta(minutes=n)
        store.write(
            [
                CallRecord.from_summary(
                    call.state.summary, arrived, arrived + timedelta(seconds=call.duration_s)
                )
            ]
        )
    rows = store.latest_calls(3)
    assert [r.call_id for r in rows] == ["sim-4", "sim-3", "sim-2"]
    assert all(r.connected_to == LISTENERS_93[0] for r in rows)
    assert rows[0].legs[0].role == "listener"


def test_given_a_callback_done_then_who_and_when_are_kept_and_audited(
    store: RecordStore, clock: Clock
) -> None:
    store.write([CallbackRequest("c1", "93", CALLER, T0)])
    callback = store.pending_callbacks()[0]
    clock.advance(minutes=30)
    store.complete_callback(callback.id, "ecoutant.93.dupont")
    assert store.pending_callbacks() == []
    done = store.audit_entries()[0]
    assert (done.actor, done.action, done.object_type, done.object_id) == (
        "ecoutant.93.dupont",
        "update",
        "callback",
        str(callback.id),
    )
    assert done.at == clock.now
    assert done.detail == {"status": CallbackStatus.DONE.value}


def test_given_a_number_flagged_then_it_is_flagged_and_the_change_is_audited(
    store: RecordStore,
) -> None:
    assert store.is_flagged(CALLER) is False
    store.flag_number(CALLER, "appels répétés", "ecoutant.93.dupont", "93")
    store.flag_number(CALLER, "appels répétés, insultes", "ecoutant.93.martin", "93")
    assert store.is_flagged(CALLER) is True
    assert [e.actor for e in store.audit_entries()] == ["ecoutant.93.martin", "ecoutant.93.dupont"]


def test_given_an_escalation_then_it_moves_from_open_to_closed_with_its_times(
    store: RecordStore, clock: Clock, engine: sa.Engine
) -> None:
    escalation_id = store.escalate(
        reason_code="rgpd",
        by="referent.93",
        note="demande d'effacement",
        call_id="c1",
        departement="93",
    )
    clock.advance(hours=2)
    store.set_escalation_status(escalation_id, EscalationStatus.CLOSED, "support.national")
    with sa.orm.Session(engine) as session:
        escalation = session.get_one(Escalation, escalation_id)
        assert (escalation.from_tier, escalation.to_tier, escalation.reason_code) == (1, 2, "rgpd")
        assert escalation.status == "closed"
        assert escalation.closed_at == clock.now
        assert escalation.created_at == clock.now - timedelta(hours=2)


def test_given_an_account_with_roles_then_its_roles_are_read_back(store: RecordStore) -> None:
    store.add_account(
        "ecoutant.93.dupont",
        "Camille Dupont",
        [(AccountRole.LISTENER, "93"), (AccountRole.ADMIN_DEPARTEMENT, "93")],
        by="admin.national",
    )
    assert sorted(store.roles_of("ecoutant.93.dupont")) == [
        (AccountRole.ADMIN_DEPARTEMENT, "93"),
        (AccountRole.LISTENER, "93"),
    ]
    assert store.roles_of("personne") == []


def test_given_a_configuration_applied_then_its_version_and_author_are_kept(
    store: RecordStore,
) -> None:
    first = store.record_config_version("version: 1\n", "a" * 64, "admin.national")
    second = store.record_config_version("version: 1 # 93\n", "b" * 64, "admin.93", "horaires")
    assert second > first
    assert [(e.action, e.object_id) for e in store.audit_entries()] == [
        ("apply", str(second)),
        ("apply", str(first)),
    ]
