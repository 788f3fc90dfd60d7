"""Failed sign-in throttling: per login and per client address, counted in the records
database (shared by instances, kept across restarts), on the injected clock, audited."""

from __future__ import annotations

import dataclasses

import httpx
from fastapi import FastAPI

from ivr.web import build_console_router
from tests.web.conftest import PASSWORD, World, add_people, attempt, message_of

Setup = tuple[World, FastAPI]
LOCKED = (
    "Trop de tentatives de connexion infructueuses pour cet identifiant. Réessayez dans "
    "15 minutes, ou demandez à un administrateur de débloquer le compte."
)


async def fail(browser: httpx.AsyncClient, login: str, times: int) -> httpx.Response:
    response = None
    for _ in range(times):
        response = await attempt(browser, login, "pas le bon mot de passe")
    assert response is not None
    return response


async def test_given_five_failures_then_the_login_is_locked_even_with_the_right_password(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    fourth = await fail(browser, "c.dupont", 4)
    assert fourth.status_code == 401
    assert message_of(fourth) == "Identifiant ou mot de passe incorrect."
    fifth = await fail(browser, "c.dupont", 1)
    assert fifth.status_code == 429
    assert message_of(fifth) == LOCKED
    assert fifth.headers["retry-after"] == "900"

    right = await attempt(browser, "c.dupont")
    assert right.status_code == 429
    assert message_of(right) == LOCKED
    audit = w.audit()
    assert ("c.dupont", "lockout", "login", "c.dupont") in audit
    assert ("c.dupont", "login_refused", "session", None) in audit
    assert ("c.dupont", "login", "session", None) not in audit


async def test_given_a_success_then_the_failures_before_it_no_longer_count(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await fail(browser, "c.dupont", 4)
    assert (await attempt(browser, "c.dupont")).status_code == 303
    browser.cookies.clear()
    assert (await fail(browser, "c.dupont", 4)).status_code == 401
    assert (await attempt(browser, "c.dupont")).status_code == 303


async def test_given_a_lock_when_its_time_is_over_then_the_person_signs_in(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    await fail(browser, "c.dupont", 5)
    w.clock.advance_now(14 * 60)
    response = await attempt(browser, "c.dupont")
    assert message_of(response) == LOCKED.replace("15 minutes", "1 minute")
    w.clock.advance_now(60)
    assert (await attempt(browser, "c.dupont")).status_code == 303


async def test_given_failures_further_apart_than_the_window_then_no_lock(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    await fail(browser, "c.dupont", 4)
    w.clock.advance_now(15 * 60 + 1)
    assert (await fail(browser, "c.dupont", 4)).status_code == 401
    assert (await attempt(browser, "c.dupont")).status_code == 303


async def test_given_an_unknown_login_then_the_same_words_and_status_as_for_a_real_one(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    real = [await attempt(browser, "c.dupont", "faux") for _ in range(6)]
    ghost = [await attempt(browser, "personne.inconnue", "faux") for _ in range(6)]
    assert [(r.status_code, message_of(r)) for r in real] == [
        (g.status_code, message_of(g)) for g in ghost
    ]
    assert real[-1].status_code == 429


async def test_given_one_login_locked_then_other_logins_sign_in(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await fail(browser, "c.dupont", 5)
    assert (await attempt(browser, "s.national")).status_code == 303
    browser.cookies.clear()
    assert (await attempt(browser, "r.leroy")).status_code == 303


async def test_given_many_failures_from_one_address_then_it_is_refused_and_others_are_not(
    world: Setup,
) -> None:
    w, app = world
    add_people(w.store)
    assert w.deps is not None
    w.deps.throttle = dataclasses.replace(w.deps.throttle, address_failures=8)
    attacker = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)),
        base_url="https://consoles.test",
    )
    colleague = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.20", 4000)),
        base_url="https://consoles.test",
    )
    async with attacker, colleague:
        for n in range(8):
            response = await attempt(attacker, f"essai{n}", "faux")
        assert response.status_code == 429
        assert message_of(response) == (
            "Trop de tentatives de connexion infructueuses depuis cette adresse. "
            "Réessayez dans 15 minutes."
        )
        assert (await attempt(attacker, "s.national")).status_code == 429
        assert (await attempt(colleague, "s.national")).status_code == 303
    assert ("essai7", "lockout", "addr", "203.0.113.9") in w.audit()


async def test_given_two_instances_then_failures_on_both_count_and_a_restart_keeps_the_lock(
    world: Setup,
) -> None:
    w, first = world
    add_people(w.store)
    deps = w.deps
    assert deps is not None

    def instance() -> FastAPI:  # another process: its own router, the same records
        app = FastAPI()
        app.include_router(build_console_router(dataclasses.replace(deps)))
        return app

    second = instance()
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="https://consoles.test")
        for a in (first, second)
    ]
    async with clients[0], clients[1]:
        for n in range(5):
            response = await attempt(clients[n % 2], "c.dupont", "faux")
        assert response.status_code == 429
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=instance()), base_url="https://consoles.test"
    ) as restarted:
        assert (await attempt(restarted, "c.dupont", PASSWORD)).status_code == 429
