"""Sessions end for good on the server: a cookie copied before signing out, a password
change, a deactivation (then a reactivation) or an admin's « fermer les sessions » opens
nothing any more, on this instance or another one sharing the records database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from ivr.records.db import make_engine, upgrade
from ivr.records.models import Account, ConsoleSession
from ivr.records.store import RecordStore
from ivr.web import build_console_router
from ivr.web.accounts import open_sessions
from tests.web.conftest import PASSWORD, World, add_people, csrf_of, shown, sign_in

Setup = tuple[World, FastAPI]
HOST = "consoles.test"
NEW_PASSWORD = "un tout autre mot de passe"
SIGN_IN_AGAIN = "Connectez-vous pour accéder à cette page."


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"https://{HOST}")


def flash(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return unquote(response.headers["location"].partition("info=")[2])


async def replay(app: FastAPI, cookie: str, path: str = "/console") -> httpx.Response:
    """``path`` opened from a fresh browser holding only the copied ``cookie``."""
    async with client_of(app) as thief:
        thief.cookies.set("ivr_session", cookie, domain=HOST)
        return await thief.get(path)


async def assert_refused(app: FastAPI, cookie: str) -> None:
    """The copied cookie is treated as no session at all: the sign-in page (401) in
    French, and the JSON answer for the page's scripts."""
    page = await replay(app, cookie)
    assert page.status_code == 401
    assert SIGN_IN_AGAIN in shown(page)
    assert 'name="login"' in page.text
    state = await replay(app, cookie, "/console/etat.json?dep=91")
    assert state.status_code == 401
    assert state.json() == {"detail": "Connexion requise."}


