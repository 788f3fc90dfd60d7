"""A national support agent who says « en pause » (or « déconnecté ») on the support page is
not rung by tier 2: the page writes the presence to the live state every instance's hunt
reads, through the real runtime."""

from __future__ import annotations

import re

import httpx

from ivr.flow.vocabulary import (
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Play,
)
from ivr.runtime.queries import Presence
from ivr.runtime.runtime import MediaCommand
from tests.web.conftest import CALLER, PASSWORD, World, csrf_of, shown
from tests.web.test_support_screen_pop import ASSISTANCE, POST_1, Setup, agent

POST_2 = "+33536490002"  # « Support national SI SIAO — poste 2 »


async def overflow(w: World, call_id: str = "assist-1") -> list[MediaCommand]:
    """An assistance call for the 91 whose referents do not answer; the media of the step
    that reaches tier 2."""
    await w.runtime.start_call(CallStarted(call_id, ASSISTANCE, CALLER), w.transport)
    await w.runtime.handle(call_id, DigitsReceived("91"))
    await w.runtime.handle(call_id, DigitsReceived("1"))
    for referent in ("+33199000910", "+33199000911"):
        await w.runtime.handle(call_id, DialResult(((referent, DialOutcome.NO_ANSWER),)))
    return await w.runtime.handle(call_id, DialResult((("+33199000912", DialOutcome.BUSY),)))


def rung(media: list[MediaCommand]) -> list[str]:
    return [t.number for m in media if isinstance(m, Dial) for t in m.targets]


async def set_post(browser: httpx.AsyncClient, csrf: str, post: str, presence: str) -> str:
    response = await browser.post(
        "/support/poste", data={"csrf": csrf, "poste": post, "presence": presence}
    )
    assert response.status_code == 303
    return shown(await browser.get(response.headers["location"]))


async def test_given_agent_sets_en_pause_then_a_call_skips_their_post_and_rings_the_next(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    assert "Vous êtes en pause sur le poste 05 36 49 00 01." in await set_post(
        browser, csrf, POST_1, "paused"
    )
    assert (await browser.get("/support/etat.json")).json()["presence_label"] == "en pause"

    assert rung(await overflow(w)) == [POST_2]
    assert (await browser.get("/support/etat.json")).json()["call_id"] is None

    # Back available on poste 2: the call ringing there shows, and its story says why
    # poste 1 was not rung.
    await set_post(browser, csrf, POST_2, "available")
    fragment = shown(await browser.get("/support/appel"))
    assert 'data-call="assist-1"' in fragment
    rows = re.findall(
        r"<tr><td>(Support national[^<]+)</td><td>[^<]+</td><td>[^<]+</td><td>([^<]+)", fragment
    )
    assert rows == [("Support national SI SIAO — poste 1", "en pause (non sonné)")]


async def test_given_agent_signed_out_and_back_then_their_post_rings_again(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    assert "Vous êtes déconnecté du poste 05 36 49 00 01." in await set_post(
        browser, csrf, POST_1, "offline"
    )
    assert rung(await overflow(w, "assist-1")) == [POST_2]
    await set_post(browser, csrf, POST_1, "available")
    assert rung(await overflow(w, "assist-2")) == [POST_1]


async def test_given_both_posts_paused_then_the_call_gets_the_urgent_email_message(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    await set_post(browser, csrf, POST_1, "paused")
    # A second agent's pause, written as the page writes it (the only other support account
    # of the test world is this one).
    await w.runtime.set_support_agent("autre.agent", POST_2, Presence.PAUSED)
    media = await overflow(w)
    assert rung(media) == []
    assert [m.prompt.id for m in media if isinstance(m, Play)][-1] == "urgent_email"


async def test_given_paused_agent_signs_in_again_with_their_post_then_it_rings_again(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    csrf = await agent(browser, w)
    await set_post(browser, csrf, POST_1, "paused")
    page = await browser.get("/connexion")
    response = await browser.post(
        "/connexion",
        data={
            "login": "s.national",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "poste": "05 36 49 00 01",
        },
    )
    assert "Vous êtes disponible sur le poste 05 36 49 00 01." in shown(
        await browser.get(response.headers["location"])
    )
    assert rung(await overflow(w)) == [POST_1]
