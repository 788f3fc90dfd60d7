"""Report roll-ups: the indicators of a period read from per-day aggregates instead of the
period's calls, with the same figures (docs/reporting.md, "Roll-ups").

A local day is rolled up once it is over everywhere (``rollable``): its calls are read once,
through the same per-call code as ``IndicatorService`` (local day and hour, repeat calls,
abandon phases), and summed per département, line and reason (``report_rollups``) and per
département and local hour (``report_hours``); the answered calls' waits are kept as a
histogram of exact values (``report_waits``), so that the median and the 90th percentile
stay the nearest-rank values of the calls themselves. ``report_rollup_days`` lists the days
rolled up.

Writing a call (``RecordStore.write``, ``invalidate_rollups``) deletes the marks of the days
it may change (its own, and the days after it, for repeat calls): those days are read from
``calls`` again until they are rolled up anew. A period mixes both: rolled days from the
roll-ups, the others (today, yesterday, a day a late call changed) from the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ivr.records.indicators import (
    CALL_COUNTERS,
    Figures,
    Indicators,
    IndicatorService,
    TrendPoint,
    TzOf,
    _bucket,
    point_of,
    trend_points,
)
from ivr.records.models import Call, ReportHour, ReportRollup, ReportRollupDay, ReportWait
from ivr.records.periods import Period, Scope
from ivr.records.store import REPEAT_REACH, RecordStore

NATIONAL = Scope("national", "National", None)
SETTLE = timedelta(days=1)  # a day is rolled up this long after its last local end (UTC-4)
LATEST_END = timedelta(days=1, hours=4)  # 23:59 in Guadeloupe is 03:59 UTC the next day
ANALYZE_AFTER_DAYS = 28  # rolling up more days at once refreshes the planner's statistics
CHUNK_DAYS = 31  # days rolled up per pass (each pass reads 9 more days for repeat calls)

ROLLUPS = cast(sa.Table, ReportRollup.__table__)
HOURS = cast(sa.Table, ReportHour.__table__)
WAITS = cast(sa.Table, ReportWait.__table__)
DAYS = cast(sa.Table, ReportRollupDay.__table__)
GROUP = ("day", "departement", "line", "reason")
HOUR_GROUP = ("day", "departement", "hour")
WAIT_GROUP = ("day", "departement", "line", "reason", "hour")


def rollable(day: date, now: datetime) -> bool:
    """Whether every call of this local day has arrived, wherever in France."""
    return now >= datetime.combine(day, time(0), UTC) + LATEST_END + SETTLE


def runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges."""
    found: list[tuple[date, date]] = []
    for day in sorted(days):
        if found and found[-1][1] + timedelta(days=1) == day:
            found[-1] = (found[-1][0], day)
        else:
            found.append((day, day))
    return found


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class Rollups:
    """Rolls closed days up and says which days of a range are rolled up."""

    def __init__(self, service: IndicatorService, clock: Callable[[], datetime]) -> None:
        self.service = service
        self.store: RecordStore = service.store
        self.clock = clock

    def rolled(self, first: date, last: date) -> set[date]:
        query = sa.select(DAYS.c.day).where(DAYS.c.day >= first, DAYS.c.day <= last)
        with self.store.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def refresh(self, first: date, last: date) -> int:
        """Roll up every day of [first, last] that is over and not rolled up yet; the
        number of days rolled up now."""
        now = self.clock()
        missing = [d for d in days_between(first, last) if rollable(d, now)]
        if not missing:
            return 0
        done = self.rolled(missing[0], missing[-1])
        count = 0
        for start, end in runs(d for d in missing if d not in done):
            while start <= end:
                chunk_end = min(end, start + timedelta(days=CHUNK_DAYS - 1))
                count += self._roll(start, chunk_end)
                start = chunk_end + timedelta(days=1)
        if count >= ANALYZE_AFTER_DAYS and self.store.engine.dialect.name == "postgresql":
            with self.store.engine.begin() as conn:  # the planner's statistics, at once
                conn.execute(sa.text("ANALYZE report_rollups, report_hours, report_waits"))
        return count

    def _roll(self, first: date, last: date) -> int:
        engine = self.store.engine
        window = (
            datetime.combine(first, time(0), UTC) - REPEAT_REACH,
            datetime.combine(last, time(0), UTC) + timedelta(days=2),
        )  # the calls ``call_figures`` reads
        in_window = (
            sa.select(sa.func.count())
            .select_from(Call)
            .where(Call.arrived_at >= window[0], Call.arrived_at < window[1])
        )
        with engine.connect() as conn:
            before = conn.execute(in_window).scalar_one()
        counters: dict[tuple[Any, ...], list[float]] = {}
        hours: dict[tuple[Any, ...], list[float]] = {}
        waits: dict[tuple[Any, ...], int] = {}
        calls_of: dict[date, int] = {}
        for fact, day, local, figures in self.service.call_figures(first, last, NATIONAL):
            key = (day, fact.departement, fact.line, fact.reason)
            _count(counters, key, figures)
            _count(hours, (day, fact.departement, local.hour), figures)
            for wait in figures.waits:
                wkey = (*key, local.hour, wait)
                waits[wkey] = waits.get(wkey, 0) + 1
            calls_of[day] = calls_of.get(day, 0) + 1
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Against a call written meanwhile: its transaction's deletion of the marks
                # (``invalidate_rollups``) waits for this one to commit, or this one waits
                # for it and counts its call below. (SQLite writes one at a time.)
                conn.execute(sa.text("LOCK TABLE report_rollup_days IN SHARE ROW EXCLUSIVE MODE"))
            if conn.execute(in_window).scalar_one() != before:
                return 0  # a call of these days was written meanwhile: roll up next time
            for table in (ROLLUPS, HOURS, WAITS, DAYS):
                conn.execute(sa.delete(table).where(table.c.day >= first, table.c.day <= last))
            for table, group, rows in ((ROLLUPS, GROUP, counters), (HOURS, HOUR_GROUP, hours)):
                self._insert(
                    conn,
                    table,
                    [*group, *CALL_COUNTERS, "talk_s"],
                    ((*key, *_row(values)) for key, values in rows.items()),
                )
            self._insert(
                conn,
                WAITS,
                [*WAIT_GROUP, "wait_s", "calls"],
                ((*key, n) for key, n in waits.items()),
            )
            now = self.clock()
            conn.execute(
                sa.insert(DAYS),
                [
                    {"day": d, "computed_at": now, "calls": calls_of.get(d, 0)}
                    for d in days_between(first, last)
                ],
            )
        return (last - first).days + 1

    @staticmethod
    def _insert(
        conn: sa.Connection,
        table: sa.Table,
        columns: Sequence[str],
        rows: Iterable[tuple[Any, ...]],
    ) -> None:
        if conn.dialect.name == "postgresql":
            driver = conn.connection.driver_connection
            assert driver is not None
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with driver.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        batch = [dict(zip(columns, row, strict=True)) for row in rows]
        if batch:
            conn.execute(sa.insert(table), batch)


