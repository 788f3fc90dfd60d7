"""Done-when scenarios against the sandbox as a real process (``python -m sisiao_link.cli``):
stopped, started and restarted like the service it stands for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sisiao_link.alerts import IncidentAlert
from sisiao_link.cli import sandbox_command
from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.incidents import IncidentStore
from sisiao_link.monitor import VitalFunctionsMonitor
from sisiao_link.outbox import Outbox, OutboxState, create_schema, sisiao_outbox
from sisiao_link.port import Clock, NouvelleDemandeUrgence, NouvellePersonne
from tests.sisiao_link.fakes import VirtualClock

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SandboxProcess:
    """``python -m sisiao_link.cli`` on a fixed port and database file."""

    def __init__(self, db: Path, port: int, log: Path) -> None:
        self.db = db
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self._process is None
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sisiao_link.cli",
                    "--port",
                    str(self.port),
                    "--db",
                    str(self.db),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"sandbox exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"sandbox did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def demandes_with_key(self, key: str) -> int:
        engine = sa.create_engine(f"sqlite:///{self.db}")
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        sa.text("SELECT count(*) FROM demandes WHERE cle_idempotence = :key"),
                        {"key": key},
                    ).scalar_one()
                )
        finally:
            engine.dispose()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path / "sandbox.sqlite3", free_port(), tmp_path / "sandbox.log")
    yield process
    process.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def real_clock() -> datetime:
    return datetime.now(UTC)


def sisiao_client(
    http: httpx.AsyncClient, sandbox: SandboxProcess, clock: Clock
) -> HttpSiSiaoClient:
    async def no_sleep(_: float) -> None:
        return None

    return HttpSiSiaoClient(
        http,
        sandbox.url,
        "ivr-115",
        "bac-a-sable",
        clock,
        timeout=2.0,
        sleep=no_sleep,
    )


def test_the_sandbox_command_is_named_for_the_ivr_cli_and_speaks_french() -> None:
    result = CliRunner().invoke(sandbox_command, ["--help"])
    assert result.exit_code == 0
    assert sandbox_command.name == "sisiao-sandbox"
    assert "Démarre le bac à sable SI SIAO" in result.output
    assert all(option in result.output for option in ("--host", "--port", "--db"))


async def test_given_the_sandbox_process_when_searching_by_phone_then_a_seeded_household(
    sandbox: SandboxProcess, http: httpx.AsyncClient
) -> None:
    sandbox.start()
    client = sisiao_client(http, sandbox, real_clock)
    (personne,) = await client.search_personnes_by_phone("06 39 98 01 01")
    menage = await client.get_menage(personne.menage_id)
    assert menage is not None
    assert (personne.nom, menage.composition) == ("MARTIN", "Femme seule avec enfant(s)")


async def test_given_the_sandbox_stopped_when_a_request_is_created_then_sent_once_after_restarts(
    sandbox: SandboxProcess, http: httpx.AsyncClient, database_url: str
) -> None:
    demande = NouvelleDemandeUrgence(
        nouvelle_personne=NouvellePersonne(nom="HORS-LIGNE", prenom="Test"),
        departement="91",
        observations="Créée pendant l'arrêt du bac à sable",
    )
    # First run of the service; SI SIAO (the sandbox) is not running.
    engine = sa.create_engine(database_url)
    create_schema(engine)
    outbox = Outbox(engine, sisiao_client(http, sandbox, real_clock), real_clock)
    local_id = outbox.submit(demande, "c.dupont@siao91.example")
    assert (await outbox.drain_once()).unavailable
    status = outbox.status(local_id)
    assert status is not None
    assert status.label == "en attente d'envoi"
    engine.dispose()  # the service stops

    sandbox.start()
    # Second run of the service: a new engine and new objects, nothing carried in memory.
    engine = sa.create_engine(database_url)
    try:
        outbox = Outbox(engine, sisiao_client(http, sandbox, real_clock), real_clock)
        assert (await outbox.drain_once()).sent == 1
        assert (await outbox.drain_once()).sent == 0
        sandbox.stop()
        sandbox.start()
        assert (await outbox.drain_once()).sent == 0
        status = outbox.status(local_id)
        assert status is not None
        assert status.state is OutboxState.ENVOYEE
        assert status.label.startswith("envoyée (n° SI SIAO 45")
        with engine.connect() as conn:
            stored_key = conn.execute(
                sa.select(sisiao_outbox.c.idempotency_key).where(
                    sisiao_outbox.c.local_id == local_id
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert sandbox.demandes_with_key(stored_key) == 1


class RecordingAlerter:
    def __init__(self) -> None:
        self.sent: list[IncidentAlert] = []

    @property
    def name(self) -> str:
        return "enregistreur"

    async def send(self, alert: IncidentAlert) -> None:
        self.sent.append(alert)


async def test_given_the_sandbox_goes_down_and_comes_back_then_the_monitor_opens_and_closes(
    sandbox: SandboxProcess, http: httpx.AsyncClient, engine: sa.Engine
) -> None:
    clock = VirtualClock()
    alerter = RecordingAlerter()
    monitor = VitalFunctionsMonitor(
        sisiao_client(http, sandbox, clock), IncidentStore(engine), alerter, clock
    )
    sandbox.start()
    assert (await monitor.probe_once()).ok

    sandbox.stop()
    for _ in range(16):
        clock.advance_now(60)
        assert not (await monitor.probe_once()).ok
    incident = monitor.current_incident()
    assert incident is not None
    assert incident.summary == "Recherche de personne et création de demande en échec"

    sandbox.start()
    clock.advance_now(60)
    assert (await monitor.probe_once()).ok
    assert monitor.current_incident() is None
    assert [a.kind.value for a in alerter.sent] == ["incident_ouvert", "incident_clos"]
