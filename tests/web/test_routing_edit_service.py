"""The routing edit service (``ivr.web.routing_edit``, ``ivr.web.routing_text``): pure
functions from a routing and a form to a new routing, its errors by field and its diff."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.sim.preview import departement_keys, preview_call
from ivr.web.routes.routing_preview import next_sunday_3am
from ivr.web.routing_edit import (
    GENERAL,
    check,
    field_of,
    form_values,
    parse_fr_date,
    parse_fr_moment,
    propose,
    ranges,
    rows_shown,
    with_departement,
)
from ivr.web.routing_text import (
    changes,
    section_data,
    touched,
    upload_summary,
    whole_text,
    with_section,
    yaml_diff,
)
from routing.config import RoutingConfig
from routing.loader import parse_config
from tests.web.conftest import REPO

TEXT = (REPO / "config" / "departments.yaml").read_text(encoding="utf-8")


def test_the_form_of_the_routing_in_force_changes_nothing(config: RoutingConfig) -> None:
    checked = check(config, TEXT, "91", form_values(config.departements["91"]))
    assert checked.errors == {}
    assert checked.config == config
    assert changes(config.departements["91"], config.departements["91"]) == []


def test_rows_are_ordered_by_rank_and_emptied_or_removed_rows_dropped(
    config: RoutingConfig,
) -> None:
    values = form_values(config.departements["91"])
    values.update({"referent-0-ordre": "3", "referent-1-supprimer": "1", "referent-2-ordre": "1"})
    values.update({"referent-3-nom": "Nouvelle", "referent-3-numero": "01 99 00 09 55"})
    values.update({"referent-3-ordre": "2", "ecoutant-2-nom": "", "ecoutant-2-numero": ""})
    proposal = propose(config.departements["91"], values)
    names = [r["name"] for r in proposal.section["assistance"]["referents"]]
    assert names == ["Référent SI troisième — Essonne", "Nouvelle", "Référent SI premier — Essonne"]
    assert proposal.rows["referent"] == [2, 3, 0]
    assert len(proposal.section["115"]["listeners"]) == 2
    assert rows_shown(values, "referent") == [0, 1, 2, 3, 4, 5]


def test_a_form_sent_back_with_its_empty_rows_shows_two_empty_rows_still(
    config: RoutingConfig,
) -> None:
    # The form of the 91 as a browser posts it: its three referents, two empty rows, and
    # an unchecked « Retirer » (absent); each « Vérifier » must not add two more rows.
    values = form_values(config.departements["91"])
    for i in (3, 4):
        values.update({f"referent-{i}-ordre": "", f"referent-{i}-nom": " "})
        values[f"referent-{i}-numero"] = ""
    assert rows_shown(values, "referent") == [0, 1, 2, 3, 4]
    values["referent-4-numero"] = "01 99 00 09 55"  # a filled last row stays, two follow
    assert rows_shown(values, "referent") == [0, 1, 2, 3, 4, 5, 6]
    assert rows_shown({"exception-0-date": ""}, "exception") == [0, 1]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("departements.91.assistance.referents[1].number", "referent-2-numero"),
        ("departements.91.assistance.referents[0].name", "referent-0-nom"),
        ("departements.91.assistance.referents", "referents"),
        ("departements.91.115.listeners[0].number", "ecoutant-5-numero"),
        ("departements.91.assistance.hours.weekly.sat[0]", "horaires-sat"),
        ("departements.91.assistance.hours.exceptions[0].date", "exception-7-date"),
        ("departements.91.assistance.hours.exceptions[0]", "exception-7-horaires"),
        ("departements.91.assistance.hours.exceptions", "exceptions"),
        ("departements.91.115.lro[0]", "lro-4-numero"),
        ("departements.91.115.lro[0].departement", "lro-4-departement"),
        ("departements.91.115.deterrence.closure", "dissuasion-fermeture"),
        ("departements.91.115.queue.max_waiting_calls", GENERAL),
        ("departements.92.115.lro[0]", GENERAL),
        ("national.default_lro", GENERAL),
    ],
)
def test_a_loader_problem_goes_next_to_its_field(path: str, field: str) -> None:
    rows = {"referent": [0, 2], "ecoutant": [5], "exception": [7], "lro": [4]}
    assert field_of(path, "91", rows) == field


def test_french_dates_times_and_ranges() -> None:
    assert parse_fr_date("25/12/2026") == date(2026, 12, 25)
    assert parse_fr_date("5/1/2027") == date(2027, 1, 5)
    assert parse_fr_date("2026-12-25") is None
    assert parse_fr_date("29/02/2026") is None
    assert parse_fr_date("31/12/9999") is None
    assert parse_fr_date("01/01/0001") is None
    assert parse_fr_moment("29/11/2026", "03:00") == datetime(2026, 11, 29, 3, 0)
    assert parse_fr_moment("29/11/2026", "3h") is None
    assert parse_fr_moment("29/11/2026", "24:00") is None
    assert ranges("9h-12h30 ; 14h-17h") == ["09:00-12:30", "14:00-17:00"]
    assert ranges("00:00-24:00") == ["00:00-24:00"]
    assert ranges("fermé") == []
    assert ranges("n'importe quoi") == ["n'importe quoi"]  # the loader says what is wrong


def test_next_sunday_at_3_am_in_the_departements_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert next_sunday_3am(datetime(2026, 12, 7, 20, 0, tzinfo=paris)) == datetime(
        2026, 12, 13, 3, 0, tzinfo=paris
    )
    assert next_sunday_3am(datetime(2026, 12, 13, 1, 0, tzinfo=paris)).day == 20


def test_the_section_is_replaced_in_place_and_the_rest_of_the_file_kept(
    config: RoutingConfig,
) -> None:
    section = section_data(config.departements["91"])
    section["assistance"]["referents"].pop()
    text, parsed = with_section(config, TEXT, "91", section)
    assert isinstance(parsed, RoutingConfig)
    before, after = TEXT.split('  "91":'), text.split('  "91":')
    assert after[0] == before[0]
    assert after[1].split('  "92":')[1] == before[1].split('  "92":')[1]
    assert len(parsed.departements["91"].assistance.referents) == 2
    assert touched(config, parsed) == ["91"]


def test_a_file_laid_out_otherwise_is_written_anew(config: RoutingConfig) -> None:
    flow_text = json.dumps(parse_config(TEXT).model_dump(mode="json", by_alias=True))
    # JSON is YAML too, but the section cannot be found line by line.
    flow_config = parse_config(flow_text)
    section = section_data(config.departements["2A"])
    section["115"]["deterrence"]["saturation"] = "Le 115 de Corse-du-Sud est saturé."
    text, parsed = with_section(flow_config, flow_text, "2A", section)
    assert isinstance(parsed, RoutingConfig)
    assert touched(flow_config, parsed) == ["2A"]
    assert text.startswith("version: 1\n")


def test_the_file_can_be_written_from_the_models(config: RoutingConfig) -> None:
    assert parse_config(whole_text(config)) == config


def test_changes_say_what_was_and_what_will_be(config: RoutingConfig) -> None:
    old = config.departements["91"]
    values = form_values(old)
    values.update({"horaires-sun": "10:00-12:00", "lro-0-numero": "", "lro-0-libelle": ""})
    values.update({"dissuasion-fermeture": "La plateforme est fermée, au revoir."})
    checked = check(config, TEXT, "91", values)
    assert checked.config is not None
    new = checked.config.departements["91"]
    found = {c.label: (c.before, c.after) for c in changes(old, new)}
    assert found == {
        "Horaires des référents le dimanche": ("fermé", "10:00-12:00"),
        "Numéros LRO (dernier recours, dans l'ordre)": (
            "1. 04 65 71 00 91 (Astreinte 115 Essonne)",
            "aucun (chaîne nationale seule)",
        ),
        "Message de dissuasion : fermeture": (
            "La plateforme du 115 Essonne est fermée pour le moment. Votre appel va être "
            "transféré.",
            "La plateforme est fermée, au revoir.",
        ),
    }
    diff = yaml_diff(old, new, "91")
    assert "+        sun:\n+        - 10:00-12:00\n" in diff
    assert "-    - number: 04 65 71 00 91\n" in diff


def test_a_restored_section_may_change_settings_the_form_does_not_show(
    config: RoutingConfig,
) -> None:
    old = config.departements["91"]
    queue = old.line_115.queue.model_copy(update={"max_waiting_calls": 55})
    other = old.model_copy(update={"line_115": old.line_115.model_copy(update={"queue": queue})})
    checked = with_departement(config, TEXT, "91", other)
    assert checked.errors == {}
    assert checked.config is not None
    (change,) = changes(old, other)
    assert change.label == "Autres réglages du département"
    assert "max_waiting_calls: 40" in change.before
    assert "max_waiting_calls: 55" in change.after
    assert touched(config, checked.config) == ["91"]


def test_a_section_restored_into_a_routing_where_it_no_longer_fits_is_refused(
    config: RoutingConfig,
) -> None:
    # Its inbound number is now another département's: the loader says so, nothing kept.
    taken = config.departements["91"].model_copy(
        update={
            "line_115": config.departements["91"].line_115.model_copy(
                update={"inbound_numbers": config.departements["92"].line_115.inbound_numbers}
            )
        }
    )
    checked = with_departement(config, TEXT, "91", taken)
    assert checked.config is None
    assert (
        "le numéro entrant +33353010920 est déjà celui de 115 du 91" in checked.errors[GENERAL][0]
    )


def test_upload_summary() -> None:
    assert upload_summary([]) == ["fichier complet : aucun changement de routage"]
    assert upload_summary(["national", "91"]) == ["fichier complet : national, 91"]
    codes = [f"{i:02d}" for i in range(1, 21)]
    assert upload_summary(codes, 3) == ["fichier complet : 01, 02, 03 et 17 autre(s)"]


def test_the_preview_calls_as_ivr_simulate_does(config: RoutingConfig) -> None:
    assert departement_keys("2A") == ["20", "1"]
    assert departement_keys("971") == ["971"]
    at = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    result = preview_call(config, "assistance", "2B", at, True)
    summary = result["summary"]
    assert summary["departement"] == "2B"
    numbers = [a["number"] for a in summary["destinations_tried"]]
    referents = [c.number for c in config.departements["2B"].assistance.referents]
    assert numbers[: len(referents)] == referents
    assert "Résultat : fin sur un message" in result["text"]
