"""Retention: recordings after 90 days, caller identity after 24 months without activity;
the audit log stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.flow.vocabulary import CallSummary, Line, Outcome
from ivr.records.models import Call, FlaggedNumber, Recording
from ivr.records.purge import RetentionPolicy, months_before, purge
from ivr.records.store import CallbackRequest, CallRecord, RecordStore

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
OLD = "+33611111111"  # last called 25 months ago
ACTIVE = "+33622222222"  # called 25 months ago and last week
CALLED_BACK = "+33633333333"  # old call, but asked for a call-back 40 days ago


def call(call_id: str, caller: str | None, at: datetime) -> CallRecord:
    summary = CallSummary(call_id, Line.EMERGENCY, "93", caller, "+33353010930")
    summary.outcome = Outcome.MESSAGE
    return CallRecord.from_summary(summary, at, at + timedelta(minutes=2))


def seed(store: RecordStore, tmp_path: Path) -> tuple[Path, Path]:
    long_ago = months_before(NOW, 25)
    store.write(
        [
            call("old-1", OLD, long_ago),
            call("old-2", OLD, long_ago + timedelta(days=3)),
            call("active-old", ACTIVE, long_ago),
            call("active-new", ACTIVE, NOW - timedelta(days=7)),
            call("cb-old", CALLED_BACK, long_ago),
            call("withheld", None, long_ago),
            CallbackRequest("old-2", "93", OLD, long_ago + timedelta(days=3)),
            CallbackRequest("cb-new", "93", CALLED_BACK, NOW - timedelta(days=40)),
        ]
    )
    store.flag_number(OLD, "appels répétés", "ecoutant.93")
    with Session(store.engine) as session, session.begin():
        session.execute(sa.update(FlaggedNumber).values(flagged_at=long_ago + timedelta(days=3)))
    old_file = tmp_path / "rec" / "old.wav"
    new_file = tmp_path / "rec" / "new.wav"
    old_file.parent.mkdir()
    old_file.write_bytes(b"RIFF")
    new_file.write_bytes(b"RIFF")
    store.add_recording("old-1", NOW - timedelta(days=91), str(old_file), 120.0, 4)
    store.add_recording("active-new", NOW - timedelta(days=7), "new.wav", 60.0, 4)
    return old_file, new_file


def test_given_expired_recordings_and_callers_then_only_those_are_purged_and_reported(
    store: RecordStore, tmp_path: Path
) -> None:
    old_file, new_file = seed(store, tmp_path)
    report = purge(
        store.engine, RetentionPolicy(), NOW, "cli:admin", recordings_dir=tmp_path / "rec"
    )

    assert (report.recordings, report.recording_files) == (1, 1)
    assert (report.callers, report.calls, report.callbacks, report.flags) == (1, 2, 1, 1)
    assert not old_file.exists()
    assert new_file.exists()
    with Session(store.engine) as session:
        callers = {
            call_id: caller
            for call_id, caller in session.execute(sa.select(Call.call_id, Call.caller)).all()
        }
        assert callers == {
            "old-1": None,
            "old-2": None,
            "active-old": ACTIVE,
            "active-new": ACTIVE,
            "cb-old": CALLED_BACK,
            "withheld": None,
        }
        purged = session.scalars(
            sa.select(Call.call_id).where(Call.caller_purged_at.is_not(None))
        ).all()
        assert sorted(purged) == ["old-1", "old-2"]
        recordings = {
            r.call_id: (r.location, r.purged_at) for r in session.scalars(sa.select(Recording))
        }
        assert recordings == {"old-1": (None, NOW), "active-new": ("new.wav", None)}
        assert session.scalars(sa.select(FlaggedNumber)).all() == []
    # The rest of the record stays, for the statistics.
    row = store.call("old-1")
    assert row is not None
    assert (row.departement, row.outcome) == ("93", "message")
    assert [c.number for c in store.pending_callbacks()] == [None, CALLED_BACK]
    entries = store.audit_entries()
    assert entries[0].action == "purge"
    assert entries[0].actor == "cli:admin"
    assert entries[0].detail is not None
    assert entries[0].detail["callers"] == 1
    assert entries[0].detail["recordings_days"] == 90
    assert any(e.action == "flag" for e in entries)  # earlier audit entries are kept


def test_given_a_dry_run_then_the_counts_come_and_nothing_changes(
    store: RecordStore, tmp_path: Path
) -> None:
    old_file, _ = seed(store, tmp_path)
    report = purge(store.engine, RetentionPolicy(), NOW, "cli:admin", dry_run=True)
    assert (report.recordings, report.callers, report.calls) == (1, 1, 2)
    assert old_file.exists()
    row = store.call("old-1")
    assert row is not None
    assert row.caller == OLD
    assert report.describe().splitlines()[0] == "Simulation : rien n'a été modifié."


def test_given_shorter_periods_then_more_is_purged(store: RecordStore, tmp_path: Path) -> None:
    seed(store, tmp_path)
    report = purge(
        store.engine, RetentionPolicy(recordings_days=5, caller_months=1), NOW, "cli:admin"
    )
    assert report.recordings == 2
    assert report.callers == 2  # the caller who called last week keeps their number


def test_given_a_report_then_it_reads_in_french() -> None:
    from ivr.records.purge import PurgeReport

    text = PurgeReport(recordings=3, recording_files=2, callers=1, calls=4, callbacks=0, flags=1)
    assert text.describe() == (
        "Enregistrements supprimés : 3 enregistrements (2 fichiers)\n"
        "Données d'appelants effacées : 1 numéro (4 appels, 0 rappel, 1 signalement)\n"
        "Journal d'audit conservé."
    )


def test_given_month_ends_then_months_before_lands_on_the_last_day() -> None:
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 11, 23, tzinfo=UTC), 24) == datetime(
        2024, 11, 23, tzinfo=UTC
    )
    assert months_before(datetime(2026, 2, 28, tzinfo=UTC), 24) == datetime(2024, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2028, 2, 29, tzinfo=UTC), 12) == datetime(2027, 2, 28, tzinfo=UTC)
