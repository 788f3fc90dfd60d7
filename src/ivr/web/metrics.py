"""The service's metrics in the Prometheus text format (``/metrics``, docs/metrics.md).

A registry of the service's own (never prometheus_client's global one, so that two
services in one process, as in the tests, do not mix their figures). Two kinds of metrics:

- **histograms** the transports feed as things happen: the LaML webhooks' handling time
  (``observe_webhook``) and ARI's time from an event's arrival to its handling done, the
  commands it caused sent (``observe_ari_event``);
- **a snapshot** read at each scrape (``refresh``, then ``render``): live calls by line and
  département, each 115 queue's length and oldest wait, listeners by presence, the records
  writer's queue, the SI SIAO outbox backlog and circuit breaker, the ARI websocket.

No label carries a number or a name: départements, lines, presences and states only.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ivr.records.writer import WriterStats
from ivr.runtime.queries import CallQueries, PlatformStatus

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
ARI_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BREAKER_STATES = ("closed", "open", "half_open")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AriStatus:
    connected: bool
    leading: bool  # holds the application's websocket (principal) or stands by
    connections: int  # websocket connections opened since start


@dataclass(slots=True)
class MetricsProbe:
    """What a scrape reads, given by the composition root as plain callables.

    ``platforms`` the 115 platforms to read (département, default handling time in s);
    ``outbox_backlog`` and ``records`` block (database, thread): run off the event loop.
    """

    calls: CallQueries
    platforms: Callable[[], Iterable[tuple[str, int]]]
    records: Callable[[], WriterStats] | None = None
    outbox_backlog: Callable[[], int] | None = None
    breaker: Callable[[], str] | None = None  # closed | open | half_open
    ari: Callable[[], AriStatus | None] = lambda: None
    clock: Callable[[], datetime] | None = None


@dataclass(slots=True)
class _Snapshot:
    live_calls: dict[tuple[str, str], int] = field(default_factory=dict)
    platforms: list[PlatformStatus] = field(default_factory=list)
    oldest_wait: dict[str, float] = field(default_factory=dict)
    records: WriterStats | None = None
    outbox_backlog: int | None = None
    breaker: str | None = None
    ari: AriStatus | None = None
    scrape_errors: int = 0


class ServiceMetrics:
    """The metrics of one service instance; ``authorized`` guards ``/metrics``."""

    def __init__(self, probe: MetricsProbe, token: str | None = None) -> None:
        self.probe = probe
        self.token = token or None
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhook_seconds = Histogram(
            "ivr_laml_webhook_seconds",
            "Temps de traitement d'un webhook LaML, de la requête à la réponse.",
            ["webhook"],
            buckets=WEBHOOK_BUCKETS,
            registry=self.registry,
        )
        self.ari_event_seconds = Histogram(
            "ivr_ari_event_to_command_seconds",
            "Temps entre la réception d'un événement ARI et la fin de son traitement "
            "(commandes envoyées à Asterisk).",
            buckets=ARI_BUCKETS,
            registry=self.registry,
        )
        self._snapshot = _Snapshot()
        self._lock = asyncio.Lock()
        self.registry.register(_SnapshotCollector(self))

    # ------------------------------------------------------------------ fed by transports

    def observe_webhook(self, webhook: str, seconds: float) -> None:
        self.webhook_seconds.labels(webhook=webhook).observe(seconds)

    def observe_ari_event(self, seconds: float) -> None:
        self.ari_event_seconds.observe(seconds)

    # ------------------------------------------------------------------ scrape

    def authorized(self, client_host: str | None, authorization: str | None) -> int:
        """200 when the request may read the metrics; else 401 (no or malformed token) or
        403 (a wrong token, or no token configured and not a loopback address)."""
        if authorization:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() != "bearer" or not given.strip():
                return 401
            if self.token is None:
                return 403
            ok = hmac.compare_digest(given.strip().encode(), self.token.encode())
            return 200 if ok else 403
        if _loopback(client_host):
            return 200
        return 401 if self.token is not None else 403

    async def refresh(self) -> None:
        """Read the snapshot the next ``render`` shows (one scrape at a time)."""
        async with self._lock:
            self._snapshot = await self._read()

    async def _read(self) -> _Snapshot:
        probe = self.probe
        snap = _Snapshot(live_calls=probe.calls.live_calls(), ari=probe.ari())
        now = probe.clock() if probe.clock is not None else None
        for departement, handling in probe.platforms():
            platform = await self._guarded(snap, probe.calls.platform(departement, handling))
            if platform is None:
                continue
            snap.platforms.append(platform)
            if now is not None and platform.oldest_started_at is not None:
                wait = (now - platform.oldest_started_at).total_seconds()
                snap.oldest_wait[departement] = max(0.0, wait)
        if probe.records is not None:
            snap.records = probe.records()
        if probe.outbox_backlog is not None:
            snap.outbox_backlog = await self._guarded(snap, asyncio.to_thread(probe.outbox_backlog))
        if probe.breaker is not None:
            snap.breaker = probe.breaker()
        return snap

    async def _guarded(self, snap: _Snapshot, work: Awaitable[T]) -> T | None:
        try:
            return await work
        except Exception:  # a scrape must answer: the failure is counted and logged
            log.exception("metrics: a figure could not be read")
            snap.scrape_errors += 1
            return None

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


class _SnapshotCollector(Collector):
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.metrics._snapshot
        yield from _calls_and_queues(snap)
        yield from _records_and_sisiao(snap)
        yield from _ari(snap)
        yield GaugeMetricFamily(
            "ivr_metrics_scrape_errors",
            "Mesures illisibles lors de la dernière lecture.",
            snap.scrape_errors,
        )
        yield GaugeMetricFamily(
            "ivr_metrics_scrape_timestamp_seconds", "Heure de la lecture.", time.time()
        )


def _calls_and_queues(snap: _Snapshot) -> Iterator[Metric]:
    live = GaugeMetricFamily(
        "ivr_live_calls",
        "Appels en cours tenus par cette instance, par ligne et département.",
        labels=["line", "departement"],
    )
    for (line, dep), count in sorted(snap.live_calls.items()):
        live.add_metric([line or "inconnue", dep or "inconnu"], count)
    yield live
    waiting = GaugeMetricFamily(
        "ivr_queue_waiting_calls", "Appels en file d'attente 115.", labels=["departement"]
    )
    oldest = GaugeMetricFamily(
        "ivr_queue_oldest_wait_seconds",
        "Attente de l'appel le plus ancien de la file 115 (0 : file vide).",
        labels=["departement"],
    )
    estimated = GaugeMetricFamily(
        "ivr_queue_estimated_wait_seconds",
        "Attente estimée par la file 115 pour un nouvel appel.",
        labels=["departement"],
    )
    listeners = GaugeMetricFamily(
        "ivr_listeners", "Écoutants 115 par disponibilité.", labels=["departement", "presence"]
    )
    closed = GaugeMetricFamily(
        "ivr_platform_closed",
        "Plateforme 115 fermée (1), en fermeture d'urgence (2) ou ouverte (0).",
        labels=["departement"],
    )
    for p in snap.platforms:
        key = [p.departement]
        waiting.add_metric(key, p.waiting)
        oldest.add_metric(key, snap.oldest_wait.get(p.departement, 0.0))
        estimated.add_metric(key, p.estimated_wait_s)
        listeners.add_metric([p.departement, "available"], p.listeners_available)
        listeners.add_metric([p.departement, "paused"], p.listeners_paused)
        listeners.add_metric([p.departement, "busy"], p.listeners_busy)
        closed.add_metric(key, 2 if p.emergency_closed else 1 if p.closed else 0)
    yield from (waiting, oldest, estimated, listeners, closed)


def _records_and_sisiao(snap: _Snapshot) -> Iterator[Metric]:
    if snap.records is not None:
        r = snap.records
        yield GaugeMetricFamily(
            "ivr_records_queue", "Enregistrements d'appels en attente d'écriture.", r.queued
        )
        yield GaugeMetricFamily(
            "ivr_records_spooled",
            "Enregistrements mis de côté sur disque (base injoignable).",
            r.spooled,
        )
        yield GaugeMetricFamily(
            "ivr_records_failing", "La dernière écriture a échoué (1).", int(r.failing)
        )
        yield CounterMetricFamily(
            "ivr_records_written", "Enregistrements écrits depuis le démarrage.", r.written
        )
        yield CounterMetricFamily(
            "ivr_records_write_failures", "Écritures échouées depuis le démarrage.", r.failures
        )
    if snap.outbox_backlog is not None:
        yield GaugeMetricFamily(
            "ivr_sisiao_outbox_backlog",
            "Demandes d'urgence SI SIAO en attente d'envoi.",
            snap.outbox_backlog,
        )
    if snap.breaker is not None:
        breaker = GaugeMetricFamily(
            "ivr_sisiao_breaker_state",
            "État du disjoncteur vers SI SIAO (1 pour l'état courant).",
            labels=["state"],
        )
        for state in BREAKER_STATES:
            breaker.add_metric([state], int(snap.breaker == state))
        yield breaker


def _ari(snap: _Snapshot) -> Iterator[Metric]:
    if snap.ari is not None:
        ari = snap.ari
        yield GaugeMetricFamily(
            "ivr_ari_connected", "Websocket ARI connecté (1).", int(ari.connected)
        )
        yield GaugeMetricFamily(
            "ivr_ari_leader",
            "Cette instance tient le websocket de l'application (1) ou attend (0).",
            int(ari.leading),
        )
        yield CounterMetricFamily(
            "ivr_ari_reconnects",
            "Reconnexions du websocket ARI depuis le démarrage.",
            max(0, ari.connections - 1),
        )
