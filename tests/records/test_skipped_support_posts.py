"""A national support post skipped (agent paused or offline) is in the call's story but
was never rung: it does not count as a dial when an abandon is placed."""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.flow.vocabulary import (
    Attempt,
    CallSummary,
    DialOutcome,
    Line,
    Outcome,
    Role,
)
from ivr.records.outcomes import DIAL_RESULT_TEXT, abandon_phase
from ivr.records.store import CallRecord

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def hung_up_while_post_2_rings() -> CallSummary:
    summary = CallSummary("c1", Line.ASSISTANCE, "75", "+33612345678", "+33806000156")
    summary.attempts.append(Attempt("+33536490001", Role.TIER2, DialOutcome.PAUSED))
    summary.outcome = Outcome.CALLER_HUNG_UP
    return summary


def test_given_a_skipped_post_and_the_next_ringing_when_caller_hangs_up_then_ringing() -> None:
    assert abandon_phase(hung_up_while_post_2_rings(), None, 1, queued=False) == "ringing"


def test_given_a_skipped_post_then_the_record_keeps_it_as_a_leg_never_started() -> None:
    record = CallRecord.from_summary(
        hung_up_while_post_2_rings(), AT, AT, dials=[("+33536490002", AT)]
    )
    assert [(g.number, g.role, g.result, g.started_at) for g in record.legs] == [
        ("+33536490001", "tier2", "paused", None)
    ]
    assert record.tier_reached == "tier2"
    assert ("abandon", "ringing") in [(e.kind, e.detail) for e in record.events]


def test_given_skipped_results_then_they_read_in_french() -> None:
    assert DIAL_RESULT_TEXT["paused"] == "en pause, non sonné"
    assert DIAL_RESULT_TEXT["offline"] == "hors ligne, non sonné"
