"""``ivr locate``: through click's runner and as a real subprocess (python -m geoloc.cli)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from geoloc.cli import locate
from geoloc.index import GeoIndex

FORT_DE_FRANCE_SMS = (
    'A"ML=1;lt=+14.60920;lg=-61.07330;rd=25;top=20260115100000;lc=68;pm=G;'
    "si=208010000000000;ei=353456789012345;mcc=208;mnc=01;ml=124"
)


def run(index: GeoIndex, *args: str) -> tuple[int, str, str]:
    # The session's index is passed as the context object, as the ivr CLI may do.
    result = CliRunner().invoke(locate, list(args), obj=index)
    return result.exit_code, result.stdout, result.stderr


def run_json(index: GeoIndex, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(index, *args, "--json")
    document: dict[str, Any] = json.loads(out)
    return code, document


def test_given_ajaccio_position_then_json_says_2a_ajaccio(index: GeoIndex) -> None:
    code, document = run_json(index, "--lat", "41.9192", "--lon", "8.7386")
    assert code == 0
    assert document["departement"] == "2A"
    assert document["commune"] == "2A004"
    assert document["commune_name"] == "Ajaccio"
    assert document["source"] == "position"
    assert document["confidence"] == "high"
    assert document["accuracy_m"] is None
    assert document["departement_name"] == "Corse-du-Sud"


def test_given_postcode_20200_then_json_says_2b(index: GeoIndex) -> None:
    code, document = run_json(index, "--postcode", "20200")
    assert code == 0
    assert document["departement"] == "2B"
    assert document["source"] == "ivr_postcode"


def test_given_aml_sms_from_fort_de_france_then_972_with_its_accuracy(index: GeoIndex) -> None:
    code, document = run_json(index, "--aml", FORT_DE_FRANCE_SMS, "--now", "2026-01-15T10:03:00Z")
    assert code == 0
    assert document["departement"] == "972"
    assert document["commune_name"] == "Fort-de-France"
    assert document["source"] == "aml"
    assert document["accuracy_m"] == 25
    assert document["confidence"] == "high"


def test_given_sea_off_brest_then_29_flagged_nearest(index: GeoIndex) -> None:
    code, document = run_json(index, "--lat", "48.33", "--lon", "-4.62")
    assert code == 0
    assert document["departement"] == "29"
    assert document["nearest"] is True
    assert document["confidence"] == "medium"


def test_given_geneva_then_nothing_found_and_exit_1(index: GeoIndex) -> None:
    code, document = run_json(index, "--lat", "46.2044", "--lon", "6.1432")
    assert code == 1
    assert document["departement"] is None
    assert document["commune"] is None
    assert document["confidence"] == "none"
    assert document["decision"]["ask_caller"] is True


def test_given_mobile_number_then_nothing_and_said_so_in_french(index: GeoIndex) -> None:
    code, out, _ = run(index, "--number", "06 12 34 56 78")
    assert code == 1
    assert "Département : aucun" in out
    assert "Numéro mobile : il ne dit pas où se trouve l'appelant." in out


def test_given_text_output_then_french_lines(index: GeoIndex) -> None:
    code, out, _ = run(index, "--lat", "48.8566", "--lon", "2.3522", "--accuracy", "30")
    assert code == 0
    assert out.splitlines()[:4] == [
        "Département : 75 — Paris",
        "Commune : Paris (75056)",
        "Source : position — confiance élevée",
        "Précision : 30 m",
    ]


def test_given_several_sources_then_each_answer_and_the_decision(index: GeoIndex) -> None:
    code, document = run_json(index, "--postcode", "01200", "--number", "0690 00 12 34")
    assert code == 0
    assert [a["source"] for a in document["answers"]] == ["ivr_postcode", "caller_number"]
    assert document["answers"][0]["candidates"] == ["01", "74"]
    assert document["decision"]["departement"] == "971"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Erreur : indiquer au moins une source : --lat/--lon, --postcode, --number ou --aml."),
        (("--lat", "48.0"), "Erreur : --lat et --lon vont ensemble."),
        (("--lat", "nord", "--lon", "2"), "Erreur : --lat « nord » n'est pas un nombre."),
        (
            ("--aml", 'A"ML=1;lt=+48.1'),
            "Erreur : --aml : Champ AML obligatoire « lg » absent.",
        ),
        (
            ("--aml", FORT_DE_FRANCE_SMS, "--now", "demain"),
            "Erreur : --now « demain » : date ISO 8601 attendue (ex. 2026-01-15T10:00:00Z).",
        ),
    ],
)
def test_given_usage_error_then_exit_2_with_french_message(
    index: GeoIndex, args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(index, *args)
    assert code == 2
    assert err.strip() == message


def test_given_module_run_as_a_subprocess_then_ajaccio_json() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "geoloc.cli", "--lat", "41.9192", "--lon", "8.7386", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["departement"] == "2A"
    assert document["commune_name"] == "Ajaccio"


def test_given_subprocess_with_geneva_then_exit_1_and_nothing_found() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "geoloc.cli", "--lat", "46.2044", "--lon", "6.1432"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "Département : aucun" in completed.stdout
    assert "position en mer ou à l'étranger" in completed.stdout


def test_given_subprocess_usage_error_then_exit_2_in_french() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "geoloc.cli", "--postcode"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
