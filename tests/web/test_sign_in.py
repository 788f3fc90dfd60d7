"""Sign-in, roles, session cookie and CSRF."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from ivr.records.models import AccountRole
from ivr.records.store import RecordStore
from ivr.web import AccountError, create_account
from ivr.web.security import hash_password, verify_password
from tests.web.conftest import PASSWORD, World, add_people, csrf_of, shown, sign_in


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
