"""« Rappeler maintenant »: the listener's phone rings, then the person's (0 800 112 112)."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from ivr.records.store import CallbackRequest
from ivr.web import queries
from tests.web.conftest import CALLER, LISTENER_PHONE, World, add_people, shown, sign_in

Setup = tuple[World, FastAPI]


async def pending_callback(browser: httpx.AsyncClient, world: Setup, dep: str = "91") -> str:
    """Signs the 91 listener in with one call-back pending in ``dep``; returns the CSRF."""
    w = world[0]
    add_people(w.store)
    csrf = await sign_in(browser, "c.dupont")
    w.store.write([CallbackRequest("call-9", dep, CALLER, w.clock())])
    return csrf


async def the_callback_id(browser: httpx.AsyncClient) -> str:
    page = await browser.get("/console")
    (found,) = re.findall(r'action="/console/rappels/(\d+)/appeler"', page.text)
    assert "Rappeler maintenant" in shown(page)
    return str(found)


async def test_given_pending_callback_when_listener_calls_back_then_their_phone_rings_first(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await pending_callback(browser, world)
    cb = await the_callback_id(browser)

    response = await browser.post(f"/console/rappels/{cb}/appeler", data={"csrf": csrf})

    assert response.status_code == 303
    assert world[0].callbacks.placed == [("91", LISTENER_PHONE, CALLER)]
    page = await browser.get(response.headers["location"])
    assert "Rappel lancé : votre téléphone va sonner" in shown(page)
    assert ("c.dupont", "place", "callback", cb) in world[0].audit()
    assert "Rappeler maintenant" in shown(page), "still pending until marked done"


async def test_given_telephony_refuses_then_the_listener_reads_why_in_french(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await pending_callback(browser, world)
    cb = await the_callback_id(browser)
    world[0].callbacks.fail_with = "votre poste n'a pas pu être appelé"

    response = await browser.post(f"/console/rappels/{cb}/appeler", data={"csrf": csrf})

    page = await browser.get(response.headers["location"])
    assert (
        "Le rappel n'a pas pu être lancé : votre poste n'a pas pu être appelé. "
        "Réessayez, ou composez le numéro depuis votre poste." in shown(page)
    )
    assert ("c.dupont", "fail", "callback", cb) in world[0].audit()


async def test_given_no_csrf_then_nothing_is_placed(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    await pending_callback(browser, world)
    cb = await the_callback_id(browser)
    response = await browser.post(f"/console/rappels/{cb}/appeler", data={})
    assert response.status_code == 403
    assert world[0].callbacks.placed == []


async def test_given_another_departements_callback_then_forbidden(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await pending_callback(browser, world, dep="75")
    pending, _ = queries.callbacks_of(world[0].store, "75")
    (row,) = pending
    response = await browser.post(f"/console/rappels/{row.id}/appeler", data={"csrf": csrf})
    assert response.status_code == 403
    assert world[0].callbacks.placed == []


async def test_given_callback_already_done_then_not_placed_again(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await pending_callback(browser, world)
    cb = await the_callback_id(browser)
    await browser.post(f"/console/rappels/{cb}", data={"csrf": csrf})  # marked done

    response = await browser.post(f"/console/rappels/{cb}/appeler", data={"csrf": csrf})

    page = await browser.get(response.headers["location"])
    assert "Ce rappel a déjà été traité." in shown(page)
    assert world[0].callbacks.placed == []


async def test_given_no_telephony_then_no_button_and_the_route_says_why(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    csrf = await pending_callback(browser, world)
    assert world[0].deps is not None
    world[0].deps.callbacks = None
    page = await browser.get("/console")
    assert "Rappeler maintenant" not in shown(page)
    assert "Marquer rappelé" in shown(page)
    (cb,) = re.findall(r'action="/console/rappels/(\d+)"', page.text)

    response = await browser.post(f"/console/rappels/{cb}/appeler", data={"csrf": csrf})

    page = await browser.get(response.headers["location"])
    assert "Aucune téléphonie n'est configurée pour lancer le rappel" in shown(page)
