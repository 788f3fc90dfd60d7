"""The composition root: settings, configuration, flows and stores wired in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ivr.flow import CallFlow, build_flow
from ivr.records.db import database_url, make_engine
from ivr.records.store import RecordStore
from ivr.records.writer import RecordWriter
from ivr.runtime.live_state import CallRegistry, InMemoryLiveState, LiveState
from ivr.runtime.runtime import CallRuntime
from ivr.settings import Settings
from ivr.state.node import ClusterSettings, Node, default_instance_id
from ivr.state.redis_state import RedisLiveState
from ivr.state.resilient import ResilientLiveState, StateHealth, memory_health
from routing.config import RoutingConfig
from routing.loader import load_config
from routing.rotation import InMemoryRotationStore, RotationStore


@dataclass(slots=True)
class Services:
    """Everything the transports and pages use, built once."""

    settings: Settings
    config: RoutingConfig
    flow: CallFlow
    rotation: RotationStore
    live: LiveState  # in-process, or Redis (IVR_REDIS_URL) with a local fallback
    registry: CallRegistry  # the same object: live-call snapshots, owners, leases
    records: RecordWriter  # write-behind to SQLite (default) or IVR_DATABASE_URL
    runtime: CallRuntime  # transports register with it: runtime.register_transport(...)
    node: Node  # await node.start() / node.stop() in the application's lifespan


def build_services(settings: Settings) -> Services:
    """Load and validate the routing file and build the stores (raises ``ConfigError``).

    Nothing connects or starts here: ``services.node.start()`` does, in the lifespan.
    """
    config = load_config(settings.config_path)
    flow = build_flow(config)

    def clock() -> datetime:
        return datetime.now(UTC)

    instance_id = settings.instance_id or default_instance_id()
    live: InMemoryLiveState | ResilientLiveState
    health: Callable[[], StateHealth]
    if settings.redis_url:
        live = ResilientLiveState(RedisLiveState.from_url(settings.redis_url), clock)
        health = live.health
    else:
        live = InMemoryLiveState()
        health = memory_health
    url = database_url(settings.database_url, settings.data_dir)
    records = RecordWriter(
        RecordStore(make_engine(url), clock),
        settings.data_dir / "records-pending.jsonl",
        instance_id=instance_id,
    )
    runtime = CallRuntime(
        flow,
        live,
        clock,
        records=records,
        callbacks=records,
        registry=live,
        instance_id=instance_id,
    )
    return Services(
        settings=settings,
        config=config,
        flow=flow,
        rotation=InMemoryRotationStore(),
        live=live,
        registry=live,
        records=records,
        runtime=runtime,
        node=Node(runtime, live, records, health, ClusterSettings()),
    )
