"""The composition root: settings, configuration, flows, stores, links and transports.

Everything is built here, once, from the settings; nothing connects or starts here. The
application's lifespan (``ivr.app``) starts and stops what runs in the background.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
import sqlalchemy as sa

from geoloc.index import GeoIndex
from geoloc.locator import Locator
from geoloc.store import RecentPositions
from ivr.config_sync import ConfigSync, choose_at_start, digest
from ivr.flow import CallFlow, build_flow
from ivr.locating import CallLocator
from ivr.records.db import current_revision, database_url, head_revision, make_engine, upgrade
from ivr.records.store import RecordStore
from ivr.records.writer import RecordWriter
from ivr.runtime.live_state import CallRegistry, LiveState
from ivr.runtime.queries import CallQueries
from ivr.runtime.runtime import CallRuntime
from ivr.settings import Settings
from ivr.sim.preview import preview_call
from ivr.state.local import DurableLiveState, LocalStore
from ivr.state.node import ClusterSettings, Node, default_instance_id
from ivr.state.redis_state import RedisLiveState
from ivr.state.resilient import ResilientLiveState, StateHealth, local_health
from ivr.state.support_carry_over import carry_over_support_presence
from ivr.transports.ari import AriTransport, CallSnapshots, Leadership
from ivr.transports.ari.callback import CallbackResult
from ivr.transports.ari.local_snapshots import LocalCallSnapshots
from ivr.transports.ari.redis_shared import RedisCallSnapshots, RedisLeadership
from ivr.transports.laml import LamlConfig, LamlTransport, ProviderClient
from ivr.transports.laml.client import ProviderError
from ivr.transports.laml.events import CallbackUpdate, CallStatusUpdate, RecordingUpdate
from ivr.web import ConsoleDeps
from ivr.web.callbacks import CallbackError
from ivr.web.metrics import AriStatus, MetricsProbe, ServiceMetrics
from ivr.web.recordings import (
    AriRecordingSource,
    LamlRecordingSource,
    RecordingSource,
    RecordingSources,
)
from routing.config import RoutingConfig
from routing.loader import load_config
from routing.phone import mask_number
from sisiao_link.alerts import Alerter, EmailAlerter, WebhookAlerter
from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.incidents import IncidentStore
from sisiao_link.lookup import LookupService
from sisiao_link.monitor import VitalFunctionsMonitor
from sisiao_link.outbox import Outbox
from sisiao_link.port import SiSiaoPort
from sisiao_link.unconfigured import UnconfiguredSiSiao

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SiSiaoLink:
    """The SI SIAO side: the port, the outbox, lookups and the vital functions monitor."""

    port: SiSiaoPort
    configured: bool
    outbox: Outbox
    lookups: LookupService
    monitor: VitalFunctionsMonitor


@dataclass(slots=True)
class Services:
    """Everything the transports and pages use, built once."""

    settings: Settings
    config: RoutingConfig
    flow: CallFlow
    live: LiveState  # in-process, or Redis (IVR_REDIS_URL) with a local fallback
    registry: CallRegistry | None  # with Redis, the same object: snapshots, owners, leases
    records: RecordWriter  # write-behind to SQLite (default) or IVR_DATABASE_URL
    store: RecordStore  # reads for the pages and the CLI
    runtime: CallRuntime  # transports register with it: runtime.register_transport(...)
    node: Node  # await node.start() / node.stop() in the application's lifespan
    http: httpx.AsyncClient  # the one outbound HTTP client (SI SIAO, providers, alerts)
    locator: Locator
    positions: RecentPositions
    sisiao: SiSiaoLink
    console: ConsoleDeps | None = None  # the web consoles' collaborators
    ari: AriTransport | None = None  # when IVR_ARI_URL is set
    laml: LamlTransport | None = None  # when IVR_LAML_AUTH_TOKEN and IVR_PUBLIC_BASE_URL are set
    clock: Callable[[], datetime] = utc_now
    config_sha: str | None = None  # of the routing text in force
    config_sync: ConfigSync | None = None  # the lifespan runs it: versions of other instances
    background: list[asyncio.Task[None]] = field(default_factory=list)
    # Run in order at start, once the node started (live state carry-overs).
    starters: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    # Run in order at shutdown, after the transports stopped (lease release, client close).
    closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    def apply_config(self, config: RoutingConfig, text: str = "") -> None:
        """Route new calls, and the next steps of calls in progress, by a new routing file.

        Calls are not dropped: each keeps its state and continues under the new routing at
        its next step (the transports read the flow through the runtime).
        """
        flow = build_flow(config)
        flow.locate = CallLocator(self.locator, self.positions, flow.routes).hint
        self.config = config
        if text:
            self.config_sha = digest(text)
        self.flow = flow
        self.runtime.flow = flow
        log.info("routing configuration applied (%d départements)", len(config.departements))


def build_services(settings: Settings) -> Services:
    """Load and validate the routing file and build everything (raises ``ConfigError``)."""
    config = load_config(settings.config_path)
    flow = build_flow(config)
    clock = utc_now

    instance_id = settings.instance_id or default_instance_id()
    live, health, local = _live_state(settings)
    registry = live
    engine = make_engine(database_url(settings.database_url, settings.data_dir), create_dir=True)
    _check_schema(settings, engine)
    store = RecordStore(engine, clock)
    # The routing file, or the version an admin applied since (kept in the records).
    chosen = choose_at_start(
        store,
        Path(settings.config_path),
        config,
        Path(settings.config_path).read_text(encoding="utf-8"),
    )
    if chosen.source == "records":
        config = chosen.config
        flow = build_flow(config)
    records = RecordWriter(
        store, settings.data_dir / "records-pending.jsonl", instance_id=instance_id
    )
    runtime = CallRuntime(
        flow,
        live,
        clock,
        records=records,
        callbacks=records,
        registry=registry,
        instance_id=instance_id,
    )

    # Where callers are: geolocation answers used when a 115 number does not say.
    locator = Locator(GeoIndex.load())
    positions = RecentPositions(clock=clock)
    flow.locate = CallLocator(locator, positions, flow.routes).hint

    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    sisiao = _sisiao(settings, engine, http, clock)

    services = Services(
        settings=settings,
        config=config,
        flow=flow,
        live=live,
        registry=registry,
        records=records,
        store=store,
        runtime=runtime,
        node=Node(runtime, registry, records, health, ClusterSettings()),
        http=http,
        locator=locator,
        positions=positions,
        sisiao=sisiao,
        clock=clock,
        config_sha=digest(chosen.text),
    )
    # A pause saved on the support page before the live state kept presence is honoured.
    services.starters.append(lambda: carry_over_support_presence(store, live))
    if local is not None:
        store_file = local
        services.closers.append(lambda: asyncio.to_thread(store_file.close))
    services.config_sync = ConfigSync(
        store, services.apply_config, lambda: services.config_sha, chosen.version
    )
    services.console = _console(settings, services, store, sisiao, http)
    if settings.ari_url:
        services.ari = _ari(settings, settings.ari_url, services, local, store, instance_id)
    if settings.laml_auth_token and settings.public_base_url:
        services.laml = _laml(settings, services, store)
        runtime.register_transport("laml", services.laml)
    if services.ari is not None or services.laml is not None:
        services.console.callbacks = TransportCallbacks(
            services.ari, services.laml, lambda: services.config.national.callback_number
        )
    services.console.metrics = _metrics(settings, services, services.console.calls)
    return services


def _metrics(settings: Settings, services: Services, calls: CallQueries) -> ServiceMetrics:
    """``/metrics``: the snapshot it reads, and the transports feeding its histograms."""
    port = services.sisiao.port
    breaker = port.breaker if isinstance(port, HttpSiSiaoClient) else None

    def ari_status() -> AriStatus | None:
        ari = services.ari
        if ari is None:
            return None
        return AriStatus(ari.connected.is_set(), ari.leadership.leading, ari.connections)

    probe = MetricsProbe(
        calls=calls,
        platforms=lambda: [
            (code, dep.line_115.queue.default_handling_time_s)
            for code, dep in services.config.departements.items()
        ],
        records=services.records.stats,
        outbox_backlog=services.sisiao.outbox.pending_count,
        breaker=(lambda: breaker.state.value) if breaker is not None else None,
        ari=ari_status,
        clock=services.clock,
    )
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    metrics = ServiceMetrics(probe, token)
    if services.ari is not None:
        services.ari.on_event_handled = metrics.observe_ari_event
    if services.laml is not None:
        services.laml.on_webhook_handled = metrics.observe_webhook
    return metrics


def _live_state(
    settings: Settings,
) -> tuple[ResilientLiveState | DurableLiveState, Callable[[], StateHealth], LocalStore | None]:
    """Redis when configured (several instances); else the in-process state, kept in a local
    file so that a restart after a crash takes the calls over."""
    if settings.redis_url:
        shared = ResilientLiveState(
            RedisLiveState.from_url(settings.redis_url, prefix=settings.redis_prefix), utc_now
        )
        return shared, shared.health, None
    local = LocalStore(Path(settings.data_dir) / "live-state.sqlite3")
    return DurableLiveState(local), local_health, local


def _console(
    settings: Settings,
    services: Services,
    store: RecordStore,
    sisiao: SiSiaoLink,
    http: httpx.AsyncClient,
) -> ConsoleDeps:
    """What the consoles are given: the records, the runtime's queries, the SI SIAO link."""
    positions, locator = services.positions, services.locator
    return ConsoleDeps(
        records=store,
        calls=CallQueries(services.runtime),
        lookups=sisiao.lookups,
        outbox=sisiao.outbox,
        banner=sisiao.monitor.banner,
        positions=positions,
        locator=locator,
        config=lambda: services.config,
        clock=services.clock,
        session_secret=_session_secret(settings),
        on_config_accepted=services.apply_config,
        secure_cookies=settings.secure_cookies,
        recordings=_recording_sources(settings, http),
        recording_retention=timedelta(days=settings.retention_recordings_days),
        preview=preview_call,
    )


