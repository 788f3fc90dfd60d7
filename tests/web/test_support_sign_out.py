"""A national support agent who signs out is « déconnecté »: their post is no longer rung by
tier 2 (the row, audited, and the live state every instance's hunt reads). Signing out
other roles changes no presence, and a live state that fails does not stop the sign-out."""

from __future__ import annotations

import logging

import httpx
import pytest

from ivr.records import tickets
from ivr.runtime.live_state import Presence
from tests.web.conftest import World, add_people, shown, sign_in
from tests.web.test_support_presence import POST_2, overflow, rung, set_post
from tests.web.test_support_screen_pop import POST_1, Setup, agent


async def sign_out(browser: httpx.AsyncClient, csrf: str) -> httpx.Response:
    response = await browser.post("/deconnexion", data={"csrf": csrf})
    assert response.status_code == 200
    assert "Vous êtes déconnecté." in shown(response)
    return response


def presence_audit(w: World, login: str) -> list[dict[str, object]]:
    """The ``presence`` audit entries of an agent, oldest first."""
    return [
        dict(e.detail or {})
        for e in reversed(w.store.audit_entries())
        if e.action == "presence" and e.object_id == login
    ]


async def test_given_an_available_agent_signs_out_then_their_post_is_skipped_and_kept_offline(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    assert rung(await overflow(w, "assist-1")) == [POST_1]

    await sign_out(browser, csrf)

    assert rung(await overflow(w, "assist-2")) == [POST_2]
    row = tickets.agent(w.store, "s.national")
    assert row is not None
    assert (row.phone, row.presence) == (POST_1, "offline")  # the post stays on the row
    assert presence_audit(w, "s.national")[-1] == {"presence": "offline", "poste": True}
    assert [(a.login, a.phone, a.presence) for a in await w.runtime.live.support_agents()] == [
        ("s.national", POST_1, Presence.OFFLINE)
    ]
    # Back on the page, available again: rung again.
    csrf = await sign_in(browser, "s.national")
    await set_post(browser, csrf, POST_1, "available")
    assert rung(await overflow(w, "assist-3")) == [POST_1]


async def test_given_an_agent_already_offline_signs_out_then_no_second_audit_entry(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    await set_post(browser, csrf, POST_1, "offline")
    before = presence_audit(w, "s.national")

    await sign_out(browser, csrf)

    assert presence_audit(w, "s.national") == before
    assert rung(await overflow(w)) == [POST_2]


@pytest.mark.parametrize("login", ["c.dupont", "a.national", "r.leroy"])
async def test_given_a_person_never_on_a_post_signs_out_then_no_presence_is_written(
    browser: httpx.AsyncClient, world: Setup, login: str
) -> None:
    w = world[0]
    add_people(w.store)
    csrf = await sign_in(browser, login)

    await sign_out(browser, csrf)

    assert tickets.agent(w.store, login) is None
    assert presence_audit(w, login) == []
    assert await w.runtime.live.support_agents() == []
    assert ("logout", "session") in [(a, k) for _, a, k, _ in w.audit()]
    assert (await browser.get("/console")).status_code == 401


async def test_given_the_live_state_fails_when_an_agent_signs_out_then_sign_out_succeeds_and_logs(
    browser: httpx.AsyncClient,
    world: Setup,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = world[0]
    csrf = await agent(browser, w)

    async def down(*_: object) -> None:
        raise ConnectionError("live state unreachable")

    monkeypatch.setattr(w.runtime.live, "set_support_agent", down)
    with caplog.at_level(logging.ERROR, logger="ivr.web.routes.sign_in"):
        await sign_out(browser, csrf)

    assert "support presence of s.national not set offline" in caplog.text
    assert (await browser.get("/support")).status_code == 401  # signed out all the same
    row = tickets.agent(w.store, "s.national")
    assert row is not None
    assert row.presence == "offline"  # the row is written before the live state
