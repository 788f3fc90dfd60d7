"""Property-based fuzzing of every route of the assembled service, signed in with each
role: no input may get a 5xx. The routes come from ``app.routes``, so a new route is
covered without editing this file. Bounded: a few dozen examples per role."""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Route

from ivr.app import create_app
from ivr.composition import build_services
from ivr.records.models import AccountRole
from ivr.transports.laml.signature import compute_signature
from ivr.web import create_account
from tests.app.test_assembled import settings_for
from tests.web.conftest import LISTENER_PHONE, PASSWORD, csrf_of

ROLES = {
    "anonyme": None,
    "f.ecoutant": [(AccountRole.LISTENER, "91")],
    "f.referent": [(AccountRole.REFERENT, "91")],
    "f.support": [(AccountRole.SUPPORT, None)],
    "f.admin91": [(AccountRole.ADMIN_DEPARTEMENT, "91")],
    "f.national": [(AccountRole.ADMIN_NATIONAL, None)],
}
HOSTILE = [
    "",
    "0",
    "-1",
    str(2**64),
    "9" * 300,
    "9999-12-31",
    "0001-01-01",
    "%00",
    "../../etc/passwd",
    "<script>",
    "+33612345678",
    "é" * 50,
    "2A",
    "91",
]
QUERY_NAMES = ["dep", "semaine", "statut", "info", "appel", "suite", "recherche"]
values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), st.integers().map(str))


def flatten(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """The routes of ``app.routes``, those of included routers too."""
    found: list[BaseRoute] = []
    for route in routes:
        router = getattr(route, "original_router", None)
        found.extend(flatten(router.routes) if router is not None else [route])
    return found


@cache
def world() -> tuple[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient], list[Route]]:
    loop = asyncio.new_event_loop()
    tmp = Path(tempfile.mkdtemp(prefix="ivr-fuzz-"))
    services = build_services(
        settings_for(
            tmp,
            laml_auth_token="jeton",
            public_base_url="https://ivr.example.org",
            aml_hmac_key="clé",
        )
    )
    assert services.console is not None
    for login, roles in ROLES.items():
        if roles:
            create_account(services.console.records, login, PASSWORD, roles, phone=LISTENER_PHONE)
    app = create_app(services)
    clients: dict[str, httpx.AsyncClient] = {}

    async def sign_in_all() -> None:
        for login, roles in ROLES.items():
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://ivr.test"
            )
            if roles:
                page = await client.get("/connexion")
                done = await client.post(
                    "/connexion",
                    data={"login": login, "password": PASSWORD, "csrf": csrf_of(page.text)},
                )
                assert done.status_code == 303, done.text
            clients[login] = client

    loop.run_until_complete(sign_in_all())
    routes = [r for r in flatten(app.routes) if isinstance(r, Route) and r.methods]
    assert len(routes) > 30  # every console route, /aml, /laml, /healthz
    return loop, clients, routes


def fill(path: str, data: st.DataObject) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: quote(data.draw(values), safe="") or "x", path)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(data=st.data())
def test_given_any_route_role_and_input_then_never_a_5xx(data: st.DataObject) -> None:
    loop, clients, routes = world()
    route = data.draw(st.sampled_from(routes), label="route")
    method = data.draw(st.sampled_from(sorted(route.methods or {"GET"})), label="method")
    login = data.draw(st.sampled_from(sorted(clients)), label="role")
    path = fill(route.path, data)
    query = data.draw(
        st.dictionaries(
            st.sampled_from(["dep", "semaine", "statut", "info", "appel", "suite", "recherche"]),
            values,
            max_size=3,
        )
    )
    form = data.draw(st.dictionaries(st.text(max_size=12), values, max_size=5))
    client = clients[login]

    async def send() -> httpx.Response:
        return await client.request(method, path, params=query, data=form or None)

    response = loop.run_until_complete(send())
    assert response.status_code < 500, (method, path, query, form, login, response.text[:300])


LAML_NAMES = ["voice", "gather", "status", "dial", "callback/status", "fallback", "inconnu"]
LAML_FIELDS = ["CallSid", "AccountSid", "From", "To", "CallStatus", "Digits", "Direction"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(
    name=st.sampled_from(LAML_NAMES),
    fields=st.dictionaries(st.sampled_from(LAML_FIELDS), values, max_size=7),
    query=st.dictionaries(st.sampled_from(["call", "step", "dep"]), values, max_size=2),
)
def test_given_signed_laml_webhooks_of_any_content_then_never_a_5xx(
    name: str, fields: dict[str, str], query: dict[str, str]
) -> None:
    loop, clients, _ = world()
    path = f"/laml/{name}"
    url = httpx.URL("https://ivr.example.org" + path, params=query)
    signature = compute_signature("jeton", str(url), fields.items())

    async def send() -> httpx.Response:
        return await clients["anonyme"].post(
            path, params=query, data=fields, headers={"X-Twilio-Signature": signature}
        )

    response = loop.run_until_complete(send())
    assert response.status_code < 500, (path, query, fields, response.text[:300])
