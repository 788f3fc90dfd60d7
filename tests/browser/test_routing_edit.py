"""Routing edited by form (``/admin/routage``) in chromium: a départemental admin changes a
referent and a closure, checks the changes and the simulated calls, saves a version the
running service applies, restores an earlier one; a wrong number is refused next to its
field; a national admin sees every département, a listener is refused.

The live service is shared by the package: ``routing_at_start`` puts the Essonne back as
it was when the module started, whatever a test left behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, expect

from ivr.web import routing_versions
from tests.browser.conftest import LiveServer, Tab

pytestmark = pytest.mark.browser

CODE = "91"
FORM = f"/admin/routage/departements/{CODE}"
REFERENTS = "Référents SI de la ligne d'assistance (palier 1)"
CLOSURES = "Fermetures et horaires exceptionnels"
CHECK = "Vérifier et voir les changements"
SAVE = "Enregistrer la nouvelle version et l'appliquer"
FIRST_REFERENT = ("Référent SI premier — Essonne", "01 99 00 09 10", "+33199000910")
# Preview moments: a Tuesday when the referents are on duty, and the closure day.
OPEN_DAY = ("15/12/2026", "10:00")
CLOSURE = ("24/12/2026", "Veille de Noël")


@pytest.fixture(scope="module", autouse=True)
def routing_at_start(live: LiveServer) -> Iterator[routing_versions.Base]:
    """The version in force when the module starts; afterwards, if the Essonne differs,
    that version's text is recorded again and applied (as a restoration would)."""
    start = routing_versions.base(live.services.store, live.services.config)
    yield start
    if live.services.config.departements[CODE] == start.config.departements[CODE]:
        return
    digest = hashlib.sha256(start.text.encode("utf-8")).hexdigest()
    live.services.store.record_config_version(
        start.text, digest, "tests", "routage remis comme au début des tests"
    )

    async def apply() -> None:
        live.services.apply_config(start.config, start.text)

    live.run(apply())


def referents(tab: Tab) -> Locator:
    return tab.page.get_by_role("group", name=REFERENTS)


def live_referent(live: LiveServer) -> tuple[str, str]:
    """The first referent of the Essonne in the routing the running service applies."""
    first = live.services.config.departements[CODE].assistance.referents[0]
    return first.name, first.number


def edit_first_referent(tab: Tab, name: str, number: str) -> None:
    """On the open form: the first referent's name and number, a closure day, the preview
    moments; then « Vérifier »."""
    rows = referents(tab)
    rows.get_by_label("Nom, ligne 1").fill(name)
    rows.get_by_label("Numéro, ligne 1").fill(number)
    closures = tab.page.get_by_role("group", name=CLOSURES)
    closures.get_by_label("Date, ligne 1").fill(CLOSURE[0])
    closures.get_by_label("Libellé, ligne 1").fill(CLOSURE[1])
    closures.get_by_label("Fermé, ligne 1").check()
    tab.page.get_by_label("Moment 1 : date").fill(OPEN_DAY[0])
    tab.page.get_by_label("heure", exact=True).first.fill(OPEN_DAY[1])
    tab.page.get_by_label("Moment 2 : date").fill(CLOSURE[0])
    tab.page.get_by_label("heure", exact=True).nth(1).fill("10:00")
    tab.submit(CHECK)


def save(tab: Tab, comment: str) -> None:
    """After « Vérifier »: the comment, then « Enregistrer »."""
    tab.page.get_by_label("Commentaire (obligatoire)").fill(comment)
    tab.submit(SAVE)


def version_in_force(tab: Tab) -> int:
    """The version the open form starts from, as the page states it."""
    return int(tab.page.locator("#version").input_value())


