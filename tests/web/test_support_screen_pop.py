"""National support's screen pop: an agent signs in, chooses their post and presence, and
the assistance call that overflows to them shows on their page with its context; the
outcome is recorded as a ticket from the support nomenclature."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from ivr.flow import build_flow
from ivr.flow.vocabulary import (
    CallerHungUp,
    CallStarted,
    DialOutcome,
    DialResult,
    DigitsReceived,
)
from ivr.records import tickets
from ivr.records.store import CallRecord
from ivr.runtime.live_state import InMemoryLiveState
from ivr.runtime.queries import CallQueries
from ivr.runtime.runtime import CallRuntime
from routing.config import RoutingConfig
from tests.web.conftest import CALLER, PASSWORD, World, add_people, shown, sign_in

Setup = tuple[World, FastAPI]
ASSISTANCE = "+33806000156"
POST_1 = "+33536490001"  # « Support national SI SIAO — poste 1 »
OPEN = 2 * 86400 + 11 * 3600  # from the test clock's Friday 23:00 to Monday 10:00 in Paris


async def overflow(w: World, call_id: str = "assist-1", reason: str = "1") -> None:
    """An assistance call for the 91 whose three referents do not answer: it rings national
    support's first post (the clock set within opening hours by ``agent``)."""
    await w.runtime.start_call(CallStarted(call_id, ASSISTANCE, CALLER), w.transport)
    await w.runtime.handle(call_id, DigitsReceived("91"))
    await w.runtime.handle(call_id, DigitsReceived(reason))
    for referent in ("+33199000910", "+33199000911"):
        await w.runtime.handle(call_id, DialResult(((referent, DialOutcome.NO_ANSWER),)))
    await w.runtime.handle(call_id, DialResult((("+33199000912", DialOutcome.BUSY),)))


def overflowed(call_id: str, departement: str, at: datetime) -> CallRecord:
    """An assistance call that reached tier 2, nobody answered, the urgent message played."""
    return CallRecord(
        call_id,
        "assistance",
        departement,
        CALLER,
        ASSISTANCE,
        at,
        at,
        outcome="message",
        tier_reached="tier2",
        reason="incident_technique",
    )


async def agent(browser: httpx.AsyncClient, w: World, post: str = POST_1) -> str:
    """The support agent signed in (on Monday 10:00) on ``post``, available."""
    w.clock.advance_now(OPEN)
    add_people(w.store)
    csrf = await sign_in(browser, "s.national")
    response = await browser.post(
        "/support/poste", data={"csrf": csrf, "poste": post, "presence": "available"}
    )
    assert response.status_code == 303
    assert "Vous êtes disponible sur le poste 05 36 49 00 01." in shown(
        await browser.get(response.headers["location"])
    )
    return csrf


