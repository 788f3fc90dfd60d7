"""Routing edited by form (``/admin/routage``): scope, every field, French errors next to
their fields, the diff, the simulated calls (as ``ivr simulate`` gives them), the version
recorded and applied, restoring, stale forms and CSRF."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from ivr.cli import main
from ivr.flow import build_flow
from ivr.records.models import ConfigVersion
from ivr.sim.preview import preview_call
from ivr.web.routing_edit import form_values
from routing.config import RoutingConfig
from routing.loader import parse_config
from tests.web.conftest import REPO, World, add_people, csrf_of, shown, sign_in

FORM = "/admin/routage/departements/91"
FILE_TEXT = (REPO / "config" / "departments.yaml").read_text(encoding="utf-8")


@pytest.fixture
async def w(world: tuple[World, FastAPI], config: RoutingConfig) -> World:
    """The world with the simulator wired, a first recorded version (the file), and the
    routing in force following what is accepted (as ``Services.apply_config`` does)."""
    w = world[0]
    assert w.deps is not None
    in_force = [config]
    w.deps.preview = preview_call

    def apply(new: RoutingConfig, text: str) -> None:
        in_force[0] = new
        w.runtime.flow = build_flow(new)
        w.accepted.append(text)

    w.deps.on_config_accepted = apply
    w.deps.config = lambda: in_force[0]
    add_people(w.store)
    w.store.record_config_version(FILE_TEXT, "0" * 64, "fichier", "config/departments.yaml")
    return w


def versions(w: World) -> list[ConfigVersion]:
    from sqlalchemy.orm import Session

    with Session(w.store.engine, expire_on_commit=False) as session:
        return list(session.query(ConfigVersion).order_by(ConfigVersion.id))


def values_of(page: str) -> dict[str, str]:
    """The form's fields as the browser would send them (text inputs, checked boxes)."""
    out: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag and " checked" not in tag:
            continue
        out[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', page):
        out[name] = html.unescape(body)
    return out


def error_of(response: httpx.Response, name: str) -> str:
    found = re.search(
        rf'<span class="errors" id="erreur-{re.escape(name)}">([^<]*)</span>', response.text
    )
    assert found is not None, f"no error next to {name}"
    return html.unescape(found.group(1))


async def open_form(browser: httpx.AsyncClient, login: str = "a.essonne") -> dict[str, str]:
    await sign_in(browser, login)
    page = await browser.get(FORM)
    assert page.status_code == 200, page.text
    return values_of(page.text)


def edited(values: dict[str, str]) -> dict[str, str]:
    """Every editable field changed once."""
    out = dict(values)
    out.update(
        {
            "referent-3-nom": "Référente SI nouvelle — Essonne",
            "referent-3-numero": "01 99 00 09 19",
            "referent-3-ordre": "1",
            "referent-0-ordre": "2",
            "referent-1-ordre": "3",
            "referent-2-supprimer": "1",
            "ecoutant-3-nom": "Écoutant 4 — 115 Essonne",
            "ecoutant-3-numero": "02 61 91 09 13",
            "horaires-sat": "9h-12h",
            "horaires-fri": "09:00-12:30",
            "exception-0-date": "25/12/2026",
            "exception-0-libelle": "Noël",
            "exception-0-fermee": "1",
            "exception-1-date": "24/12/2026",
            "exception-1-horaires": "09:00-12:00",
            "lro-0-numero": "04 65 71 00 92",
            "lro-1-departement": "92",
            "lro-1-libelle": "115 des Hauts-de-Seine",
            "dissuasion-saturation": "Le 115 de l'Essonne est saturé : rappelez plus tard.",
            "dissuasion-fermeture": "Le 115 de l'Essonne est fermé : votre appel est transféré.",
            "dissuasion-fermeture-urgence": "Fermeture exceptionnelle du 115 de l'Essonne.",
            "dissuasion-attente-max": "L'attente maximale est dépassée : transfert en cours.",
            "apercu-1-date": "23/11/2026",
            "apercu-1-heure": "10:00",
            "apercu-2-date": "29/11/2026",
            "apercu-2-heure": "03:00",
        }
    )
    out.pop("feries-fermes", None)
    return out


async def verify(browser: httpx.AsyncClient, values: dict[str, str]) -> httpx.Response:
    return await browser.post(FORM, data={**values, "action": "verifier"})


async def save(
    browser: httpx.AsyncClient, values: dict[str, str], comment: str = "Nouvelle référente"
) -> httpx.Response:
    checked = await verify(browser, values)
    assert checked.status_code == 200, shown(checked)
    sent = values_of(checked.text)
    sent.update(commentaire=comment, action="enregistrer")
    return await browser.post(FORM, data=sent)


# --------------------------------------------------------------------------- who may


async def test_a_departemental_admin_lists_and_opens_only_their_departements(
    w: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "a.essonne")
    index = await browser.get("/admin/routage")
    assert 'id="departement-91"' in index.text
    assert 'id="departement-92"' not in index.text
    assert (await browser.get("/admin/routage/departements/92")).status_code == 403
    refused = await browser.post(
        "/admin/routage/departements/92", data={"csrf": csrf_of(index.text), "version": "1"}
    )
    assert refused.status_code == 403
    assert "Vous n'administrez pas le département 92" in shown(refused)
    assert (await browser.get("/admin/routage/departements/99")).status_code == 404
    assert (await browser.get("/admin/routage/versions/99/restaurer?dep=91")).status_code == 404
    huge = await browser.get(f"/admin/routage/versions/{2**64}/restaurer?dep=91")
    assert huge.status_code == 404
    assert len(versions(w)) == 1


async def test_a_national_admin_edits_any_departement(w: World, browser: httpx.AsyncClient) -> None:
    await sign_in(browser, "a.national")
    index = await browser.get("/admin/routage")
    assert index.text.count('id="departement-') == 101
    page = await browser.get("/admin/routage/departements/2a")
    assert page.status_code == 200
    assert "Routage du 2A — Corse-du-Sud" in shown(page)


@pytest.mark.parametrize("login", ["c.dupont", "r.leroy", "s.national"])
async def test_other_roles_are_refused(w: World, browser: httpx.AsyncClient, login: str) -> None:
    await sign_in(browser, login)
    for path in ("/admin/routage", FORM, "/admin/routage/versions"):
        assert (await browser.get(path)).status_code == 403


async def test_signed_out_people_get_the_sign_in_page(w: World, browser: httpx.AsyncClient) -> None:
    assert (await browser.get(FORM)).status_code == 401


# --------------------------------------------------------------------------- the form


async def test_the_form_opens_on_the_routing_in_force_with_stable_fields(
    w: World, browser: httpx.AsyncClient, config: RoutingConfig
) -> None:
    values = await open_form(browser)
    assert values["referent-0-nom"] == "Référent SI premier — Essonne"
    assert values["referent-0-numero"] == "01 99 00 09 10"
    assert values["ecoutant-2-numero"] == "02 61 91 09 12"
    assert values["horaires-mon"] == "09:00-12:30, 13:30-17:00"
    assert values["horaires-sun"] == ""
    assert values["feries-fermes"] == "1"
    assert values["lro-0-numero"] == "04 65 71 00 91"
    assert values["version"] == "1"
    assert values["apercu-2-heure"] == "03:00"
    assert values == {
        **form_values(config.departements["91"]),
        **{k: v for k, v in values.items() if k not in form_values(config.departements["91"])},
    }


async def test_verifying_shows_every_change_and_the_simulated_calls_but_saves_nothing(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    checked = await verify(browser, edited(values))
    assert checked.status_code == 200, shown(checked)
    text = shown(checked)
    for label in (
        "Référents SI (dans l'ordre d'appel)",
        "Postes d'écoutants du 115",
        "Horaires des référents le samedi",
        "Horaires des référents le vendredi",
        "Fermé les jours fériés",
        "Fermetures et horaires exceptionnels",
        "Numéros LRO (dernier recours, dans l'ordre)",
        "Message de dissuasion : saturation",
        "Message de dissuasion : fermeture exceptionnelle",
        "Message de dissuasion : attente maximale dépassée",
    ):
        assert label in text, label
    assert "1. Référente SI nouvelle — Essonne — 01 99 00 09 19" in text
    assert "3. Référent SI troisième — Essonne — 01 99 00 09 12" in text  # before
    assert "25/12/2026 (Noël) : fermé" in text
    assert "24/12/2026 : 09:00-12:00" in text
    assert "2. 115 du 92 (115 des Hauts-de-Seine)" in text
    assert "115 des Hauts-de-Seine — 03 53 01 09 20 (LRO)" in text  # another 115, named
    assert "+        sat:" in text
    assert "-    - number: 04 65 71 00 91" in text
    assert 'id="apercu-appels"' in text
    assert "Ligne d'assistance SI SIAO — le 23/11/2026 à 10:00" in text
    assert "115 — le 29/11/2026 à 03:00" in text
    assert 'id="bouton-enregistrer"' in text
    assert len(versions(w)) == 1
    assert w.accepted == []


async def test_no_change_says_so(w: World, browser: httpx.AsyncClient) -> None:
    values = await open_form(browser)
    checked = await verify(
        browser, {**values, "apercu-1-date": "23/11/2026", "apercu-1-heure": "10:00"}
    )
    assert "Aucun changement par rapport à la version en vigueur." in shown(checked)
    assert 'id="bouton-enregistrer"' not in checked.text
    assert "Appels simulés sur le routage en vigueur" in shown(checked)
    assert "Référent SI troisième — Essonne — 01 99 00 09 12 (référent SI (palier 1))" in shown(
        checked
    )


async def test_the_preview_gives_what_ivr_simulate_gives(
    w: World, browser: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = await open_form(browser)
    checked = await verify(browser, edited(values))
    articles = re.findall(
        r'<article class="apercu"[^>]*data-line="([^"]+)">(.*?)</article>', checked.text, re.S
    )
    assert len(articles) == 4
    response = await save(browser, edited(values))
    assert response.status_code == 303
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(w.accepted[-1], encoding="utf-8")
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "var"))
    moments = ["2026-11-23T10:00:00+01:00", "2026-11-29T03:00:00+01:00"]
    lines = ["assistance", "115"]
    for (line, body), (at, expected_line) in zip(
        articles, [(m, ln) for m in moments for ln in lines], strict=True
    ):
        assert line == expected_line
        args = [
            "simulate",
            "--config",
            str(proposed),
            "--line",
            line,
            "--nobody-answers",
            "--at",
            at,
            "--json",
        ]
        if line == "115":
            args += ["--departement", "91", "--listeners", "4"]
        else:
            args += ["--press", "91"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        summary: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
        shown_numbers = re.findall(r"<li>[^<]* — ([0-9 ]+) \(", body)
        from routing.phone import display_number

        assert shown_numbers == [display_number(a["number"]) for a in summary["destinations_tried"]]
    assert shown_numbers[0] == "02 61 91 09 10"  # Sunday 3 am: the 115 rings its listeners


# --------------------------------------------------------------------------- saving


async def test_saving_records_a_version_with_author_and_comment_and_applies_it(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    response = await save(browser, edited(values), "Arrivée de Mme Nouvelle")
    assert response.status_code == 303, shown(response)
    page = await browser.get(response.headers["location"])
    assert "Version n° 2 enregistrée et appliquée" in shown(page)
    latest = versions(w)[-1]
    assert (latest.id, latest.author, latest.comment) == (2, "a.essonne", "Arrivée de Mme Nouvelle")
    assert latest.departements == "91"
    assert latest.changes is not None
    assert "91 : Référents SI (dans l'ordre d'appel)" in latest.changes
    config = parse_config(latest.content)
    referents = config.departements["91"].assistance.referents
    assert [r.number for r in referents] == ["+33199000919", "+33199000910", "+33199000911"]
    assert w.accepted == [latest.content]
    assert w.runtime.flow.config.departements["91"].assistance.referents == referents
    # The rest of the file is the file: comments and other départements untouched.
    assert latest.content.startswith(FILE_TEXT.split('  "91":')[0])
    assert latest.content.split('  "92":')[1] == FILE_TEXT.split('  "92":')[1]
    assert ("a.essonne", "apply", "config_version", "2") in w.audit()
    assert ("a.essonne", "update", "routing_departement", "91") in w.audit()
    assert page.text.count('value="') > 0
    assert values_of(page.text)["version"] == "2"


async def test_a_comment_is_required(w: World, browser: httpx.AsyncClient) -> None:
    values = await open_form(browser)
    response = await save(browser, edited(values), "  ")
    assert response.status_code == 422
    assert (
        error_of(response, "commentaire") == "Indiquez en quelques mots ce qui change et pourquoi."
    )
    assert len(versions(w)) == 1


async def test_a_form_changed_after_the_check_is_shown_again(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    checked = await verify(browser, edited(values))
    sent = values_of(checked.text)
    sent.update(commentaire="x", action="enregistrer", **{"referent-0-nom": "Autre nom"})
    response = await browser.post(FORM, data=sent)
    assert response.status_code == 409
    assert "Le formulaire a changé depuis la vérification" in shown(response)
    assert "Autre nom" in shown(response)
    assert len(versions(w)) == 1


async def test_a_form_opened_on_an_older_version_is_refused(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    checked = await verify(browser, edited(values))
    w.store.record_config_version(FILE_TEXT, "1" * 64, "a.national", "en même temps")
    sent = values_of(checked.text)
    sent.update(commentaire="Nouvelle référente", action="enregistrer")
    response = await browser.post(FORM, data=sent)
    assert response.status_code == 409
    assert "La configuration a changé depuis l'ouverture de ce formulaire (version n° 2" in shown(
        response
    )
    assert len(versions(w)) == 2
    assert w.accepted == []


async def test_a_form_without_its_csrf_token_is_refused(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    sent = edited(values)
    sent.pop("csrf")
    response = await browser.post(FORM, data={**sent, "action": "enregistrer", "commentaire": "x"})
    assert response.status_code == 403
    assert len(versions(w)) == 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("changes", "name", "message"),
    [
        (
            {"referent-0-numero": "06 12"},
            "referent-0-numero",
            "« 06 12 » n'est pas un numéro de téléphone valide",
        ),
        (
            {"referent-1-nom": "", "referent-1-numero": "01 99 00 09 77"},
            "referent-1-nom",
            "texte trop court (au moins 1 caractères)",
        ),
        (
            {"referent-1-ordre": "deux"},
            "referent-1-ordre",
            "« deux » n'est pas un rang valide (un nombre de 1 à 999)",
        ),
        (
            {"ecoutant-1-numero": "02 61 91 09 10"},
            "ecoutants",
            "le numéro +33261910910 apparaît deux fois",
        ),
        (
            {"horaires-mon": "25:00-12:00"},
            "horaires-mon",
            "« 25:00-12:00 » n'est pas une plage horaire valide "
            "(attendu HH:MM-HH:MM, par exemple 09:30-11:30)",
        ),
        (
            {"horaires-tue": "12:00-09:00"},
            "horaires-tue",
            "« 12:00-09:00 » : la fin de la plage doit suivre son début",
        ),
        (
            {"exception-0-date": "31/02/2026"},
            "exception-0-date",
            "« 31/02/2026 » n'est pas une date valide (jj/mm/aaaa, ex. 25/12/2026)",
        ),
        (
            {"exception-0-date": "", "exception-0-libelle": "Pont"},
            "exception-0-date",
            "date obligatoire (jj/mm/aaaa)",
        ),
        (
            {
                "exception-0-date": "25/12/2026",
                "exception-0-fermee": "1",
                "exception-0-horaires": "09:00-12:00",
            },
            "exception-0-horaires",
            "une exception fermée (closed: true) ne peut pas avoir d'horaires",
        ),
        ({"lro-0-numero": "12"}, "lro-0-numero", "« 12 » n'est pas un numéro de téléphone valide"),
        ({"lro-1-departement": "91"}, "lro-1-numero", "la chaîne LRO boucle : 91 → 91"),
        (
            {"lro-1-departement": "99"},
            "lro-1-numero",
            "« 99 » n'est pas un code de département connu",
        ),
        (
            {"dissuasion-saturation": "Saturé"},
            "dissuasion-saturation",
            "texte trop court (au moins 10 caractères)",
        ),
        (
            {"apercu-1-date": "2026-11-23"},
            "apercu-1-date",
            "« 2026-11-23 » n'est pas une date valide (jj/mm/aaaa)",
        ),
        (
            {"apercu-2-heure": "25:00"},
            "apercu-2-heure",
            "« 25:00 » n'est pas une heure valide (HH:MM, de 00:00 à 23:59)",
        ),
    ],
)
async def test_a_wrong_field_gets_its_french_message_and_nothing_is_saved(
    w: World, browser: httpx.AsyncClient, changes: dict[str, str], name: str, message: str
) -> None:
    values = await open_form(browser)
    response = await browser.post(
        FORM, data={**values, **changes, "action": "enregistrer", "commentaire": "x"}
    )
    assert response.status_code == 422, shown(response)
    assert error_of(response, name) == message
    assert "Rien n'a été enregistré : corrigez les champs signalés." in shown(response)
    assert f'id="{name}"' in response.text or name in ("ecoutants",)
    assert len(versions(w)) == 1
    assert w.accepted == []


# --------------------------------------------------------------------------- versions


async def test_the_versions_page_lists_author_date_comment_and_what_changed(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    assert (await save(browser, edited(values), "Arrivée de Mme Nouvelle")).status_code == 303
    page = await browser.get("/admin/routage/versions")
    text = shown(page)
    assert 'id="version-2"' in page.text
    assert "Arrivée de Mme Nouvelle" in text
    assert "91 : Postes d'écoutants du 115" in text
    assert "a.essonne" in text
    assert 'id="restaurer-1-91"' in page.text
    assert 'id="restaurer-1"' not in page.text  # whole files: national admins only


async def test_a_departemental_admin_restores_their_section(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    assert (await save(browser, edited(values))).status_code == 303
    confirm = await browser.get("/admin/routage/versions/1/restaurer?dep=91")
    assert confirm.status_code == 200
    assert "Après (restauré)" in shown(confirm)
    sent = values_of(confirm.text)
    response = await browser.post("/admin/routage/versions/1/restaurer", data=sent)
    assert response.status_code == 303, shown(response)
    latest = versions(w)[-1]
    assert latest.id == 3
    assert latest.restored_from == 1
    assert latest.departements == "91"
    assert latest.comment == "Restauration de la version n° 1 (le 91)"
    restored = parse_config(latest.content)
    assert restored.departements["91"] == parse_config(FILE_TEXT).departements["91"]
    assert w.runtime.flow.config.departements["91"] == restored.departements["91"]
    assert ("a.essonne", "restore", "config_version", "1") in w.audit()


async def test_a_departemental_admin_may_not_restore_a_whole_file_or_another_section(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    assert (await save(browser, edited(values))).status_code == 303
    assert (await browser.get("/admin/routage/versions/1/restaurer")).status_code == 403
    assert (await browser.get("/admin/routage/versions/1/restaurer?dep=92")).status_code == 403
    csrf = values["csrf"]
    for dep in ("", "92"):
        response = await browser.post(
            "/admin/routage/versions/1/restaurer", data={"csrf": csrf, "version": "2", "dep": dep}
        )
        assert response.status_code == 403
    assert len(versions(w)) == 2


async def test_a_national_admin_restores_a_whole_file(w: World, browser: httpx.AsyncClient) -> None:
    values = await open_form(browser, "a.national")
    assert (await save(browser, edited(values))).status_code == 303
    confirm = await browser.get("/admin/routage/versions/1/restaurer")
    assert "Référents SI (dans l'ordre d'appel)" in shown(confirm)
    sent = {**values_of(confirm.text), "commentaire": "retour arrière"}
    response = await browser.post("/admin/routage/versions/1/restaurer", data=sent)
    assert response.status_code == 303
    latest = versions(w)[-1]
    assert latest.content == FILE_TEXT
    assert latest.departements is None
    assert latest.comment == "Restauration de la version n° 1 (tout le fichier) : retour arrière"
    assert w.accepted[-1] == FILE_TEXT


async def test_a_restoration_on_a_stale_page_is_refused(
    w: World, browser: httpx.AsyncClient
) -> None:
    values = await open_form(browser)
    assert (await save(browser, edited(values))).status_code == 303
    confirm = await browser.get("/admin/routage/versions/1/restaurer?dep=91")
    w.store.record_config_version(FILE_TEXT, "2" * 64, "a.national", "en même temps")
    response = await browser.post(
        "/admin/routage/versions/1/restaurer", data=values_of(confirm.text)
    )
    assert response.status_code == 409
    assert "version n° 3 enregistrée entre-temps" in shown(response)
    assert len(versions(w)) == 3


async def test_restoring_the_version_in_force_changes_nothing(
    w: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "a.national")
    w.store.record_config_version(FILE_TEXT, "3" * 64, "a.national", "même texte")
    confirm = await browser.get("/admin/routage/versions/1/restaurer?dep=91")
    assert 'id="identique"' in confirm.text
    response = await browser.post(
        "/admin/routage/versions/1/restaurer", data=values_of(confirm.text)
    )
    assert response.status_code == 409


def test_two_edits_of_one_version_cannot_both_be_recorded(w: World) -> None:
    """The newest id is read in the recording transaction; when two edits race past that
    read, ``based_on`` (unique) refuses the second."""
    import sqlalchemy as sa

    from ivr.records.store import StaleVersionError

    first = w.store.record_config_version(FILE_TEXT, "a" * 64, "a.essonne", "x", expected_latest=1)
    assert first == 2
    with pytest.raises(StaleVersionError):
        w.store.record_config_version(FILE_TEXT, "b" * 64, "a.national", "y", expected_latest=1)
    with w.store.engine.begin() as conn:  # as if the second had read the newest id first
        conn.execute(sa.update(ConfigVersion).where(ConfigVersion.id == 2).values(based_on=2))
    with pytest.raises(StaleVersionError) as raised:
        w.store.record_config_version(FILE_TEXT, "c" * 64, "a.national", "z", expected_latest=2)
    assert raised.value.latest == 2
    assert len(versions(w)) == 2


async def test_a_version_that_no_longer_validates_is_not_restored(
    w: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "a.national")
    broken = FILE_TEXT.replace("strategy: in_order\n", "strategy: au_hasard\n", 1)
    w.store.record_config_version(broken, "4" * 64, "fichier", "ancienne règle")
    w.store.record_config_version(FILE_TEXT, "5" * 64, "fichier", "en vigueur")
    page = await browser.get("/admin/routage/versions/2/restaurer")
    assert page.status_code == 422
    assert "Cette version ne passe plus la vérification du fichier de routage" in shown(page)
    assert "« au_hasard » n'est pas une valeur permise" in shown(page)


async def test_an_uploaded_file_says_which_departements_it_changes(
    w: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "a.national")
    admin = await browser.get("/admin")
    changed = FILE_TEXT.replace("max_waiting_calls: 40", "max_waiting_calls: 45", 1)
    response = await browser.post(
        "/admin/configuration",
        data={"csrf": csrf_of(admin.text), "texte": changed, "commentaire": "file d'attente"},
    )
    assert response.status_code == 303, shown(response)
    latest = versions(w)[-1]
    assert latest.departements is None
    assert latest.changes == "fichier complet : 91"
    page = await browser.get("/admin/routage/versions")
    assert "fichier complet : 91" in shown(page)
    assert 'id="restaurer-1"' in page.text
    assert 'id="form-restaurer-1"' in page.text
    confirm = await browser.get("/admin/routage/versions/1/restaurer", params={"dep": "91"})
    assert "max_waiting_calls: 45" in shown(confirm)  # before (in force)
    assert "max_waiting_calls: 40" in shown(confirm)  # after (restored)


async def test_with_no_version_recorded_the_routing_in_force_is_edited(
    world: tuple[World, FastAPI], browser: httpx.AsyncClient
) -> None:
    w = world[0]
    add_people(w.store)
    values = await open_form(browser)
    assert values["version"] == "0"
    response = await save(browser, edited(values), "Première version")
    assert response.status_code == 303, shown(response)
    (first,) = versions(w)
    assert first.author == "a.essonne"
    assert len(parse_config(first.content).departements["91"].assistance.referents) == 3
    assert w.accepted == [first.content]
