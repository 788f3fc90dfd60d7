"""The report pages and exports: period and scope in the page, French 400s, the Excel
workbook read back as a zip of XML, and no personal data in any of them."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta
from xml.etree import ElementTree

import httpx

from ivr.records.store import CallbackRequest, CallRecord
from tests.web.conftest import CALLER, LINE_115_91, World, add_people, shown, sign_in

Setup = tuple[World, object]
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def seed(world: World) -> None:
    add_people(world.store)
    at = datetime.fromisoformat("2025-01-02T21:00:00+00:00")
    end = at + timedelta(minutes=5)
    world.store.write(
        [
            CallRecord(
                "a",
                "115",
                "91",
                CALLER,
                LINE_115_91,
                at,
                end,
                answered_at=at + timedelta(seconds=40),
                outcome="connected",
            ),
            CallRecord(
                "b",
                "115",
                "91",
                CALLER,
                LINE_115_91,
                at + timedelta(hours=1),
                end + timedelta(hours=1),
                outcome="caller-hung-up",
            ),
            CallRecord(
                "d", "115", "75", "+33612000075", "+33353017510", at, end, outcome="message"
            ),
            CallRecord(
                "e",
                "assistance",
                "75",
                "+33612000076",
                "+33806000156",
                at,
                end,
                answered_at=at + timedelta(seconds=10),
                outcome="connected",
                reason="rgpd",
            ),
            CallbackRequest("b", "91", CALLER, at + timedelta(hours=1)),
        ]
    )


async def test_given_a_national_admin_then_every_departement_and_the_consolidation_show(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    seed(world[0])
    await sign_in(browser, "a.national")
    page = shown(await browser.get("/admin/rapport?periode=semaine&date=2025-01-01"))
    assert "Rapport — National, du 30/12/2024 au 05/01/2025" in page
    assert "91 — Essonne" in page
    assert "75 — Paris" in page
    assert re.search(r"Total National</th><td>toutes lignes</td><td>4</td><td>2</td><td>50 %", page)
    assert "Données personnelles — Données personnelles et RGPD" in page
    region = shown(
        await browser.get("/admin/rapport?periode=mois&date=2025-01-15&perimetre=region:11")
    )
    assert "Région Île-de-France, janvier 2025" in region
    assert "12 derniers mois" in region


async def test_given_a_bad_period_or_scope_then_a_french_400_names_the_field(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    seed(world[0])
    await sign_in(browser, "a.essonne")
    bad = await browser.get("/admin/rapport?periode=semaine&date=2025-13-45")
    assert bad.status_code == 400
    assert 'id="erreur-date"' in bad.text
    assert "n'est pas une date valide" in shown(bad)
    other = await browser.get("/admin/rapport?perimetre=dep:75")
    assert other.status_code == 400
    assert "Le département 75 n'est pas dans votre périmètre." in shown(other)
    national = await browser.get("/admin/rapport?perimetre=national")
    assert national.status_code == 400
    backwards = await browser.get("/admin/rapport?periode=plage&debut=2025-01-10&fin=2025-01-01")
    assert backwards.status_code == 400
    assert "précède son début" in shown(backwards)
    for path in ("/admin/rapport.xlsx?periode=xyz", "/admin/rapport.csv?perimetre=region:99"):
        refused = await browser.get(path)
        assert refused.status_code == 400
        assert "Rapport impossible" in shown(refused)


async def test_given_a_bad_date_then_the_error_is_next_to_its_field_and_in_the_summary(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    """The report form's errors come from the shared macros of _fields.html, as on the
    accounts form and the routing edit: the field marked invalid and described by its
    message, next to it, and a summary above the form whose link leads to the field."""
    seed(world[0])
    await sign_in(browser, "a.essonne")
    bad = await browser.get("/admin/rapport?periode=jour&date=32/01/2025")
    assert bad.status_code == 400
    page = shown(bad)
    said = "« 32/01/2025 » n'est pas une date valide (JJ/MM/AAAA)."
    field = re.search(r'<input id="date" [^>]*>', page)
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="erreur-date"' in field.group(0)
    assert 'value="32/01/2025"' in field.group(0)  # what was typed stays
    assert f'{field.group(0)} <span class="errors" id="erreur-date">{said}</span>' in page
    summary = re.search(r'<div class="errors" role="alert" id="erreurs">(.*?)</div>', page, re.S)
    assert summary is not None
    assert "Le rapport n'a pas pu être établi : corrigez le champ signalé." in summary.group(1)
    assert f'<li><a href="#date">{said}</a></li>' in summary.group(1)
    # The other fields are neither marked nor described.
    assert page.count('aria-invalid="true"') == 1
    assert 'id="err-' not in page

    backwards = shown(
        await browser.get("/admin/rapport?periode=plage&debut=10/01/2025&fin=01/01/2025")
    )
    fin = re.search(r'<input id="fin" [^>]*>', backwards)
    assert fin is not None
    assert 'aria-describedby="erreur-fin"' in fin.group(0)
    assert '<a href="#fin">La fin de la période précède son début.</a>' in backwards

    good = await browser.get("/admin/rapport?periode=jour&date=02/01/2025")
    assert good.status_code == 200
    assert 'id="erreurs"' not in good.text
    assert "aria-invalid" not in good.text


def sheets(content: bytes) -> dict[str, ElementTree.Element]:
    book = zipfile.ZipFile(io.BytesIO(content))
    names = ElementTree.fromstring(book.read("xl/workbook.xml"))
    found = {}
    for i, sheet in enumerate(names.iterfind("m:sheets/m:sheet", NS), start=1):
        found[sheet.attrib["name"]] = ElementTree.fromstring(
            book.read(f"xl/worksheets/sheet{i}.xml")
        )
    return found


async def test_the_xlsx_has_its_sheets_french_headers_charts_dates_and_percentages(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    seed(world[0])
    await sign_in(browser, "a.national")
    response = await browser.get("/admin/rapport.xlsx?periode=semaine&date=2025-01-01")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    book = zipfile.ZipFile(io.BytesIO(response.content))
    files = book.namelist()
    assert list(sheets(response.content)) == [
        "Indicateurs",
        "Motifs",
        "Par heure",
        "Par jour",
        "Tendance",
    ]
    assert len([f for f in files if re.fullmatch(r"xl/charts/chart\d+\.xml", f)]) == 5
    shared = book.read("xl/sharedStrings.xml").decode()
    for header in (
        "Appels reçus",
        "Taux de réponse",
        "Attente médiane (s)",
        "Période du",
        "Abandons en file d'attente",
        "Heure",
    ):
        assert header in shared
    styles = book.read("xl/styles.xml").decode()
    assert 'formatCode="dd/mm/yyyy"' in styles
    assert 'formatCode="0%"' in styles
    everything = "".join(book.read(f).decode("utf-8", "replace") for f in files)
    for number in (CALLER, CALLER[3:], "+33612000075", "612000076"):
        assert number not in everything
    assert "Sophie" not in everything
    assert "MARTIN" not in everything


async def test_no_phone_number_leaves_through_the_page_or_the_csv(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    seed(world[0])
    await sign_in(browser, "a.national")
    for path in ("/admin/rapport?date=2025-01-01", "/admin/rapport.csv?date=2025-01-01"):
        text = shown(await browser.get(path))
        digits = re.sub(r"\D", "", text)
        for number in (CALLER, "+33612000075", "+33612000076"):
            assert number not in text
            assert number[3:] not in digits, path
