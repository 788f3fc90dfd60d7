"""The service as ``ivr serve`` assembles it: every router mounted on one app, one root."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ivr.app import create_app
from ivr.composition import build_services
from ivr.settings import Settings
from tests.web.conftest import csrf_of

REPO = Path(__file__).parent.parent.parent
PASSWORD = "un mot de passe solide"


def settings_for(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        config_path=REPO / "config" / "departments.yaml",
        data_dir=tmp_path,
        **extra,  # type: ignore[arg-type]
    )


def add_account(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env["IVR_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", "accounts", "add", *args, "--password", PASSWORD],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def browser(tmp_path: Path) -> httpx.AsyncClient:
    app = create_app(build_services(settings_for(tmp_path)))
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="https://ivr.test")


async def test_given_account_created_by_the_cli_then_the_listener_signs_in_to_the_console(
    tmp_path: Path,
) -> None:
    build_services(settings_for(tmp_path))  # the embedded database is created on first start
    done = add_account(
        tmp_path, "marie.dupont", "--role", "ecoutant:75", "--phone", "02 61 91 07 50"
    )
    assert done.returncode == 0, done.stderr
    assert "compte « marie.dupont » créé" in done.stdout
    app = create_app(build_services(settings_for(tmp_path)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://ivr.test"
    ) as browser:
        page = await browser.get("/connexion")
        response = await browser.post(
            "/connexion",
            data={"login": "marie.dupont", "password": PASSWORD, "csrf": csrf_of(page.text)},
        )
        assert response.status_code == 303
        console = await browser.get("/console")
        assert console.status_code == 200
        assert "115" in console.text
        health = await browser.get("/healthz")
        assert health.json()["sisiao"] == "non configuré"


def test_given_unknown_role_then_the_cli_refuses_in_french(tmp_path: Path) -> None:
    build_services(settings_for(tmp_path))
    done = add_account(tmp_path, "x", "--role", "pilote")
    assert done.returncode == 2
    assert "« pilote » n'est pas un rôle connu" in done.stderr


async def test_given_aml_key_then_signed_position_is_accepted_and_unsigned_refused(
    tmp_path: Path,
) -> None:
    services = build_services(settings_for(tmp_path, aml_hmac_key="clé-de-test"))
    body = json.dumps(
        {
            "v": 1,
            "caller": "+33612345678",
            "lat": 48.8566,
            "lon": 2.3522,
            "radius_m": 30,
            "positioned_at": datetime.now(UTC).isoformat(),
            "method": "G",
        }
    ).encode()
    signature = "sha256=" + hmac.new(b"cl\xc3\xa9-de-test", body, hashlib.sha256).hexdigest()
    app = create_app(services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://ivr.test"
    ) as client:
        unsigned = await client.post("/aml", content=body)
        assert unsigned.status_code in (401, 403)
        signed = await client.post(
            "/aml",
            content=body,
            headers={"X-AML-Signature": signature, "content-type": "application/json"},
        )
    assert signed.status_code in (200, 202), signed.text
    report = services.positions.latest("+33612345678")
    assert report is not None
    assert round(report.lat, 4) == 48.8566


async def test_given_no_laml_token_then_laml_routes_are_absent_and_others_answer(
    tmp_path: Path,
) -> None:
    app = create_app(build_services(settings_for(tmp_path)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://ivr.test"
    ) as client:
        laml = await client.post("/laml/voice", data={"CallSid": "CA1", "To": "+33806000156"})
        console = await client.get("/console")
        aml = await client.post("/aml", content=b"{}")
    assert laml.status_code == 404  # no token: the webhooks are not exposed at all
    assert console.status_code == 401  # the console asks to sign in
    assert aml.status_code == 403  # AML refused: no key configured, the receiver fails closed


async def test_given_laml_settings_then_signed_entry_webhook_is_answered_in_french(
    tmp_path: Path,
) -> None:
    from ivr.transports.laml.signature import compute_signature

    settings = settings_for(
        tmp_path, laml_auth_token="jeton-de-test", public_base_url="https://ivr.example.org"
    )
    app = create_app(build_services(settings))
    form = {
        "CallSid": "CA0001",
        "AccountSid": "AC0001",
        "From": "+33612345678",
        "To": "+33806000156",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    url = "https://ivr.example.org/laml/voice"
    signature = compute_signature("jeton-de-test", url, sorted(form.items()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://10.0.0.5:8115"
    ) as client:
        unsigned = await client.post("/laml/voice", data=form)
        signed = await client.post(
            "/laml/voice", data=form, headers={"X-Twilio-Signature": signature}
        )
    assert unsigned.status_code == 403
    assert signed.status_code == 200, signed.text
    # The document depends on the hour (menu when the line is open, closed message at
    # night): either way a French LaML document answered the signed request.
    assert signed.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    assert 'language="fr-FR"' in signed.text
    assert "Bienvenue sur la ligne d'assistance SI SIAO." in signed.text


@pytest.mark.redis
async def test_given_ari_and_redis_then_lifespan_starts_and_stops_releasing_the_lease(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    import redis.asyncio as aioredis

    lease = f"{redis_prefix}ari:leader:ivr"

    settings = settings_for(
        tmp_path,
        ari_url="http://127.0.0.1:9",
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        instance_id="inst-a",
    )
    services = build_services(settings)
    app = create_app(services)
    probe = aioredis.Redis.from_url(redis_url)
    try:
        async with app.router.lifespan_context(app):
            # Asterisk is unreachable: the transport keeps retrying, the app still serves.
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://ivr"
            ) as client:
                before = (await client.get("/healthz")).json()
                assert before["live_state"]["backend"] != "memory"
                for _ in range(50):
                    if await probe.get(lease) is not None:
                        break
                    await asyncio.sleep(0.05)
                assert await probe.get(lease) == b"inst-a"
                health = (await client.get("/healthz")).json()
            # It holds the lease but cannot reach Asterisk: degraded, said so.
            assert health["ari"] == {
                "connected": False,
                "role": "principale",
                "calls": 0,
                "connections": 0,
            }
            assert health["status"] == "degraded"
            assert isinstance(health["routing_version"], int)
        # Shutdown ended within the grace period and released the websocket lease.
        assert await probe.get(lease) is None
    finally:
        await probe.aclose()


@pytest.mark.redis
async def test_given_another_instance_holds_the_ari_lease_then_health_says_standby_and_ok(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    import redis.asyncio as aioredis

    lease = f"{redis_prefix}ari:leader:ivr"

    settings = settings_for(
        tmp_path,
        ari_url="http://127.0.0.1:9",
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        instance_id="inst-b",
    )
    probe = aioredis.Redis.from_url(redis_url)
    await probe.set(lease, "inst-a", px=60_000)
    app = create_app(build_services(settings))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ivr") as c,
        ):
            health = (await c.get("/healthz")).json()
        assert health["ari"]["role"] == "en attente"
        assert health["ari"]["connected"] is False
        assert health["status"] == "ok", "a standby without the websocket is as expected"
        assert await probe.get(lease) == b"inst-a", "not released: not ours"
    finally:
        await probe.aclose()


async def test_given_ari_then_a_started_recording_is_written_for_the_admins_playback(
    tmp_path: Path,
) -> None:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from ivr.records.models import Recording

    services = build_services(settings_for(tmp_path, ari_url="http://127.0.0.1:9"))
    assert services.ari is not None
    assert services.ari.recordings is not None
    at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    await services.ari.note_recording("1795456093.1", at, "ivr-abc123-rec-1")

    with Session(services.store.engine) as session:
        rows = session.scalars(sa.select(Recording)).all()
        assert [(r.call_id, r.location) for r in rows] == [("1795456093.1", "ari:ivr-abc123-rec-1")]
    await services.http.aclose()


async def test_given_a_metrics_token_then_metrics_count_the_webhooks_and_every_platform(
    tmp_path: Path,
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from ivr.transports.laml.signature import compute_signature

    settings = settings_for(
        tmp_path,
        laml_auth_token="jeton-de-test",
        public_base_url="https://ivr.example.org",
        metrics_token="jeton-des-metriques",
    )
    app = create_app(build_services(settings))
    form = {
        "CallSid": "CA0002",
        "AccountSid": "AC0001",
        "From": "+33612345678",
        "To": "+33806000156",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    signature = compute_signature(
        "jeton-de-test", "https://ivr.example.org/laml/voice", sorted(form.items())
    )
    remote = httpx.ASGITransport(app=app, client=("198.51.100.9", 50000))
    async with httpx.AsyncClient(transport=remote, base_url="https://ivr.example.org") as client:
        answered = await client.post(
            "/laml/voice", data=form, headers={"X-Twilio-Signature": signature}
        )
        assert answered.status_code == 200
        assert (await client.get("/metrics")).status_code == 401
        scraped = await client.get(
            "/metrics", headers={"Authorization": "Bearer jeton-des-metriques"}
        )
    assert scraped.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
    webhooks = families["ivr_laml_webhook_seconds"].samples
    assert any(
        s.name.endswith("_count") and s.labels == {"webhook": "/voice"} and s.value == 1
        for s in webhooks
    )
    queues = families["ivr_queue_waiting_calls"].samples
    assert len(queues) == 101
    assert "ivr_records_queue" in families
    assert "ivr_sisiao_outbox_backlog" in families
    assert "612345678" not in scraped.text
