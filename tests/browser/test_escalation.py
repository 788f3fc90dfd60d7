"""A referent escalates to national support, who sees it and takes it up: two people, two
sessions, in chromium."""

from __future__ import annotations

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

    support = open_tab()
    support.sign_in("support")
    row = support.page.get_by_role("row").filter(has_text=NOTE)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("91")
    expect(row).to_contain_text(reason_label)
    expect(row).to_contain_text("r.leroy")
    expect(row).to_contain_text("ouverte")
    row.get_by_role("combobox").select_option(label="en cours de traitement")
    with support.page.expect_navigation():
        row.get_by_role("button", name="Enregistrer").click()
    support.shot()
    expect(support.page.get_by_role("row").filter(has_text=NOTE)).to_contain_text(
        "en cours de traitement"
    )

    # The referent, back on their page, sees the new status.
    referent.goto("/referent")
    expect(mine.get_by_role("row").filter(has_text=reason_label).last).to_contain_text(
        "en cours de traitement"
    )
