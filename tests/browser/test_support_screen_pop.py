"""National support's screen pop in chromium: an agent signs in with their post, an
assistance call (0 806 000 156) whose referents do not answer rings that post, and the page
shows the call's context by itself (no reload), follows it as it connects and ends; the
agent records the ticket, found again in the inbox and on its page. The inbox's filters.

The live service runs on the real clock and the assistance line has opening hours:
``open_all_day`` makes national support and the Essonne's referents open at any hour for
this module, and puts the routing back as it found it afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from ivr.flow.vocabulary import DialOutcome, DialResult
from ivr.records import tickets
from ivr.records.models import TicketSource, TicketStatus
from routing.config import RoutingConfig, always_open
from tests.browser.conftest import LiveServer, Tab, seconds_since

pytestmark = pytest.mark.browser

ASSISTANCE = "+33806000156"  # 0 806 000 156
POST = "05 36 49 00 01"  # « Support national SI SIAO — poste 1 » in config/departments.yaml
POST_E164 = "+33536490001"
CALLER = "+33639980131"  # a number no other browser test calls from
CALLER_SHOWN = "06 39 98 01 31"
REFERENTS = (  # the Essonne's, rung in this order (nobody answered before)
    ("Référent SI premier — Essonne", "+33199000910", DialOutcome.NO_ANSWER, "pas de réponse"),
    ("Référent SI deuxième — Essonne", "+33199000911", DialOutcome.NO_ANSWER, "pas de réponse"),
    ("Référent SI troisième — Essonne", "+33199000912", DialOutcome.BUSY, "occupé"),
)
REASON = "Accès et connexion — Problème de connexion (niveau 1)"  # key 1 of the reason menu
NOTE = "Compte bloqué après 5 essais (test navigateur)."
ANSWER = (
    "Le mot de passe a été réinitialisé ; l'utilisateur a reçu un courriel pour en choisir "
    "un nouveau."
)
SUPPORT_POLL_MS = 3_000  # support.js's polling period


def open_at_any_hour(config: RoutingConfig) -> RoutingConfig:
    """``config`` with national support and the Essonne's referents open all day, every day."""
    national = config.national
    support = national.support.model_copy(update={"hours": always_open()})
    essonne = config.departements["91"]
    assistance = essonne.assistance.model_copy(update={"hours": always_open()})
    return config.model_copy(
        update={
            "national": national.model_copy(update={"support": support}),
            "departements": {
                **config.departements,
                "91": essonne.model_copy(update={"assistance": assistance}),
            },
        }
    )


@pytest.fixture(scope="module", autouse=True)
def open_all_day(live: LiveServer) -> Iterator[RoutingConfig]:
    """The running service routes by a routing open at any hour (applied without a text: no
    version is recorded and the version in force stays the same for other instances); the
    routing found at the start is applied again at the end."""
    services = live.services
    before = services.config

    async def apply(config: RoutingConfig) -> None:
        services.apply_config(config)

    live.run(apply(open_at_any_hour(before)))
    yield services.config
    live.run(apply(before))


@pytest.fixture
def agent(tab: Tab, live: LiveServer) -> Iterator[Tab]:
    """Sophie Bernard of national support, signed in with the post typed at sign-in (the
    page's clock installed: ``tick`` runs its next polling round); offline afterwards."""
    tab.page.clock.install()
    tab.sign_in("support-poste", post=POST)
    yield tab
    tab.goto("/support")
    tab.page.get_by_label("Disponibilité").select_option(label="déconnecté")
    with tab.page.expect_navigation():
        tab.page.locator("#poste-enregistrer").click()
    tab.expect_text("Vous êtes déconnecté du poste 05 36 49 00 01.")


def overflow(live: LiveServer, call_id: str) -> None:
    """An assistance call: the caller types the Essonne (91) and reason 1; the three
    referents do not answer (the last one busy): the call rings national support's post 1."""
    assert live.ring(call_id, caller=CALLER, line=ASSISTANCE) == []  # the menus first
    assert live.press(call_id, "91") == []  # the reason menu
    rung = live.press(call_id, "1")
    for _, number, outcome, _ in REFERENTS:
        assert rung[-1] == number
        rung = live.send(call_id, DialResult(((number, outcome),)))
    assert rung[-1] == POST_E164


