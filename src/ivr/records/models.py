"""The durable records: calls and their legs, recordings, call-backs, flagged numbers,
escalations and support tickets, accounts and roles, configuration versions and the audit
log (SQLAlchemy 2).

Every time is stored in UTC (``UtcDateTime``), on SQLite as on PostgreSQL. Caller data
(numbers) is nullable everywhere: ``ivr purge`` erases it after the retention period and
leaves the rest of the record for the statistics.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware datetime, stored in UTC; SQLite's naive values come back as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: records need an aware time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: sa.JSON(),
    }


class CallbackStatus(StrEnum):
    REQUESTED = "requested"
    DONE = "done"
    ABANDONED = "abandoned"


class EscalationStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class AccountRole(StrEnum):
    LISTENER = "listener"  # 115 écoutant
    REFERENT = "referent"  # tier 1, local SI referent
    SUPPORT = "support"  # tier 2, national support
    ADMIN_DEPARTEMENT = "admin_departement"
    ADMIN_NATIONAL = "admin_national"


# --------------------------------------------------------------------------- calls


class Call(Base):
    """One call on either line, as it ended."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str] = mapped_column(sa.String(128), unique=True)
    line: Mapped[str | None] = mapped_column(sa.String(16))
    departement: Mapped[str | None] = mapped_column(sa.String(3), index=True)
    caller: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    called: Mapped[str] = mapped_column(sa.String(32))
    arrived_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    tier_reached: Mapped[str | None] = mapped_column(sa.String(16))
    connected_to: Mapped[str | None] = mapped_column(sa.String(32))
    connected_role: Mapped[str | None] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(64))
    deterrence: Mapped[str | None] = mapped_column(sa.String(32))
    lro_used: Mapped[bool] = mapped_column(default=False)
    callback_registered: Mapped[bool] = mapped_column(default=False)
    prompts: Mapped[list[str]] = mapped_column(sa.JSON(), default=list)
    instance_id: Mapped[str | None] = mapped_column(sa.String(128))
    takeovers: Mapped[int] = mapped_column(default=0)
    caller_purged_at: Mapped[datetime | None]

    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallLeg.seq"
    )
    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallEvent.seq"
    )


class CallLeg(Base):
    """One destination tried during a call, with its role and result."""

    __tablename__ = "call_legs"
    __table_args__ = (sa.UniqueConstraint("call_pk", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_pk: Mapped[int] = mapped_column(BigId, sa.ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int]
    number: Mapped[str] = mapped_column(sa.String(32))
    role: Mapped[str] = mapped_column(sa.String(16))
    result: Mapped[str] = mapped_column(sa.String(16))
    started_at: Mapped[datetime | None]

    call: Mapped[Call] = relationship(back_populates="legs")


class CallEvent(Base):
    """Something notable in a call: deterrence, LRO, call-back, takeover by an instance."""

    __tablename__ = "call_events"
    __table_args__ = (sa.UniqueConstraint("call_pk", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_pk: Mapped[int] = mapped_column(BigId, sa.ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[datetime | None]

    call: Mapped[Call] = relationship(back_populates="events")


# --------------------------------------------------------------------------- around calls


class Recording(Base):
    """A call recording: its metadata and where the file is (``location`` None once purged)."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    duration_s: Mapped[float | None]
    location: Mapped[str | None] = mapped_column(sa.String(500))
    media_type: Mapped[str] = mapped_column(sa.String(64), default="audio/wav")
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger())
    purged_at: Mapped[datetime | None]


class Callback(Base):
    """A call-back the caller asked for, and whether (and by whom) it was done."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    departement: Mapped[str] = mapped_column(sa.String(3), index=True)
    number: Mapped[str | None] = mapped_column(sa.String(32))
    requested_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=CallbackStatus.REQUESTED.value)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(sa.String(128))
    note: Mapped[str | None] = mapped_column(sa.Text())


class FlaggedNumber(Base):
    """A caller number flagged by a listener (repeat or abusive caller): its own prompt."""

    __tablename__ = "flagged_numbers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    departement: Mapped[str | None] = mapped_column(sa.String(3))
    reason: Mapped[str] = mapped_column(sa.Text())
    flagged_by: Mapped[str] = mapped_column(sa.String(128))
    flagged_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None] = mapped_column(sa.String(128))


class Escalation(Base):
    """A ticket from tier 1 to tier 2 with a reason from the nomenclature."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    departement: Mapped[str | None] = mapped_column(sa.String(3))
    from_tier: Mapped[int] = mapped_column(default=1)
    to_tier: Mapped[int] = mapped_column(default=2)
    reason_code: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.Text(), default="")
    status: Mapped[str] = mapped_column(
        sa.String(16), default=EscalationStatus.OPEN.value, index=True
    )
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class TicketStatus(StrEnum):
    """Where a national support ticket stands."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketSource(StrEnum):
    """How a ticket reached national support's inbox."""

    CALL = "call"  # an assistance call answered by an agent (screen pop)
    OVERFLOW = "overflow"  # an assistance call overflowed to tier 2
    ESCALATION = "escalation"  # a tier 1 referent's escalation


class SupportTicket(Base):
    """National support's ticket: the outcome of a call or an escalation, classified by the
    support nomenclature of the routing file (motif, sub-motif). The caller's number is not
    kept here (it stays on the call, which ``ivr purge`` erases)."""

    __tablename__ = "support_tickets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    call_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    escalation_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("escalations.id", ondelete="SET NULL"), unique=True
    )
    departement: Mapped[str | None] = mapped_column(sa.String(3), index=True)
    menu_reason: Mapped[str | None] = mapped_column(sa.String(64))
    motif: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    sub_motif: Mapped[str | None] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.Text(), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=TicketStatus.NEW.value, index=True)
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_by: Mapped[str] = mapped_column(sa.String(128))
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class SupportAgent(Base):
    """A national support agent's phone (the post the assistance line rings) and presence."""

    __tablename__ = "support_agents"

    login: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    presence: Mapped[str] = mapped_column(sa.String(16), default="offline")
    updated_at: Mapped[datetime]


# --------------------------------------------------------------------------- people and admin


class Account(Base):
    """A person who signs in: listener, referent, support agent or admin."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(128), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # "scrypt$n$r$p$salt$hash" (ivr.web.security); None: the account cannot sign in.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # A listener's phone: the number the 115 queue rings when they are available.
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    # Set when an admin gives a temporary password: the person must choose their own first.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    last_sign_in_at: Mapped[datetime | None]

    roles: Mapped[list[AccountRoleGrant]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class AccountRoleGrant(Base):
    """A role of an account, for one département or (``departement`` None) nationally."""

    __tablename__ = "account_roles"
    __table_args__ = (sa.UniqueConstraint("account_id", "role", "departement"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(32))
    departement: Mapped[str | None] = mapped_column(sa.String(3))

    account: Mapped[Account] = relationship(back_populates="roles")


class ConsoleSession(Base):
    """A signed-in console session, shared by every instance: the signed cookie names it
    (``id_hash`` is the SHA-256 of the random id it carries) and is honoured only while the
    row exists and has not expired. Signing out deletes the row; a password change, a
    deactivation or an admin's « fermer les sessions » deletes every row of the account."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SignInThrottle(Base):
    """Failed sign-ins counted per login or per client address (``key``), shared by every
    instance: a fixed window opens at the first failure; at the limit the key is locked
    until ``locked_until``. A success deletes the login's row, so does an admin's unlock."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)  # login:... / addr:...
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class ConfigVersion(Base):
    """A version of the routing file that was validated and applied."""

    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    content: Mapped[str] = mapped_column(sa.Text())
    author: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(sa.Text())
    # The départements whose section the version changed, codes separated by commas
    # (NULL: a whole file, sent or restored); a French summary of the changes, one a line;
    # the version it restores, if it is a restoration (migration v0008).
    departements: Mapped[str | None] = mapped_column(sa.String(1024))
    changes: Mapped[str | None] = mapped_column(sa.Text())
    restored_from: Mapped[int | None] = mapped_column(BigId)
    # The version a form edit or a restoration started from: two cannot share one.
    based_on: Mapped[int | None] = mapped_column(BigId, unique=True)


class AuditEntry(Base):
    """Who read or changed what, when; kept when caller data is purged."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(sa.String(128), index=True)
    action: Mapped[str] = mapped_column(sa.String(32))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(128))
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON())


