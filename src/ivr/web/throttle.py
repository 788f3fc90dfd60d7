"""Failed sign-in throttling, counted in the records database so that every instance of the
service sees the same counts and a restart forgets nothing.

Two counters per attempt: one for the login typed (whether or not the account exists, so
that a lock says nothing about existence) and one for the client address. Each counter is a
row of ``sign_in_throttle``: a fixed window opens at the first failure; when the failures in
the window reach the limit the row is locked for ``lockout``. Each increment is one
``UPDATE ... SET failures = failures + 1`` on the row (a row lock on PostgreSQL, a database
lock on SQLite), so concurrent failures on two instances are all counted.

Synchronous (SQLAlchemy): the pages call it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ivr.records.models import SignInThrottle

TABLE = cast(sa.Table, SignInThrottle.__table__)
# Rows untouched for this long (and not locked) are deleted at the next failure.
STALE_AFTER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """``login_failures`` failures for one login (``address_failures`` from one client
    address) within ``window`` lock it for ``lockout``."""

    login_failures: int = 5
    address_failures: int = 30
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Lock:
    """A refused key and until when (UTC)."""

    key: str
    until: datetime

    @property
    def kind(self) -> str:
        return self.key.partition(":")[0]


def login_key(login: str) -> str:
    """The counter of a login as typed: trimmed, case-folded, bounded."""
    return "login:" + login.strip().casefold()[:180]


def address_key(address: str | None) -> str:
    return "addr:" + (address or "inconnue")[:180]


def _insert(engine: sa.Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(TABLE)
    return sqlite.insert(TABLE)


def active_lock(engine: sa.Engine, keys: list[str], now: datetime) -> Lock | None:
    """The lock in force on one of ``keys`` (the one that ends last), or None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(TABLE.c.key, TABLE.c.locked_until)
            .where(TABLE.c.key.in_(keys), TABLE.c.locked_until > now)
            .order_by(TABLE.c.locked_until.desc())
            .limit(1)
        ).first()
    return Lock(row.key, row.locked_until) if row is not None else None


def record_failure(
    engine: sa.Engine, key: str, limit: int, policy: ThrottlePolicy, now: datetime
) -> Lock | None:
    """Count one failure for ``key``; the lock when this failure starts one, else None."""
    window_over = TABLE.c.window_start <= now - policy.window
    at = sa.literal(now, TABLE.c.window_start.type)
    with engine.begin() as conn:
        # Housekeeping: counters idle for a day and not locked (indexed on updated_at).
        conn.execute(
            sa.delete(TABLE).where(
                TABLE.c.updated_at < now - STALE_AFTER,
                sa.or_(TABLE.c.locked_until.is_(None), TABLE.c.locked_until < now),
            )
        )
        conn.execute(
            _insert(engine)
            .values(key=key, failures=0, window_start=now, locked_until=None, updated_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        failures = conn.execute(
            sa.update(TABLE)
            .where(TABLE.c.key == key)
            .values(
                failures=sa.case((window_over, 1), else_=TABLE.c.failures + 1),
                window_start=sa.case((window_over, at), else_=TABLE.c.window_start),
                updated_at=now,
            )
            .returning(TABLE.c.failures)
        ).scalar_one()
        if failures < limit:
            return None
        until = now + policy.lockout
        conn.execute(
            sa.update(TABLE)
            .where(TABLE.c.key == key)
            .values(failures=0, window_start=now, locked_until=until)
        )
        return Lock(key, until)


def clear(engine: sa.Engine, key: str) -> bool:
    """Forget a key's failures and lock (a success, an admin's unlock); True if it had any."""
    with engine.begin() as conn:
        deleted = conn.execute(sa.delete(TABLE).where(TABLE.c.key == key))
        return bool(deleted.rowcount)


def locks(engine: sa.Engine, now: datetime) -> dict[str, datetime]:
    """Every lock in force: key → until."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(TABLE.c.key, TABLE.c.locked_until).where(TABLE.c.locked_until > now)
        ).all()
    return {row.key: row.locked_until for row in rows}
