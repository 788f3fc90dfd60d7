"""What the browser review of the consoles found (issue #17): every page says who is
signed in and where to go; a wrong form gets its French message next to the field."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from ivr.flow.vocabulary import CallStarted, DialOutcome, DialResult
from ivr.records.models import AccountRole
from ivr.web import create_account
from ivr.web.formatting import typed_number
from tests.web.conftest import (
    CALLER,
    LINE_115_91,
    LISTENER_PHONE,
    PASSWORD,
    World,
    add_people,
    shown,
    sign_in,
)

Setup = tuple[World, FastAPI]


def text_of(page: str) -> str:
    """The page's words without the tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize(
    ("login", "path", "home"),
    [
        ("c.dupont", "/admin/journal", "/console"),
        ("a.essonne", "/admin/journal", "/admin"),
        ("r.leroy", "/console", "/referent"),
    ],
)
async def test_given_a_refused_page_then_it_says_who_and_links_their_home(
    browser: httpx.AsyncClient, world: Setup, login: str, path: str, home: str
) -> None:
    add_people(world[0].store)
    await sign_in(browser, login)
    response = await browser.get(path)
    assert response.status_code == 403
    main = shown(response).split('<main id="contenu">', 1)[1]
    assert f"Vous êtes connecté avec l'identifiant {login}" in text_of(main)
    assert re.search(rf'<a href="{re.escape(home)}" id="retour-accueil">[^<]+</a>', main)


