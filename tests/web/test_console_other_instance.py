"""The listener console shows the call ringing or connected to the listener's phone even when
another instance (runtime) holds it: it is found through the registry's listener index."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from ivr.flow import build_flow
from ivr.flow.vocabulary import CallerHungUp, CallStarted, DialOutcome, DialResult
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.queries import CallQueries
from ivr.runtime.runtime import CallRuntime
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

OTHER_LISTENER = "+33261910911"  # « Écoutant 2 — 115 Essonne »


async def test_given_a_call_held_by_another_instance_then_the_console_shows_it_ringing_then_on(
    browser: httpx.AsyncClient, world: tuple[World, FastAPI], config: RoutingConfig
) -> None:
    w = world[0]
    assert w.deps is not None
    shared = InMemoryLiveState()  # what Redis is to two instances
    here = CallRuntime(build_flow(config), shared, w.clock, registry=shared, instance_id="A")
    there = CallRuntime(build_flow(config), shared, w.clock, registry=shared, instance_id="B")
    w.deps.calls = CallQueries(here)  # the instance serving the console
    add_people(w.store)
    csrf = await sign_in(browser, "c.dupont")
    await browser.post(
        "/console/disponibilite", data={"csrf": csrf, "dep": "91", "presence": "available"}
    )

    await there.start_call(CallStarted("call-b", LINE_115_91, CALLER), w.transport)
    await there.drain()
    assert "call-b" not in here.calls
    assert "call-b" in there.calls

    page = shown(await browser.get("/console"))
    assert 'data-status="sonne">sonne</span> <span id="appel-depuis"' in page
    assert "06 39 98 01 01" in page
    assert "Essonne (91), trouvé par le numéro 115 composé (réseau)" in page
    assert ("c.dupont", "read", "call", "call-b") in w.audit()
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert (state["call_id"], state["call_status"]) == ("call-b", "sonne")

    await there.handle("call-b", DialResult(((LISTENER_PHONE, DialOutcome.ANSWERED),)))
    page = shown(await browser.get("/console"))
    assert 'data-status="en communication">en communication</span> <span id="appel-depuis"' in page
    assert "06 39 98 01 01" in page
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert (state["call_id"], state["call_status"]) == ("call-b", "en communication")

    await there.handle("call-b", CallerHungUp())
    await there.drain()
    await here.drain()
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert (state["call_id"], state["call_status"]) == (None, None)


async def test_given_a_call_ringing_another_listener_elsewhere_then_the_console_shows_none(
    browser: httpx.AsyncClient, world: tuple[World, FastAPI], config: RoutingConfig
) -> None:
    w = world[0]
    assert w.deps is not None
    shared = InMemoryLiveState()
    here = CallRuntime(build_flow(config), shared, w.clock, registry=shared, instance_id="A")
    there = CallRuntime(build_flow(config), shared, w.clock, registry=shared, instance_id="B")
    w.deps.calls = CallQueries(here)
    add_people(w.store)
    await sign_in(browser, "c.dupont")  # not available: the call goes to a colleague
    await shared.set_presence("91", OTHER_LISTENER, Presence.AVAILABLE, w.clock())

    await there.start_call(CallStarted("call-b", LINE_115_91, CALLER), w.transport)
    await there.drain()
    found = await shared.listener_call(OTHER_LISTENER)
    assert found is not None, "the colleague's phone rings"
    assert found.call_id == "call-b"
    state = (await browser.get("/console/etat.json?dep=91")).json()
    assert (state["call_id"], state["call_status"]) == (None, None)
    assert "06 39 98 01 01" not in shown(await browser.get("/console"))