async def test_given_an_overflowed_call_ringing_the_agent_then_the_page_shows_its_context(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    await agent(browser, w)
    earlier = w.clock() - timedelta(days=3)
    w.store.write([CallRecord("old-1", "assistance", "91", CALLER, ASSISTANCE, earlier, earlier)])
    before = (await browser.get("/support/etat.json")).json()
    assert before["call_id"] is None
    assert before["presence_label"] == "disponible"

    await overflow(w)
    state = (await browser.get("/support/etat.json")).json()
    assert state["call_id"] == "assist-1"
    assert state["call_status"] == "sonne"
    assert CALLER not in str(state)
    assert "06 39 98 01 01" not in str(state)

    fragment = shown(await browser.get("/support/appel"))
    assert 'data-call="assist-1"' in fragment
    assert '<strong id="appel-statut">sonne</strong>' in fragment
    assert "06 39 98 01 01" in fragment
    assert "91 — Essonne" in fragment
    assert "choisi par l'appelant au menu des départements (touches du téléphone)" in fragment
    assert "Accès et connexion — Problème de connexion (niveau 1)" in fragment
    rows = re.findall(
        r"<tr><td>(Référent SI [^<]+)</td><td>[^<]+</td><td>[^<]+</td><td>([^<]+)", fragment
    )
    assert rows == [
        ("Référent SI premier — Essonne", "pas de réponse"),
        ("Référent SI deuxième — Essonne", "pas de réponse"),
        ("Référent SI troisième — Essonne", "occupé"),
    ]
    assert 'id="appel-precedents"' in fragment  # the earlier call of the number
    # The motif proposed first is the one the routing file links to the menu's reason.
    assert '<option value="acces" selected>Accès et comptes</option>' in fragment
    assert ("s.national", "read", "call", "assist-1") in w.audit()

    page = shown(await browser.get("/support"))
    assert 'id="appel-support"' in page
    assert "06 39 98 01 01" in page
    assert '<script src="/static/depuis.js" defer></script>' in page  # counts « depuis » on
    assert '<script src="/static/support.js" defer></script>' in page


async def test_given_a_call_ringing_for_a_while_then_the_depuis_tag_carries_its_seconds(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    """The « depuis » tag says how long the call has been going, and gives support.js the
    same seconds (``data-depuis-secondes``) to count on from on the agent's page."""
    w = world[0]
    await agent(browser, w)
    await overflow(w)
    w.clock.advance_now(125)
    fragment = shown(await browser.get("/support/appel"))
    assert (
        '<span class="tag" id="appel-depuis" data-depuis-secondes="125">depuis 2 min 05 s</span>'
        in fragment
    )
    w.clock.advance_now(3600 + 120 - 125 + 7)  # 1 h 02 min 07 s after the call started
    page = shown(await browser.get("/support"))
    assert 'data-depuis-secondes="3727">depuis 1 h 02 min</span>' in page


async def test_given_the_agent_answers_then_connected_and_the_ticket_is_recorded_and_audited(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    await overflow(w)
    await w.runtime.handle("assist-1", DialResult(((POST_1, DialOutcome.ANSWERED),)))
    assert (await browser.get("/support/etat.json")).json()["call_status"] == "en communication"

    response = await browser.post(
        "/support/fiches",
        data={
            "csrf": csrf,
            "call_id": "assist-1",
            "dep": "91",
            "motif_menu": "connexion",
            "motif": "acces",
            "sous_motif": "mot_de_passe",
            "reponse_type": "reinitialisation",
            "note": "Compte bloqué après 5 essais.",
            "statut": "resolved",
        },
    )
    assert response.status_code == 303
    page = shown(await browser.get(response.headers["location"]))
    (ticket_id,) = re.findall(r"Fiche n° (\d+) enregistrée\.", page)
    assert f"Fiche n° {ticket_id} : résolu" in page
    assert "<dt>Traitée le</dt>" in page  # resolved: when it was dealt with
    found = tickets.ticket(w.store, int(ticket_id))
    assert found is not None
    assert (found.source, found.departement, found.menu_reason) == ("call", "91", "connexion")
    assert (found.motif, found.sub_motif, found.status) == ("acces", "mot_de_passe", "resolved")
    assert found.note == (
        "Compte bloqué après 5 essais.\nLe mot de passe a été réinitialisé ; l'utilisateur a "
        "reçu un courriel pour en choisir un nouveau."
    )
    assert ("s.national", "create", "ticket", ticket_id) in w.audit()
    assert ("s.national", "read", "ticket", ticket_id) in w.audit()

    response = await browser.post(
        f"/support/fiches/{ticket_id}",
        data={
            "csrf": csrf,
            "motif": "acces",
            "sous_motif": "mot_de_passe",
            "note": found.note,
            "statut": "in_progress",
        },
    )
    assert f"Fiche n° {ticket_id} : en cours." in shown(
        await browser.get(response.headers["location"])
    )
    assert ("s.national", "update", "ticket", ticket_id) in w.audit()


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        (
            {"motif": "inconnu"},
            "fiche-err-motif",
            "Choisissez un motif de la nomenclature du support.",
        ),
        (
            {"motif": "acces", "sous_motif": "rgpd"},
            "fiche-err-sous-motif",
            "Ce sous-motif n'appartient pas au motif « Accès et comptes ».",
        ),
        (
            {"motif": "acces", "statut": "closed"},
            "fiche-err-sous-motif",
            "Un ticket résolu ou clos doit avoir un motif et un sous-motif.",
        ),
        (
            {"motif": "acces", "reponse_type": "guide"},
            "fiche-err-reponse-type",
            "Cette réponse type n'appartient pas au motif choisi.",
        ),
        ({"statut": "perdu"}, "fiche-err-statut", "Choisissez un statut de la liste."),
        ({"note": "x" * 4001}, "fiche-err-note", "La note dépasse 4000 caractères (4001)."),
    ],
)
async def test_given_a_wrong_ticket_then_a_french_error_next_to_the_field_and_nothing_saved(
    browser: httpx.AsyncClient,
    world: Setup,
    fields: dict[str, str],
    field_id: str,
    message: str,
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    response = await browser.post(
        "/support/fiches", data={"csrf": csrf, "call_id": "assist-9", "dep": "91", **fields}
    )
    assert response.status_code == 422
    page = shown(response)
    assert f'<span class="errors" id="{field_id}">{message}</span>' in page
    assert "Fiche non enregistrée : corrigez les champs signalés." in page
    assert 'name="call_id" value="assist-9"' in page  # the form comes back, as typed
    assert tickets.tickets(w.store, tickets.TicketFilter()) == []


async def test_given_a_referent_escalation_and_an_unanswered_overflow_then_both_in_the_inbox(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    now = w.clock()
    w.store.escalate(reason_code="rgpd", by="r.leroy", note="Effacement", departement="91")
    w.store.write([overflowed("lost-1", "75", now)])
    csrf = await sign_in(browser, "s.national")
    page = shown(await browser.get("/support"))
    assert "escalade du palier 1" in page
    assert "Effacement" in page
    assert 'action="/support/debordements/lost-1"' in page
    assert ("s.national", "read", "overflow_callers", None) in w.audit()

    response = await browser.post("/support/debordements/lost-1", data={"csrf": csrf})
    detail = shown(await browser.get(response.headers["location"]))
    assert "appel débordé" in detail
    assert "Incidents et anomalies — Incident technique (niveau 2)" in detail
    page = shown(await browser.get("/support"))
    assert 'action="/support/debordements/lost-1"' not in page  # now a ticket
    assert "Aucun appel débordé sans fiche." in page

    only_75 = shown(await browser.get("/support?dep=75"))
    assert "appel débordé" in only_75
    assert "Effacement" not in only_75
    only_new_rgpd = shown(await browser.get("/support?statut=new&motif=donnees"))
    assert "Aucune fiche." in only_new_rgpd
    new = shown(await browser.get("/support?statut=new"))
    assert new.count('<tr id="fiche-') == 2


async def test_given_other_roles_then_support_pages_are_refused(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    w.store.escalate(reason_code="rgpd", by="r.leroy", departement="91")
    for login in ("c.dupont", "r.leroy", "a.essonne"):
        browser.cookies.clear()
        csrf = await sign_in(browser, login)
        for path in ("/support", "/support/appel", "/support/fiches/1"):
            assert (await browser.get(path)).status_code == 403, (login, path)
        assert (await browser.get("/support/etat.json")).status_code == 403
        for path in ("/support/fiches", "/support/fiches/1", "/support/poste"):
            response = await browser.post(path, data={"csrf": csrf, "statut": "closed"})
            assert response.status_code == 403, (login, path)
    browser.cookies.clear()
    assert (await browser.get("/support/etat.json")).status_code == 401


async def test_given_no_csrf_then_403_and_nothing_recorded(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    await agent(browser, w)
    response = await browser.post(
        "/support/fiches", data={"call_id": "x", "motif": "acces", "statut": "new"}
    )
    assert response.status_code == 403
    response = await browser.post("/support/poste", data={"poste": POST_1, "presence": "paused"})
    assert response.status_code == 403
    assert tickets.tickets(w.store, tickets.TicketFilter()) == []
    found = tickets.agent(w.store, "s.national")
    assert found is not None
    assert found.presence == "available"


async def test_given_another_number_then_checked_and_a_paused_agent_still_sees_their_post(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    response = await browser.post(
        "/support/poste",
        data={"csrf": csrf, "poste": "autre", "autre_poste": "06 12", "presence": "paused"},
    )
    assert "le numéro saisi n'est pas un numéro de téléphone valide" in shown(
        await browser.get(response.headers["location"])
    )
    response = await browser.post(
        "/support/poste",
        data={
            "csrf": csrf,
            "poste": "autre",
            "autre_poste": "05 36 49 00 02",
            "presence": "paused",
        },
    )
    page = shown(await browser.get(response.headers["location"]))
    assert "Vous êtes en pause sur le poste 05 36 49 00 02." in page
    assert '<strong id="presence-support">en pause</strong>' in page
    response = await browser.post(
        "/support/poste",
        data={
            "csrf": csrf,
            "poste": "autre",
            "autre_poste": "05 36 49 00 02",
            "presence": "offline",
        },
    )
    page = shown(await browser.get(response.headers["location"]))
    assert "Vous êtes déconnecté du poste 05 36 49 00 02." in page


async def test_given_a_screen_pop_then_no_caller_number_in_the_logs(
    browser: httpx.AsyncClient, world: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    w = world[0]
    caplog.set_level(logging.DEBUG)
    csrf = await agent(browser, w)
    await overflow(w)
    await browser.get("/support")
    await browser.get("/support/appel")
    await browser.post(
        "/support/fiches",
        data={"csrf": csrf, "call_id": "assist-1", "dep": "91", "motif": "acces", "note": "n"},
    )
    for record in caplog.records:
        text = record.getMessage()
        assert CALLER not in text
        assert "06 39 98 01 01" not in text
        assert "639980101" not in text


async def test_given_a_post_typed_at_sign_in_then_the_agent_is_available_on_it(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    page = await browser.get("/connexion")
    assert 'id="poste" name="poste"' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = await browser.post(
        "/connexion",
        data={
            "login": "s.national",
            "password": PASSWORD,
            "csrf": csrf.group(1),
            "poste": "05 36 49 00 02",
        },
    )
    home = shown(await browser.get(response.headers["location"]))
    assert "Vous êtes disponible sur le poste 05 36 49 00 02." in home
    assert '<strong id="poste-numero">05 36 49 00 02</strong>' in home
    found = tickets.agent(world[0].store, "s.national")
    assert found is not None
    assert (found.phone, found.presence) == ("+33536490002", "available")


async def test_given_the_call_held_by_another_instance_then_found_through_the_registry(
    browser: httpx.AsyncClient, world: Setup, config: RoutingConfig
) -> None:
    w = world[0]
    assert w.deps is not None
    shared = InMemoryLiveState()  # what Redis is to two instances
    here = CallRuntime(build_flow(config), shared, w.clock, registry=shared, instance_id="A")
    there = CallRuntime(build_flow(config), shared, w.clock, registry=shared, instance_id="B")
    w.deps.calls = CallQueries(here)
    await agent(browser, w)
    await overflow(World(w.store, there, w.outbox, w.sisiao, w.positions, w.clock, w.transport))
    assert "assist-1" not in here.calls

    state = (await browser.get("/support/etat.json")).json()
    assert (state["call_id"], state["call_status"]) == ("assist-1", "sonne")
    fragment = shown(await browser.get("/support/appel"))
    assert "Référent SI troisième — Essonne" in fragment
    assert "occupé" in fragment

    await there.handle("assist-1", DialResult(((POST_1, DialOutcome.ANSWERED),)))
    state = (await browser.get("/support/etat.json")).json()
    assert state["call_status"] == "en communication"
    await there.handle("assist-1", CallerHungUp())
    await there.drain()
    assert (await browser.get("/support/etat.json")).json()["call_id"] is None


async def test_given_earlier_calls_then_the_ticket_names_their_line_and_outcome_in_french(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    now = w.clock()
    earlier = now - timedelta(days=1)
    w.store.write(
        [
            CallRecord(
                "before-1",
                "assistance",
                "91",
                CALLER,
                ASSISTANCE,
                earlier,
                earlier,
                outcome="caller-hung-up",
            ),
            overflowed("lost-2", "91", now),
        ]
    )
    csrf = await sign_in(browser, "s.national")
    response = await browser.post("/support/debordements/lost-2", data={"csrf": csrf})
    detail = shown(await browser.get(response.headers["location"]))
    assert "<td>assistance SI SIAO</td>" in detail
    assert "<td>raccroché</td>" in detail
    assert "caller-hung-up" not in detail
