"""Ids and dates out of range in the consoles' URLs: a French 4xx page, never a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from ivr.web.routes.params import MAX_ID, DayError, day
from tests.web.conftest import World, add_people, shown, sign_in

Setup = tuple[World, FastAPI]
HUGE = str(2**64 + 7)
TOO_BIG = str(MAX_ID + 1)


@pytest.mark.parametrize("value", [HUGE, TOO_BIG, "0", "-1", "abc", "1e3", "9" * 400])
async def test_given_a_recording_id_out_of_range_then_a_french_404_page(
    browser: httpx.AsyncClient, world: Setup, value: str
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    response = await browser.get(f"/admin/enregistrements/{value}/audio")
    assert response.status_code == 404
    assert "Page introuvable" in shown(response)
    assert "Cette adresse ne désigne rien" in shown(response)


async def test_given_the_largest_id_then_it_is_looked_up_and_not_found(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    response = await browser.get(f"/admin/enregistrements/{MAX_ID}/audio")
    assert response.status_code == 404
    assert f"Aucun enregistrement n° {MAX_ID}." in shown(response)


@pytest.mark.parametrize("value", [HUGE, TOO_BIG, "0"])
async def test_given_an_escalation_id_out_of_range_then_a_french_404(
    browser: httpx.AsyncClient, world: Setup, value: str
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "s.national")
    response = await browser.post(
        f"/support/escalades/{value}", data={"csrf": csrf, "statut": "closed"}
    )
    assert response.status_code == 404
    assert "Page introuvable" in shown(response)


@pytest.mark.parametrize("suffix", ["", "/appeler"])
async def test_given_a_callback_id_out_of_range_then_a_french_404(
    browser: httpx.AsyncClient, world: Setup, suffix: str
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "c.dupont")
    response = await browser.post(f"/console/rappels/{HUGE}{suffix}", data={"csrf": csrf})
    assert response.status_code == 404
    assert "Page introuvable" in shown(response)


async def test_given_an_id_out_of_range_before_sign_in_then_the_sign_in_page(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    response = await browser.get(f"/admin/enregistrements/{HUGE}/audio")
    assert response.status_code == 401
    assert "Connectez-vous pour accéder à cette page." in shown(response)


@pytest.mark.parametrize(
    ("semaine", "said"),
    [
        ("9999-12-31", "La date 9999-12-31 est hors des limites (2000 à 2999)."),
        ("0001-01-01", "La date 0001-01-01 est hors des limites (2000 à 2999)."),
        ("2024-13-01", "« 2024-13-01 » n'est pas une date valide (JJ/MM/AAAA)."),
        ("lundi", "« lundi » n'est pas une date valide (JJ/MM/AAAA)."),
    ],
)
@pytest.mark.parametrize("page", ["/admin/rapport", "/admin/rapport.csv"])
async def test_given_a_report_week_out_of_range_then_a_french_400(
    browser: httpx.AsyncClient, world: Setup, semaine: str, said: str, page: str
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    response = await browser.get(page, params={"semaine": semaine})
    # The report form's refusal: 400, the reason next to the date field (CSV: an error page).
    assert response.status_code == 400
    assert said in shown(response)


async def test_given_the_last_and_first_days_then_their_weeks_are_reported(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    for semaine in ("2999-12-16", "2000-01-03"):  # the last and first weeks within bounds
        response = await browser.get("/admin/rapport.csv", params={"semaine": semaine})
        assert response.status_code == 200, (semaine, response.text[-600:])


def test_given_dates_then_day_reads_them_within_bounds() -> None:
    assert day("2026-03-02").isoformat() == "2026-03-02"
    for bad in ("", "2026-02-30", "+002026-01-01", "10000-01-01", "1999-12-31"):
        with pytest.raises(DayError):
            day(bad)