async def test_given_an_error_page_then_it_links_the_persons_home(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.essonne")
    response = await browser.get("/admin/comptes/personne")
    assert response.status_code == 404
    main = shown(response).split('<main id="contenu">', 1)[1]
    assert "Vous êtes connecté avec l'identifiant a.essonne" in text_of(main)
    assert '<a href="/admin" id="retour-accueil">' in main


async def test_given_a_wrong_password_then_an_error_and_the_login_typed_is_kept(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    page = await browser.get("/connexion")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = await browser.post(
        "/connexion",
        data={"login": "c.dupont", "password": "pas le bon", "csrf": csrf.group(1)},
    )
    assert response.status_code == 401
    page_text = shown(response)
    assert re.search(
        r'<p class="errors" role="alert"[^>]*>Identifiant ou mot de passe incorrect\.</p>',
        page_text,
    )
    assert re.search(r'<input id="login" name="login" value="c.dupont"', page_text)
    assert "pas le bon" not in page_text
    signed_out = await browser.get("/console")
    assert re.search(r'<p class="info" role="alert"[^>]*>Connectez-vous', shown(signed_out))


async def test_given_a_referents_escalation_then_the_inbox_names_the_referent(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    create_account(
        w.store, "r.martin", PASSWORD, [(AccountRole.REFERENT, "91")], display_name="Rémi Martin"
    )
    w.store.escalate(reason_code="rgpd", by="r.martin", note="Effacement", departement="91")
    await sign_in(browser, "s.national")
    page = shown(await browser.get("/support"))
    assert '<td><span title="identifiant r.martin">Rémi Martin</span></td>' in page
    assert "<td>r.martin</td>" not in page
    (ticket,) = re.findall(r'<a href="/support/fiches/(\d+)">', page)
    detail = text_of(shown(await browser.get(f"/support/fiches/{ticket}")))
    assert "par Rémi Martin" in detail
    assert "par r.martin" not in detail


async def test_given_the_version_from_the_file_at_start_then_named_so_without_server_path(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    w.store.record_config_version(
        "version: 1\n", "0" * 64, "fichier", "/srv/ivr-115/config/departments.yaml"
    )
    await sign_in(browser, "a.national")
    page = shown(await browser.get("/admin/routage/versions"))
    row = re.search(r'<tr id="version-1">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = [text_of(c).strip() for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    assert cells[2:4] == ["fichier de démarrage", "departments.yaml"]
    assert "/srv/ivr-115" not in page


NEW_ACCOUNT = {
    "login": "m.bernard",
    "nom": "Marc Bernard",
    "telephone": "01 69 12 34 56",
    "dep_listener": "91",
    "mot_de_passe": "provisoire-123456",
    "changer": "1",
}


def error_next_to(page: str, name: str) -> str:
    """The error shown right after the field ``name``, which is marked invalid."""
    found = re.search(
        rf'<input id="{name}" name="{name}"[^>]*?aria-invalid="true" '
        rf'aria-describedby="erreur-{name}[ "][^>]*> '
        rf'<span class="errors" id="erreur-{name}">([^<]*)</span>',
        page,
    )
    assert found is not None, f"no error next to {name}"
    return found.group(1)


@pytest.mark.parametrize(
    ("extra", "name", "message"),
    [
        ({"telephone": ""}, "telephone", "Un écoutant a un numéro de poste (téléphone)."),
        ({"telephone": "12 34"}, "telephone", "« 12 34 » n'est pas un numéro de téléphone"),
        ({"login": "é à"}, "login", "L'identifiant est fait de lettres sans accent"),
        ({"login": "c.dupont"}, "login", "Le compte « c.dupont » existe déjà."),
        ({"dep_listener": "99"}, "dep_listener", "« 99 » n'est pas un code de département."),
        ({"mot_de_passe": "court"}, "mot_de_passe", "au moins 12 caractères"),
        ({"email": "pas-une-adresse"}, "email", "n'est pas une adresse électronique valide"),
    ],
)
async def test_given_a_wrong_new_account_then_the_error_is_next_to_its_field(
    browser: httpx.AsyncClient, world: Setup, extra: dict[str, str], name: str, message: str
) -> None:
    w = world[0]
    add_people(w.store)
    csrf = await sign_in(browser, "a.national")
    form = {**NEW_ACCOUNT, **extra}
    response = await browser.post("/admin/comptes", data={"csrf": csrf, **form})
    assert response.status_code == 422
    page = shown(response)
    assert message in error_next_to(page, name)
    summary = re.search(r'<div class="errors" role="alert" id="erreurs">(.*?)</div>', page, re.S)
    assert summary is not None  # above the form, each message links to its field
    assert re.search(rf'<a href="#{name}">[^<]*{re.escape(message)}', summary.group(1))
    for kept in ("login", "nom", "telephone", "email", "dep_listener"):
        if form.get(kept):
            assert re.search(rf'<input id="{kept}" name="{kept}"[^>]* value="{form[kept]}"', page)
    assert form["mot_de_passe"] not in page
    assert extra.get("login") == "c.dupont" or "m.bernard" not in text_of(
        shown(await browser.get("/admin/comptes")).split("<tbody>")[1].split("</tbody>")[0]
    )


async def test_given_two_wrong_fields_then_each_error_is_next_to_its_own_field(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "a.national")
    form = {**NEW_ACCOUNT, "login": "é à", "telephone": "12 34"}
    page = shown(await browser.post("/admin/comptes", data={"csrf": csrf, **form}))
    assert "lettres sans accent" in error_next_to(page, "login")
    assert "« 12 34 »" in error_next_to(page, "telephone")


async def test_given_a_wrong_phone_when_editing_an_account_then_next_to_it_and_nothing_saved(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "a.national")
    response = await browser.post(
        "/admin/comptes/c.dupont/roles",
        data={"csrf": csrf, "nom": "Claire Durand", "telephone": "12 34", "dep_listener": "91"},
    )
    assert response.status_code == 422
    page = shown(response)
    assert "« 12 34 »" in error_next_to(page, "telephone")
    assert re.search(r'<input id="nom" name="nom" value="Claire Durand"', page)
    detail = shown(await browser.get("/admin/comptes/c.dupont"))
    assert "<dt>Nom</dt><dd>Claire Dupont</dd>" in detail
    assert re.search(
        r'<input id="telephone" name="telephone" type="tel" value="02 61 91 09 10"', detail
    )


async def ring_the_listener(browser: httpx.AsyncClient, w: World) -> str:
    """Claire Dupont signed in, available on the 91; a 115 call of the 91 rings her phone.
    Her CSRF token."""
    add_people(w.store)
    csrf = await sign_in(browser, "c.dupont")
    await browser.post(
        "/console/disponibilite", data={"csrf": csrf, "dep": "91", "presence": "available"}
    )
    await w.runtime.start_call(CallStarted("call-1", LINE_115_91, CALLER), w.transport)
    await w.runtime.drain()
    return csrf


async def test_given_the_listeners_phone_ringing_then_sonnerie_then_en_communication(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    await ring_the_listener(browser, w)

    presence = re.compile(r'<strong id="presence">([^<]*)</strong>')
    page = shown(await browser.get("/console"))
    assert presence.findall(page) == ["sonnerie en cours"]
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert state["presence_label"] == "sonnerie en cours"

    await w.runtime.handle("call-1", DialResult(((LISTENER_PHONE, DialOutcome.ANSWERED),)))
    await w.runtime.drain()
    page = shown(await browser.get("/console"))
    assert presence.findall(page) == ["en communication"]
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert state["presence_label"] == "en communication"


async def test_given_a_call_then_the_number_fields_show_the_french_format_and_searches_e164(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await ring_the_listener(browser, w)
    page = shown(await browser.get("/console"))
    for field_id in ("telephone", "tel-personne", "numero-signale"):
        found = re.search(rf'<input id="{field_id}" name="\w+"[^>]* value="([^"]*)"', page)
        assert found is not None, field_id
        assert found.group(1) == "06 39 98 01 01", field_id
    assert CALLER not in page

    started = await browser.post(
        "/console/sisiao/recherche",
        data={"csrf": csrf, "dep": "91", "telephone": "06 39 98 01 01", "call_id": "call-1"},
        headers={"Accept": "application/json"},
    )
    url = started.json()["url"]
    for _ in range(50):
        if (await browser.get(url)).json()["state"] != "en_cours":
            break
    searched = [
        r.url.params.get("telephone") for r in w.sisiao.requests if "telephone" in r.url.params
    ]
    assert searched == [CALLER]  # SI SIAO searches E.164 numbers

    await browser.post(
        "/console/signalements",
        data={"csrf": csrf, "dep": "91", "numero": "06 39 98 01 01", "motif": "Appels répétés"},
    )
    assert "Numéro signalé : Appels répétés" in shown(await browser.get("/console"))


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06 39 98 01 01", "+33639980101"),
        ("+33 6 39 98 01 01", "+33639980101"),
        ("+33639980101", "+33639980101"),
        ("0033 6 39 98 01 01", "+33639980101"),
        ("06.39.98.01.01", "+33639980101"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_given_a_number_typed_either_way_then_read_in_e164(typed: str, e164: str) -> None:
    assert typed_number(typed) == e164


async def test_given_the_report_then_charts_have_visible_titles_and_equal_lines_both_show(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    from tests.web.test_reports import seed

    seed(world[0])  # in the week of 02/01/2025 in the 91: one call answered, one abandoned
    await sign_in(browser, "a.essonne")
    response = await browser.get(
        "/admin/rapport", params={"periode": "semaine", "date": "02/01/2025", "perimetre": "dep:91"}
    )
    assert response.status_code == 200
    page = shown(response)
    heading = re.search(r"<h1>([^<]*)</h1>", page)
    assert heading is not None
    assert heading.group(1).startswith("Rapport — Département 91 — Essonne, ")
    captions = re.findall(r'<figcaption id="(graphe-[a-z]+)-legende">([^<]*)</figcaption>', page)
    assert [c for c, _ in captions] == [
        "graphe-tendance",
        "graphe-taux",
        "graphe-motifs",
        "graphe-heures",
        "graphe-jours",
    ]
    titles = dict(captions)
    assert titles["graphe-tendance"].startswith("Appels reçus, répondus et abandonnés")
    assert titles["graphe-taux"].startswith("Taux de réponse (%)")

    trend = page.split('<figure class="chart-figure" id="graphe-tendance">')[1].split("</figure>")[
        0
    ]
    lines = re.findall(r"<polyline ([^>]*)/>", trend)
    assert len(lines) == 3
    points = [re.search(r'points="([^"]*)"', line).group(1) for line in lines]  # type: ignore[union-attr]
    assert points[1] == points[2]  # répondus = abandonnés every week…
    dashes = [re.search(r'stroke-dasharray="([^"]*)"', line) for line in lines]
    assert dashes[0] is None
    assert dashes[1] is not None
    assert dashes[2] is not None
    assert dashes[1].group(1) != dashes[2].group(1)  # …yet both lines show
    assert "<rect" in trend  # square markers…
    assert "<polygon" in trend  # …and triangles