def test_given_an_agent_with_a_post_when_an_overflowed_call_rings_then_the_page_shows_it_and_the_ticket_is_recorded(  # noqa: E501
    agent: Tab, live: LiveServer
) -> None:
    tab, page = agent, agent.page
    assert page.url.startswith(tab.base_url + "/support")
    tab.expect_text(f"Vous êtes disponible sur le poste {POST}.")
    expect(page.locator("#presence-support")).to_have_text("disponible")
    expect(page.locator("#poste-numero")).to_have_text(POST)
    expect(page.locator("#appel-aucun")).to_have_text("Aucun appel ne sonne sur votre poste.")
    page.evaluate("window.pageNotReloaded = true")

    overflow(live, "assistance-navigateur-1")
    tab.tick(SUPPORT_POLL_MS)
    status = page.locator("#appel-statut")
    expect(status).to_have_text("sonne")
    assert page.evaluate("window.pageNotReloaded") is True  # put in place by support.js
    expect(page.locator("#appel-numero")).to_have_text(CALLER_SHOWN)
    expect(page.locator("#appel-departement")).to_have_text("91 — Essonne")
    expect(page.locator("#appel-departement-origine")).to_contain_text(
        "choisi par l'appelant au menu des départements"
    )
    expect(page.locator("#appel-motif")).to_have_text(REASON)
    rows = page.locator("#appel-essais tbody tr")
    expect(rows).to_have_count(len(REFERENTS))
    for row, (name, _, _, result) in zip(rows.all(), REFERENTS, strict=True):
        expect(row.locator("td").first).to_have_text(name)
        expect(row.locator("td").last).to_have_text(result)
    tab.expect_text("Aucun appel précédent de ce numéro.")
    # The motif the routing file links to the menu's reason is proposed first.
    expect(page.locator("#fiche-motif")).to_have_value("acces")
    tab.shot("appel-sonne")
    # « depuis N s » counts on while the page stays open (support.js, every second).
    since = page.locator("#appel-depuis")
    first = seconds_since(since)
    page.wait_for_timeout(2_500)
    assert seconds_since(since, at_least=first + 2) >= first + 2

    live.answer("assistance-navigateur-1", POST_E164)
    tab.tick(SUPPORT_POLL_MS)
    expect(status).to_have_text("en communication")
    tab.shot("en-communication")

    # Still counting after the status changed; past a minute, as the server writes it.
    tab.tick(60_000)
    expect(since).to_have_text(re.compile(r"^depuis 1 min \d{2} s$"))

    live.hang_up("assistance-navigateur-1")
    tab.tick(SUPPORT_POLL_MS)
    expect(status).to_have_text("terminé")
    ended = since.inner_text()  # the count stops with the call
    tab.tick(2_000)
    expect(since).to_have_text(ended)
    expect(page.locator("#appel-numero")).to_have_text(CALLER_SHOWN)  # the context stays
    assert page.evaluate("window.pageNotReloaded") is True

    # The ticket: sub-motif, a standard answer inserted in the note, status.
    page.locator("#fiche-sous-motif").select_option(label="Mot de passe oublié ou compte bloqué")
    page.locator("#fiche-note").fill(NOTE)
    page.locator("#fiche-reponse-type").select_option(label="Réinitialisation du mot de passe")
    page.get_by_role("button", name="Insérer dans la note").click()
    expect(page.locator("#fiche-note")).to_have_value(f"{NOTE}\n{ANSWER}")
    page.locator("#fiche-statut").select_option(label="résolu")
    tab.shot("fiche-remplie")
    tab.submit("Enregistrer la fiche")

    heading = page.locator("h1")
    expect(heading).to_have_text(re.compile(r"^Fiche n° \d+ : résolu$"))
    number = re.findall(r"\d+", heading.inner_text())[0]
    tab.expect_text(f"Fiche n° {number} enregistrée.")
    expect(page.locator("#fiche-origine")).to_have_text("appel répondu")
    expect(page.locator("#fiche-departement")).to_contain_text("Essonne")
    expect(page.locator("#fiche-motif-menu")).to_have_text(REASON)
    expect(page.locator("#fiche-appel-ref")).to_have_text("assistance-navigateur-1")
    expect(page.get_by_label("Motif", exact=True)).to_have_value("acces")
    expect(page.get_by_label("Sous-motif")).to_have_value("mot_de_passe")
    expect(page.get_by_label("Note", exact=True)).to_have_value(
        f"{NOTE}\n{ANSWER}"
    )  # inserted once
    expect(page.get_by_label("Statut", exact=True)).to_have_value("resolved")

    with page.expect_navigation():
        page.get_by_role("link", name="← Boîte des fiches").click()
    tab.shot("boite")
    row = page.locator(f"#fiches #fiche-{number}")
    for text in (
        "appel répondu",
        "91",
        CALLER_SHOWN,
        "Accès et comptes",
        "Mot de passe oublié ou compte bloqué",
        REASON,
        NOTE,
        "résolu",
        "Sophie Bernard",
    ):
        expect(row).to_contain_text(text)
    # A new call rang nobody since: the screen pop is empty again.
    expect(page.locator("#appel-aucun")).to_be_visible()


