"""Signing in as each role, a wrong password, the front door and signing out, in chromium."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PEOPLE, Tab

pytestmark = pytest.mark.browser


def test_given_signed_out_when_opening_the_site_then_the_front_door_leads_to_sign_in(
    tab: Tab,
) -> None:
    tab.goto("/")
    assert tab.page.url == tab.base_url + "/connexion"
    assert tab.page.title() == "Connexion — 115 et assistance SI SIAO"
    assert tab.heading() == "Connexion"
    assert tab.page.get_by_label("Identifiant").is_visible()
    assert tab.page.get_by_label("Mot de passe").is_visible()
    # Signed out: no page menu, no « signed in as ».
    assert tab.page.get_by_role("navigation", name="Pages").count() == 0


@pytest.mark.parametrize("role", list(PEOPLE))
def test_given_each_role_when_signing_in_then_its_home_page_names_the_person(
    tab: Tab, role: str
) -> None:
    person = tab.sign_in(role)
    assert tab.page.url.startswith(tab.base_url + person.home)
    assert tab.heading() == person.heading
    assert f"{person.name} (" in tab.page.locator("header.top").inner_text()
    assert tab.page.get_by_role("button", name="Se déconnecter").is_visible()
    # The front door, signed in: the same home page.
    tab.goto("/")
    assert tab.page.url.startswith(tab.base_url + person.home)
    assert tab.heading() == person.heading


def test_given_a_listener_then_the_menu_offers_the_console_and_not_the_administration(
    tab: Tab,
) -> None:
    tab.sign_in("ecoutant")
    menu = tab.page.get_by_role("navigation", name="Pages")
    assert menu.get_by_role("link", name="Console écoutant").is_visible()
    assert menu.get_by_role("link", name="Mon mot de passe").is_visible()
    assert menu.get_by_role("link", name="Administration").count() == 0
    assert "Claire Dupont (identifiant c.dupont) — rôle : écoutant (91)" in (
        tab.page.locator("header.top").inner_text()
    )


def test_given_a_wrong_password_then_the_french_error_shows_and_nobody_is_signed_in(
    tab: Tab,
) -> None:
    tab.allow(r"status of 401")  # the refused sign-in page answers 401
    tab.sign_in("referent", password="pas le bon mot de passe")
    assert tab.page.url == tab.base_url + "/connexion"
    alert = tab.page.get_by_role("alert")
    assert alert.inner_text() == "Identifiant ou mot de passe incorrect."
    assert tab.page.get_by_label("Identifiant").is_visible()
    tab.goto("/referent")
    assert tab.heading() == "Connexion"
    assert tab.page.get_by_role("alert").inner_text() == "Connectez-vous pour accéder à cette page."


def test_given_a_signed_in_admin_when_signing_out_then_back_to_sign_in(tab: Tab) -> None:
    tab.allow(r"status of 401")  # the administration, signed out, asks to sign in (401)
    tab.sign_in("admin-national")
    tab.submit("Se déconnecter")
    tab.expect_text("Vous êtes déconnecté.")
    tab.goto("/admin")
    assert tab.heading() == "Connexion"
    tab.expect_text("Connectez-vous pour accéder à cette page.")
