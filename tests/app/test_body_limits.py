"""Body limits of the assembled service: 413 before the body is read, by route family."""

from __future__ import annotations

import html
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ivr.app import create_app
from ivr.composition import build_services
from ivr.web.limits import (
    AML_LIMIT,
    CONSOLE_LIMIT,
    LAML_LIMIT,
    BodyLimits,
    config_form_limit,
    readable_size,
    rule_for,
)
from routing.safe_yaml import MAX_CONFIG_BYTES
from tests.app.test_assembled import settings_for

CHUNK = 64 * 1024
FIFTY_MB = 50 * 1024 * 1024


def client(tmp_path: Path) -> httpx.AsyncClient:
    services = build_services(
        settings_for(
            tmp_path,
            laml_auth_token="un jeton de test",
            public_base_url="https://ivr.example.org",
            aml_hmac_key="une clé AML",
        )
    )
    app = create_app(services)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://ivr.test")


class Lazy:
    """A body generated as it is pulled, counting what the server pulled."""

    def __init__(self, total: int, chunk: int = CHUNK) -> None:
        self.total = total
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        piece = b"a" * self.chunk
        while self.pulled < self.total:
            self.pulled += len(piece)
            yield piece


def test_given_the_families_then_each_path_gets_its_limit() -> None:
    assert rule_for("/laml/voice").limit_for("") == LAML_LIMIT == 64 * 1024
    assert rule_for("/aml").limit_for("") == AML_LIMIT
    assert rule_for("/aml/sms").limit_for("") == AML_LIMIT
    assert rule_for("/console/rappels/1").limit_for("") == CONSOLE_LIMIT
    assert rule_for("/admin/comptes").limit_for("") == CONSOLE_LIMIT
    config = rule_for("/admin/configuration")
    assert config.own_page
    assert config.limit_for("multipart/form-data") == config_form_limit("multipart/form-data")
    assert config.limit_for("multipart/form-data") > 2 * MAX_CONFIG_BYTES
    assert rule_for("/nulle-part").limit_for("") == 64 * 1024
    assert rule_for("/lamlx").limit_for("") == 64 * 1024  # a prefix is a path segment
    assert readable_size(LAML_LIMIT) == "64 Kio"
    assert readable_size(2 * 1024 * 1024) == "2 Mo"


async def test_given_an_unsigned_50_mb_chunked_body_on_laml_then_413_having_read_the_limit(
    tmp_path: Path,
) -> None:
    body = Lazy(FIFTY_MB)
    async with client(tmp_path) as provider:
        tracemalloc.start()
        try:
            response = await provider.post(
                "/laml/voice",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 413
    assert response.text == "Requête trop volumineuse (64 Kio au plus)."
    assert response.headers["content-security-policy"]  # inside the security headers
    # At most the limit and the chunk that crossed it, of 50 Mo offered.
    assert body.pulled <= LAML_LIMIT + CHUNK
    assert peak < 4 * 1024 * 1024, peak


async def test_given_a_declared_length_over_the_limit_on_laml_then_413_without_reading(
    tmp_path: Path,
) -> None:
    body = Lazy(FIFTY_MB)
    async with client(tmp_path) as provider:
        response = await provider.post(
            "/laml/voice",
            content=body,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "content-length": str(FIFTY_MB),
            },
        )
    assert response.status_code == 413
    assert body.pulled <= CHUNK  # the transport's first chunk at most; the app read none


async def test_given_a_webhook_within_the_limit_then_it_reaches_the_signature_check(
    tmp_path: Path,
) -> None:
    async with client(tmp_path) as provider:
        response = await provider.post(
            "/laml/voice",
            content=b"CallSid=CA1&" + b"x" * (LAML_LIMIT - 100),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 403  # unsigned: refused by the signature, not the size


async def test_given_an_oversize_aml_then_french_json_413(tmp_path: Path) -> None:
    body = Lazy(1024 * 1024, chunk=4096)
    async with client(tmp_path) as sender:
        response = await sender.post(
            "/aml", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json() == {"detail": "Requête trop volumineuse (16 Kio au plus)."}
    assert body.pulled <= AML_LIMIT + 4096


async def test_given_an_oversize_console_form_then_french_page_413(tmp_path: Path) -> None:
    body = Lazy(10 * 1024 * 1024)
    async with client(tmp_path) as browser:
        response = await browser.post(
            "/connexion",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 413
    assert "Ce formulaire dépasse la taille permise (256 Kio au plus)" in html.unescape(
        response.text
    )
    assert body.pulled <= CONSOLE_LIMIT + CHUNK


@pytest.mark.parametrize("path", ["/console/disponibilite", "/admin/comptes", "/support/x"])
async def test_given_an_oversize_form_before_sign_in_then_refused_unread(
    tmp_path: Path, path: str
) -> None:
    body = Lazy(10 * 1024 * 1024)
    async with client(tmp_path) as browser:
        response = await browser.post(
            path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
    assert response.status_code in (401, 404, 405, 413)
    assert body.pulled <= CONSOLE_LIMIT + CHUNK


async def test_given_a_route_that_reads_no_body_then_a_small_body_changes_nothing(
    tmp_path: Path,
) -> None:
    async with client(tmp_path) as browser:
        response = await browser.request("GET", "/healthz", content=b"x" * 1000)
    assert response.status_code == 200


async def test_given_the_app_answers_a_refused_body_itself_with_413_then_it_is_kept() -> None:
    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        try:
            while True:
                message = await receive()  # type: ignore[operator]
                if not message.get("more_body"):
                    break
        except Exception:
            await send({"type": "http.response.start", "status": 413, "headers": []})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": b"page de la route"})  # type: ignore[operator]
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    limited = BodyLimits(app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited), base_url="https://ivr.test"
    ) as browser:
        own = await browser.post("/admin/configuration", content=Lazy(20 * 1024 * 1024), headers={})
        small = await browser.post("/admin/configuration", content=b"x" * 100)
    assert (own.status_code, own.text) == (413, "page de la route")
    assert (small.status_code, small.text) == (200, "ok")
