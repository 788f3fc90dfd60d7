"""Security headers on every response of the assembled service, no inline script or style
in the consoles' templates, and FastAPI's documentation only in development."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from ivr.app import create_app
from ivr.composition import build_services
from ivr.records.models import AccountRole
from ivr.settings import Settings
from ivr.web import create_account
from ivr.web.headers import CONTENT_SECURITY_POLICY, DOCS_POLICY
from ivr.web.routes.common import TEMPLATES_DIR
from tests.app.test_assembled import settings_for
from tests.web.conftest import PASSWORD, sign_in

PATHS = (
    "/connexion",  # a console page
    "/console",  # a refusal (401, the sign-in form)
    "/console/etat.json",  # a JSON refusal
    "/static/console.css",  # a static file
    "/healthz",  # JSON of the service
    "/nulle-part",  # FastAPI's own 404
)


def client(tmp_path: Path, **settings: object) -> httpx.AsyncClient:
    app = create_app(build_services(settings_for(tmp_path, **settings)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://ivr.test")


def assert_secure(response: httpx.Response, policy: str = CONTENT_SECURITY_POLICY) -> None:
    headers = response.headers
    assert headers["content-security-policy"] == policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert len(headers.get_list("x-frame-options")) == 1  # the middleware replaces, once


def test_given_the_policy_then_it_forbids_inline_code_and_framing() -> None:
    directives = {
        name: value
        for name, _, value in (part.partition(" ") for part in CONTENT_SECURITY_POLICY.split("; "))
    }
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


@pytest.mark.parametrize("path", PATHS)
async def test_given_any_response_then_it_carries_the_security_headers(
    tmp_path: Path, path: str
) -> None:
    async with client(tmp_path) as browser:
        response = await browser.get(path)
    assert response.status_code in (200, 401, 404), response.text
    assert_secure(response)


async def test_given_a_signed_in_page_then_it_carries_the_security_headers(
    tmp_path: Path,
) -> None:
    services = build_services(settings_for(tmp_path))
    assert services.console is not None
    create_account(
        services.console.records, "a.national", PASSWORD, [(AccountRole.ADMIN_NATIONAL, None)]
    )
    app = create_app(services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://ivr.test"
    ) as browser:
        await sign_in(browser, "a.national")
        for path in ("/admin", "/admin/comptes"):
            response = await browser.get(path)
            assert response.status_code == 200
            assert_secure(response)


async def test_given_production_by_default_then_the_documentation_is_not_served(
    tmp_path: Path,
) -> None:
    async with client(tmp_path) as browser:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            response = await browser.get(path)
            assert response.status_code == 404, path
            assert_secure(response)


async def test_given_development_then_the_documentation_is_served_under_its_own_policy(
    tmp_path: Path,
) -> None:
    async with client(tmp_path, environment="development") as browser:
        schema = await browser.get("/openapi.json")
        assert schema.status_code == 200
        assert "/healthz" in schema.json()["paths"]
        assert_secure(schema)
        for path in ("/docs", "/redoc"):
            page = await browser.get(path)
            assert page.status_code == 200, path
            assert_secure(page, DOCS_POLICY)
        assert_secure(await browser.get("/connexion"))  # the consoles keep the strict one


def test_given_the_environment_variable_then_the_setting_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IVR_ENVIRONMENT", raising=False)
    assert Settings().environment == "production"
    monkeypatch.setenv("IVR_ENVIRONMENT", "development")
    assert Settings().environment == "development"


INLINE = (
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline script"),
    (re.compile(r"<style\b", re.I), "style element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
)


def test_given_the_templates_then_none_has_inline_script_style_or_handler() -> None:
    templates = sorted(Path(TEMPLATES_DIR).glob("*.html"))
    assert templates
    found = [
        f"{template.name}: {what}"
        for template in templates
        for pattern, what in INLINE
        if pattern.search(template.read_text(encoding="utf-8"))
    ]
    assert found == []
