"""The reporting indicators, computed from what the records hold (docs/reporting.md defines
each one).

The calls of a scope are read once for the whole span asked (plus the 7 days before, for
repeat callers) with SQLAlchemy core, which works the same on SQLite and PostgreSQL; each call
is then placed in its département's local day and hour. Caller numbers are read only to
count repeat calls: no number leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ivr.records.models import AuditEntry, Call, Callback, CallbackStatus, CallEvent, Escalation
from ivr.records.periods import Period, Scope
from ivr.records.store import RecordStore
from sisiao_link.outbox import sisiao_outbox

LINES = ("115", "assistance")
NO_REASON = ""
ABANDON_PHASES = ("menu", "queue", "ringing")


@dataclass(slots=True)
class Figures:
    """The indicators of one group of calls (a département and line, a reason, an hour...)."""

    received: int = 0
    answered: int = 0
    abandoned: int = 0
    abandoned_menu: int = 0
    abandoned_queue: int = 0
    abandoned_ringing: int = 0
    deterred: int = 0
    lro: int = 0
    callbacks_offered: int = 0  # calls where the caller asked for a call-back
    callbacks_requested: int = 0
    callbacks_placed: int = 0
    callbacks_reached: int = 0
    repeat_24h: int = 0
    repeat_7d: int = 0
    escalations: int = 0
    sisiao_requests: int = 0
    waits: list[float] = field(default_factory=list)
    talk_s: float = 0.0
    # (median, 90th percentile, max) computed by the database from the roll-ups, when the
    # waits themselves were not read (``waits`` empty then).
    wait_stats: tuple[float, float, float] | None = None

    def add(self, other: Figures) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.waits.extend(other.waits)
        self.talk_s += other.talk_s

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.received if self.received else None

    @property
    def wait_median(self) -> float | None:
        if self.wait_stats is not None and not self.waits:
            return self.wait_stats[0]
        return nearest_rank(self.waits, 0.5)

    @property
    def wait_p90(self) -> float | None:
        if self.wait_stats is not None and not self.waits:
            return self.wait_stats[1]
        return nearest_rank(self.waits, 0.9)

    @property
    def wait_max(self) -> float | None:
        if self.wait_stats is not None and not self.waits:
            return self.wait_stats[2]
        return max(self.waits) if self.waits else None

    @property
    def talk_mean(self) -> float | None:
        return self.talk_s / self.answered if self.answered else None


COUNTERS = tuple(
    name for name in Figures.__dataclass_fields__ if name not in ("waits", "talk_s", "wait_stats")
)
# The counters a call contributes to (the others come from call-backs, escalations and
# SI SIAO requests): what the roll-ups keep.
CALL_COUNTERS = (
    "received",
    "answered",
    "abandoned",
    "abandoned_menu",
    "abandoned_queue",
    "abandoned_ringing",
    "deterred",
    "lro",
    "callbacks_offered",
    "repeat_24h",
    "repeat_7d",
)


def nearest_rank(values: list[float], p: float) -> float | None:
    """The ``p`` quantile by the nearest-rank method (a value that was really observed)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[rank(p, len(ordered)) - 1]


