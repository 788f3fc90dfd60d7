"""A referent escalates to national support, who finds it in the inbox of tickets and takes
it up: two people, two sessions, in chromium."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Tab

pytestmark = pytest.mark.browser

NOTE = "Mot de passe réinitialisé deux fois, toujours refusé (test navigateur)."


def test_given_a_referent_escalation_then_national_support_sees_it_and_takes_it_up(
    open_tab: Callable[[], Tab],
) -> None:
    referent = open_tab()
    referent.sign_in("referent")
    referent.page.get_by_label("Motif (nomenclature)").select_option(index=0)
    reason = referent.page.get_by_label("Motif (nomenclature)").locator("option:checked")
    reason_label = reason.inner_text()
    referent.page.get_by_label("Ce qui a été tenté").fill(NOTE)
    referent.submit("Escalader")
    referent.expect_text("Escalade transmise au support national.")
    mine = referent.page.locator("#h-mes + table, #h-mes ~ table").first
    expect(mine.get_by_role("row").filter(has_text=reason_label).last).to_contain_text("ouverte")

    # National support: the escalation is a ticket of the inbox, with the screen pop's
    # tickets (tests/browser/test_support_screen_pop.py).
    support = open_tab()
    support.sign_in("support")
    row = support.page.locator("#fiches tbody tr").filter(has_text=NOTE)
    expect(row).to_have_count(1)
    for text in ("escalade du palier 1", "91", reason_label, "nouveau", "Romain Leroy"):
        expect(row).to_contain_text(text)
    with support.page.expect_navigation():
        row.get_by_role("link").first.click()
    support.shot()
    support.expect_text(re.compile(r"Fiche n° \d+ : nouveau"))
    expect(support.page.locator("#fiche-origine")).to_have_text("escalade du palier 1")
    expect(support.page.locator("#fiche-escalade")).to_contain_text("par Romain Leroy")
    expect(support.page.locator("#fiche-motif-menu")).to_have_text(reason_label)
    expect(support.page.get_by_label("Note", exact=True)).to_have_value(NOTE)
    support.page.get_by_label("Motif", exact=True).select_option(label="Accès et comptes")
    support.page.get_by_label("Sous-motif").select_option(
        label="Mot de passe oublié ou compte bloqué"
    )
    support.page.get_by_label("Statut").select_option(label="en cours")
    support.submit("Enregistrer")
    support.expect_text(re.compile(r"Fiche n° \d+ : en cours\."))
    with support.page.expect_navigation():
        support.page.get_by_role("link", name="← Boîte des fiches").click()
    support.shot()
    row = support.page.locator("#fiches tbody tr").filter(has_text=NOTE)
    for text in (
        "Accès et comptes",
        "Mot de passe oublié ou compte bloqué",
        "en cours",
        "Sarah Martin",
    ):
        expect(row).to_contain_text(text)

    # The referent, back on their page, sees the new status.
    referent.goto("/referent")
    expect(mine.get_by_role("row").filter(has_text=reason_label).last).to_contain_text(
        "en cours de traitement"
    )