def test_given_a_departemental_admin_when_changing_a_referent_and_a_closure_then_a_new_version_is_applied(  # noqa: E501
    tab: Tab, live: LiveServer
) -> None:
    tab.sign_in("admin-departement")
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="Routage des départements").click()
    tab.shot()
    assert tab.heading() == "Routage des départements"
    listed = tab.page.locator("#departements li").all_inner_texts()
    assert listed == ["91 — Essonne"]  # their département only

    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="91 — Essonne").click()
    tab.shot()
    assert tab.heading() == "Routage du 91 — Essonne"
    before = version_in_force(tab)
    tab.expect_text(f"Version en vigueur : n° {before}")
    expect(referents(tab).get_by_label("Nom, ligne 1")).to_have_value(FIRST_REFERENT[0])
    expect(referents(tab).get_by_label("Numéro, ligne 1")).to_have_value(FIRST_REFERENT[1])

    edit_first_referent(tab, "Référente SI nouvelle — Essonne", "01 99 00 09 18")
    table = tab.page.locator("#table-changements")
    expect(table).to_be_visible()
    # The form as typed, with two empty rows still (not two more at each check).
    expect(referents(tab).locator("tbody tr")).to_have_count(5)
    referents_row = table.get_by_role("row").filter(has_text="Référents SI (dans l'ordre d'appel)")
    expect(referents_row.locator("td").first).to_contain_text(
        "1. Référent SI premier — Essonne — 01 99 00 09 10"
    )
    expect(referents_row.locator("td").last).to_contain_text(
        "1. Référente SI nouvelle — Essonne — 01 99 00 09 18"
    )
    closure_row = table.get_by_role("row").filter(has_text=CLOSURES)
    expect(closure_row.locator("td").first).to_have_text("aucune")
    expect(closure_row.locator("td").last).to_have_text("24/12/2026 (Veille de Noël) : fermé")
    expect(table.locator("tbody tr")).to_have_count(2)  # nothing else changes

    previews = tab.page.locator("#apercu-appels")
    expect(previews).to_contain_text("Appels simulés sur le routage proposé")
    on_duty = previews.locator("article").filter(
        has_text="Ligne d'assistance SI SIAO — le 15/12/2026 à 10:00"
    )
    expect(on_duty.locator("ol li").first).to_have_text(
        "Référente SI nouvelle — Essonne — 01 99 00 09 18 (référent SI (palier 1))"
    )
    expect(on_duty).not_to_contain_text("01 99 00 09 10")
    closed = previews.locator("article").filter(
        has_text="Ligne d'assistance SI SIAO — le 24/12/2026 à 10:00"
    )
    expect(closed).not_to_contain_text("01 99 00 09 18")  # closed that day: no referent
    tab.page.locator("#apercu-appels").scroll_into_view_if_needed()
    tab.shot("apercu")
    assert live_referent(live) == (FIRST_REFERENT[0], FIRST_REFERENT[2])  # not saved yet

    save(tab, "Nouvelle référente ; fermé la veille de Noël")
    assert tab.page.url.startswith(tab.base_url + FORM)
    tab.expect_text(f"Version n° {before + 1} enregistrée et appliquée : 2 changement(s) du 91.")
    tab.expect_text(f"Version en vigueur : n° {before + 1} (par a.essonne)")
    expect(referents(tab).get_by_label("Numéro, ligne 1")).to_have_value("01 99 00 09 18")
    closures = tab.page.get_by_role("group", name=CLOSURES)
    expect(closures.get_by_label("Date, ligne 1")).to_have_value("24/12/2026")
    # The running service routes by the new version.
    assert live_referent(live) == ("Référente SI nouvelle — Essonne", "+33199000918")

    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="Versions et restauration").click()
    tab.shot()
    assert tab.heading() == "Versions du routage"
    row = tab.page.locator(f"#version-{before + 1}")
    expect(row.locator("td").nth(0)).to_have_text(f"{before + 1} (en vigueur)")
    expect(row.locator("td").nth(2)).to_have_text("a.essonne")
    expect(row.locator("td").nth(3)).to_have_text("Nouvelle référente ; fermé la veille de Noël")
    expect(row.locator("td").nth(4)).to_contain_text("91 : Référents SI (dans l'ordre d'appel)")
    expect(row.locator("td").nth(4)).to_contain_text(f"91 : {CLOSURES}")


def test_given_a_wrong_number_then_the_french_error_is_next_to_it_and_nothing_is_saved(
    tab: Tab, live: LiveServer
) -> None:
    tab.allow(r"status of 422")  # the refused form answers 422
    tab.sign_in("admin-departement")
    tab.goto(FORM)
    before = version_in_force(tab)
    in_force = live_referent(live)
    referents(tab).get_by_label("Numéro, ligne 1").fill("06 12")
    tab.submit(CHECK)
    tab.expect_text("Rien n'a été enregistré : corrigez les champs signalés.")
    error = tab.page.locator("#erreur-referent-0-numero")
    expect(error).to_contain_text("« 06 12 » n'est pas un numéro de téléphone valide")
    field = referents(tab).get_by_label("Numéro, ligne 1")
    expect(field).to_have_value("06 12")  # kept as typed
    expect(field).to_have_attribute("aria-invalid", "true")
    # The error is in the field's row, beside it.
    row = tab.page.locator("#referents tbody tr").first
    expect(row.locator("#erreur-referent-0-numero")).to_be_visible()
    expect(tab.page.locator("#table-changements")).to_have_count(0)
    expect(tab.page.get_by_role("button", name=SAVE)).to_have_count(0)

    assert live_referent(live) == in_force
    tab.goto(FORM)
    assert version_in_force(tab) == before
    expect(referents(tab).get_by_label("Numéro, ligne 1")).not_to_have_value("06 12")


