"""What the browser review found (issue #17), in chromium: a refused page leads home, a
wrong password keeps the login typed, a wrong account field says so next to it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Tab

pytestmark = pytest.mark.browser


def test_given_a_refused_page_then_its_link_leads_back_home(tab: Tab) -> None:
    tab.allow(r"status of 403")  # the refusal page answers 403
    tab.sign_in("ecoutant")
    tab.goto("/admin/journal")
    assert tab.heading() == "Accès refusé"
    tab.expect_text("Vous êtes connecté avec l'identifiant c.dupont (Claire Dupont).")
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="Revenir à votre page d'accueil").click()
    assert tab.page.url.startswith(tab.base_url + "/console")


def test_given_a_wrong_password_then_an_error_and_the_login_kept(tab: Tab) -> None:
    tab.allow(r"status of 401")  # the refused sign-in page answers 401
    tab.sign_in("referent", password="pas le bon mot de passe")
    alert = tab.page.get_by_role("alert")
    expect(alert).to_have_text("Identifiant ou mot de passe incorrect.")
    expect(alert).to_have_class("errors")
    expect(tab.page.get_by_label("Identifiant")).to_have_value("r.leroy")
    expect(tab.page.get_by_label("Mot de passe")).to_have_value("")


def test_given_a_bad_phone_for_a_new_listener_then_the_field_says_why(tab: Tab) -> None:
    tab.allow(r"status of 422")  # the refused form answers 422
    tab.sign_in("admin-departement")
    tab.goto("/admin/comptes")
    form = tab.page.locator("form").filter(has_text="Créer le compte")
    form.get_by_label("Identifiant (le compte SI SIAO nominatif)").fill("m.bernard")
    form.get_by_label("Poste (obligatoire pour un écoutant)").fill("12 34")
    form.get_by_label("Écoutant : départements").fill("91")
    form.get_by_label("Mot de passe provisoire (12 caractères au moins)").fill(
        "un mot de passe provisoire"
    )
    tab.submit("Créer le compte")
    phone = form.get_by_label("Poste (obligatoire pour un écoutant)")
    expect(phone).to_have_value("12 34")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(
        "« 12 34 » n'est pas un numéro de téléphone français valide "
        "(par exemple 01 69 00 00 00 ou +33 1 69 00 00 00)."
    )
    expect(form.get_by_label("Identifiant (le compte SI SIAO nominatif)")).to_have_value(
        "m.bernard"
    )
