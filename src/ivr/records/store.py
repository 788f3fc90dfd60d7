"""Reading and writing the records: idempotent batched call writes, and the queries the
CLI and the pages need. Synchronous (SQLAlchemy 2 Core and ORM): the write-behind writer
calls it from its own thread, never from the event loop."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# The writer's items live in ivr.records.items; re-exported here, where callers find them.
from ivr.records.items import CallbackRequest as CallbackRequest
from ivr.records.items import CallRecord as CallRecord
from ivr.records.items import EventRecord as EventRecord
from ivr.records.items import Item as Item
from ivr.records.items import LegRecord as LegRecord
from ivr.records.items import iso_or_none
from ivr.records.items import item_from_dict as item_from_dict
from ivr.records.models import (
    Account,
    AccountRole,
    AccountRoleGrant,
    AuditEntry,
    Call,
    Callback,
    CallbackStatus,
    CallEvent,
    CallLeg,
    ConfigVersion,
    Escalation,
    EscalationStatus,
    FlaggedNumber,
    Recording,
    ReportRollupDay,
)
from ivr.records.tickets import escalation_ticket

Clock = Callable[[], datetime]
CALLS = cast(sa.Table, Call.__table__)
LEGS = cast(sa.Table, CallLeg.__table__)
# The author of a routing version recorded from the routing file at start (a deployment).
FILE_AUTHOR = "fichier"
EVENTS = cast(sa.Table, CallEvent.__table__)
CALLBACKS = cast(sa.Table, Callback.__table__)


@dataclass(slots=True)
class WriteResult:
    calls: int = 0
    callbacks: int = 0
    duplicates: list[str] = field(default_factory=list)  # call ids already recorded


@dataclass(frozen=True, slots=True)
class CallRow:
    """A recorded call as ``ivr calls list`` shows it."""

    call_id: str
    line: str | None
    departement: str | None
    caller: str | None
    called: str
    arrived_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    outcome: str | None
    tier_reached: str | None
    connected_to: str | None
    deterrence: str | None
    lro_used: bool
    callback_registered: bool
    instance_id: str | None
    takeovers: int
    legs: tuple[LegRecord, ...]
    events: tuple[EventRecord, ...]

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.arrived_at).total_seconds()

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "line": self.line,
            "departement": self.departement,
            "caller": self.caller,
            "called": self.called,
            "arrived_at": self.arrived_at.isoformat(),
            "answered_at": iso_or_none(self.answered_at),
            "ended_at": self.ended_at.isoformat(),
            "duration_s": round(self.duration_s, 1),
            "outcome": self.outcome,
            "tier_reached": self.tier_reached,
            "connected_to": self.connected_to,
            "deterrence": self.deterrence,
            "lro_used": self.lro_used,
            "callback_registered": self.callback_registered,
            "legs": [
                {
                    "number": g.number,
                    "role": g.role,
                    "result": g.result,
                    "at": iso_or_none(g.started_at),
                }
                for g in self.legs
            ],
            "events": [
                {"kind": e.kind, "detail": e.detail, "at": iso_or_none(e.at)} for e in self.events
            ],
            "instance": self.instance_id,
            "takeovers": self.takeovers,
        }


_COPY_COLUMNS = (
    "call_id",
    "line",
    "departement",
    "caller",
    "called",
    "arrived_at",
    "answered_at",
    "ended_at",
    "outcome",
    "tier_reached",
    "connected_to",
    "connected_role",
    "reason",
    "deterrence",
    "lro_used",
    "callback_registered",
    "prompts",
    "instance_id",
    "takeovers",
)


def _copy_row(r: CallRecord) -> tuple[object, ...]:
    return (
        r.call_id,
        r.line,
        r.departement,
        r.caller,
        r.called,
        r.arrived_at,
        r.answered_at,
        r.ended_at,
        r.outcome,
        r.tier_reached,
        r.connected_to,
        r.connected_role,
        r.reason,
        r.deterrence,
        r.lro_used,
        r.callback_registered,
        json.dumps(list(r.prompts), ensure_ascii=False),
        r.instance_id,
        r.takeovers,
    )


class StaleVersionError(Exception):
    """Another routing version was recorded since the one an edit started from."""

    def __init__(self, latest: int) -> None:
        super().__init__(f"latest routing version is {latest}")
        self.latest = latest


# Who did what to which object: actor, action, object type, object id, detail.
_Audit = tuple[str, str, str, str | None, dict[str, Any] | None]


class RecordStore:
    """The records database, through an engine whose schema is up to date."""

    def __init__(self, engine: sa.Engine, clock: Clock, *, use_copy: bool = True) -> None:
        self.engine = engine
        self.clock = clock
        self.use_copy = use_copy  # PostgreSQL: COPY batches (False: multi-row INSERTs)

    def ensure_directory(self) -> None:
        """Create the embedded SQLite file's directory if needed."""
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    def _insert(self, table: sa.Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        if self.engine.dialect.name == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"records on {self.engine.dialect.name} are not supported")

    # ----------------------------------------------------------------- writes

    def write(self, items: Sequence[Item]) -> WriteResult:
        """Write a batch in one transaction; a call already recorded is left as it is
        (writes are retried, so they must be idempotent) and reported as a duplicate."""
        result = WriteResult()
        calls = [i for i in items if isinstance(i, CallRecord)]
        callbacks = [i for i in items if isinstance(i, CallbackRequest)]
        with self.engine.begin() as conn:
            if calls and self.use_copy and self.engine.dialect.name == "postgresql":
                self._copy_calls(conn, calls, result)
            elif calls:
                self._write_calls(conn, calls, result)
            if callbacks:
                rows = [
                    {
                        "call_id": c.call_id,
                        "departement": c.departement,
                        "number": c.number,
                        "requested_at": c.requested_at,
                        "status": CallbackStatus.REQUESTED.value,
                    }
                    for c in callbacks
                ]
                result.callbacks = len(self._insert_new(conn, CALLBACKS, rows))
        return result

    def _write_calls(
        self, conn: sa.Connection, calls: Sequence[CallRecord], result: WriteResult
    ) -> None:
        unique = _unique_calls(calls, result)
        rows = [
            {
                "call_id": r.call_id,
                "line": r.line,
                "departement": r.departement,
                "caller": r.caller,
                "called": r.called,
                "arrived_at": r.arrived_at,
                "answered_at": r.answered_at,
                "ended_at": r.ended_at,
                "outcome": r.outcome,
                "tier_reached": r.tier_reached,
                "connected_to": r.connected_to,
                "connected_role": r.connected_role,
                "reason": r.reason,
                "deterrence": r.deterrence,
                "lro_used": r.lro_used,
                "callback_registered": r.callback_registered,
                "prompts": list(r.prompts),
                "instance_id": r.instance_id,
                "takeovers": r.takeovers,
            }
            for r in unique.values()
        ]
        inserted = self._insert_new(conn, CALLS, rows)
        result.duplicates += [call_id for call_id in unique if call_id not in inserted]
        result.calls = len(inserted)
        new = [r for r in unique.values() if r.call_id in inserted]
        legs = [dict(zip(LEG_COLUMNS, row, strict=True)) for row in _leg_rows(new, inserted)]
        if legs:
            conn.execute(sa.insert(LEGS), legs)
        events = [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in _event_rows(new, inserted)]
        if events:
            conn.execute(sa.insert(EVENTS), events)
        invalidate_rollups(conn, (r.arrived_at for r in new))

    def _insert_new(
        self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
    ) -> dict[str, int]:
        """Insert the rows whose ``call_id`` is not in ``table`` yet, in one statement;
        the new rows' ids by ``call_id`` (idempotent: writes are retried)."""
        stmt = self._insert(table).on_conflict_do_nothing(index_elements=["call_id"])
        returning = stmt.returning(table.c.id, table.c.call_id)
        return {call_id: pk for pk, call_id in conn.execute(returning, rows).all()}

    def _copy_calls(
        self, conn: sa.Connection, calls: Sequence[CallRecord], result: WriteResult
    ) -> None:
        """PostgreSQL: COPY the batch into a temporary table, then one INSERT ... SELECT
        that skips the calls already recorded; the new calls' legs and events are COPYed.

        A multi-row INSERT with RETURNING costs more to build and parse than to run; COPY
        streams the rows. Same transaction, same idempotence as the generic path."""
        unique = _unique_calls(calls, result)
        driver = conn.connection.driver_connection
        assert driver is not None
        columns = ", ".join(_COPY_COLUMNS)
        with driver.cursor() as cur:
            cur.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS ivr_calls_in ON COMMIT DELETE ROWS "
                f"AS SELECT {columns} FROM calls WITH NO DATA"
            )
            with cur.copy(f"COPY ivr_calls_in ({columns}) FROM STDIN") as copy:
                for r in unique.values():
                    copy.write_row(_copy_row(r))
            cur.execute(
                f"INSERT INTO calls ({columns}) SELECT {columns} FROM ivr_calls_in "
                "ON CONFLICT (call_id) DO NOTHING RETURNING id, call_id"
            )
            inserted = {call_id: pk for pk, call_id in cur.fetchall()}
            result.duplicates += [call_id for call_id in unique if call_id not in inserted]
            result.calls = len(inserted)
            new = [r for r in unique.values() if r.call_id in inserted]
            with cur.copy(f"COPY call_legs ({', '.join(LEG_COLUMNS)}) FROM STDIN") as copy:
                for row in _leg_rows(new, inserted):
                    copy.write_row(row)
            with cur.copy(f"COPY call_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in _event_rows(new, inserted):
                    copy.write_row(row)
        invalidate_rollups(conn, (r.arrived_at for r in new))

    # ----------------------------------------------------------------- calls

    def latest_calls(self, limit: int = 20) -> list[CallRow]:
        """The most recent calls first."""
        with Session(self.engine) as session:
            calls = session.scalars(
                sa.select(Call).order_by(Call.arrived_at.desc(), Call.id.desc()).limit(limit)
            ).all()
            return [self._row(call) for call in calls]

    def call(self, call_id: str) -> CallRow | None:
        with Session(self.engine) as session:
            call = session.scalar(sa.select(Call).where(Call.call_id == call_id))
            return self._row(call) if call is not None else None

    def count_calls(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(Call)) or 0)

    @staticmethod
    def _row(call: Call) -> CallRow:
        return CallRow(
            call_id=call.call_id,
            line=call.line,
            departement=call.departement,
            caller=call.caller,
            called=call.called,
            arrived_at=call.arrived_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            outcome=call.outcome,
            tier_reached=call.tier_reached,
            connected_to=call.connected_to,
            deterrence=call.deterrence,
            lro_used=call.lro_used,
            callback_registered=call.callback_registered,
            instance_id=call.instance_id,
            takeovers=call.takeovers,
            legs=tuple(LegRecord(g.number, g.role, g.result, g.started_at) for g in call.legs),
            events=tuple(EventRecord(e.kind, e.detail, e.at) for e in call.events),
        )

    # ----------------------------------------------------------------- call-backs

    def pending_callbacks(self, departement: str | None = None) -> list[Callback]:
        with Session(self.engine, expire_on_commit=False) as session:
            query = sa.select(Callback).where(Callback.status == CallbackStatus.REQUESTED.value)
            if departement is not None:
                query = query.where(Callback.departement == departement)
            return list(session.scalars(query.order_by(Callback.requested_at)).all())

    def complete_callback(
        self, callback_id: int, by: str, status: CallbackStatus = CallbackStatus.DONE
    ) -> None:
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            callback = session.get_one(Callback, callback_id)
            callback.status = status.value
            callback.done_at = now
            callback.done_by = by
            self._audit(session, by, "update", "callback", str(callback_id), {"status": status})

    # ----------------------------------------------------------------- numbers, escalations

    def flag_number(
        self, number: str, reason: str, by: str, departement: str | None = None
    ) -> None:
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            flag = session.scalar(sa.select(FlaggedNumber).where(FlaggedNumber.number == number))
            if flag is None:
                flag = FlaggedNumber(number=number, reason=reason, flagged_by=by, flagged_at=now)
                session.add(flag)
            flag.reason, flag.flagged_by, flag.flagged_at = reason, by, now
            flag.departement, flag.active, flag.cleared_at, flag.cleared_by = (
                departement,
                True,
                None,
                None,
            )
            self._audit(session, by, "flag", "number", None, {"departement": departement})

    def is_flagged(self, number: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.scalar(
                sa.select(FlaggedNumber.id).where(
                    FlaggedNumber.number == number, FlaggedNumber.active.is_(True)
                )
            )
            return found is not None

    def escalate(
        self,
        *,
        reason_code: str,
        by: str,
        note: str = "",
        call_id: str | None = None,
        departement: str | None = None,
    ) -> int:
        """Open a tier 1 → tier 2 escalation and its ticket; returns its id."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            escalation = Escalation(
                call_id=call_id,
                departement=departement,
                reason_code=reason_code,
                note=note,
                created_by=by,
                created_at=now,
                updated_at=now,
                status=EscalationStatus.OPEN.value,
                from_tier=1,
                to_tier=2,
            )
            session.add(escalation)
            session.flush()
            session.add(escalation_ticket(escalation))  # national support's inbox
            self._audit(session, by, "create", "escalation", str(escalation.id), None)
            return escalation.id

    def set_escalation_status(self, escalation_id: int, status: EscalationStatus, by: str) -> None:
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            escalation = session.get_one(Escalation, escalation_id)
            escalation.status = status.value
            escalation.updated_at = now
            escalation.closed_at = now if status is EscalationStatus.CLOSED else None
            self._audit(session, by, "update", "escalation", str(escalation_id), {"status": status})

    # ----------------------------------------------------------------- accounts, config

    def add_account(
        self,
        login: str,
        display_name: str,
        roles: Iterable[tuple[AccountRole, str | None]],
        by: str,
        email: str | None = None,
        *,
        phone: str | None = None,
        password_hash: str | None = None,
        must_change_password: bool = False,
    ) -> int:
        """Create an account with its roles in one transaction (audited with the roles)."""
        now = self.clock()
        grants = list(roles)
        account = Account(
            login=login,
            display_name=display_name,
            email=email,
            created_at=now,
            active=True,
            phone=phone,
            password_hash=password_hash,
            must_change_password=must_change_password,
        )
        account.roles = [AccountRoleGrant(role=role.value, departement=dep) for role, dep in grants]
        detail = {"roles": sorted(f"{role.value}:{dep or ''}" for role, dep in grants)}
        return self._add(account, (by, "create", "account", login, detail))

    def roles_of(self, login: str) -> list[tuple[AccountRole, str | None]]:
        with Session(self.engine) as session:
            grants = session.scalars(
                sa.select(AccountRoleGrant)
                .join(Account)
                .where(Account.login == login, Account.active.is_(True))
            ).all()
            return [(AccountRole(g.role), g.departement) for g in grants]

    def record_config_version(
        self,
        content: str,
        sha256: str,
        author: str,
        comment: str | None = None,
        *,
        departements: Sequence[str] | None = None,
        changes: Sequence[str] = (),
        restored_from: int | None = None,
        expected_latest: int | None = None,
    ) -> int:
        """Record an applied routing version; its id.

        With ``expected_latest`` (0: no version yet), the version is recorded only if the
        newest one is still that one, else ``StaleVersionError``: read in the recording
        transaction, and made sure by ``based_on`` (unique) when two race.
        """
        now = self.clock()
        try:
            return self._record_version(
                content,
                sha256,
                author,
                comment,
                departements,
                changes,
                restored_from,
                expected_latest,
                now,
            )
        except sa.exc.IntegrityError:
            if expected_latest is None:
                raise
            with Session(self.engine) as session:  # another edit of the same version won
                latest = session.scalar(sa.select(sa.func.max(ConfigVersion.id))) or 0
            raise StaleVersionError(latest) from None

    def _record_version(
        self,
        content: str,
        sha256: str,
        author: str,
        comment: str | None,
        departements: Sequence[str] | None,
        changes: Sequence[str],
        restored_from: int | None,
        expected_latest: int | None,
        now: datetime,
    ) -> int:
        with Session(self.engine) as session, session.begin():
            if expected_latest is not None:
                latest = session.scalar(sa.select(sa.func.max(ConfigVersion.id))) or 0
                if latest != expected_latest:
                    raise StaleVersionError(latest)
            version = ConfigVersion(
                sha256=sha256,
                content=content,
                author=author,
                created_at=now,
                applied_at=now,
                comment=comment,
                departements=",".join(departements) if departements is not None else None,
                changes="\n".join(changes) or None,
                restored_from=restored_from,
                based_on=expected_latest,
            )
            session.add(version)
            session.flush()
            detail: dict[str, Any] | None = None
            if departements is not None or restored_from is not None:
                detail = {"departements": list(departements or ()), "restored_from": restored_from}
            self._audit(session, author, "apply", "config_version", str(version.id), detail)
            return version.id

    def add_recording(
        self,
        call_id: str,
        started_at: datetime,
        location: str,
        duration_s: float | None = None,
        size_bytes: int | None = None,
        media_type: str = "audio/wav",
    ) -> int:
        recording = Recording(
            call_id=call_id,
            started_at=started_at,
            location=location,
            duration_s=duration_s,
            size_bytes=size_bytes,
            media_type=media_type,
        )
        return self._add(recording)

    def _add(
        self, row: Escalation | Account | ConfigVersion | Recording, audit: _Audit | None = None
    ) -> int:
        """Insert ``row`` in its own transaction and return its id; ``audit`` is the entry
        logged with it (``object_id`` ``None``: the new id)."""
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            if audit is not None:
                actor, action, object_type, object_id, detail = audit
                object_id = str(row.id) if object_id is None else object_id
                self._audit(session, actor, action, object_type, object_id, detail)
            return row.id

    # ----------------------------------------------------------------- audit

    def audit(
        self,
        actor: str,
        action: str,
        object_type: str,
        object_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Log who read or changed what (now)."""
        with Session(self.engine) as session, session.begin():
            self._audit(session, actor, action, object_type, object_id, detail)

    def _audit(
        self,
        session: Session,
        actor: str,
        action: str,
        object_type: str,
        object_id: str | None,
        detail: dict[str, Any] | None,
    ) -> None:
        session.add(
            AuditEntry(
                at=self.clock(),
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=object_id,
                detail=detail,
            )
        )

    def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(
                session.scalars(
                    sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
                ).all()
            )


LEG_COLUMNS = ("call_pk", "seq", "number", "role", "result", "started_at")
EVENT_COLUMNS = ("call_pk", "seq", "kind", "detail", "at")


REPEAT_REACH = timedelta(days=8)  # a call changes the repeat counts of the 7 days after it


def invalidate_rollups(conn: sa.Connection, arrivals: Iterable[datetime]) -> None:
    """Forget the report roll-ups of the days calls arriving at ``arrivals`` may change
    (their local day wherever it is, and the days after, for repeat calls), in the
    transaction that writes the calls (``ivr.records.rollups``)."""
    days = sorted({at.astimezone(UTC).date() for at in arrivals})
    marks = cast(sa.Table, ReportRollupDay.__table__)
    while days:
        first = last = days.pop(0)
        while days and days[0] <= last + REPEAT_REACH:
            last = days.pop(0)
        conn.execute(
            sa.delete(marks).where(
                marks.c.day >= first - timedelta(days=1),
                marks.c.day <= last + REPEAT_REACH + timedelta(days=1),
            )
        )


def _unique_calls(calls: Sequence[CallRecord], result: WriteResult) -> dict[str, CallRecord]:
    """The batch's calls by id, each once; a second record of a call is a duplicate."""
    unique: dict[str, CallRecord] = {}
    for record in calls:
        if record.call_id in unique:
            result.duplicates.append(record.call_id)
        unique.setdefault(record.call_id, record)
    return unique


def _leg_rows(new: Sequence[CallRecord], ids: Mapping[str, int]) -> Iterator[tuple[Any, ...]]:
    """The legs of the calls just inserted, as rows of ``LEG_COLUMNS``."""
    for r in new:
        for n, leg in enumerate(r.legs):
            yield (ids[r.call_id], n, leg.number, leg.role, leg.result, leg.started_at)


def _event_rows(new: Sequence[CallRecord], ids: Mapping[str, int]) -> Iterator[tuple[Any, ...]]:
    """The events of the calls just inserted, as rows of ``EVENT_COLUMNS``."""
    for r in new:
        for n, event in enumerate(r.events):
            yield (ids[r.call_id], n, event.kind, event.detail, event.at)