def _ari(
    settings: Settings,
    url: str,
    services: Services,
    local: LocalStore | None,
    store: RecordStore,
    instance_id: str,
) -> AriTransport:
    """The Asterisk transport, with its snapshots and websocket lease where they live."""
    snapshots: CallSnapshots | None = None
    leadership: Leadership | None = None
    if local is not None:  # alone: snapshots in the local file, kept across a restart
        snapshots = LocalCallSnapshots(local)
    if settings.redis_url:  # several instances: snapshots and the websocket lease in Redis
        ari_redis = aioredis.Redis.from_url(settings.redis_url)
        snapshots = RedisCallSnapshots(ari_redis, prefix=f"{settings.redis_prefix}ari:snap:")
        leadership = RedisLeadership(
            ari_redis, f"{settings.redis_prefix}ari:leader:{settings.ari_app}", instance_id
        )
        services.closers += [leadership.release, ari_redis.aclose]
    return AriTransport(
        url=url,
        user=settings.ari_user,
        password=settings.ari_password.get_secret_value(),
        app=settings.ari_app,
        dial_template=settings.ari_dial_template,
        runtime=services.runtime,
        http=services.http,
        snapshots=snapshots,
        leadership=leadership,
        recordings=StoredRecordings(store),
    )


def _laml(settings: Settings, services: Services, store: RecordStore) -> LamlTransport:
    """The cloud transport (Twilio or SignalWire webhooks) and its REST client."""
    http = services.http
    laml_config = LamlConfig.from_settings(
        settings,
        prompts_base_url=settings.laml_prompts_base_url,
        hold_music_url=settings.laml_hold_music_url,
        say_voice=settings.laml_voice,
    )
    api_token = (
        settings.laml_api_token.get_secret_value()
        if settings.laml_api_token
        else laml_config.auth_token
    )
    provider = ProviderClient(
        http, settings.laml_api_base_url, settings.laml_account_sid or "", api_token
    )
    return LamlTransport(
        services.runtime, laml_config, provider, services.clock, events=ProviderRecords(store)
    )