class RollupIndicatorService(IndicatorService):
    """``IndicatorService`` reading rolled-up days from the roll-ups (same figures)."""

    def __init__(
        self,
        store: RecordStore,
        tz_of: TzOf | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(store, tz_of)
        self.rollups = Rollups(self, clock or store.clock)

    def indicators(self, period: Period, scope: Scope) -> Indicators:
        first, last = period.first, period.last
        self.rollups.refresh(first, last)
        rolled = self.rollups.rolled(first, last)
        result = Indicators(period, scope)
        for start, end in runs(d for d in days_between(first, last) if d not in rolled):
            self._add_calls(result, start, end, scope)
        if rolled:
            self._add_rolled(
                result, first, last, scope, exact=len(rolled) == len(days_between(first, last))
            )
        self._add_others(result, period, scope)
        return result

    def trend(self, last: Period, scope: Scope, count: int = 12) -> list[TrendPoint]:
        points = trend_points(last, count)
        first = points[0].period.first
        self.rollups.refresh(first, last.last)
        rolled = self.rollups.rolled(first, last.last)
        for start, end in runs(d for d in days_between(first, last.last) if d not in rolled):
            self._add_trend_calls(points, start, end, scope)
        if not rolled:
            return points
        query = (
            sa.select(ROLLUPS.c.day, ROLLUPS.c.reason, *_sums(ROLLUPS))
            .where(*self._where(ROLLUPS, first, last.last, scope))
            .group_by(ROLLUPS.c.day, ROLLUPS.c.reason)
        )
        with self.store.engine.connect() as conn:
            self._tune(conn)
            for day, reason, *values in conn.execute(query):
                point = point_of(points, day)
                if point is None:
                    continue
                figures = _figures(values)
                point.figures.add(figures)
                point.reasons[reason] = point.reasons.get(reason, 0) + figures.received
        return points

    # ------------------------------------------------------------------ reading

    def _where(self, table: sa.Table, first: date, last: date, scope: Scope) -> list[Any]:
        rolled = sa.select(DAYS.c.day).where(DAYS.c.day >= first, DAYS.c.day <= last)
        where = [table.c.day >= first, table.c.day <= last, table.c.day.in_(rolled)]
        if scope.departements is not None:
            where.append(table.c.departement.in_(scope.departements))
        return where

    def _weekday(self, table: Any) -> Any:
        """The day of the week, 0 Monday … 6 Sunday, as the database computes it."""
        if self._postgres:
            return sa.cast(sa.extract("isodow", table.c.day), sa.Integer) - 1
        return (sa.cast(sa.func.strftime("%w", table.c.day), sa.Integer) + 6) % 7

    def _tune(self, conn: sa.Connection) -> None:
        """PostgreSQL, for this transaction: room to aggregate a national month in memory,
        and no JIT compilation (it costs more than these queries take)."""
        if self._postgres:
            conn.execute(sa.text("SET LOCAL work_mem = '64MB'"))
            conn.execute(sa.text("SET LOCAL jit = off"))

    @property
    def _postgres(self) -> bool:
        return self.store.engine.dialect.name == "postgresql"

    def _groupings(self, result: Indicators, table: Any) -> list[Grouping]:
        """(columns, the result's bucket for a row of them) of every grouping a report
        shows: département and line, line, reason, hour (waits only: the counters by hour
        are in ``report_hours``), day of the week, everything."""
        found: list[Grouping] = [
            (
                [table.c.departement, table.c.line],
                lambda k: _bucket(result.rows, (k[0], k[1])),
            ),
            ([table.c.line], lambda k: _bucket(result.by_line, k[0])),
            ([table.c.reason], lambda k: _bucket(result.by_reason, k[0])),
            ([self._weekday(table).label("weekday")], lambda k: result.by_weekday[int(k[0])]),
            ([], lambda _k: result.total),
        ]
        if "hour" in table.c:
            found.insert(3, ([table.c.hour], lambda k: result.by_hour[int(k[0])]))
        return found

    def _add_rolled(
        self, result: Indicators, first: date, last: date, scope: Scope, *, exact: bool
    ) -> None:
        with self.store.engine.connect() as conn:
            self._tune(conn)
            self._add_counters(conn, result, first, last, scope)
            hours = sa.select(HOURS.c.hour, *_sums(HOURS)).where(
                *self._where(HOURS, first, last, scope)
            )
            for hour, *values in conn.execute(hours.group_by(HOURS.c.hour)):
                result.by_hour[int(hour)].add(_figures(values))
            if exact:
                for bucket, key, stats in self._quantiles(conn, result, first, last, scope):
                    bucket(key).wait_stats = stats
                return
            for columns, bucket in self._groupings(result, WAITS):  # mixed with calls: waits
                for key, wait, n in self._waits(conn, columns, first, last, scope):
                    bucket(key).waits.extend([wait] * n)

    def _add_counters(
        self, conn: sa.Connection, result: Indicators, first: date, last: date, scope: Scope
    ) -> None:
        """Every grouping's counters: in one pass (grouping sets) on PostgreSQL, else one
        query per grouping."""
        where = self._where(ROLLUPS, first, last, scope)
        groupings = self._groupings(result, ROLLUPS)
        if not self._postgres:
            for columns, bucket in groupings:
                query = sa.select(*columns, *_sums(ROLLUPS)).where(*where)
                width = len(columns)
                for row in conn.execute(query.group_by(*columns) if columns else query):
                    if row[width] is not None:  # None: no rolled call (the total of nothing)
                        bucket(tuple(row[:width])).add(_figures(row[width:]))
            return
        for bucket, key, values in self._grouping_sets(
            conn, groupings, sa.select(*_sums(ROLLUPS)).where(*where)
        ):
            bucket(key).add(_figures(values))

    def _grouping_sets(
        self, conn: sa.Connection, groupings: list[Grouping], aggregates: sa.Select[Any]
    ) -> Iterable[tuple[Callable[[tuple[Any, ...]], Figures], tuple[Any, ...], list[Any]]]:
        """PostgreSQL: ``aggregates`` over every grouping at once (GROUPING SETS); each
        result row with its grouping's bucket and key."""
        columns: list[Any] = []
        sets: list[list[int]] = []
        for grouped, _bucket_of in groupings:
            indexes = []
            for column in grouped:
                names = [str(c) for c in columns]
                if str(column) not in names:
                    columns.append(column)
                indexes.append([str(c) for c in columns].index(str(column)))
            sets.append(indexes)
        marker = sa.func.grouping(*columns)  # bit set for each column not grouped
        bits = len(columns)
        by_mask = {
            sum(1 << (bits - 1 - i) for i in range(bits) if i not in indexes): (indexes, bucket)
            for indexes, (_grouped, bucket) in zip(sets, groupings, strict=True)
        }
        query = aggregates.add_columns(*columns, marker).group_by(
            sa.func.grouping_sets(*(sa.tuple_(*(columns[i] for i in ix)) for ix in sets))
        )
        width = len(aggregates.selected_columns)
        for row in conn.execute(query):
            values, keys, mask = list(row[:width]), row[width : width + bits], row[-1]
            if values[0] is None:
                continue
            indexes, bucket = by_mask[int(mask)]
            yield bucket, tuple(keys[i] for i in indexes), values

    def _waits(
        self, conn: sa.Connection, columns: list[Any], first: date, last: date, scope: Scope
    ) -> Iterable[tuple[tuple[Any, ...], float, int]]:
        query = (
            sa.select(*columns, WAITS.c.wait_s, sa.func.sum(WAITS.c.calls))
            .where(*self._where(WAITS, first, last, scope))
            .group_by(*columns, WAITS.c.wait_s)
        )
        width = len(columns)
        for row in conn.execute(query):
            yield tuple(row[:width]), float(row[width]), int(row[width + 1])

    def _quantiles(
        self, conn: sa.Connection, result: Indicators, first: date, last: date, scope: Scope
    ) -> Iterable[
        tuple[Callable[[tuple[Any, ...]], Figures], tuple[Any, ...], tuple[float, float, float]]
    ]:
        """The nearest-rank median, 90th percentile and maximum of the waits of each group,
        computed by the database: ``percentile_disc`` over grouping sets on PostgreSQL
        (the ⌈p·n⌉-th value, as ``nearest_rank``), else cumulative counts per grouping."""
        where = self._where(WAITS, first, last, scope)
        if not self._postgres:
            for columns, bucket in self._groupings(result, WAITS):
                for key, stats in self._quantiles_by_counts(conn, columns, where):
                    yield bucket, key, stats
            return
        # One row per answered call: most histogram rows count one call; the others are
        # repeated (generate_series) in a second, small part.
        shown = [WAITS.c[name] for name in (*WAIT_GROUP, "wait_s")]
        extra = sa.func.generate_series(2, WAITS.c.calls).table_valued("n").lateral("extra")
        each = sa.union_all(
            sa.select(*shown).where(*where),
            sa.select(*shown)
            .select_from(WAITS.join(extra, sa.true()))
            .where(*where, WAITS.c.calls > 1),
        ).subquery("each_wait")
        quantiles = postgresql.array([0.5, 0.9, 1.0])
        aggregates = sa.select(sa.func.percentile_disc(quantiles).within_group(each.c.wait_s))
        groupings = self._groupings(result, each)
        for bucket, key, values in self._grouping_sets(conn, groupings, aggregates):
            median, p90, top = values[0]
            yield bucket, key, (float(median), float(p90), float(top))

    def _quantiles_by_counts(
        self, conn: sa.Connection, columns: list[Any], where: list[Any]
    ) -> Iterable[tuple[tuple[Any, ...], tuple[float, float, float]]]:
        keys = [c.label(f"k{i}") for i, c in enumerate(columns)]
        histogram = (
            sa.select(*keys, WAITS.c.wait_s.label("wait_s"), sa.func.sum(WAITS.c.calls).label("n"))
            .where(*where)
            .group_by(*columns, WAITS.c.wait_s)
            .subquery()
        )
        parts = [histogram.c[f"k{i}"] for i in range(len(columns))]
        cumulative = (
            sa.select(
                *parts,
                histogram.c.wait_s,
                sa.func.sum(histogram.c.n)
                .over(partition_by=parts or None, order_by=histogram.c.wait_s, rows=(None, 0))
                .label("cum"),
                sa.func.sum(histogram.c.n).over(partition_by=parts or None).label("tot"),
            )
        ).subquery()
        cum, tot, wait = cumulative.c.cum, cumulative.c.tot, cumulative.c.wait_s
        outer = [cumulative.c[f"k{i}"] for i in range(len(columns))]
        query = sa.select(
            *outer,
            sa.func.min(sa.case((2 * cum >= tot, wait))),
            sa.func.min(sa.case((10 * cum >= 9 * tot, wait))),
            sa.func.max(wait),
        )
        if outer:
            query = query.group_by(*outer)
        width = len(columns)
        for row in conn.execute(query):
            if row[width] is None:
                continue
            yield (
                tuple(row[:width]),
                (float(row[width]), float(row[width + 1]), float(row[width + 2])),
            )


Grouping = tuple[list[Any], Callable[[tuple[Any, ...]], Figures]]


def _sums(table: sa.Table) -> list[Any]:
    return [sa.func.sum(table.c[name]) for name in (*CALL_COUNTERS, "talk_s")]


WIDTH = len(CALL_COUNTERS)


def _count(groups: dict[tuple[Any, ...], list[float]], key: tuple[Any, ...], f: Figures) -> None:
    """Add one call's figures to its group's counters (and talk time, last)."""
    row = groups.get(key)
    if row is None:
        row = groups[key] = [0] * (WIDTH + 1)
    for i, name in enumerate(CALL_COUNTERS):
        row[i] += getattr(f, name)
    row[WIDTH] += f.talk_s


def _row(values: list[float]) -> tuple[Any, ...]:
    return (*(int(v) for v in values[:WIDTH]), float(values[WIDTH]))


def _figures(values: Sequence[Any]) -> Figures:
    figures = Figures()
    for name, value in zip(CALL_COUNTERS, values, strict=False):
        setattr(figures, name, int(value or 0))
    figures.talk_s = float(values[len(CALL_COUNTERS)] or 0.0)
    return figures
