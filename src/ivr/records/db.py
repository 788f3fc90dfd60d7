"""The records database: its URL from the settings, engines, and the Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_FILE = "ivr.sqlite3"


def all_metadata() -> list[sa.MetaData]:
    """Every table the migrations manage: the records, and sisiao_link's outbox and incidents."""
    from ivr.records.models import Base
    from sisiao_link.outbox import outbox_metadata

    return [Base.metadata, outbox_metadata]


def database_url(database_url: str | None, data_dir: Path) -> str:
    """``IVR_DATABASE_URL``, or the embedded SQLite file ``<data_dir>/ivr.sqlite3``."""
    if database_url:
        return database_url
    return f"sqlite:///{data_dir / SQLITE_FILE}"


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    return sa.make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, *, create_dir: bool = False) -> sa.Engine:
    """An engine for the records; SQLite gets WAL, foreign keys and a patient lock wait."""
    path = sqlite_path(url)
    if path is None:
        return sa.create_engine(url, pool_pre_ping=True)
    if create_dir:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have a head"
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The schema's revision in that database (None: no schema yet)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> str | None:
    """Bring the schema up to ``revision``; returns the revision it is at afterwards."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return current_revision(engine)


def downgrade(engine: sa.Engine, revision: str) -> str | None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
    return current_revision(engine)


def new_revision(engine: sa.Engine, message: str) -> None:
    """Write a migration for what the models add to ``engine``'s (up to date) schema."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)