# --------------------------------------------------------------------------- report roll-ups


class ReportRollupDay(Base):
    """A local day whose calls are rolled up (``report_rollups``, ``report_hours``,
    ``report_waits``): only
    the days listed here are read from the roll-ups, the others from ``calls``. Writing a
    call deletes the rows of the days it may change (``ivr.records.rollups``)."""

    __tablename__ = "report_rollup_days"

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    computed_at: Mapped[datetime]
    calls: Mapped[int]


class _CallCounters:
    """The counters a roll-up row keeps (docs/reporting.md defines each one)."""

    received: Mapped[int]
    answered: Mapped[int]
    abandoned: Mapped[int]
    abandoned_menu: Mapped[int]
    abandoned_queue: Mapped[int]
    abandoned_ringing: Mapped[int]
    deterred: Mapped[int]
    lro: Mapped[int]
    callbacks_offered: Mapped[int]
    repeat_24h: Mapped[int]
    repeat_7d: Mapped[int]
    talk_s: Mapped[float] = mapped_column(sa.Float())


class ReportRollup(_CallCounters, Base):
    """The call counters of one local day, département, line and reason."""

    __tablename__ = "report_rollups"
    __table_args__ = (sa.Index("ix_report_rollups_departement_day", "departement", "day"),)

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    departement: Mapped[str] = mapped_column(sa.String(3), primary_key=True)  # "": unknown
    line: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # "": none


class ReportHour(_CallCounters, Base):
    """The call counters of one local day, département and local hour (by hour of day)."""

    __tablename__ = "report_hours"
    __table_args__ = (sa.Index("ix_report_hours_departement_day", "departement", "day"),)

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    departement: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    hour: Mapped[int] = mapped_column(sa.SmallInteger(), primary_key=True)


class ReportWait(Base):
    """How many answered calls of a local day, département, line, reason and hour waited
    exactly ``wait_s`` seconds: the waits' quantiles are read from it, not from the calls."""

    __tablename__ = "report_waits"
    __table_args__ = (sa.Index("ix_report_waits_departement_day", "departement", "day"),)

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    departement: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    hour: Mapped[int] = mapped_column(sa.SmallInteger(), primary_key=True)
    wait_s: Mapped[float] = mapped_column(sa.Float(), primary_key=True)
    calls: Mapped[int]
