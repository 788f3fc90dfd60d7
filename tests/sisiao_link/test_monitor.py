"""The vital functions monitor, its incidents (SQLite and PostgreSQL) and its alert channels."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import httpx
import pytest
import respx
import sqlalchemy as sa

from sisiao_link.alerts import (
    AlertError,
    AlertKind,
    EmailAlerter,
    IncidentAlert,
    WebhookAlerter,
)
from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.incidents import IncidentEventKind, IncidentStore
from sisiao_link.monitor import VitalFunctionsMonitor
from tests.sisiao_link.fakes import START, FakeSiSiao, FakeSmtpServer, VirtualClock

MINUTE = 60


class RecordingAlerter:
    """An on-call channel that keeps what it is given, or fails when told to."""

    def __init__(self, name: str = "enregistreur", fail_with: str | None = None) -> None:
        self._name = name
        self.fail_with = fail_with
        self.sent: list[IncidentAlert] = []

    @property
    def name(self) -> str:
        return self._name

    async def send(self, alert: IncidentAlert) -> None:
        if self.fail_with is not None:
            raise AlertError(self.fail_with)
        self.sent.append(alert)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sisiao(clock: VirtualClock) -> FakeSiSiao:
    return FakeSiSiao(clock=clock)


@pytest.fixture
async def client(sisiao: FakeSiSiao, clock: VirtualClock) -> AsyncIterator[HttpSiSiaoClient]:
    async with httpx.AsyncClient(transport=sisiao.transport()) as http:
        yield HttpSiSiaoClient(http, "https://sisiao.test/api", "ivr-115", "secret", clock)


@pytest.fixture
def store(engine: sa.Engine) -> IncidentStore:
    return IncidentStore(engine)


@pytest.fixture
def alerter() -> RecordingAlerter:
    return RecordingAlerter()


@pytest.fixture
def monitor(
    client: HttpSiSiaoClient, store: IncidentStore, alerter: RecordingAlerter, clock: VirtualClock
) -> VitalFunctionsMonitor:
    return VitalFunctionsMonitor(client, store, alerter, clock)


async def probe_every_minute(
    monitor: VitalFunctionsMonitor, clock: VirtualClock, minutes: int
) -> None:
    for _ in range(minutes):
        await monitor.probe_once()
        clock.advance_now(MINUTE)


async def test_given_a_failure_shorter_than_the_threshold_then_no_incident_and_no_alert(
    monitor: VitalFunctionsMonitor,
    sisiao: FakeSiSiao,
    clock: VirtualClock,
    alerter: RecordingAlerter,
) -> None:
    sisiao.mode = "503"
    await probe_every_minute(monitor, clock, 15)  # failing from 0 to 14 min
    sisiao.mode = "up"
    report = await monitor.probe_once()
    assert report.ok
    assert monitor.current_incident() is None
    assert monitor.banner() is None
    assert alerter.sent == []


async def test_given_a_failure_lasting_15_minutes_then_an_incident_opens_and_the_on_call_is_alerted(
    monitor: VitalFunctionsMonitor,
    sisiao: FakeSiSiao,
    clock: VirtualClock,
    alerter: RecordingAlerter,
) -> None:
    sisiao.mode = "503"
    await probe_every_minute(monitor, clock, 15)
    assert monitor.current_incident() is None

    await monitor.probe_once()  # 15 minutes after the first failure

    incident = monitor.current_incident()
    assert incident is not None
    assert (incident.failing_since, incident.opened_at) == (START, START + timedelta(minutes=15))
    assert incident.summary == "Recherche de personne et création de demande en échec"
    assert monitor.banner() == (
        "Incident SI SIAO en cours depuis le 10/01/2025 à 23 h 00 : Recherche de personne et "
        "création de demande en échec. L'astreinte Dihal est prévenue. Les demandes d'urgence "
        "sont conservées et seront envoyées au rétablissement."
    )
    (alert,) = alerter.sent
    assert alert.kind is AlertKind.INCIDENT_OUVERT
    assert (
        alert.subject
        == "[SI SIAO] Incident : Recherche de personne et création de demande en échec"
    )
    assert alert.body.startswith(
        "Les fonctions vitales de SI SIAO sont en échec depuis le 10/01/2025 à 23:00 (CET).\n"
        "recherche de personne : SI SIAO indisponible (HTTP 503) ; "
        "création de demande : SI SIAO indisponible (HTTP 503)\n"
    )

    await probe_every_minute(monitor, clock, 30)  # still down: no second incident, no spam
    assert len(alerter.sent) == 1
    current = monitor.current_incident()
    assert current is not None
    assert current.id == incident.id


async def test_given_an_open_incident_when_sisiao_recovers_then_it_closes_with_its_timeline(
    monitor: VitalFunctionsMonitor,
    sisiao: FakeSiSiao,
    clock: VirtualClock,
    alerter: RecordingAlerter,
    store: IncidentStore,
) -> None:
    sisiao.mode = "connect_error"
    await probe_every_minute(monitor, clock, 40)
    sisiao.mode = "up"
    await monitor.probe_once()

    assert monitor.current_incident() is None
    assert monitor.banner() is None
    assert [a.kind for a in alerter.sent] == [AlertKind.INCIDENT_OUVERT, AlertKind.INCIDENT_CLOS]
    assert alerter.sent[1].subject == "[SI SIAO] Rétablissement après 40 min"
    (incident,) = store.recent()
    assert incident.closed_at == START + timedelta(minutes=40)
    assert [(e.at - START, e.kind) for e in incident.timeline] == [
        (timedelta(0), IncidentEventKind.PREMIER_ECHEC),
        (timedelta(minutes=15), IncidentEventKind.INCIDENT_OUVERT),
        (timedelta(minutes=15), IncidentEventKind.ALERTE_ENVOYEE),
        (timedelta(minutes=40), IncidentEventKind.RETABLISSEMENT),
        (timedelta(minutes=40), IncidentEventKind.ALERTE_ENVOYEE),
    ]
    assert incident.timeline[0].detail == (
        "recherche de personne : SI SIAO injoignable (ConnectError) ; "
        "création de demande : SI SIAO injoignable (ConnectError)"
    )
    assert (
        incident.timeline[3].detail == "Fonctions vitales rétablies après 40 min ; incident clos."
    )


async def test_given_one_failing_channel_then_the_others_still_alert_and_the_timeline_says_so(
    client: HttpSiSiaoClient, store: IncidentStore, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    broken = RecordingAlerter("webhook", fail_with="webhook en erreur (HTTP 502)")
    working = RecordingAlerter("e-mail")
    monitor = VitalFunctionsMonitor(client, store, [broken, working], clock)
    sisiao.mode = "503"
    await probe_every_minute(monitor, clock, 16)

    assert len(working.sent) == 1
    incident = monitor.current_incident()
    assert incident is not None
    alerts = [
        (e.kind, e.detail) for e in incident.timeline if e.kind != IncidentEventKind.PREMIER_ECHEC
    ][1:]
    assert alerts == [
        (IncidentEventKind.ALERTE_EN_ECHEC, "webhook : webhook en erreur (HTTP 502)"),
        (IncidentEventKind.ALERTE_ENVOYEE, f"e-mail : {working.sent[0].subject}"),
    ]


async def test_given_the_service_restarts_during_an_incident_then_the_new_monitor_closes_it(
    client: HttpSiSiaoClient,
    store: IncidentStore,
    clock: VirtualClock,
    sisiao: FakeSiSiao,
    alerter: RecordingAlerter,
) -> None:
    sisiao.mode = "503"
    await probe_every_minute(VitalFunctionsMonitor(client, store, alerter, clock), clock, 20)

    restarted = VitalFunctionsMonitor(client, store, alerter, clock)
    await probe_every_minute(restarted, clock, 5)  # still failing: the same incident goes on
    assert len(store.recent()) == 1
    sisiao.mode = "up"
    await restarted.probe_once()

    (incident,) = store.recent()
    assert not incident.is_open
    assert [a.kind for a in alerter.sent] == [AlertKind.INCIDENT_OUVERT, AlertKind.INCIDENT_CLOS]
    assert alerter.sent[1].subject == "[SI SIAO] Rétablissement après 25 min"


async def test_given_a_probe_that_hangs_then_it_counts_as_a_failure(
    store: IncidentStore, clock: VirtualClock, sisiao: FakeSiSiao, alerter: RecordingAlerter
) -> None:
    sisiao.mode = "slow"
    async with httpx.AsyncClient(transport=sisiao.transport()) as http:
        client = HttpSiSiaoClient(
            http, "https://sisiao.test/api", "ivr-115", "secret", clock, timeout=60
        )
        monitor = VitalFunctionsMonitor(client, store, alerter, clock, probe_timeout=0.05)
        report = await monitor.probe_once()
    assert not report.ok
    assert report.person_search.error == "sonde sans réponse en 0.05 s"


async def test_given_the_monitor_runs_on_its_interval_then_down_and_back_opens_and_closes(
    client: HttpSiSiaoClient,
    store: IncidentStore,
    clock: VirtualClock,
    sisiao: FakeSiSiao,
    alerter: RecordingAlerter,
) -> None:
    monitor = VitalFunctionsMonitor(
        client, store, alerter, clock, interval=timedelta(minutes=1), sleep=clock.sleep
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(monitor.run(stop))
    await clock.settle()

    sisiao.mode = "503"
    await clock.advance(16 * MINUTE)
    await clock.settle()
    assert monitor.current_incident() is not None

    sisiao.mode = "up"
    await clock.advance(MINUTE)
    await clock.settle()
    assert monitor.current_incident() is None
    assert [a.kind for a in alerter.sent] == [AlertKind.INCIDENT_OUVERT, AlertKind.INCIDENT_CLOS]

    stop.set()
    await asyncio.wait_for(runner, timeout=5)


def an_alert() -> IncidentAlert:
    return IncidentAlert(
        kind=AlertKind.INCIDENT_OUVERT,
        incident_id=7,
        failing_since=START,
        at=START + timedelta(minutes=15),
        subject="[SI SIAO] Incident : Création de demande en échec",
        body="Les fonctions vitales de SI SIAO sont en échec.",
    )


async def test_when_the_webhook_alerts_then_it_posts_the_incident_as_json() -> None:
    async with respx.mock(assert_all_called=True) as router, httpx.AsyncClient() as http:
        route = router.post("https://astreinte.example/hooks/sisiao").mock(
            return_value=httpx.Response(204)
        )
        await WebhookAlerter(http, "https://astreinte.example/hooks/sisiao").send(an_alert())
    assert json.loads(route.calls.last.request.content) == {
        "evenement": "incident_ouvert",
        "incident_id": 7,
        "en_echec_depuis": "2025-01-10T22:00:00+00:00",
        "date": "2025-01-10T22:15:00+00:00",
        "titre": "[SI SIAO] Incident : Création de demande en échec",
        "message": "Les fonctions vitales de SI SIAO sont en échec.",
        "text": "[SI SIAO] Incident : Création de demande en échec\n"
        "Les fonctions vitales de SI SIAO sont en échec.",
    }


async def test_given_the_webhook_answers_500_then_an_alert_error_in_french() -> None:
    async with respx.mock() as router, httpx.AsyncClient() as http:
        router.post("https://astreinte.example/hooks/sisiao").mock(return_value=httpx.Response(500))
        alerter = WebhookAlerter(http, "https://astreinte.example/hooks/sisiao")
        with pytest.raises(AlertError, match=r"^webhook en erreur \(HTTP 500\)$"):
            await alerter.send(an_alert())


async def test_when_the_email_alerts_then_the_smtp_server_receives_it() -> None:
    with FakeSmtpServer() as smtp:
        alerter = EmailAlerter(
            "127.0.0.1", smtp.port, "sonde@ivr115.example", ["astreinte@dihal.example"]
        )
        await alerter.send(an_alert())
    (mail,) = smtp.received
    assert (mail.sender, mail.recipients) == ("sonde@ivr115.example", ["astreinte@dihal.example"])
    message = message_from_bytes(mail.data)
    assert str(make_header(decode_header(message["Subject"]))) == an_alert().subject
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode().strip() == "Les fonctions vitales de SI SIAO sont en échec."


async def test_given_no_smtp_server_then_an_alert_error_in_french() -> None:
    with FakeSmtpServer() as smtp:
        closed_port = smtp.port
    alerter = EmailAlerter("127.0.0.1", closed_port, "a@b.example", ["c@d.example"], timeout=2)
    with pytest.raises(
        AlertError, match=r"^envoi du courriel impossible \(ConnectionRefusedError\)$"
    ):
        await alerter.send(an_alert())
