"""The listener console: availability, queue, the call with its context, SI SIAO, call-backs."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI

from geoloc.aml import AmlReport
from geoloc.model import Position
from ivr.flow.vocabulary import CallStarted
from ivr.records.store import CallbackRequest, CallRecord
from ivr.runtime.live_state import Presence
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


async def listener(browser: httpx.AsyncClient, world: Setup) -> str:
    add_people(world[0].store)
    return await sign_in(browser, "c.dupont")


async def ring(world: World, call_id: str = "call-1", caller: str = CALLER) -> None:
    await world.runtime.start_call(CallStarted(call_id, LINE_115_91, caller), world.transport)
    await world.runtime.drain()


async def test_given_a_listener_when_they_make_themselves_available_then_the_console_says_so(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    page = await browser.get("/console")
    assert "Console écoutant — 115 Essonne (91)" in shown(page)
    assert '<strong id="presence">déconnecté</strong>' in shown(page)

    response = await browser.post(
        "/console/disponibilite", data={"csrf": csrf, "dep": "91", "presence": "available"}
    )
    assert response.status_code == 303
    page = await browser.get(response.headers["location"])
    assert "Vous êtes disponible." in shown(page)
    assert '<strong id="presence">disponible</strong>' in shown(page)
    states = await world[0].runtime.live.listeners("91")
    assert [(s.number, s.presence) for s in states] == [(LISTENER_PHONE, Presence.AVAILABLE)]


async def test_given_a_form_without_csrf_when_posted_then_403_and_nothing_changes(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    await listener(browser, world)
    response = await browser.post(
        "/console/disponibilite", data={"dep": "91", "presence": "available"}
    )
    assert response.status_code == 403
    assert await world[0].runtime.live.listeners("91") == []


async def test_given_a_listener_of_91_when_opening_the_console_of_75_then_403(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    await listener(browser, world)
    response = await browser.get("/console?dep=75")
    assert response.status_code == 403
    assert "Vous n'êtes pas écoutant du département 75." in shown(response)


async def test_given_a_paused_listener_when_a_call_waits_then_the_queue_shows_its_wait(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    await browser.post(
        "/console/disponibilite", data={"csrf": csrf, "dep": "91", "presence": "paused"}
    )
    await ring(world[0])
    world[0].clock.advance_now(75)

    page = await browser.get("/console")
    assert "1 appel en attente" in shown(page)
    assert "1 min 15 s" in shown(page)
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert state["queue"] == [{"position": 1, "wait_s": 75.0, "wait": "1 min 15 s"}]
    assert CALLER not in str(state)  # the polled state carries no personal data


async def test_given_a_call_ringing_for_the_listener_then_its_context_is_shown_and_audited(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await listener(browser, world)
    earlier = w.clock() - timedelta(days=2)
    w.store.write(
        [
            CallRecord(
                call_id="old-1",
                line="115",
                departement="91",
                caller=CALLER,
                called=LINE_115_91,
                arrived_at=earlier,
                ended_at=earlier + timedelta(minutes=3),
                outcome="caller-hung-up",
            )
        ]
    )
    w.store.flag_number(CALLER, "Appels répétés la nuit", "r.autre", "91")
    w.positions.attach(
        CALLER,
        AmlReport(Position(48.6298, 2.4417, 25.0), w.clock() - timedelta(minutes=2), "G"),
    )
    await browser.post(
        "/console/disponibilite", data={"csrf": csrf, "dep": "91", "presence": "available"}
    )
    await ring(w)

    page = await browser.get("/console")
    assert '<span id="etat-appel" data-status="sonne">sonne</span> <span id="appel-depuis"' in (
        shown(page)
    )
    assert "06 39 98 01 01" in shown(page)
    assert "Essonne (91), trouvé par le numéro 115 composé (réseau)" in shown(page)
    assert "précision 25 m, mesurée il y a 2 min 00 s" in shown(page)
    assert "Numéro signalé : Appels répétés la nuit" in shown(page)
    assert "raccroché" in shown(page)  # the earlier call
    assert ("c.dupont", "read", "call", "call-1") in w.audit()
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert (state["call_id"], state["call_status"]) == ("call-1", "sonne")


async def test_given_a_call_ringing_for_a_while_then_the_depuis_tag_carries_its_seconds(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    """The call's « depuis » tag says how long it has been going and gives depuis.js the
    same seconds (``data-depuis-secondes``) to count on from while the console stays open."""
    w = world[0]
    csrf = await listener(browser, world)
    await browser.post(
        "/console/disponibilite", data={"csrf": csrf, "dep": "91", "presence": "available"}
    )
    await ring(w)
    w.clock.advance_now(125)
    page = shown(await browser.get("/console"))
    assert (
        '<span id="etat-appel" data-status="sonne">sonne</span> '
        '<span id="appel-depuis" data-depuis-secondes="125">depuis 2 min 05 s</span>'
    ) in page
    # The shared counter is loaded before the console's own script, both from /static.
    assert (
        '<script src="/static/depuis.js" defer></script>\n'
        '<script src="/static/console.js" defer></script>'
    ) in page
    w.clock.advance_now(3600 + 120 - 125 + 7)  # 1 h 02 min 07 s after the call started
    page = shown(await browser.get("/console"))
    assert 'data-depuis-secondes="3727">depuis 1 h 02 min</span>' in page


async def test_given_a_known_number_when_searched_then_pending_then_the_household_audited(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    started = await browser.post(
        "/console/sisiao/recherche",
        data={"csrf": csrf, "dep": "91", "telephone": "06 39 98 01 01", "call_id": "call-1"},
        headers={"Accept": "application/json"},
    )
    assert started.status_code == 200
    url = started.json()["url"]
    body = (await browser.get(url)).json()
    for _ in range(50):
        if body["state"] != "en_cours":
            break
        body = (await browser.get(url)).json()
    assert body["message"] == "1 ménage trouvé dans SI SIAO"
    assert body["menages"][0]["composition"] == "Femme seule avec enfant(s)"
    assert ("c.dupont", "read", "sisiao_household", "call-1") in world[0].audit()
    assert ("c.dupont", "read", "sisiao_household_search", "call-1") in world[0].audit()


async def test_given_sisiao_down_when_searched_then_sisiao_indisponible(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    world[0].sisiao.mode = "503"
    started = await browser.post(
        "/console/sisiao/recherche",
        data={"csrf": csrf, "dep": "91", "telephone": "06 39 98 01 01"},
        headers={"Accept": "application/json"},
    )
    url = started.json()["url"]
    body = (await browser.get(url)).json()
    for _ in range(200):
        if body["state"] != "en_cours":
            break
        body = (await browser.get(url)).json()
    assert (body["state"], body["message"]) == ("indisponible", "SI SIAO indisponible")


async def test_given_another_listener_when_reading_my_lookup_then_404(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    started = await browser.post(
        "/console/sisiao/recherche",
        data={"csrf": csrf, "dep": "91", "telephone": "06 39 98 01 01"},
        headers={"Accept": "application/json"},
    )
    url = started.json()["url"]
    from ivr.records.models import AccountRole
    from ivr.web import create_account

    create_account(
        world[0].store,
        "b.autre",
        "correct horse battery",
        [(AccountRole.LISTENER, "91")],
        phone="+33261910911",
    )
    transport = httpx.ASGITransport(app=world[1])
    async with httpx.AsyncClient(transport=transport, base_url="https://consoles.test") as other:
        await sign_in(other, "b.autre")
        assert (await other.get(url)).status_code == 404


async def test_given_an_emergency_request_when_created_then_waiting_then_the_sisiao_number(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    response = await browser.post(
        "/console/demandes",
        data={"csrf": csrf, "dep": "91", "menage_id": "2780000001", "observations": "Nuit"},
    )
    page = await browser.get(response.headers["location"])
    assert "Demande d'urgence enregistrée : en attente d'envoi à SI SIAO." in shown(page)
    assert "ménage 2780000001</td>\n  <td>en attente d'envoi" in shown(page)

    await world[0].outbox.drain_once()

    page = await browser.get("/console")
    assert re.search(r"envoyée \(n° SI SIAO \d+\)", shown(page))


async def test_given_a_rejected_request_then_the_console_shows_the_reason(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    await browser.post(
        "/console/demandes", data={"csrf": csrf, "dep": "91", "menage_id": "2789999999"}
    )
    await world[0].outbox.drain_once()
    page = await browser.get("/console")
    assert "rejetée : " in shown(page)
    assert "2789999999" in shown(page)


async def test_given_a_request_with_neither_household_nor_name_then_it_is_refused_in_french(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    response = await browser.post("/console/demandes", data={"csrf": csrf, "dep": "91"})
    page = await browser.get(response.headers["location"])
    assert "Demande incomplète" in shown(page)
    assert world[0].outbox.pending_count() == 0


async def test_given_a_callback_when_marked_done_then_rappele_by_whom(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await listener(browser, world)
    w.store.write([CallbackRequest("call-9", "91", CALLER, w.clock())])
    page = await browser.get("/console")
    assert "À rappeler" in shown(page)
    assert "06 39 98 01 01" in shown(page)
    (callback_id,) = re.findall(r'action="/console/rappels/(\d+)"', page.text)
    assert ("c.dupont", "read", "callback_list", "91") in w.audit()

    response = await browser.post(f"/console/rappels/{callback_id}", data={"csrf": csrf})
    page = await browser.get(response.headers["location"])
    assert "Aucun rappel en attente." in shown(page)
    assert "<td>rappelé</td><td>c.dupont</td>" in shown(page)


async def test_given_a_number_when_flagged_then_the_records_know_it(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await listener(browser, world)
    response = await browser.post(
        "/console/signalements",
        data={"csrf": csrf, "dep": "91", "numero": CALLER, "motif": "Propos injurieux"},
    )
    page = await browser.get(response.headers["location"])
    assert "Numéro signalé." in shown(page)
    assert world[0].store.is_flagged(CALLER)


async def test_given_an_open_sisiao_incident_then_every_console_page_shows_the_banner(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    await listener(browser, world)
    world[0].banner[0] = "Incident SI SIAO en cours depuis le 10/01/2025 à 23 h 00"
    page = await browser.get("/console")
    assert 'role="alert" id="bandeau-sisiao">Incident SI SIAO en cours' in shown(page)


async def test_given_the_static_files_then_css_and_js_are_served_locally(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    assert (await browser.get("/static/console.css")).status_code == 200
    assert (await browser.get("/static/console.js")).status_code == 200
