"""The reporting indicators from real records, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from ivr.flow.vocabulary import Attempt, CallSummary, DialOutcome, Line, Outcome, Role
from ivr.records.indicators import IndicatorService, nearest_rank
from ivr.records.periods import Period, parse_scope
from ivr.records.store import CallbackRequest, CallRecord, RecordStore
from ivr.runtime.runtime import FinishedCall
from sisiao_link.outbox import Outbox
from sisiao_link.port import NouvelleDemandeUrgence, NouvellePersonne
from tests.records.conftest import Clock

A, B, C = "+33612345601", "+33612345602", "+33612345603"
WEEK = Period("semaine", date(2026, 11, 16), date(2026, 11, 22))
NATIONAL = parse_scope("national", None)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def tz_of(departement: str) -> str:
    return "Indian/Reunion" if departement == "974" else "Europe/Paris"


def call(
    call_id: str,
    arrived: datetime,
    *,
    dep: str = "75",
    line: Line = Line.EMERGENCY,
    caller: str | None = None,
    answer_after: float | None = None,
    talk: float = 60,
    outcome: Outcome = Outcome.CONNECTED,
    dials: int = 0,
    queued: bool = False,
    reason: str | None = None,
) -> CallRecord:
    summary = CallSummary(call_id, line, dep, caller, "+33353010750")
    summary.outcome = outcome
    summary.reason = reason
    answered = None
    if answer_after is not None:
        answered = arrived + timedelta(seconds=answer_after)
        summary.attempts = [Attempt("+33261910750", Role.LISTENER, DialOutcome.ANSWERED)]
        summary.connected_to, summary.connected_role = "+33261910750", Role.LISTENER
    ended = (answered or arrived) + timedelta(seconds=talk)
    finished = FinishedCall(
        summary,
        arrived,
        ended,
        answered_at=answered,
        dials=tuple(("+33261910750", arrived) for _ in range(dials)),
        queued=queued,
    )
    return CallRecord.from_finished(finished)


def seed(store: RecordStore, clock: Clock) -> None:
    hung_up = Outcome.CALLER_HUNG_UP
    deterred = CallSummary("c6", Line.EMERGENCY, "75", B, "+33353010750")
    deterred.deterrence, deterred.callback_registered = "saturation", True
    deterred.outcome = Outcome.CALLBACK
    lro = CallSummary("c11", Line.EMERGENCY, "75", None, "+33353010750")
    lro.lro_used, lro.outcome = True, Outcome.CONNECTED
    lro.attempts = [Attempt("+33465719900", Role.LRO, DialOutcome.ANSWERED)]
    lro.connected_to, lro.connected_role = "+33465719900", Role.LRO
    store.write(
        [
            call("c10", at(9, 12), caller=A, answer_after=10),  # the week before
            call("c1", at(16, 9), caller=A, answer_after=30, talk=300),
            call("c2", at(16, 20), caller=A, answer_after=90, talk=60),
            call("c3", at(20, 20), caller=A, outcome=hung_up, queued=True, talk=0),
            call("c4", at(17, 8), caller=B, outcome=hung_up, talk=5),
            call("c5", at(18, 8), caller=C, outcome=hung_up, dials=1, talk=25),
            CallRecord.from_summary(deterred, at(18, 12), at(18, 12, 1)),
            CallbackRequest("c6", "75", B, at(18, 12, 1)),
            call("c9", at(15, 23, 30), outcome=Outcome.MESSAGE, talk=20),  # 00:30 in Paris
            CallRecord.from_summary(
                lro, at(19, 10), at(19, 10, 5), answered_at=at(19, 10) + timedelta(seconds=200)
            ),
            # Réunion (UTC+4): Sunday 22:00 is in the week, Monday 01:00 is not.
            call(
                "c8",
                at(22, 18),
                dep="974",
                line=Line.ASSISTANCE,
                answer_after=60,
                talk=360,
                reason="connexion",
            ),
            call(
                "c7",
                at(22, 21),
                dep="974",
                line=Line.ASSISTANCE,
                answer_after=5,
                reason="connexion",
            ),
            CallbackRequest("x1", "75", C, at(19, 9)),
        ]
    )
    pending = {c.call_id: c.id for c in store.pending_callbacks("75")}
    store.complete_callback(pending["c6"], "ecoutant75")
    store.audit("ecoutant75", "place", "callback", str(pending["x1"]))
    clock.now = at(21, 10)
    store.escalate(reason_code="rgpd", by="referent974", departement="974")
    outbox = Outbox(store.engine, cast(Any, None), clock)
    outbox.submit(
        NouvelleDemandeUrgence(
            nouvelle_personne=NouvellePersonne(nom="DUPONT", prenom="Test"), departement="75"
        ),
        "ecoutant75",
    )


@pytest.fixture
def service(store: RecordStore, clock: Clock) -> IndicatorService:
    seed(store, clock)
    return IndicatorService(store, tz_of)


def test_given_a_week_of_records_then_each_indicator_counts_what_happened(
    service: IndicatorService,
) -> None:
    result = service.indicators(WEEK, NATIONAL)
    paris = result.rows[("75", "115")]
    assert (paris.received, paris.answered, paris.abandoned) == (8, 3, 3)
    assert (paris.abandoned_menu, paris.abandoned_queue, paris.abandoned_ringing) == (1, 1, 1)
    assert (paris.deterred, paris.lro, paris.callbacks_offered) == (1, 1, 1)
    assert (paris.wait_median, paris.wait_p90, paris.wait_max) == (90.0, 200.0, 200.0)
    assert paris.talk_s == 300 + 60 + 100
    assert paris.answer_rate == pytest.approx(3 / 8)
    assert (paris.repeat_24h, paris.repeat_7d) == (1, 4)  # c2; c1 (c10), c2, c3, c6 (c4)
    assert (paris.callbacks_requested, paris.callbacks_placed, paris.callbacks_reached) == (
        2,
        2,
        1,
    )
    assert paris.sisiao_requests == 1
    reunion = result.rows[("974", "assistance")]
    assert (reunion.received, reunion.answered, reunion.escalations) == (1, 1, 1)
    assert reunion.talk_s == 360
    assert result.by_reason["connexion"].received == 1
    assert result.by_reason[""].received == 8
    assert result.total.received == 9
    assert result.by_line["115"].received == 8


def test_given_local_time_then_hours_and_weekdays_are_the_departements_own(
    service: IndicatorService,
) -> None:
    result = service.indicators(WEEK, NATIONAL)
    assert result.by_hour[0].received == 1  # c9, 00:30 in Paris on Monday
    assert result.by_hour[10].received == 1  # c1, 10:00 in Paris
    assert result.by_hour[22].received == 1  # c8, 22:00 in Réunion
    assert result.by_hour[21].received == 2  # c2 and c3, 21:00 in Paris
    assert [f.received for f in result.by_weekday] == [3, 1, 2, 1, 1, 0, 1]


def test_given_a_scope_then_only_its_departements_count(service: IndicatorService) -> None:
    reunion = service.indicators(WEEK, parse_scope("region:04", None))
    assert set(reunion.rows) == {("974", "assistance")}
    paris = service.indicators(WEEK, parse_scope("dep:75", ["75"]))
    assert set(paris.rows) == {("75", "115")}
    assert paris.total.escalations == 0


def test_given_twelve_weeks_then_the_trend_places_each_call_in_its_week(
    service: IndicatorService,
) -> None:
    points = service.trend(WEEK, NATIONAL)
    assert len(points) == 12
    assert points[-1].period == WEEK
    assert points[0].period.first == date(2026, 8, 31)
    assert [p.figures.received for p in points[-2:]] == [1, 9]
    assert points[-1].reasons == {"": 8, "connexion": 1}


def test_nearest_rank_gives_an_observed_value() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([5.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert nearest_rank([float(v) for v in range(1, 11)], 0.9) == 9.0
