"""The administration in chromium: the report page (period, scope, SVG charts) and the
accounts page (listing, creating a listener, a refused form in French)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from ivr.records.store import CallRecord
from tests.browser.conftest import LINE_115_91, LiveServer, Tab

pytestmark = pytest.mark.browser

JANUARY = datetime.fromisoformat("2025-01-02T21:00:00+00:00")
JANUARY_CALLER = "+33639980191"  # not the console tests' caller: its history stays empty
CHARTS = (
    "Appels reçus, répondus et abandonnés",
    "Taux de réponse (%)",
    "Typologie des appels par motif",
    "Appels par heure de la journée",
    "Appels par jour de la semaine",
)


@pytest.fixture(scope="module")
def january_calls(live: LiveServer) -> None:
    """Calls of January 2025 in the records (the Essonne and Paris), as the runtime writes
    them at their end."""
    records = []
    for day in range(0, 28, 3):
        at = JANUARY + timedelta(days=day, hours=day % 5)
        records += [
            CallRecord(
                f"jan-91-{day}",
                "115",
                "91",
                JANUARY_CALLER,
                LINE_115_91,
                at,
                at + timedelta(minutes=6),
                answered_at=at + timedelta(seconds=35),
                outcome="connected",
            ),
            CallRecord(
                f"jan-91-{day}-b",
                "115",
                "91",
                JANUARY_CALLER,
                LINE_115_91,
                at + timedelta(hours=2),
                at + timedelta(hours=2, minutes=1),
                outcome="caller-hung-up",
            ),
            CallRecord(
                f"jan-75-{day}",
                "assistance",
                "75",
                "+33612000076",
                "+33806000156",
                at,
                at + timedelta(minutes=4),
                answered_at=at + timedelta(seconds=10),
                outcome="connected",
                reason="rgpd",
            ),
        ]
    live.services.store.write(records)


def test_given_a_national_admin_when_choosing_a_month_and_a_departement_then_the_report_and_its_charts_show(  # noqa: E501
    tab: Tab, january_calls: None
) -> None:
    tab.sign_in("admin-national")
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="Rapports et Excel de reporting").click()
    tab.shot()
    assert tab.heading().startswith("Rapport")

    tab.page.get_by_label("Période", exact=True).select_option(label="Mois")
    tab.page.get_by_label("Jour, semaine ou mois contenant le").fill("2025-01-15")
    tab.page.get_by_label("Périmètre", exact=True).select_option(label="91 — Essonne")
    tab.submit("Afficher le rapport")
    assert tab.heading() == "Rapport — Département 91 — Essonne, janvier 2025"
    caption = tab.page.locator("table caption").first
    expect(caption).to_contain_text("Du 01/01/2025 au 31/01/2025")
    row = tab.page.get_by_role("row").filter(has_text="Total Département 91 — Essonne").last
    expect(row).to_contain_text("toutes lignes")
    expect(row.locator("td").nth(1)).to_have_text("20")  # received: two calls on 10 days
    # Only the Essonne: Paris is outside the chosen scope.
    heads = tab.page.locator("table").first.locator("tbody th").all_inner_texts()
    assert set(heads) == {"91 — Essonne", "Total Département 91 — Essonne"}, heads

    charts = tab.page.locator("figure svg.chart")
    expect(charts).to_have_count(len(CHARTS))
    for title in CHARTS:
        chart = tab.page.get_by_role("img", name=title)
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None, title
        assert box["width"] > 300, (title, box)
        assert box["height"] > 150, (title, box)
    assert charts.first.locator("rect, path, polyline, circle").count() > 0
    tab.page.get_by_role("img", name=CHARTS[0]).scroll_into_view_if_needed()
    tab.shot("graphiques")

    # The next period, by its link: February has no call.
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="Période suivante").click()
    tab.shot()
    assert tab.heading() == "Rapport — Département 91 — Essonne, février 2025"
    tab.expect_text("Aucun appel sur cette période.")


def test_given_a_departemental_admin_when_a_range_ends_before_it_starts_then_the_field_says_so(
    tab: Tab, january_calls: None
) -> None:
    tab.allow(r"status of 400")  # the refused report answers 400
    tab.sign_in("admin-departement")
    tab.goto("/admin/rapport")
    scopes = tab.page.get_by_label("Périmètre", exact=True).locator("option").all_inner_texts()
    assert scopes == ["91 — Essonne"]  # their département only
    tab.page.get_by_label("Période", exact=True).select_option(label="Période choisie")
    tab.page.get_by_label("Période choisie : du").fill("2025-01-10")
    tab.page.get_by_label("au", exact=True).fill("2025-01-01")
    tab.submit("Afficher le rapport")
    tab.expect_text("Le rapport n'a pas pu être établi : corrigez le champ signalé.")
    # The shared error of _fields.html: next to its field, which it describes; the summary
    # above the form links to the field.
    fin = tab.page.get_by_label("au", exact=True)
    error = tab.page.locator("#fin + #erreur-fin")
    expect(error).to_have_text("La fin de la période précède son début.")
    expect(fin).to_have_attribute("aria-invalid", "true")
    expect(fin).to_have_attribute("aria-describedby", "erreur-fin")
    expect(fin).to_have_accessible_description("La fin de la période précède son début.")
    expect(tab.page.get_by_label("Période choisie : du")).not_to_have_attribute(
        "aria-invalid", "true"
    )
    tab.page.locator("#erreurs").get_by_role("link", name="précède son début").click()
    expect(fin).to_be_focused()


def test_given_a_departemental_admin_then_the_accounts_of_their_departement_and_a_new_listener(
    tab: Tab,
) -> None:
    tab.sign_in("admin-departement")
    with tab.page.expect_navigation():
        tab.page.get_by_role("navigation", name="Pages").get_by_role("link", name="Comptes").click()
    tab.shot()
    assert tab.heading() == "Comptes"
    tab.expect_text("Les comptes dont tous les rôles sont dans votre département (91).")
    logins = tab.page.locator("tbody tr td:first-child").all_inner_texts()
    assert {"c.dupont", "r.leroy", "a.essonne"} <= set(logins)
    assert "a.national" not in logins
    assert "s.martin" not in logins
    listener = tab.page.get_by_role("row").filter(has_text="c.dupont")
    expect(listener).to_contain_text("Claire Dupont")
    expect(listener).to_contain_text("écoutant (91)")
    expect(listener).to_contain_text("02 61 91 09 10")

    # A listener without a phone: refused, in French, and what was typed is kept.
    tab.allow(r"status of 422")
    form = tab.page.locator("form").filter(has_text="Créer le compte")
    form.get_by_label("Identifiant (le compte SI SIAO nominatif)").fill("m.bernard")
    form.get_by_label("Nom affiché").fill("Marc Bernard")
    form.get_by_label("Écoutant : départements").fill("91")
    form.get_by_label("Mot de passe provisoire (12 caractères au moins)").fill(
        "un mot de passe provisoire"
    )
    tab.submit("Créer le compte")
    expect(tab.page.get_by_role("alert")).to_contain_text(
        "Un écoutant a un numéro de poste (téléphone)."
    )
    expect(form.get_by_label("Nom affiché")).to_have_value("Marc Bernard")

    form.get_by_label("Poste (obligatoire pour un écoutant)").fill("01 69 12 34 56")
    form.get_by_label("Mot de passe provisoire (12 caractères au moins)").fill(
        "un mot de passe provisoire"
    )
    tab.submit("Créer le compte")
    tab.expect_text("Compte « m.bernard » créé.")
    created = tab.page.get_by_role("row").filter(has_text="m.bernard")
    expect(created).to_contain_text("Marc Bernard")
    expect(created).to_contain_text("01 69 12 34 56")
    expect(created).to_contain_text("mot de passe provisoire")