def test_given_tickets_of_several_statuses_and_motifs_when_filtering_then_the_inbox_shows_only_those(  # noqa: E501
    tab: Tab, live: LiveServer
) -> None:
    store = live.services.store
    made = {
        key: tickets.open_ticket(
            store,
            source=TicketSource.CALL,
            by="s.martin",
            fields=tickets.TicketFields(motif, sub_motif, note, status),
            departement=dep,
        )
        for key, motif, sub_motif, note, status, dep in (
            (
                "formation",
                "usage",
                "formation",
                "Filtre : formation demandée",
                TicketStatus.WAITING,
                "75",
            ),
            ("rgpd", "donnees", "rgpd", "Filtre : droits RGPD", TicketStatus.CLOSED, "91"),
        )
    }
    tab.sign_in("support")
    page = tab.page
    inbox = page.locator("#fiches")
    for ticket_id in made.values():
        expect(inbox.locator(f"#fiche-{ticket_id}")).to_be_visible()

    page.get_by_label("Statut", exact=True).select_option(label="en attente de l'utilisateur")
    tab.submit("Filtrer")
    assert "statut=waiting" in page.url
    expect(page.get_by_label("Statut", exact=True)).to_have_value("waiting")  # kept
    expect(inbox.locator(f"#fiche-{made['formation']}")).to_contain_text(
        "en attente de l'utilisateur"
    )
    expect(inbox.locator(f"#fiche-{made['rgpd']}")).to_have_count(0)
    for status in inbox.locator("tbody tr td:nth-child(10)").all():
        expect(status).to_have_text("en attente de l'utilisateur")

    page.get_by_label("Statut", exact=True).select_option(label="tous")
    page.get_by_label("Motif", exact=True).select_option(label="Données personnelles et dossiers")
    tab.submit("Filtrer")
    expect(inbox.locator(f"#fiche-{made['rgpd']}")).to_contain_text("Exercice des droits RGPD")
    expect(inbox.locator(f"#fiche-{made['formation']}")).to_have_count(0)
    for motif in inbox.locator("tbody tr td:nth-child(6)").all():
        expect(motif).to_have_text("Données personnelles et dossiers")

    # Both filters: closed tickets of « Prise en main et formation »: none.
    page.get_by_label("Statut", exact=True).select_option(label="clos")
    page.get_by_label("Motif", exact=True).select_option(label="Prise en main et formation")
    tab.submit("Filtrer")
    expect(page.locator("#fiches-aucune")).to_have_text("Aucune fiche.")

    page.get_by_label("Statut", exact=True).select_option(label="tous")
    page.get_by_label("Motif", exact=True).select_option(label="tous")
    tab.submit("Filtrer")
    for ticket_id in made.values():
        expect(inbox.locator(f"#fiche-{ticket_id}")).to_be_visible()
