"""The listener console in chromium, taking a call pushed through the running service's
runtime: the page follows the call by itself (its polling) as it rings, connects and ends."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LISTENER_PHONE, LiveServer, Tab, seconds_since

pytestmark = pytest.mark.browser


@pytest.fixture
def listener(tab: Tab, live: LiveServer) -> Iterator[Tab]:
    """The listener of the Essonne signed in to the console (polls sped up), signed off
    the line after the test."""
    tab.page.clock.install()  # time flows, and ``tick`` runs the next polling round now
    tab.sign_in("ecoutant")
    yield tab
    tab.goto("/console")
    tab.submit("Déconnecté")


def test_given_an_available_listener_when_a_call_rings_connects_and_ends_then_the_console_follows(
    listener: Tab, live: LiveServer
) -> None:
    tab, page = listener, listener.page
    tab.expect_text("Console écoutant — 115 Essonne (91)")
    presence = page.locator("#presence")
    expect(presence).to_have_text("déconnecté")
    tab.expect_text("Aucun appel en cours.")

    tab.submit("Disponible")
    tab.expect_text("Vous êtes disponible.")
    expect(presence).to_have_text("disponible")

    # A call on the 115 of the Essonne: the runtime rings the one available listener.
    assert live.ring("appel-navigateur-1") == [LISTENER_PHONE]
    tab.tick()
    notice = page.locator("#nouvel-appel")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Un nouvel appel vous est présenté.")
    expect(presence).to_have_text("sonnerie en cours")  # rung, not yet talking
    tab.shot("appel-presente")

    with page.expect_navigation():
        notice.get_by_role("link", name="Afficher l'appel").click()
    tab.shot()
    status = page.locator("#etat-appel")
    expect(status).to_have_text("sonne")
    tab.expect_text("06 39 98 01 01")
    tab.expect_text("Essonne (91), trouvé par le numéro 115 composé (réseau)")
    tab.expect_text("Aucun appel précédent enregistré.")
    expect(notice).to_be_hidden()
    # The SI SIAO search and the emergency request are prefilled with the caller's number.
    expect(page.get_by_label("Rechercher un ménage par téléphone")).to_have_value("06 39 98 01 01")
    # « depuis N s » counts on while the page stays open (depuis.js, every second).
    since = page.locator("#appel-depuis")
    first = seconds_since(since)
    page.wait_for_timeout(2_500)
    assert seconds_since(since, at_least=first + 2) >= first + 2

    live.answer("appel-navigateur-1", LISTENER_PHONE)
    tab.tick()
    expect(status).to_have_text("en communication")
    expect(presence).to_have_text("en communication")
    tab.shot("en-communication")
    # Still counting after the status changed; past a minute, as the server writes it.
    tab.tick(60_000)
    expect(since).to_have_text(re.compile(r"^depuis 1 min \d{2} s$"))

    live.hang_up("appel-navigateur-1")
    tab.tick()
    expect(status).to_have_text("terminé")
    expect(presence).to_have_text("disponible")
    ended = since.inner_text()  # the count stops with the call
    tab.tick(2_000)
    expect(since).to_have_text(ended)
    expect(notice).to_be_hidden()
    tab.shot("appel-termine")

    # Shown again, the console has no call; the call is in the number's history.
    tab.goto("/console")
    tab.expect_text("Aucun appel en cours.")
    expect(page.locator("#etat-appel")).to_have_count(0)


def test_given_a_paused_listener_when_a_call_waits_then_the_queue_shows_it_by_itself(
    listener: Tab, live: LiveServer
) -> None:
    tab, page = listener, listener.page
    tab.submit("En pause")
    expect(page.locator("#presence")).to_have_text("en pause")
    queue = page.locator("#file")
    expect(queue).to_have_text("Aucun appel en attente.")

    # Nobody available: the call waits, no phone rings.
    assert live.ring("appel-navigateur-2", caller="+33639980102") == []
    tab.tick()
    expect(queue.locator("caption")).to_have_text("1 appel en attente")
    expect(queue.locator("td").first).to_have_text("1")
    tab.shot("appel-en-attente")

    live.hang_up("appel-navigateur-2")
    tab.tick()
    expect(queue).to_have_text("Aucun appel en attente.")
