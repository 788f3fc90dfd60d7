"""Referents escalate, national support works the escalations, admins check the routing
file, read the audit log and download the weekly report."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI

from ivr.records.store import CallbackRequest, CallRecord
from tests.web.conftest import CALLER, LINE_115_91, REPO, World, add_people, shown, sign_in

Setup = tuple[World, FastAPI]


async def test_given_a_referent_escalation_then_support_sees_it_and_changes_its_status(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    now = w.clock()
    w.store.write([CallRecord("assist-1", "assistance", "91", CALLER, "+33806000156", now, now)])
    csrf = await sign_in(browser, "r.leroy")
    response = await browser.post(
        "/referent/escalades",
        data={
            "csrf": csrf,
            "dep": "91",
            "motif": "rgpd",
            "call_id": "assist-1",
            "note": "Demande d'effacement : hors de mes droits",
        },
    )
    assert "Escalade transmise au support national." in shown(
        await browser.get(response.headers["location"])
    )
    assert (await browser.get("/support")).status_code == 403

    browser.cookies.clear()
    csrf = await sign_in(browser, "s.national")
    page = shown(await browser.get("/support"))
    assert "Demande d'effacement : hors de mes droits" in page
    assert "06 39 98 01 01" in page
    assert "<td>nouveau</td>" in page  # the escalation is a ticket of the inbox
    assert ("s.national", "read", "ticket_callers", None) in w.audit()
    (ticket,) = re.findall(r'<a href="/support/fiches/(\d+)">', page)

    response = await browser.post(
        f"/support/fiches/{ticket}",
        data={"csrf": csrf, "motif": "donnees", "sous_motif": "rgpd", "statut": "closed"},
    )
    page = shown(await browser.get(response.headers["location"]))
    assert f"Fiche n° {ticket} : clos." in page
    assert ("s.national", "update", "ticket", ticket) in w.audit()
    browser.cookies.clear()
    await sign_in(browser, "r.leroy")
    assert "<td>clôturée</td>" in shown(await browser.get("/referent"))  # the referent sees it


async def test_given_a_broken_routing_file_then_every_error_as_ivr_config_check_words_it(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "a.national")
    text = (REPO / "config" / "departments.yaml").read_text(encoding="utf-8")
    broken = text.replace('inbound_numbers: ["03 53 01 09 10"]', 'inbound_numbers: ["123"]', 1)
    response = await browser.post(
        "/admin/configuration",
        data={"csrf": csrf, "texte": ""},
        files={"fichier": ("departments.yaml", broken.encode("utf-8"), "application/yaml")},
    )
    assert response.status_code == 422
    page = shown(response)
    assert "departments.yaml : 1 erreur" in page
    expected = (
        r"departments\.yaml:\d+: departements\.91\.115\.inbound_numbers\[0\] : "
        r"« 123 » n'est pas un numéro de téléphone valide"
    )
    assert re.search(expected, page)
    assert world[0].accepted == []


async def test_given_a_valid_routing_file_then_a_new_version_is_recorded_and_the_hook_called(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "a.national")
    text = (REPO / "config" / "departments.yaml").read_text(encoding="utf-8")
    response = await browser.post(
        "/admin/configuration", data={"csrf": csrf, "texte": text, "commentaire": "Essai"}
    )
    page = shown(await browser.get(response.headers["location"]))
    assert "Configuration valide : version n° 1 enregistrée." in page
    assert "<td>a.national</td>" in page
    assert world[0].accepted == [text]
    journal = shown(await browser.get("/admin/journal"))
    assert "config_version" in journal


async def test_given_a_departemental_admin_then_reports_yes_but_no_configuration_nor_journal(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "a.essonne")
    assert (await browser.get("/admin/journal")).status_code == 403
    response = await browser.post("/admin/configuration", data={"csrf": csrf, "texte": "x"})
    assert response.status_code == 403


async def test_given_last_weeks_calls_then_the_report_counts_them_and_the_csv_opens_in_excel(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    # The clock is Friday 10/01/2025; last week is Monday 30/12/2024 to Sunday 05/01/2025.
    at = datetime.fromisoformat("2025-01-02T21:00:00+00:00")
    end = at + timedelta(minutes=5)
    w.store.write(
        [
            CallRecord(
                "a", "115", "91", CALLER, LINE_115_91, at, end, answered_at=at, outcome="connected"
            ),
            CallRecord(
                "b",
                "115",
                "91",
                CALLER,
                LINE_115_91,
                at,
                end,
                outcome="caller-hung-up",
                deterrence="saturation",
            ),
            CallRecord(
                "c",
                "115",
                "91",
                None,
                LINE_115_91,
                at,
                end,
                outcome="callback",
                callback_registered=True,
                lro_used=True,
            ),
            CallRecord("d", "115", "75", None, "+33353017510", at, end, outcome="message"),
        ]
    )
    w.store.write([CallbackRequest("c", "91", CALLER, at)])
    await sign_in(browser, "a.essonne")
    page = shown(await browser.get("/admin/rapport"))
    assert "Rapport — Département 91 — Essonne, du 30/12/2024 au 05/01/2025" in page
    # received, answered, rate, abandoned (menu, queue, ringing), deterred, LRO, call-backs
    assert (
        '<th scope="row">91 — Essonne</th><td>115</td><td>3</td><td>1</td><td>33 %</td>'
        "<td>1</td><td>0</td><td>0</td><td>0</td><td>1</td><td>1</td><td>1</td>" in page
    )
    assert "75 — Paris" not in page  # a départemental admin sees their département only
    assert "<svg" in page
    assert '<title id="graphe-tendance-t">' in page

    csv = await browser.get("/admin/rapport.csv?semaine=2024-12-30")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.content.startswith(b"\xef\xbb\xbf")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Du;Au;Périmètre;Département;Ligne;Appels reçus;Appels répondus;")
    assert lines[1].startswith(
        "30/12/2024;05/01/2025;Département 91 — Essonne;91 — Essonne;115;3;1;33 %;1;"
    )
    assert CALLER not in csv.text
    assert CALLER[-9:] not in csv.text