def test_given_a_saved_edit_when_restoring_the_earlier_version_then_the_number_is_back(
    tab: Tab, live: LiveServer, routing_at_start: routing_versions.Base
) -> None:
    earlier = routing_at_start.version
    tab.sign_in("admin-departement")
    tab.goto(FORM)
    edit_first_referent(tab, "Référent SI remplaçant — Essonne", "01 99 00 09 19")
    save(tab, "Remplaçant pendant les congés")
    assert live_referent(live) == ("Référent SI remplaçant — Essonne", "+33199000919")
    saved = version_in_force(tab)

    tab.goto("/admin/routage/versions")
    tab.expect_text("Vous pouvez restaurer la section de vos départements")
    expect(tab.page.locator(f"#version-{saved}")).to_contain_text("(en vigueur)")
    row = tab.page.locator(f"#version-{earlier}")
    with tab.page.expect_navigation():
        row.get_by_role("link", name="Le 91").click()
    tab.shot()
    assert tab.heading() == f"Restaurer la version n° {earlier} pour le 91"
    changes = tab.page.locator("#changements")
    referents_row = changes.get_by_role("row").filter(has_text="Référents SI")
    expect(referents_row.locator("td").first).to_contain_text("01 99 00 09 19")
    expect(referents_row.locator("td").last).to_contain_text(
        f"1. {FIRST_REFERENT[0]} — {FIRST_REFERENT[1]}"
    )
    tab.page.get_by_label("Commentaire").fill("Fin des congés")
    tab.submit("Restaurer (nouvelle version appliquée)")
    assert tab.heading() == "Versions du routage"
    tab.expect_text(
        f"Version n° {earlier} restaurée (le 91) : nouvelle version n° {saved + 1} appliquée."
    )
    restored = tab.page.locator(f"#version-{saved + 1}")
    expect(restored).to_contain_text(
        f"Restauration de la version n° {earlier} (le 91) : Fin des congés"
    )
    expect(restored.locator("td").nth(4)).to_contain_text(
        f"Restauration de la version n° {earlier}"
    )

    assert live_referent(live) == (FIRST_REFERENT[0], FIRST_REFERENT[2])
    tab.goto(FORM)
    expect(referents(tab).get_by_label("Numéro, ligne 1")).to_have_value(FIRST_REFERENT[1])
    expect(referents(tab).get_by_label("Nom, ligne 1")).to_have_value(FIRST_REFERENT[0])
    closures = tab.page.get_by_role("group", name=CLOSURES)
    expect(closures.get_by_label("Date, ligne 1")).to_have_value("")


def test_given_a_national_admin_then_every_departement_is_listed_and_editable(
    tab: Tab, live: LiveServer
) -> None:
    tab.sign_in("admin-national")
    tab.goto("/admin/routage")
    links = tab.page.locator("#departements a")
    expect(links).to_have_count(len(live.services.config.departements))
    for name in ("01 — Ain", "2A — Corse-du-Sud", "91 — Essonne", "974 — La Réunion"):
        expect(tab.page.get_by_role("link", name=name, exact=True)).to_be_visible()
    upload = tab.page.get_by_role("link", name="Envoyer un fichier de routage complet")
    expect(upload).to_be_visible()
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="2A — Corse-du-Sud").click()
    tab.shot()
    assert tab.heading() == "Routage du 2A — Corse-du-Sud"
    expect(tab.page.get_by_role("button", name=CHECK)).to_be_visible()


def test_given_a_departemental_admin_when_opening_another_departement_then_refused(
    tab: Tab,
) -> None:
    tab.allow(r"status of 403")
    tab.sign_in("admin-departement")
    tab.goto("/admin/routage/departements/92")
    assert tab.heading() == "Accès refusé"
    tab.expect_text("Vous n'administrez pas le département 92.")


def test_given_a_listener_then_the_routing_pages_are_refused_in_french(tab: Tab) -> None:
    tab.allow(r"status of 403")
    tab.sign_in("ecoutant")
    for path in ("/admin/routage", FORM, "/admin/routage/versions"):
        response = tab.goto(path)
        assert response is not None, path
        assert response.status == 403, path
        assert tab.heading() == "Accès refusé"
        tab.expect_text("Votre compte n'a pas le rôle nécessaire pour cette page ou cette action.")
        expect(tab.page.locator("#form-routage")).to_have_count(0)
