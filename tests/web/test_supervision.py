"""The live wallboard ``/supervision``: who sees which scope, the figures of the page and of
its JSON refresh, deterrence and the SI SIAO incident, and no personal data."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI

from ivr.flow.vocabulary import CallStarted
from ivr.records.store import CallRecord
from ivr.runtime.live_state import Presence
from routing.config import RoutingConfig
from tests.web.conftest import (
    CALLER,
    LINE_115_91,
    LISTENER_PHONE,
    World,
    add_people,
    shown,
    sign_in,
)

Setup = tuple[World, FastAPI]


async def waiting_call(world: World, call_id: str = "call-1") -> None:
    await world.runtime.start_call(CallStarted(call_id, LINE_115_91, CALLER), world.transport)
    await world.runtime.drain()


def today_calls(world: World) -> None:
    now = world.clock()
    world.store.write(
        [
            CallRecord(
                "t1",
                "115",
                "91",
                CALLER,
                LINE_115_91,
                now - timedelta(minutes=30),
                now - timedelta(minutes=20),
                answered_at=now - timedelta(minutes=29),
                outcome="connected",
            ),
            CallRecord(
                "t2",
                "115",
                "91",
                CALLER,
                LINE_115_91,
                now - timedelta(minutes=10),
                now - timedelta(minutes=9),
                outcome="caller-hung-up",
            ),
            CallRecord(
                "old",
                "115",
                "91",
                CALLER,
                LINE_115_91,
                now - timedelta(days=2),
                now - timedelta(days=2) + timedelta(minutes=3),
                outcome="caller-hung-up",
            ),
        ]
    )


def row(state: dict[str, object], code: str) -> dict[str, object]:
    rows = state["departements"]
    assert isinstance(rows, list)
    return next(r for r in rows if r["code"] == code)


async def test_given_a_national_admin_then_every_platform_shows_and_the_json_follows_the_queue(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    today_calls(w)
    await sign_in(browser, "a.national")
    await w.runtime.set_listener_presence("91", LISTENER_PHONE, Presence.PAUSED)

    page = await browser.get("/supervision")
    assert page.status_code == 200
    text = shown(page)
    assert "Supervision en direct — National" in text
    assert 'id="dep-91"' in page.text
    assert 'id="dep-974"' in page.text
    assert "Aucun incident SI SIAO en cours." in text
    assert '<script src="/static/supervision.js" defer></script>' in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None  # no inline script (CSP)

    await waiting_call(w)
    w.clock.advance_now(95)
    state = (await browser.get("/supervision/etat.json")).json()
    essonne = row(state, "91")
    assert essonne["en_attente"] == 1
    assert essonne["attente_max_s"] == 95
    assert essonne["attente_max"] == "1 min 35 s"
    assert (essonne["disponibles"], essonne["en_pause"], essonne["en_communication"]) == (0, 1, 0)
    assert (essonne["recus"], essonne["repondus"], essonne["abandons"]) == (2, 1, 1)
    assert essonne["dissuasion"] == "Non"
    assert row(state, "75")["dissuasion"] == "Aucun écoutant connecté : appels vers la LRO"
    assert state["total"]["en_attente"] == 1
    assert state["perimetre"] == "National"
    for body in (page.text, str(state)):
        assert CALLER[3:] not in body
        assert LISTENER_PHONE[3:] not in body
        assert "Dupont" not in body


async def test_given_a_full_queue_then_saturation_and_the_incident_banner_show(
    browser: httpx.AsyncClient, world: Setup, config: RoutingConfig
) -> None:
    w = world[0]
    add_people(w.store)
    await sign_in(browser, "a.essonne")
    await w.runtime.set_listener_presence("91", LISTENER_PHONE, Presence.AVAILABLE)
    limit = config.departements["91"].line_115.queue.max_waiting_calls
    for n in range(limit):
        await w.runtime.live.enqueue("91", f"queued-{n}", 0, w.clock())
    w.banner[0] = "Incident SI SIAO : la recherche de personnes ne répond pas."

    state = (await browser.get("/supervision/etat.json")).json()

    assert state["perimetre"] == "Département 91 — Essonne"
    assert [r["code"] for r in state["departements"]] == ["91"]
    assert row(state, "91")["dissuasion"] == "Oui — saturation de la file"
    assert row(state, "91")["dissuasion_active"] is True
    assert state["total"]["dissuasion"] == "1 plateforme sur 1"
    assert state["incident"] == "Incident SI SIAO : la recherche de personnes ne répond pas."
    page = await browser.get("/supervision")
    assert 'class="alerte"' in page.text
    assert "la recherche de personnes ne répond pas" in shown(page)


async def test_given_a_departemental_admin_then_only_their_departements(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.essonne")

    page = await browser.get("/supervision")
    assert page.status_code == 200
    assert 'id="dep-91"' in page.text
    assert 'id="dep-75"' not in page.text
    other = await browser.get("/supervision?perimetre=dep:75")
    assert other.status_code == 400
    assert "Le département 75 n'est pas dans votre périmètre." in shown(other)
    national = await browser.get("/supervision/etat.json?perimetre=national")
    assert national.status_code == 400
    assert national.json() == {"detail": "Le périmètre national est réservé aux admins nationaux."}


async def test_given_a_listener_then_their_departement_only(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "c.dupont")

    state = (await browser.get("/supervision/etat.json")).json()
    assert [r["code"] for r in state["departements"]] == ["91"]
    assert (await browser.get("/supervision?perimetre=region:11")).status_code == 400
    assert (await browser.get("/supervision/etat.json?perimetre=dep:75")).status_code == 400


async def test_given_a_referent_or_support_then_403_and_signed_out_401(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    signed_out = await browser.get("/supervision")
    assert signed_out.status_code == 401
    assert (await browser.get("/supervision/etat.json")).json() == {"detail": "Connexion requise."}
    for login in ("r.leroy", "s.national"):
        await sign_in(browser, login)
        assert (await browser.get("/supervision")).status_code == 403
        refused = await browser.get("/supervision/etat.json")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "Accès refusé."}
        browser.cookies.clear()


async def test_given_a_garbage_scope_then_a_french_400_never_a_500(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    for value in ("dep:999", "region:xx", "n'importe quoi" * 50, "dep:", "\x00"):
        page = await browser.get("/supervision", params={"perimetre": value})
        assert page.status_code == 400, value
        assert "Périmètre inconnu" in shown(page)
        state = await browser.get("/supervision/etat.json", params={"perimetre": value})
        assert state.status_code == 400
        assert state.json()["detail"].startswith("Périmètre inconnu")


async def test_the_wallboard_script_is_served_locally(browser: httpx.AsyncClient) -> None:
    script = await browser.get("/static/supervision.js")
    assert script.status_code == 200
    assert "/supervision/etat.json" in script.text
    assert "innerHTML" not in script.text
