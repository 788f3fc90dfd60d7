"""The front door: every page says in French who is signed in and where they may go; dates
are typed and shown as JJ/MM/AAAA (ISO still read, for links and older bookmarks)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI

from ivr.records.periods import read_day
from ivr.web.formatting import day_text, typed_day
from ivr.web.routes.params import DayError, day
from tests.web.conftest import World, add_people, shown, sign_in

Setup = tuple[World, FastAPI]

NAVS = {
    "c.dupont": ["/console", "/supervision", "/mot-de-passe"],
    "r.leroy": ["/referent", "/mot-de-passe"],
    "s.national": ["/support", "/mot-de-passe"],
    "a.essonne": [
        "/supervision",
        "/admin",
        "/admin/routage",
        "/admin/rapport",
        "/admin/comptes",
        "/admin/enregistrements",
        "/mot-de-passe",
    ],
    "a.national": [
        "/support",
        "/supervision",
        "/admin",
        "/admin/routage",
        "/admin/rapport",
        "/admin/comptes",
        "/admin/enregistrements",
        "/admin/journal",
        "/mot-de-passe",
    ],
}
WHO = {
    "c.dupont": "Connecté : Claire Dupont (identifiant c.dupont) — rôle : écoutant (91)",
    "s.national": "Connecté : s.national (identifiant s.national) — rôle : support national",
    "a.essonne": "Connecté : a.essonne (identifiant a.essonne) — rôle : admin départemental (91)",
}


def nav_of(page: str) -> list[str]:
    found = re.search(r'<nav aria-label="Pages accessibles" id="nav">(.*?)</nav>', page, re.S)
    assert found is not None, "the page has the nav"
    return re.findall(r'<a href="([^"]+)"', found.group(1))


@pytest.mark.parametrize("login", sorted(NAVS))
async def test_given_each_role_then_every_page_says_who_and_links_only_their_pages(
    browser: httpx.AsyncClient, world: Setup, login: str
) -> None:
    add_people(world[0].store)
    await sign_in(browser, login)
    for path in NAVS[login]:
        response = await browser.get(path)
        assert response.status_code == 200, (login, path)
        page = shown(response)
        assert nav_of(page) == NAVS[login], path
        assert re.search(
            rf'<a href="{re.escape(path)}" id="nav-[a-z-]+" aria-current="page">', page
        )
        assert 'id="qui"' in page
        assert 'id="se-deconnecter"' in page
        if login in WHO:
            text = re.sub(r"<[^>]+>", "", page)
            assert WHO[login] in text, path
    forbidden = await browser.get("/admin/journal" if login != "a.national" else "/console")
    assert forbidden.status_code == 403
    assert nav_of(shown(forbidden)) == NAVS[login]  # the refusal page says where to go


async def test_given_a_report_date_typed_jj_mm_aaaa_then_read_and_shown_that_way(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    page = shown(await browser.get("/admin/rapport?periode=semaine&date=01/01/2025"))
    assert "Rapport — National, du 30/12/2024 au 05/01/2025" in page
    assert 'id="date" name="date" type="text"' in page
    assert 'placeholder="jj/mm/aaaa"' in page
    assert 'value="01/01/2025"' in page
    # An ISO date (the page's own links, older bookmarks) is still read, and shown JJ/MM/AAAA.
    iso = shown(await browser.get("/admin/rapport?periode=semaine&date=2025-01-01"))
    assert "du 30/12/2024 au 05/01/2025" in iso
    assert 'value="01/01/2025"' in iso
    plage = shown(await browser.get("/admin/rapport?periode=plage&debut=2/1/2025&fin=10/01/2025"))
    assert "du 02/01/2025 au 10/01/2025" in plage


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("31/02/2025", "« 31/02/2025 » n'est pas une date valide (JJ/MM/AAAA)."),
        ("01/13/2025", "« 01/13/2025 » n'est pas une date valide (JJ/MM/AAAA)."),
        ("1er janvier", "« 1er janvier » n'est pas une date valide (JJ/MM/AAAA)."),
        ("31/12/3000", "La date 31/12/3000 est hors des limites (2000 à 2999)."),
    ],
)
async def test_given_a_wrong_report_date_then_a_french_error_next_to_the_field(
    browser: httpx.AsyncClient, world: Setup, typed: str, said: str
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    response = await browser.get("/admin/rapport", params={"periode": "jour", "date": typed})
    assert response.status_code == 400
    page = shown(response)
    assert f'<span class="errors" id="erreur-date">{said}</span>' in page  # _fields.html's
    field = r'<input id="date" [^>]* aria-invalid="true" aria-describedby="erreur-date">'
    assert re.search(field, page)
    assert f'value="{typed}"' in shown(response)  # the field keeps what was typed


async def test_given_a_birth_date_typed_jj_mm_aaaa_then_the_request_is_created_else_refused(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "c.dupont")
    page = shown(await browser.get("/console"))
    assert 'id="date_naissance" name="date_naissance" type="text"' in page
    person = {"csrf": csrf, "dep": "91", "nom": "Martin", "prenom": "Léa"}
    wrong = await browser.post("/console/demandes", data={**person, "date_naissance": "1980-31-12"})
    assert "Date de naissance « 1980-31-12 » invalide : saisissez-la en JJ/MM/AAAA" in shown(
        await browser.get(wrong.headers["location"])
    )
    assert world[0].outbox.pending_count() == 0
    right = await browser.post("/console/demandes", data={**person, "date_naissance": "05/03/1980"})
    assert "Demande d'urgence enregistrée" in shown(await browser.get(right.headers["location"]))
    assert world[0].outbox.pending_count() == 1


def test_given_days_then_read_in_french_or_iso_and_shown_in_french() -> None:
    assert read_day("05/03/2026") == read_day("5/3/2026") == read_day("2026-03-05")
    assert day("05/03/2026") == date(2026, 3, 5)
    for bad in ("", "2026/03/05", "05-03-2026", "+002026-01-01", "32/01/2026", "05/03/26"):
        with pytest.raises(ValueError, match="not a day"):
            read_day(bad)
    with pytest.raises(DayError, match="La date 01/01/1999 est hors des limites"):
        day("01/01/1999")
    late = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)  # already the 5th in Paris
    assert day_text(late) == "05/03/2026"
    assert day_text(late, "America/Guadeloupe") == "04/03/2026"
    assert day_text(date(2026, 3, 5)) == "05/03/2026"
    assert day_text(None) == ""
    assert typed_day("2026-03-05") == "05/03/2026"
    assert typed_day("5/3/2026") == "5/3/2026"
    assert typed_day("2026-13-05") == "2026-13-05"