def _sisiao(
    settings: Settings, engine: sa.Engine, http: httpx.AsyncClient, clock: Callable[[], datetime]
) -> SiSiaoLink:
    port: SiSiaoPort
    if settings.sisiao_base_url:
        port = HttpSiSiaoClient(
            http,
            settings.sisiao_base_url,
            settings.sisiao_client_id,
            settings.sisiao_client_secret.get_secret_value(),
            clock,
        )
    else:
        port = UnconfiguredSiSiao()
    alerters: list[Alerter] = []
    if settings.alert_webhook_url:
        alerters.append(WebhookAlerter(http, settings.alert_webhook_url))
    if settings.alert_smtp_host and settings.alert_email_to:
        alerters.append(
            EmailAlerter(
                settings.alert_smtp_host,
                settings.alert_smtp_port,
                settings.alert_email_from,
                settings.alert_email_to,
            )
        )
    return SiSiaoLink(
        port=port,
        configured=bool(settings.sisiao_base_url),
        outbox=Outbox(engine, port, clock),
        lookups=LookupService(port, clock),
        monitor=VitalFunctionsMonitor(port, IncidentStore(engine), alerters, clock),
    )


def _recording_sources(settings: Settings, http: httpx.AsyncClient) -> RecordingSources | None:
    """Where the consoles read recording files: Asterisk's stored recordings through ARI
    (``ari:<name>`` locations) and the LaML provider's recording URLs (account SID and API
    token, only on the provider's API host). None when neither is configured."""
    sources: list[RecordingSource] = []
    if settings.ari_url:
        sources.append(
            AriRecordingSource(
                http,
                settings.ari_url,
                settings.ari_user,
                settings.ari_password.get_secret_value(),
            )
        )
    token = settings.laml_api_token or settings.laml_auth_token
    if settings.laml_account_sid and token is not None:
        host = urlsplit(settings.laml_api_base_url).hostname
        sources.append(
            LamlRecordingSource(
                http, settings.laml_account_sid, token.get_secret_value(), [host] if host else []
            )
        )
    return RecordingSources(sources) if sources else None


