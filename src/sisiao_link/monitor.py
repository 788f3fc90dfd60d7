"""The vital functions monitor: probes SI SIAO, opens an incident when a failure lasts, alerts
the on-call, and closes the incident on recovery."""

from __future__ import annotations

import asyncio
import logging
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from sisiao_link.alerts import Alerter, AlertError, AlertKind, IncidentAlert
from sisiao_link.incidents import Incident, IncidentEvent, IncidentEventKind, IncidentStore
from sisiao_link.port import CheckResult, Clock, SiSiaoPort, VitalFunctionsReport

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def paris() -> tzinfo:
    """Europe/Paris for the texts people read; UTC where the system has no time zone data."""
    try:
        return zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:
        return UTC


class VitalFunctionsMonitor:
    """Probes person search and request creation every ``interval``; a failure lasting
    ``threshold`` opens an incident and alerts the on-call; the first success closes it."""

    def __init__(
        self,
        port: SiSiaoPort,
        incidents: IncidentStore,
        alerter: Alerter | Sequence[Alerter],
        clock: Clock,
        threshold: timedelta = timedelta(minutes=15),
        interval: timedelta = timedelta(minutes=1),
        *,
        probe_timeout: float = 30.0,
        alert_timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        display_tz: tzinfo | None = None,
    ) -> None:
        self._port = port
        self._incidents = incidents
        self._alerters: list[Alerter] = (
            list(alerter) if isinstance(alerter, Sequence) else [alerter]
        )
        self._clock = clock
        self._threshold = threshold
        self._interval = interval
        self._probe_timeout = probe_timeout
        self._alert_timeout = alert_timeout
        self._sleep = sleep
        self._tz = display_tz if display_tz is not None else paris()
        self._failing_since: datetime | None = None
        self._first_failure: VitalFunctionsReport | None = None
        self.last_report: VitalFunctionsReport | None = None

    def current_incident(self) -> Incident | None:
        """The open incident, shared by every process through the database."""
        return self._incidents.current()

    def banner(self) -> str | None:
        """The French banner for the consoles, or None when SI SIAO is healthy."""
        incident = self.current_incident()
        return None if incident is None else incident.banner(self._tz)

    async def run(self, stop_event: asyncio.Event) -> None:
        """Probes every ``interval`` until ``stop_event`` is set."""
        while not stop_event.is_set():
            try:
                await self.probe_once()
            except Exception:  # the monitor must outlive a database hiccup
                log.exception("vital functions monitor: probe round failed")
            sleeper = asyncio.ensure_future(self._sleep(self._interval.total_seconds()))
            stopper = asyncio.ensure_future(stop_event.wait())
            try:
                await asyncio.wait([sleeper, stopper], return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                stopper.cancel()
                await asyncio.gather(sleeper, stopper, return_exceptions=True)

    async def probe_once(self) -> VitalFunctionsReport:
        """One probe, and whatever it implies for the incident."""
        report = await self._probe()
        self.last_report = report
        current = await asyncio.to_thread(self._incidents.current)
        if report.ok:
            self._failing_since = None
            self._first_failure = None
            if current is not None:
                await self._close(current, report)
            return report
        if self._failing_since is None:
            # After a restart in the middle of an incident, keep counting from its start.
            self._failing_since = (
                current.failing_since if current is not None else report.checked_at
            )
            self._first_failure = report
        if current is None and self._clock() - self._failing_since >= self._threshold:
            await self._open(report)
        return report

    async def _probe(self) -> VitalFunctionsReport:
        checked_at = self._clock()
        try:
            async with asyncio.timeout(self._probe_timeout):
                return await self._port.check_vital_functions()
        except TimeoutError:
            error = f"sonde sans réponse en {self._probe_timeout:g} s"
        except Exception as exc:  # an unexpected failure is a failed probe, not a dead monitor
            log.exception("vital functions probe raised")
            error = f"sonde en erreur ({type(exc).__name__})"
        failed = CheckResult(ok=False, duration_ms=self._probe_timeout * 1000, error=error)
        return VitalFunctionsReport(
            checked_at=checked_at, person_search=failed, request_creation=failed
        )

    async def _open(self, report: VitalFunctionsReport) -> None:
        assert self._failing_since is not None
        now = self._clock()
        first = self._first_failure or report
        summary = f"{_and(report.failures)} en échec"
        incident = await asyncio.to_thread(
            self._incidents.open,
            self._failing_since,
            now,
            summary,
            [
                IncidentEvent(
                    self._failing_since, IncidentEventKind.PREMIER_ECHEC, _details(first)
                ),
                IncidentEvent(
                    now,
                    IncidentEventKind.INCIDENT_OUVERT,
                    f"Échec persistant depuis {_minutes(now - self._failing_since)} : "
                    + _details(report),
                ),
            ],
        )
        since = self._failing_since.astimezone(self._tz)
        await self._alert(
            incident,
            AlertKind.INCIDENT_OUVERT,
            self._failing_since,
            now,
            f"[SI SIAO] Incident : {summary}",
            (
                f"Les fonctions vitales de SI SIAO sont en échec depuis le "
                f"{since:%d/%m/%Y à %H:%M} ({since.tzname()}).\n"
                f"{_details(report)}\n"
                f"Incident n° {incident.id} ouvert par la sonde du service 115."
            ),
        )

    async def _close(self, incident: Incident, report: VitalFunctionsReport) -> None:
        now = self._clock()
        duration = _minutes(now - incident.failing_since)
        await asyncio.to_thread(
            self._incidents.close,
            incident.id,
            now,
            [
                IncidentEvent(
                    now,
                    IncidentEventKind.RETABLISSEMENT,
                    f"Fonctions vitales rétablies après {duration} ; incident clos.",
                )
            ],
        )
        await self._alert(
            incident,
            AlertKind.INCIDENT_CLOS,
            incident.failing_since,
            now,
            f"[SI SIAO] Rétablissement après {duration}",
            (
                "La recherche de personne et la création de demande fonctionnent de nouveau. "
                f"Incident n° {incident.id} clos."
            ),
        )

    async def _alert(
        self,
        incident: Incident,
        kind: AlertKind,
        failing_since: datetime,
        at: datetime,
        subject: str,
        body: str,
    ) -> None:
        """Send the alert about ``incident`` to every alerter; log each sending in it."""
        alert = IncidentAlert(
            kind=kind,
            incident_id=incident.id,
            failing_since=failing_since,
            at=at,
            subject=subject,
            body=body,
        )
        events = []
        for alerter in self._alerters:
            try:
                async with asyncio.timeout(self._alert_timeout):
                    await alerter.send(alert)
            except TimeoutError:
                sent = IncidentEventKind.ALERTE_EN_ECHEC
                detail = f"{alerter.name} : pas de réponse en {self._alert_timeout:g} s"
            except AlertError as exc:
                sent, detail = IncidentEventKind.ALERTE_EN_ECHEC, f"{alerter.name} : {exc}"
            else:
                sent, detail = IncidentEventKind.ALERTE_ENVOYEE, f"{alerter.name} : {alert.subject}"
            events.append(IncidentEvent(self._clock(), sent, detail))
        await asyncio.to_thread(self._incidents.add_events, incident.id, events)


def _and(items: Sequence[str]) -> str:
    text = " et ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + " et " + items[-1]
    return text[:1].upper() + text[1:]


def _details(report: VitalFunctionsReport) -> str:
    parts = []
    for name, check in (
        ("recherche de personne", report.person_search),
        ("création de demande", report.request_creation),
    ):
        parts.append(f"{name} : {'OK' if check.ok else check.error}")
    return " ; ".join(parts)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d}"
