"""``ivr db upgrade`` creates the schema on SQLite and on PostgreSQL, and the models match it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from ivr.cli import main
from ivr.records.db import (
    all_metadata,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)

TABLES = {
    "calls",
    "call_legs",
    "call_events",
    "recordings",
    "callbacks",
    "flagged_numbers",
    "escalations",
    "accounts",
    "account_roles",
    "config_versions",
    "audit_log",
    "sign_in_throttle",
    "console_sessions",
    "sisiao_outbox",
    "sisiao_incidents",
    "sisiao_incident_events",
    "support_tickets",
    "support_agents",
}


def test_given_an_empty_database_when_upgraded_then_every_table_exists_at_head(
    database_url: str,
) -> None:
    engine = make_engine(database_url, create_dir=True)
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision()
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        assert upgrade(engine) == head_revision()  # a second upgrade changes nothing
    finally:
        engine.dispose()


def test_given_the_schema_at_head_then_the_models_match_the_migrations_exactly(
    database_url: str,
) -> None:
    engine = make_engine(database_url, create_dir=True)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            # Alembic compares a list of MetaData too, as env.py configures it.
            differences = compare_metadata(context, cast(Any, all_metadata()))
    finally:
        engine.dispose()
    assert differences == [], (
        "the models (ivr.records.models, sisiao_link.outbox) differ from the migrations: add "
        "a revision under src/ivr/records/migrations/versions/ (ivr.records.db.new_revision)"
    )


def test_given_the_schema_when_downgraded_to_base_then_it_is_gone_and_can_come_back(
    database_url: str,
) -> None:
    engine = make_engine(database_url, create_dir=True)
    try:
        upgrade(engine)
        assert downgrade(engine, "base") is None
        assert not TABLES & set(sa.inspect(engine).get_table_names())
        assert upgrade(engine) == head_revision()
    finally:
        engine.dispose()


def test_given_no_database_url_when_db_upgrade_runs_then_sqlite_is_created_in_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    url = f"sqlite:///{tmp_path / 'var' / 'ivr.sqlite3'}"
    assert first.stdout == f"{url} : schéma créé (révision {head_revision()})\n"
    second = runner.invoke(main, ["db", "upgrade"])
    assert second.stdout == f"{url} : schéma déjà à jour (révision {head_revision()})\n"


@pytest.mark.postgres
def test_given_a_postgres_url_when_db_upgrade_runs_then_the_schema_is_created_there(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_DATABASE_URL", postgres_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f" : schéma créé (révision {head_revision()})\n")
    engine = make_engine(postgres_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_given_an_unreachable_database_when_db_upgrade_runs_then_it_says_so_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IVR_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "base postgresql+psycopg://nobody:***@127.0.0.1:1/none injoignable : "
    )
    assert "secret" not in result.output