def _check_schema(settings: Settings, engine: sa.Engine) -> None:
    """The embedded SQLite database is brought up to date; a configured one must be already
    (``ivr db upgrade``, run by whoever deploys), which is only checked and logged here."""
    if settings.database_url is None:
        upgrade(engine)
        return
    current, head = current_revision(engine), head_revision()
    if current != head:
        log.error(
            "schéma de la base en version %s, attendu %s : lancez « ivr db upgrade »", current, head
        )


def _session_secret(settings: Settings) -> str:
    """The consoles' signing secret: configured, or random and kept in the data folder."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    path = Path(settings.data_dir) / "session-secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)
    return secret


class TransportCallbacks:
    """The console's « Rappeler maintenant » through the telephony in use (ARI first)."""

    def __init__(
        self,
        ari: AriTransport | None,
        laml: LamlTransport | None,
        presented: Callable[[], str],
    ) -> None:
        self.ari = ari
        self.laml = laml
        self.presented = presented  # the configured call-back number, 0 800 112 112

    async def place(self, departement: str, listener: str, person: str) -> str:
        ari, laml = self.ari, self.laml
        if ari is not None:
            if not ari.connected.is_set():
                # Its events reach the instance that holds the websocket, not this one.
                raise CallbackError("cette instance n'est pas reliée à Asterisk en ce moment")
            callback = await ari.place_callback(listener, person, self.presented())
            if callback.result is CallbackResult.LISTENER_UNREACHABLE:
                raise CallbackError("votre poste n'a pas pu être appelé")
            return callback.id
        if laml is not None:
            try:
                return await laml.place_callback(departement, listener, person)
            except ProviderError as exc:
                log.warning(
                    "call-back by %s to %s refused: %s",
                    mask_number(listener),
                    mask_number(person),
                    exc,
                )
                raise CallbackError("l'opérateur téléphonique a refusé l'appel") from exc
            except ValueError as exc:  # the département left the routing file
                raise CallbackError("ce département n'est plus dans la configuration") from exc
        raise CallbackError("aucune téléphonie n'est configurée")


class StoredRecordings:
    """ARI recordings into the records, for the admins' playback (``ari:<name>``)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    async def recording_started(self, call_id: str, started_at: datetime, location: str) -> None:
        await asyncio.to_thread(self.store.add_recording, call_id, started_at, location)


class ProviderRecords:
    """LaML provider callbacks into the records: recording metadata, call-back outcomes."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    async def call_status(self, update: CallStatusUpdate) -> None:
        log.info(
            "provider status %s %s %s (%s)",
            update.call_id,
            update.leg,
            update.status,
            update.provider_sid,
        )

    async def recording(self, update: RecordingUpdate) -> None:
        if update.status != "completed" or not update.url:
            log.warning(
                "recording %s of %s: %s", update.recording_sid, update.call_id, update.status
            )
            return
        await asyncio.to_thread(
            self.store.add_recording,
            update.call_id,
            update.started_at or update.at,
            update.url,
            float(update.duration_s) if update.duration_s is not None else None,
        )

    async def callback(self, update: CallbackUpdate) -> None:
        log.info(
            "call-back %s (%s) by %s: %s",
            update.callback_id,
            update.departement,
            update.listener,
            update.status,
        )