async def test_given_a_cookie_copied_before_signing_out_then_it_opens_nothing_after(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    csrf = await sign_in(browser, "c.dupont")
    cookie = browser.cookies["ivr_session"]
    assert (await replay(app, cookie)).status_code == 200  # a valid copy, before

    response = await browser.post("/deconnexion", data={"csrf": csrf})
    assert "Vous êtes déconnecté." in shown(response)

    await assert_refused(app, cookie)
    assert open_sessions(w.store, w.clock()) == {}
    assert ("c.dupont", "logout", "session", None) in w.audit()


async def test_given_one_browser_signing_out_then_the_persons_other_session_stays_open(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    async with client_of(app) as other:
        await sign_in(other, "c.dupont")
        csrf = await sign_in(browser, "c.dupont")
        assert open_sessions(w.store, w.clock()) == {"c.dupont": 2}
        await browser.post("/deconnexion", data={"csrf": csrf})
        assert (await other.get("/console")).status_code == 200
        assert (await browser.get("/console")).status_code == 401


async def test_given_a_cookie_copied_before_a_password_change_then_it_opens_nothing_after(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    async with client_of(app) as other:
        await sign_in(other, "c.dupont")
        other_cookie = other.cookies["ivr_session"]
        await sign_in(browser, "c.dupont")
        cookie = browser.cookies["ivr_session"]
        page = await browser.get("/mot-de-passe")
        response = await browser.post(
            "/mot-de-passe",
            data={
                "csrf": csrf_of(page.text),
                "ancien": PASSWORD,
                "nouveau": NEW_PASSWORD,
                "confirmation": NEW_PASSWORD,
            },
        )
        assert flash(response) == "Votre mot de passe est modifié."
        assert (await browser.get("/console")).status_code == 200  # the new session here

    await assert_refused(app, cookie)  # this browser's session from before the change
    await assert_refused(app, other_cookie)  # and the other browser's
    assert open_sessions(w.store, w.clock()) == {"c.dupont": 1}


async def test_given_a_cookie_copied_before_deactivation_then_even_reactivation_keeps_it_dead(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    async with client_of(app) as listener:
        await sign_in(listener, "c.dupont")
        cookie = listener.cookies["ivr_session"]
    csrf = await sign_in(browser, "a.essonne")

    response = await browser.post(
        "/admin/comptes/c.dupont/activation", data={"csrf": csrf, "actif": "0"}
    )
    assert flash(response) == "Compte désactivé."
    await assert_refused(app, cookie)

    response = await browser.post(
        "/admin/comptes/c.dupont/activation", data={"csrf": csrf, "actif": "1"}
    )
    assert flash(response) == "Compte réactivé."
    await assert_refused(app, cookie)  # the old cookie does not come back to life
    async with client_of(app) as listener:
        await sign_in(listener, "c.dupont")  # a new sign-in works
        assert (await listener.get("/console")).status_code == 200


async def test_given_an_admin_ends_an_accounts_sessions_then_its_cookies_open_nothing(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    async with client_of(app) as listener:
        await sign_in(listener, "c.dupont")
        cookie = listener.cookies["ivr_session"]
    csrf = await sign_in(browser, "a.essonne")
    page = await browser.get("/admin/comptes/c.dupont")
    assert "Fermer les sessions" in shown(page)
    assert "<dt>Sessions ouvertes</dt><dd>1</dd>" in page.text

    refused = await browser.post("/admin/comptes/c.dupont/fermer-sessions", data={})
    assert refused.status_code == 403
    assert "Formulaire expiré ou invalide" in shown(refused)
    assert (await replay(app, cookie)).status_code == 200  # nothing ended without the token

    response = await browser.post("/admin/comptes/c.dupont/fermer-sessions", data={"csrf": csrf})
    assert flash(response) == "Sessions fermées : 1. La personne doit se reconnecter."
    await assert_refused(app, cookie)
    assert ("a.essonne", "end_sessions", "account", "c.dupont") in w.audit()
    assert (await browser.get("/admin/comptes")).status_code == 200  # the admin's own stays


async def test_given_a_departemental_admin_cannot_end_sessions_outside_their_scope(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    async with client_of(app) as support:
        await sign_in(support, "s.national")
        cookie = support.cookies["ivr_session"]
    csrf = await sign_in(browser, "a.essonne")
    response = await browser.post("/admin/comptes/s.national/fermer-sessions", data={"csrf": csrf})
    assert response.status_code == 403
    assert (await replay(app, cookie, "/support")).status_code == 200


async def test_given_an_admin_ends_all_sessions_then_every_managed_account_signs_in_again(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    cookies = {}
    for login, home in (("c.dupont", "/console"), ("r.leroy", "/referent")):
        async with client_of(app) as person:
            await sign_in(person, login)
            cookies[login] = (person.cookies["ivr_session"], home)
    async with client_of(app) as support:
        await sign_in(support, "s.national")
        support_cookie = support.cookies["ivr_session"]
    async with client_of(app) as admin_elsewhere:
        await sign_in(admin_elsewhere, "a.essonne")
        elsewhere = admin_elsewhere.cookies["ivr_session"]
    csrf = await sign_in(browser, "a.essonne")
    page = await browser.get("/admin/comptes")
    assert "Fermer toutes les sessions" in shown(page)

    refused = await browser.post("/admin/comptes/fermer-sessions", data={"csrf": "faux"})
    assert refused.status_code == 403
    response = await browser.post("/admin/comptes/fermer-sessions", data={"csrf": csrf})
    assert flash(response).startswith("Sessions fermées : 3.")
    for cookie, home in cookies.values():
        assert (await replay(app, cookie, home)).status_code == 401
    assert (await replay(app, elsewhere, "/admin")).status_code == 401  # their other one
    assert (await browser.get("/admin/comptes")).status_code == 200  # this one is kept
    # Outside a départemental admin's scope: national support keeps its session.
    assert (await replay(app, support_cookie, "/support")).status_code == 200
    assert ("a.essonne", "end_sessions", "accounts", None) in w.audit()
    assert open_sessions(w.store, w.clock()) == {"a.essonne": 1, "s.national": 1}


async def test_given_a_cookie_without_a_server_session_then_it_is_refused(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    """A cookie correctly signed but naming no open session (forged with the secret, or
    from before sessions were kept on the server) counts as signed out."""
    w, app = world
    add_people(w.store)
    await sign_in(browser, "c.dupont")
    cookie = browser.cookies["ivr_session"]
    with w.store.engine.begin() as conn:
        conn.execute(sa.delete(ConsoleSession))
    await assert_refused(app, cookie)


async def test_given_expired_sessions_when_someone_signs_in_then_they_are_deleted(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    await sign_in(browser, "c.dupont")
    w.clock.advance_now(13 * 3600)
    assert (await browser.get("/console")).status_code == 401
    async with client_of(app) as other:
        await sign_in(other, "r.leroy")
    with w.store.engine.connect() as conn:
        owners = conn.execute(
            sa.select(Account.login).join(ConsoleSession, ConsoleSession.account_id == Account.id)
        ).all()
    assert [login for (login,) in owners] == ["r.leroy"]


# --------------------------------------------------------------------------- two instances


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The records database two instances share: a SQLite file, or a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def shared_engines(shared_url: str) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """Two engines (two instances' connection pools) on the one database."""
    first = make_engine(shared_url, create_dir=True)
    upgrade(first)
    second = make_engine(shared_url)
    try:
        yield first, second
    finally:
        first.dispose()
        second.dispose()


@pytest.fixture
def instances(
    world: Setup, shared_engines: tuple[sa.Engine, sa.Engine]
) -> tuple[FastAPI, FastAPI, RecordStore]:
    """Two instances of the consoles, each with its own engine and router, one database."""
    w = world[0]
    assert w.deps is not None
    apps = []
    stores = []
    for engine in shared_engines:
        store = RecordStore(engine, w.clock)
        app = FastAPI()
        app.include_router(build_console_router(dataclasses.replace(w.deps, records=store)))
        apps.append(app)
        stores.append(store)
    add_people(stores[0])
    return apps[0], apps[1], stores[1]


async def test_given_two_instances_when_one_signs_out_then_the_other_refuses_the_cookie(
    instances: tuple[FastAPI, FastAPI, RecordStore],
) -> None:
    first, second, _ = instances
    async with client_of(first) as browser:
        csrf = await sign_in(browser, "c.dupont")
        cookie = browser.cookies["ivr_session"]
        assert (await replay(second, cookie)).status_code == 200  # honoured by the other
        await browser.post("/deconnexion", data={"csrf": csrf})
    await assert_refused(second, cookie)
    await assert_refused(first, cookie)


async def test_given_two_instances_when_an_admin_ends_sessions_on_one_then_the_other_refuses(
    instances: tuple[FastAPI, FastAPI, RecordStore],
) -> None:
    first, second, store = instances
    async with client_of(first) as listener:
        await sign_in(listener, "c.dupont")
        cookie = listener.cookies["ivr_session"]
    assert (await replay(first, cookie)).status_code == 200
    async with client_of(second) as admin:
        csrf = await sign_in(admin, "a.national")
        response = await admin.post("/admin/comptes/fermer-sessions", data={"csrf": csrf})
        assert flash(response).startswith("Sessions fermées : 1.")
    await assert_refused(first, cookie)
    actions = [(e.actor, e.action, e.object_type) for e in store.audit_entries()]
    assert ("a.national", "end_sessions", "accounts") in actions


async def test_given_two_instances_when_deactivated_on_one_then_the_other_refuses(
    instances: tuple[FastAPI, FastAPI, RecordStore],
) -> None:
    first, second, _ = instances
    async with client_of(first) as listener:
        await sign_in(listener, "c.dupont")
        cookie = listener.cookies["ivr_session"]
    async with client_of(second) as admin:
        csrf = await sign_in(admin, "a.essonne")
        for actif in ("0", "1"):
            response = await admin.post(
                "/admin/comptes/c.dupont/activation", data={"csrf": csrf, "actif": actif}
            )
            assert response.status_code == 303
    await assert_refused(first, cookie)
