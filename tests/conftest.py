"""Shared fixtures: real Redis and PostgreSQL servers for the server-backed tests.

A test marked ``redis`` or ``postgres`` takes the ``redis_url`` or ``postgres_url`` fixture.
Without a reachable server the test is skipped on a developer's machine, and fails when
``IVR_REQUIRE_SERVERS=1`` (set by ``.ci/run``), so CI never hides a skipped server test.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _unavailable(what: str, url: str) -> None:
    message = f"{what} unreachable at {url}"
    if os.environ.get("IVR_REQUIRE_SERVERS") == "1":
        pytest.fail(f"{message} and IVR_REQUIRE_SERVERS=1: server-backed tests may not skip")
    pytest.skip(message)


@pytest.fixture
def redis_prefix() -> str:
    """The key prefix of this test's own: every key and channel it writes in Redis.

    Two test runs on one machine (a developer's and CI's) share the Redis database; each
    test writes under a prefix no other test or run has, and deletes only its own keys.
    """
    return f"ivrtest:{os.getpid()}-{secrets.token_hex(4)}:"


@pytest.fixture
def redis_url(redis_prefix: str) -> Iterator[str]:
    """URL of a real Redis database; the test writes under ``redis_prefix`` only, and its
    keys are deleted after it (nobody else's: the database is never flushed)."""
    url = os.environ.get("IVR_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    if not _reachable(url, 6379):
        _unavailable("Redis", url)
    import redis

    client = redis.Redis.from_url(url)
    try:
        yield url
    finally:
        delete_keys(client, redis_prefix)
        client.close()


def delete_keys(client: Any, prefix: str) -> None:
    """Delete every key under ``prefix`` (a prefix of ``redis_prefix``'s form, no glob)."""
    batch = list(client.scan_iter(match=f"{prefix}*", count=500))
    while batch:
        client.delete(*batch[:500])
        batch = batch[500:]


@pytest.fixture(scope="session")
def _postgres_run_database() -> Iterator[str | None]:
    """A PostgreSQL database of this test run's own, beside ``IVR_TEST_DATABASE_URL``'s.

    Two runs on one machine (a developer's and CI, or two developers) then never drop each
    other's tables. None when the server is unreachable or refuses CREATE DATABASE: the
    tests then use the configured database itself.
    """
    base = os.environ.get("IVR_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not _reachable(base, 5432):
        yield None
        return
    import sqlalchemy as sa

    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    url = sa.engine.make_url(base)
    name = f"{url.database or 'test'}_run_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.SQLAlchemyError:
        admin.dispose()
        yield None
        return
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(_postgres_run_database: str | None) -> Iterator[str]:
    """URL of a real PostgreSQL database in a fresh schema-less state (all tables dropped after)."""
    url = _postgres_run_database or os.environ.get("IVR_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not _reachable(url, 5432):
        _unavailable("PostgreSQL", url)
    import sqlalchemy as sa

    engine = sa.create_engine(url)

    def drop_all() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))

    drop_all()
    try:
        yield url
    finally:
        drop_all()
        engine.dispose()


# --------------------------------------------------------------------------- log scan
# Every log record of the whole run is scanned for a full phone number (French national
# form, E.164 or 33-prefixed): one found fails the run at its end, naming the record.

FULL_NUMBER = re.compile(
    r"(?<![\d*])(?:\+33[\s.]?|0033[\s.]?|33[\s.]?|0)[1-9](?:[\s.-]?\d{2}){4}(?![\d*])"
)


def full_numbers(text: str) -> list[str]:
    """The full French phone numbers ``text`` holds (masked ones excepted)."""
    return [match.group(0) for match in FULL_NUMBER.finditer(text)]


class NumberScan(logging.Handler):
    """Keeps the records that hold a full phone number."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot be formatted holds nothing to scan
            return
        found = full_numbers(text)
        if found:
            self.leaks.append(f"{record.name}: {text[:300]}")


_SCAN = NumberScan()


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.getLogger().addHandler(_SCAN)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_SCAN)
    if _SCAN.leaks:
        lines = "\n".join(_SCAN.leaks[:20])
        sys.stderr.write(f"\nLOG SCAN: {len(_SCAN.leaks)} record(s) hold a full number:\n{lines}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