def rank(p: float, count: int) -> int:
    """The 1-based nearest rank of the ``p`` quantile among ``count`` values, in exact
    arithmetic (``p`` read as a fraction of at most three decimals: 0.5, 0.9…), so that
    the roll-ups' SQL and this module pick the same value."""
    share = Fraction(p).limit_denominator(1000)
    return max(1, -(-share.numerator * count // share.denominator))


@dataclass(slots=True)
class Indicators:
    period: Period
    scope: Scope
    rows: dict[tuple[str, str], Figures] = field(default_factory=dict)  # (dep, line)
    by_line: dict[str, Figures] = field(default_factory=dict)
    by_reason: dict[str, Figures] = field(default_factory=dict)  # reason code, "" none
    by_hour: list[Figures] = field(default_factory=lambda: [Figures() for _ in range(24)])
    by_weekday: list[Figures] = field(default_factory=lambda: [Figures() for _ in range(7)])
    total: Figures = field(default_factory=Figures)


@dataclass(slots=True)
class TrendPoint:
    period: Period
    figures: Figures
    reasons: dict[str, int]  # reason code -> calls received


@dataclass(frozen=True, slots=True)
class _CallFact:
    departement: str
    line: str
    caller: str | None
    arrived: datetime
    answered: datetime | None
    ended: datetime
    outcome: str | None
    reason: str
    deterred: bool
    lro: bool
    callback: bool
    abandon: str | None


TzOf = Callable[[str], str]


class IndicatorService:
    """Computes indicators and trends for a period and scope from a record store."""

    def __init__(self, store: RecordStore, tz_of: TzOf | None = None) -> None:
        self.store = store
        self.tz_of = tz_of or (lambda _dep: "Europe/Paris")
        self._zones: dict[str, ZoneInfo] = {}

    def zone(self, departement: str) -> ZoneInfo:
        name = self.tz_of(departement) if departement else "Europe/Paris"
        if name not in self._zones:
            self._zones[name] = ZoneInfo(name)
        return self._zones[name]

    def local_day(self, departement: str, at: datetime) -> date:
        return at.astimezone(self.zone(departement)).date()

    # ------------------------------------------------------------------ public

    def indicators(self, period: Period, scope: Scope) -> Indicators:
        result = Indicators(period, scope)
        self._add_calls(result, period.first, period.last, scope)
        self._add_others(result, period, scope)
        return result

    def trend(self, last: Period, scope: Scope, count: int = 12) -> list[TrendPoint]:
        """The ``count`` periods ending with ``last`` (weeks or months), oldest first."""
        points = trend_points(last, count)
        self._add_trend_calls(points, points[0].period.first, last.last, scope)
        return points

    # ------------------------------------------------------------------ per call

    def call_figures(
        self, first: date, last: date, scope: Scope
    ) -> Iterable[tuple[_CallFact, date, datetime, Figures]]:
        """Each call of the scope whose local day is in [first, last], with its local day,
        local arrival time and figures (repeat calls counted against the 7 days before)."""
        start = datetime.combine(first, time(0), UTC) - timedelta(days=8)
        end = datetime.combine(last, time(0), UTC) + timedelta(days=2)
        for fact, repeat in _with_repeats(self._calls(start, end, scope)):
            local = fact.arrived.astimezone(self.zone(fact.departement))
            if first <= local.date() <= last:
                yield fact, local.date(), local, _call_figures(fact, repeat)

    def _add_calls(self, result: Indicators, first: date, last: date, scope: Scope) -> None:
        for fact, _day, local, figures in self.call_figures(first, last, scope):
            for bucket in (
                _bucket(result.rows, (fact.departement, fact.line)),
                _bucket(result.by_line, fact.line),
                _bucket(result.by_reason, fact.reason),
                result.by_hour[local.hour],
                result.by_weekday[local.weekday()],
                result.total,
            ):
                bucket.add(figures)

    def _add_others(self, result: Indicators, period: Period, scope: Scope) -> None:
        for dep, line, figures in self._others(period, scope):
            for bucket in (
                _bucket(result.rows, (dep, line)),
                _bucket(result.by_line, line),
                result.total,
            ):
                bucket.add(figures)

    def _add_trend_calls(
        self, points: list[TrendPoint], first: date, last: date, scope: Scope
    ) -> None:
        for fact, day, _local, figures in self.call_figures(first, last, scope):
            point = point_of(points, day)
            if point is not None:
                point.figures.add(figures)
                point.reasons[fact.reason] = point.reasons.get(fact.reason, 0) + 1

    # ------------------------------------------------------------------ reading

    def _calls(self, start: datetime, end: datetime, scope: Scope) -> list[_CallFact]:
        abandon = (
            sa.select(CallEvent.detail)
            .where(CallEvent.call_pk == Call.id, CallEvent.kind == "abandon")
            .limit(1)
            .scalar_subquery()
        )
        query = sa.select(
            Call.departement,
            Call.line,
            Call.caller,
            Call.arrived_at,
            Call.answered_at,
            Call.ended_at,
            Call.outcome,
            Call.reason,
            Call.deterrence,
            Call.lro_used,
            Call.callback_registered,
            abandon,
        ).where(Call.arrived_at >= start, Call.arrived_at < end)
        if scope.departements is not None:
            query = query.where(Call.departement.in_(scope.departements))
        query = query.order_by(Call.arrived_at)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            _CallFact(
                departement=r[0] or "",
                line=r[1] or "",
                caller=r[2],
                arrived=_utc(r[3]),
                answered=_utc(r[4]) if r[4] is not None else None,
                ended=_utc(r[5]),
                outcome=r[6],
                reason=r[7] or NO_REASON,
                deterred=r[8] is not None,
                lro=bool(r[9]),
                callback=bool(r[10]),
                abandon=r[11],
            )
            for r in rows
        ]

    def _others(self, period: Period, scope: Scope) -> Iterable[tuple[str, str, Figures]]:
        """Call-backs, escalations and SI SIAO requests of the period, by département."""
        start, end = period.start - timedelta(days=1), period.end + timedelta(days=1)
        deps = scope.departements
        cb = sa.select(Callback.id, Callback.departement, Callback.requested_at, Callback.status)
        cb = cb.where(Callback.requested_at >= start, Callback.requested_at < end)
        esc = sa.select(Escalation.departement, Escalation.created_at)
        esc = esc.where(Escalation.created_at >= start, Escalation.created_at < end)
        if deps is not None:
            cb = cb.where(Callback.departement.in_(deps))
            esc = esc.where(Escalation.departement.in_(deps))
        placed = sa.select(AuditEntry.object_id).where(
            AuditEntry.action == "place",
            AuditEntry.object_type == "callback",
            AuditEntry.at >= start,
        )
        with self.store.engine.connect() as conn:
            callbacks = conn.execute(cb).all()
            escalations = conn.execute(esc).all()
            launched = {str(v) for v in conn.execute(placed).scalars()}
            requests = self._sisiao_requests(conn, start, end)
        for cid, dep, at, status in callbacks:
            if self._inside(period, dep, at):
                done = status == CallbackStatus.DONE.value
                yield (
                    dep,
                    "115",
                    Figures(
                        callbacks_requested=1,
                        callbacks_placed=int(done or str(cid) in launched),
                        callbacks_reached=int(done),
                    ),
                )
        for esc_dep, at in escalations:
            if self._inside(period, esc_dep or "", at):
                yield esc_dep or "", "assistance", Figures(escalations=1)
        for dep, at in requests:
            if (deps is None or dep in deps) and self._inside(period, dep, at):
                yield dep, "115", Figures(sisiao_requests=1)

    def _sisiao_requests(
        self, conn: sa.Connection, start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        query = sa.select(sisiao_outbox.c.created_at, sisiao_outbox.c.payload)
        rows = conn.execute(query.where(sisiao_outbox.c.created_at >= start)).all()
        found = []
        for created, payload in rows:
            at = _utc(created)
            if at < end:
                found.append((str(cast(dict[str, Any], payload).get("departement") or ""), at))
        return found

    def _inside(self, period: Period, departement: str, at: datetime) -> bool:
        return period.first <= self.local_day(departement, _utc(at)) <= period.last


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bucket(groups: dict[Any, Figures], key: Any) -> Figures:
    found = groups.get(key)
    if found is None:
        found = groups[key] = Figures()
    return found


def trend_points(last: Period, count: int) -> list[TrendPoint]:
    """Empty points of the ``count`` periods ending with ``last``, oldest first."""
    return [TrendPoint(last.shifted(-i), Figures(), {}) for i in range(count - 1, -1, -1)]


def point_of(points: list[TrendPoint], day: date) -> TrendPoint | None:
    for point in points:
        if point.period.first <= day <= point.period.last:
            return point
    return None


def _with_repeats(facts: list[_CallFact]) -> Iterable[tuple[_CallFact, tuple[bool, bool]]]:
    """Each call (in arrival order) with whether its number called the same line of the
    same département in the 24 h and in the 7 days before it."""
    last_seen: dict[tuple[str, str, str], datetime] = {}
    for fact in facts:
        repeat = (False, False)
        if fact.caller:
            key = (fact.caller, fact.line, fact.departement)
            before = last_seen.get(key)
            if before is not None:
                gap = fact.arrived - before
                repeat = (gap <= timedelta(hours=24), gap <= timedelta(days=7))
            last_seen[key] = fact.arrived
        yield fact, repeat


def _call_figures(fact: _CallFact, repeat: tuple[bool, bool]) -> Figures:
    figures = Figures(received=1, deterred=int(fact.deterred), lro=int(fact.lro))
    figures.callbacks_offered = int(fact.callback)
    figures.repeat_24h, figures.repeat_7d = int(repeat[0]), int(repeat[1])
    if fact.answered is not None:
        figures.answered = 1
        figures.waits.append(max(0.0, (fact.answered - fact.arrived).total_seconds()))
        figures.talk_s = max(0.0, (fact.ended - fact.answered).total_seconds())
    elif fact.outcome == "caller-hung-up":
        figures.abandoned = 1
        if fact.abandon in ABANDON_PHASES:
            setattr(figures, f"abandoned_{fact.abandon}", 1)
    return figures
