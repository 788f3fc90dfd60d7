"""``/metrics``: the Prometheus text format read back, its figures, and who may read it
(bearer token, or a loopback address; else 401 or 403)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from ivr.flow.vocabulary import CallStarted
from ivr.records.writer import WriterStats
from ivr.runtime.live_state import Presence
from ivr.web.metrics import AriStatus, MetricsProbe, ServiceMetrics
from routing.config import RoutingConfig
from tests.web.conftest import CALLER, LINE_115_91, LISTENER_PHONE, REPO, World

Setup = tuple[World, FastAPI]
TOKEN = "a-metrics-token-of-some-length"


def install(world: World, config: RoutingConfig, token: str | None = TOKEN) -> ServiceMetrics:
    assert world.deps is not None
    probe = MetricsProbe(
        calls=world.deps.calls,
        platforms=lambda: [
            (code, config.departements[code].line_115.queue.default_handling_time_s)
            for code in ("75", "91")
        ],
        records=lambda: WriterStats(3, 120, 0, 1, 0, None),
        outbox_backlog=world.outbox.pending_count,
        breaker=lambda: "open",
        ari=lambda: AriStatus(connected=True, leading=True, connections=3),
        clock=world.clock,
    )
    metrics = ServiceMetrics(probe, token)
    world.deps.metrics = metrics
    return metrics


@pytest.fixture
async def remote(world: Setup) -> AsyncIterator[httpx.AsyncClient]:
    """A scraper on another host (not a loopback address)."""
    transport = httpx.ASGITransport(app=world[1], client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://ivr.test") as client:
        yield client


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_given_calls_and_listeners_then_the_metrics_say_so_without_any_number(
    browser: httpx.AsyncClient, world: Setup, config: RoutingConfig
) -> None:
    w = world[0]
    metrics = install(w, config)
    await w.runtime.set_listener_presence("91", LISTENER_PHONE, Presence.PAUSED)
    await w.runtime.start_call(CallStarted("call-1", LINE_115_91, CALLER), w.transport)
    await w.runtime.drain()
    w.clock.advance_now(42)
    metrics.observe_webhook("/voice", 0.03)
    metrics.observe_ari_event(0.004)

    response = await browser.get("/metrics")  # the test client is 127.0.0.1

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    assert got[("ivr_live_calls", (("departement", "91"), ("line", "115")))] == 1
    assert got[("ivr_queue_waiting_calls", (("departement", "91"),))] == 1
    assert got[("ivr_queue_oldest_wait_seconds", (("departement", "91"),))] == 42
    assert got[("ivr_queue_waiting_calls", (("departement", "75"),))] == 0
    assert got[("ivr_listeners", (("departement", "91"), ("presence", "paused")))] == 1
    assert got[("ivr_records_queue", ())] == 3
    assert got[("ivr_records_write_failures_total", ())] == 1
    assert got[("ivr_sisiao_outbox_backlog", ())] == 0
    assert got[("ivr_sisiao_breaker_state", (("state", "open"),))] == 1
    assert got[("ivr_sisiao_breaker_state", (("state", "closed"),))] == 0
    assert got[("ivr_ari_reconnects_total", ())] == 2
    assert got[("ivr_ari_leader", ())] == 1
    assert got[("ivr_laml_webhook_seconds_count", (("webhook", "/voice"),))] == 1
    assert got[("ivr_ari_event_to_command_seconds_bucket", (("le", "0.005"),))] == 1
    assert CALLER[3:] not in response.text
    assert LISTENER_PHONE[3:] not in response.text


async def test_given_two_services_then_their_registries_are_their_own(
    world: Setup, config: RoutingConfig
) -> None:
    first = install(world[0], config)
    second = install(world[0], config)
    first.observe_ari_event(0.5)
    assert "ivr_ari_event_to_command_seconds_count 1.0" in first.render().decode()
    assert "ivr_ari_event_to_command_seconds_count 0.0" in second.render().decode()


async def test_given_a_remote_scraper_then_only_the_right_bearer_token_reads_the_metrics(
    remote: httpx.AsyncClient, world: Setup, config: RoutingConfig
) -> None:
    install(world[0], config)

    missing = await remote.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "Jeton d'accès aux métriques requis" in missing.text
    wrong = await remote.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    assert wrong.text == "Accès aux métriques refusé."
    basic = await remote.get("/metrics", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401
    right = await remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    assert "ivr_queue_waiting_calls" in right.text


async def test_given_no_token_configured_then_only_loopback_reads_the_metrics(
    remote: httpx.AsyncClient, browser: httpx.AsyncClient, world: Setup, config: RoutingConfig
) -> None:
    install(world[0], config, token=None)
    assert (await remote.get("/metrics")).status_code == 403
    refused = await remote.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert refused.status_code == 403
    assert (await browser.get("/metrics")).status_code == 200


async def test_given_no_metrics_configured_then_404(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    response = await browser.get("/metrics")
    assert response.status_code == 404
    assert "non configurées" in response.text


def test_loopback_addresses() -> None:
    metrics = ServiceMetrics(MetricsProbe(calls=None, platforms=list), None)  # type: ignore[arg-type]
    assert metrics.authorized("127.0.0.1", None) == 200
    assert metrics.authorized("::1", None) == 200
    assert metrics.authorized("10.0.0.1", None) == 403
    assert metrics.authorized(None, None) == 403
    assert metrics.authorized("not an address", None) == 403


async def test_the_grafana_dashboard_reads_only_metrics_the_service_exposes(
    world: Setup, config: RoutingConfig
) -> None:
    metrics = install(world[0], config)
    metrics.observe_webhook("/voice", 0.01)
    await metrics.refresh()
    families = list(text_string_to_metric_families(metrics.render().decode()))
    exposed = {f.name for f in families} | {s.name for f in families for s in f.samples}
    dashboard = json.loads((REPO / "deploy" / "grafana" / "ivr-115-siao.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bivr_[a-z0-9_]+", target["expr"])
    }
    assert used
    assert used <= exposed, used - exposed
