"""Sign-in, roles, session cookie and CSRF."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.orm import Session

from ivr.records.models import Account, AccountRole
from ivr.records.store import RecordStore
from ivr.web import AccountError, create_account
from ivr.web.security import SCRYPT, ScryptParams, hash_password, needs_rehash, verify_password
from tests.web.conftest import PASSWORD, World, add_people, attempt, csrf_of, shown, sign_in


def test_given_a_password_when_hashed_then_scrypt_with_its_own_salt_verifies_it() -> None:
    first, second = hash_password("un mot de passe"), hash_password("un mot de passe")
    assert first.startswith("scrypt$")
    assert first != second
    assert verify_password("un mot de passe", first)
    assert not verify_password("un autre", first)
    assert not verify_password("un mot de passe", None)


def test_given_a_listener_without_phone_when_created_then_refused_in_french(
    store: RecordStore,
) -> None:
    with pytest.raises(AccountError, match="Un écoutant a un numéro de poste"):
        create_account(store, "x", PASSWORD, [(AccountRole.LISTENER, "91")])
    with pytest.raises(AccountError, match="au moins 12 caractères"):
        create_account(store, "y", "court", [(AccountRole.SUPPORT, None)])


async def test_given_no_session_when_the_console_is_opened_then_401_with_the_sign_in_form(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/console")
    assert response.status_code == 401
    assert "Connectez-vous pour accéder à cette page." in shown(response)
    assert 'name="suite" value="/console"' in shown(response)


async def test_given_the_right_password_when_signing_in_then_a_signed_httponly_lax_cookie(
    browser: httpx.AsyncClient, store: RecordStore, world: tuple[World, FastAPI]
) -> None:
    add_people(store)
    page = await browser.get("/connexion")
    response = await browser.post(
        "/connexion", data={"login": "c.dupont", "password": PASSWORD, "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=lax", "Secure"):
        assert attribute in cookie
    assert ("c.dupont", "login", "session", None) in world[0].audit()


async def test_given_a_wrong_password_when_signing_in_then_401_and_a_failed_attempt_audited(
    browser: httpx.AsyncClient, store: RecordStore, world: tuple[World, FastAPI]
) -> None:
    add_people(store)
    page = await browser.get("/connexion")
    response = await browser.post(
        "/connexion", data={"login": "c.dupont", "password": "faux", "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in shown(response)
    assert ("c.dupont", "login_failed", "session", None) in world[0].audit()


async def test_given_no_csrf_token_when_signing_in_then_403(
    browser: httpx.AsyncClient, store: RecordStore
) -> None:
    add_people(store)
    await browser.get("/connexion")
    response = await browser.post("/connexion", data={"login": "c.dupont", "password": PASSWORD})
    assert response.status_code == 403
    assert "Formulaire expiré ou invalide" in shown(response)


async def test_given_a_forged_cookie_when_a_page_is_opened_then_401(
    browser: httpx.AsyncClient, store: RecordStore
) -> None:
    add_people(store)
    await sign_in(browser, "c.dupont")
    value = browser.cookies["ivr_session"]
    payload, signature = value.rsplit(".", 1)
    browser.cookies.clear()
    browser.cookies.set("ivr_session", payload + "." + signature[::-1], domain="consoles.test")
    assert (await browser.get("/console")).status_code == 401


async def test_given_a_listener_when_opening_support_or_admin_then_403_in_french(
    browser: httpx.AsyncClient, store: RecordStore
) -> None:
    add_people(store)
    await sign_in(browser, "c.dupont")
    for path in ("/support", "/admin", "/admin/journal", "/admin/rapport.csv"):
        response = await browser.get(path)
        assert response.status_code == 403, path
        assert "Accès refusé" in shown(response)


async def test_given_a_session_when_logging_out_then_the_console_asks_to_sign_in_again(
    browser: httpx.AsyncClient, store: RecordStore
) -> None:
    add_people(store)
    csrf = await sign_in(browser, "c.dupont")
    assert (await browser.post("/deconnexion", data={})).status_code == 403
    response = await browser.post("/deconnexion", data={"csrf": csrf})
    assert response.status_code == 200
    assert "Vous êtes déconnecté." in shown(response)
    assert (await browser.get("/console")).status_code == 401


async def test_given_a_sign_in_with_an_outside_next_url_then_it_goes_home_instead(
    browser: httpx.AsyncClient, store: RecordStore
) -> None:
    add_people(store)
    page = await browser.get("/connexion")
    response = await browser.post(
        "/connexion",
        data={
            "login": "s.national",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "suite": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/support"


def test_given_hashes_of_other_parameters_then_needs_rehash_says_so() -> None:
    assert not needs_rehash(hash_password("un mot de passe"))
    for params in (ScryptParams(2**12, 8, 1), ScryptParams(2**14, 4, 1), ScryptParams(2**14, 8, 2)):
        assert needs_rehash(hash_password("un mot de passe", params))
    assert needs_rehash(hash_password("un mot de passe", ScryptParams(2**14, 8, 1, salt_bytes=8)))
    assert needs_rehash("pbkdf2$1$2$3$abc$def")
    assert needs_rehash("malformed")


def stored_hash(store: RecordStore, login: str) -> str:
    with Session(store.engine) as session:
        value = session.scalar(sa.select(Account.password_hash).where(Account.login == login))
    assert value is not None
    return value


async def test_given_a_hash_of_older_parameters_when_signing_in_then_it_is_remade(
    browser: httpx.AsyncClient, store: RecordStore
) -> None:
    add_people(store)
    old = hash_password(PASSWORD, ScryptParams(2**12, 8, 1))
    with Session(store.engine) as session, session.begin():
        session.execute(
            sa.update(Account).where(Account.login == "c.dupont").values(password_hash=old)
        )
    assert (await attempt(browser, "c.dupont", "pas le bon mot de passe")).status_code == 401
    assert stored_hash(store, "c.dupont") == old  # a wrong password changes nothing

    await sign_in(browser, "c.dupont")
    upgraded = stored_hash(store, "c.dupont")
    assert upgraded != old
    assert upgraded.startswith(f"scrypt${SCRYPT.n}${SCRYPT.r}${SCRYPT.p}$")
    assert not needs_rehash(upgraded)
    assert verify_password(PASSWORD, upgraded)
    assert (await browser.get("/console")).status_code == 200  # the session it opened holds

    browser.cookies.clear()
    await sign_in(browser, "c.dupont")  # the new hash verifies; nothing more to remake
    assert stored_hash(store, "c.dupont") == upgraded


async def test_given_the_site_address_then_signed_out_to_sign_in_and_signed_in_to_their_home(
    world: tuple[World, FastAPI], store: RecordStore
) -> None:
    add_people(store)
    _, app = world
    homes = {
        "c.dupont": "/console",
        "r.leroy": "/referent",
        "s.national": "/support",
        "a.national": "/admin",
        "a.essonne": "/admin",
    }
    for login, home in homes.items():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://consoles.test"
        ) as person:
            first = await person.get("/")
            assert first.status_code == 303, login
            assert first.headers["location"] == "/connexion"
            await sign_in(person, login)
            response = await person.get("/")
            assert response.status_code == 303, login
            assert response.headers["location"] == home, login
            assert (await person.get(home)).status_code == 200, login
