"""``ivr simulate`` leaves a record that ``ivr calls list`` shows; ``ivr purge`` reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ivr.cli import main
from ivr.records.db import head_revision, make_engine
from ivr.records.models import ReportRollupDay
from ivr.records.store import RecordStore
from tests.state.helpers import REPO, SHIPPED
from tests.support.report_traffic import Traffic

AT = "2026-11-23T10:00:00+01:00"


def ivr(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "error", **env},
        timeout=120,
        check=False,
    )


def test_given_db_upgraded_when_a_call_is_simulated_then_calls_list_json_shows_it(
    tmp_path: Path,
) -> None:
    env = {"IVR_DATA_DIR": str(tmp_path), "IVR_DATABASE_URL": ""}
    upgraded = ivr("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.endswith(f"schéma créé (révision {head_revision()})\n")
    simulated = ivr(
        "simulate",
        "--config",
        str(SHIPPED),
        "--line",
        "115",
        "--departement",
        "93",
        "--from",
        "06 12 34 56 78",
        "--at",
        AT,
        "--json",
        env=env,
    )
    assert simulated.returncode == 0, simulated.stderr
    assert simulated.stderr == ""
    listed = ivr("calls", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    calls = json.loads(listed.stdout)
    assert len(calls) == 1
    call = calls[0]
    assert call["call_id"].startswith("sim-")
    assert (call["line"], call["departement"], call["caller"], call["called"]) == (
        "115",
        "93",
        "+33612345678",
        "+33353010930",
    )
    assert call["arrived_at"] == "2026-11-23T09:00:00+00:00"
    assert call["outcome"] == "connected"
    assert call["tier_reached"] == "listener"
    assert [(leg["role"], leg["result"]) for leg in call["legs"]] == [("listener", "answered")]
    assert call["answered_at"] is not None


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.postgres
def test_given_postgres_when_calls_are_simulated_then_the_list_shows_the_latest_first(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {"IVR_DATABASE_URL": postgres_url, "IVR_DATA_DIR": str(tmp_path)}
    assert run(["db", "upgrade"], env)[0] == 0
    base = ["simulate", "--config", str(SHIPPED), "--at", AT]
    assert run([*base, "--line", "assistance", "--press", "93", "--press", "1"], env)[0] == 0
    code, _, err = run(
        [
            *base,
            "--line",
            "115",
            "--departement",
            "93",
            "--waiting",
            "80",
            "--from",
            "0612345678",
            "--press",
            "1",
        ],
        env,
    )
    assert (code, err) == (0, "")
    code, out, _ = run(["calls", "list", "--json", "--limit", "5"], env)
    assert code == 0
    calls = json.loads(out)
    assert [c["line"] for c in calls] == ["115", "assistance"]
    assert calls[0]["deterrence"] == "saturation"
    assert calls[0]["callback_registered"] is True
    assert [e["kind"] for e in calls[0]["events"]] == ["deterrence", "callback"]
    assert calls[1]["tier_reached"] == "tier1"

    code, text, _ = run(["calls", "list"], env)
    lines = text.splitlines()
    assert len(lines) == 2
    assert "115" in lines[0]
    assert "rappel demandé" in lines[0]
    assert "(dissuasion saturation)" in lines[0]
    assert "masqué" in lines[1]
    assert "palier 1" in lines[1]


def test_given_no_schema_when_calls_list_runs_then_it_says_to_upgrade_in_french(
    tmp_path: Path,
) -> None:
    code, out, err = run(["calls", "list"], {"IVR_DATA_DIR": str(tmp_path), "IVR_DATABASE_URL": ""})
    assert code == 1
    assert out == ""
    assert err == (
        f"la base sqlite:///{tmp_path / 'ivr.sqlite3'} n'existe pas : lancez « ivr db upgrade »\n"
    )
    assert not (tmp_path / "ivr.sqlite3").exists()


def test_given_calls_when_purge_runs_then_it_says_what_it_removed_and_audits_reads(
    tmp_path: Path,
) -> None:
    env = {"IVR_DATA_DIR": str(tmp_path), "IVR_DATABASE_URL": ""}
    assert run(["db", "upgrade"], env)[0] == 0
    old = [
        "simulate",
        "--config",
        str(SHIPPED),
        "--line",
        "115",
        "--departement",
        "93",
        "--from",
        "0612345678",
        "--at",
        "2023-01-10T10:00:00+01:00",
    ]
    assert run(old, env)[0] == 0
    assert run(["calls", "list"], env)[0] == 0
    code, out, _ = run(["purge"], env)
    assert code == 0
    assert out.splitlines() == [
        "Enregistrements supprimés : 0 enregistrement (0 fichier)",
        "Données d'appelants effacées : 1 numéro (1 appel, 0 rappel, 0 signalement)",
        "Journal d'audit conservé.",
    ]
    code, out, _ = run(["calls", "list", "--json"], env)
    assert json.loads(out)[0]["caller"] is None
    code, out, _ = run(["purge", "--json", "--caller-months", "1"], env)
    assert json.loads(out)["callers"] == 0

    from datetime import UTC, datetime

    from ivr.records.db import make_engine
    from ivr.records.store import RecordStore

    engine = make_engine(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    try:
        actions = [
            (e.action, e.object_type)
            for e in RecordStore(engine, lambda: datetime.now(UTC)).audit_entries()
        ]
    finally:
        engine.dispose()
    assert actions == [
        ("purge", "retention"),
        ("read", "calls"),
        ("purge", "retention"),
        ("read", "calls"),
    ]


def test_given_calls_when_db_rollup_runs_then_their_days_are_rolled_up_once(
    tmp_path: Path,
) -> None:
    env = {"IVR_DATA_DIR": str(tmp_path), "IVR_DATABASE_URL": ""}
    assert ivr("db", "upgrade", env=env).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    store = RecordStore(engine, lambda: datetime.now(UTC))
    store.write(list(Traffic(date(2026, 10, 1), 10, 30).calls()))

    first = CliRunner().invoke(main, ["db", "rollup", "--jusqua", "2026-10-31"], env=env)
    assert first.exit_code == 0, first.output
    assert "32 jour(s) agrégé(s) du 30/09/2026 au 31/10/2026" in first.output
    again = CliRunner().invoke(main, ["db", "rollup", "--jusqua", "2026-10-31"], env=env)
    assert "0 jour(s) agrégé(s)" in again.output
    with engine.connect() as conn:
        days = set(conn.execute(sa.select(ReportRollupDay.day)).scalars())
    assert len(days) == 32
    assert date(2026, 10, 5) in days
    bad = CliRunner().invoke(main, ["db", "rollup", "--depuis", "hier"], env=env)
    assert bad.exit_code == 1
    assert "date invalide : AAAA-MM-JJ attendu" in bad.output
    engine.dispose()
