"""A workbook over a period when no caller chose a reason (or nobody called at all) is still
a workbook: the reasons sheet says so in French instead of a chart without series, which
XlsxWriter refuses (the fuzz suite found the 500)."""

from __future__ import annotations

import io
import zipfile

import httpx

from tests.web.conftest import add_people, sign_in
from tests.web.test_reports import Setup, sheets


async def test_given_no_reason_in_the_period_then_the_workbook_says_so(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    response = await browser.get("/admin/rapport.xlsx?periode=semaine&date=2025-01-01")
    assert response.status_code == 200
    assert list(sheets(response.content)) == [
        "Indicateurs",
        "Motifs",
        "Par heure",
        "Par jour",
        "Tendance",
    ]
    book = zipfile.ZipFile(io.BytesIO(response.content))
    assert "Aucun motif choisi sur la période." in book.read("xl/sharedStrings.xml").decode()
