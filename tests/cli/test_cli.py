"""The ``ivr`` command through a real subprocess, as an admin or a tester runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parent.parent.parent
CONFIG = REPO / "config" / "departments.yaml"
WEEKDAY_10 = "2026-11-23T10:00:00+01:00"
SUNDAY_10 = "2026-11-22T10:00:00+01:00"


def ivr(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )


def simulate_json(*args: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    done = ivr("simulate", "--json", *args)
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert objects[-1]["type"] == "summary"
    return objects[:-1], objects[-1]


def test_given_shipped_configuration_then_check_passes_with_101_departements() -> None:
    done = ivr("config", "check", str(CONFIG))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"{CONFIG} : valide — 101 départements, 303 référents, 303 postes d'écoutants, 717 numéros"
    )


def test_given_default_path_then_check_reads_config_departments_yaml() -> None:
    done = ivr("config", "check")
    assert done.returncode == 0
    assert "101 départements" in done.stdout


def test_given_broken_file_then_check_exits_1_listing_every_error() -> None:
    bad = REPO / "tests" / "data" / "bad" / "several_errors.yaml"
    done = ivr("config", "check", str(bad))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"{bad} : 3 erreurs"
    assert len(lines) == 4
    assert "« Mars/Olympus » n'est pas un fuseau horaire connu" in lines[3]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("billion-laughs", ":8: les alias YAML (*nom) développent le fichier au-delà de"),
        ("python-object", ":2: l'étiquette YAML « !!python/object/apply:os.system »"),
        ("python-name", ":3: l'étiquette YAML « !!python/name:os.system »"),
        ("deep-lists", ":2: imbrication trop profonde (plus de 50 niveaux"),
    ],
)
def test_given_hostile_file_then_check_exits_1_naming_the_problem_in_french(
    name: str, expected: str
) -> None:
    hostile = REPO / "tests" / "data" / "hostile" / f"{name}.yaml"
    done = ivr("config", "check", str(hostile))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"{hostile} : 1 erreur"
    assert lines[1].startswith(f"{hostile}{expected}")
    assert "Traceback" not in done.stderr


def test_given_file_over_2_mo_then_check_exits_1_too_big(tmp_path: Path) -> None:
    big = tmp_path / "departments.yaml"
    big.write_bytes(CONFIG.read_bytes() + b"#" * 2_000_000 + b"\n")
    done = ivr("config", "check", str(big))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"{big} : 1 erreur",
        f"{big}: fichier trop volumineux (2 Mo au plus)",
    ]


def test_given_weekday_10h_pressing_75_then_connected_to_a_paris_referent() -> None:
    steps, summary = simulate_json("--line", "assistance", "--press", "75", "--at", WEEKDAY_10)
    referents = {"+33199000750", "+33199000751", "+33199000752"}
    assert summary["departement"] == "75"
    assert summary["outcome"] == "connected"
    assert summary["connected_to"] in referents
    assert summary["destinations_tried"] == [
        {"number": summary["connected_to"], "role": "tier1", "result": "answered"}
    ]
    assert summary["prompts"][:2] == ["assistance_welcome", "ask_departement"]
    assert any(s["kind"] == "keys" and s["keys"] == "75" for s in steps)


def test_given_nobody_answers_then_tier1_then_tier2_then_urgent_email() -> None:
    _, summary = simulate_json(
        "--line", "assistance", "--press", "75", "--at", WEEKDAY_10, "--nobody-answers"
    )
    roles = [d["role"] for d in summary["destinations_tried"]]
    assert roles == ["tier1", "tier1", "tier1", "tier2", "tier2"]
    assert all(d["result"] == "no-answer" for d in summary["destinations_tried"])
    assert summary["prompts"][-1] == "urgent_email"
    assert summary["outcome"] == "message"
    assert summary["connected_to"] is None


def test_given_sunday_then_nobody_is_reached_and_closed_message() -> None:
    _, summary = simulate_json("--line", "assistance", "--press", "75", "--at", SUNDAY_10)
    assert summary["destinations_tried"] == []
    assert summary["prompts"][-1] == "assistance_closed"
    assert summary["outcome"] == "message"


def test_given_20_then_1_then_corse_du_sud() -> None:
    _, summary = simulate_json(
        "--line", "assistance", "--press", "20", "--press", "1", "--at", WEEKDAY_10
    )
    assert summary["departement"] == "2A"
    assert summary["destinations_tried"][0]["role"] == "tier1"


def test_given_115_for_75_with_no_listener_then_lro() -> None:
    _, summary = simulate_json(
        "--line", "115", "--departement", "75", "--listeners", "0", "--at", WEEKDAY_10
    )
    assert summary["destinations_tried"] == [
        {"number": "+33465710075", "role": "lro", "result": "answered"}
    ]
    assert summary["connected_to"] == "+33465710075"
    assert summary["outcome"] == "connected"


def test_given_500_waiting_then_deterrence_prompt() -> None:
    _, summary = simulate_json(
        "--line", "115", "--departement", "75", "--waiting", "500", "--at", WEEKDAY_10
    )
    assert "deterrence_saturation_75" in summary["prompts"]
    assert summary["outcome"] == "message"
    assert summary["deterrence"] == "saturation"


def test_given_saturation_and_caller_presses_1_then_callback() -> None:
    _, summary = simulate_json(
        "--line", "115", "--departement", "75", "--waiting", "500",
        "--from", "06 12 34 56 78", "--press", "1", "--at", WEEKDAY_10,
    )  # fmt: skip
    assert summary["outcome"] == "callback"
    assert summary["callback_registered"] is True


def test_given_115_with_listeners_then_queued_and_connected_to_a_listener() -> None:
    steps, summary = simulate_json(
        "--line", "115", "--departement", "93", "--listeners", "2", "--waiting", "1",
        "--at", WEEKDAY_10,
    )  # fmt: skip
    assert summary["connected_role"] == "listener"
    assert summary["outcome"] == "connected"
    kinds = [s["kind"] for s in steps]
    assert (
        kinds.index("enqueue") < kinds.index("listener_offered") < kinds.index("recording_started")
    )


def test_given_to_number_then_route_from_configuration() -> None:
    _, summary = simulate_json("--to", "03 53 01 00 00", "--at", WEEKDAY_10)
    assert summary["line"] == "115"
    assert summary["departement"] == "01"


def test_given_listener_no_answer_then_next_listener() -> None:
    _, summary = simulate_json(
        "--line", "115", "--departement", "75", "--listeners", "2",
        "--no-answer", "02 61 91 07 50", "--at", WEEKDAY_10,
    )  # fmt: skip
    tried = [(d["number"], d["result"]) for d in summary["destinations_tried"]]
    assert tried == [("+33261910750", "no-answer"), ("+33261910751", "answered")]


def test_given_hang_up_in_queue_then_caller_hung_up() -> None:
    _, summary = simulate_json(
        "--line", "115", "--departement", "75", "--waiting", "5", "--listeners", "3",
        "--hang-up-at", "queued",
        "--at", WEEKDAY_10,
    )  # fmt: skip
    assert summary["outcome"] == "caller-hung-up"


def test_given_text_output_then_the_dialogue_reads_in_french() -> None:
    done = ivr("simulate", "--line", "assistance", "--press", "75", "--at", WEEKDAY_10)
    assert done.returncode == 0
    assert "Message : « Bienvenue sur la ligne d'assistance SI SIAO. »" in done.stdout
    assert "L'appelant tape 75." in done.stdout
    assert "palier 1, référent SI) : répond." in done.stdout
    assert (
        done.stdout.strip().splitlines()[-1].startswith("Résultat : mis en relation avec 01 99 00")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--line", "115", "--departement", "99"],
            "« 99 » n'est pas un département de la configuration",
        ),
        (["--line", "assistance", "--press", "7A"], "seules les touches 0 à 9, * et # existent"),
        (
            ["--line", "assistance", "--at", "2026-11-23T10:00:00"],
            "n'indique pas de décalage horaire",
        ),
        (["--line", "assistance", "--at", "demain"], "n'est pas une date ISO 8601"),
        (["--to", "0612"], "n'est pas un numéro de téléphone valide"),
        (["--to", "01 99 00 00 01"], "n'est pas un numéro entrant de la configuration"),
        (
            ["--line", "assistance", "--departement", "75"],
            "--departement ne s'utilise qu'avec --line 115",
        ),
        ([], "indiquez --line"),
    ],
)
def test_given_bad_options_then_a_french_error_and_exit_2(args: list[str], message: str) -> None:
    done = ivr("simulate", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_given_broken_config_then_simulate_exits_1_with_the_errors() -> None:
    bad = REPO / "tests" / "data" / "bad" / "lro_loop.yaml"
    done = ivr("simulate", "--config", str(bad), "--line", "assistance")
    assert done.returncode == 1
    assert "la chaîne LRO boucle" in done.stderr


def test_given_the_installed_entry_point_then_ivr_runs() -> None:
    script = Path(sys.executable).parent / "ivr"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "simulate" in done.stdout


def test_given_7_then_5_typed_during_the_welcome_then_a_paris_referent() -> None:
    # A regular caller types ahead 2.5 s after the answer, while the welcome still plays.
    steps, summary = simulate_json(
        "--line", "assistance", "--press", "7@2.5", "--press", "5@2.7", "--at", WEEKDAY_10
    )
    assert summary["departement"] == "75"
    assert summary["connected_to"] in {"+33199000750", "+33199000751", "+33199000752"}
    kinds = [s["kind"] for s in steps]
    assert kinds.index("typed_ahead") < kinds.index("interrupted") < kinds.index("keys")
    assert not any(s["kind"] == "gather" and s["prompt"] == "ask_departement" for s in steps)


def test_given_bad_press_moment_then_french_error() -> None:
    done = ivr("simulate", "--line", "assistance", "--press", "75@demain")
    assert done.returncode == 2
    assert "le moment en secondes depuis le décroché" in done.stderr


def test_given_support_post_paused_then_tier2_rings_the_other_and_the_story_says_so() -> None:
    args = ("--line", "assistance", "--press", "75", "--press", "4", "--at", WEEKDAY_10)
    steps, summary = simulate_json(*args, "--support-paused", "05 36 49 00 01")
    assert summary["destinations_tried"] == [
        {"number": "+33536490001", "role": "tier2", "result": "paused"},
        {"number": "+33536490002", "role": "tier2", "result": "answered"},
    ]
    assert [s["number"] for s in steps if s["kind"] == "support_away"] == ["+33536490001"]
    done = ivr("simulate", *args, "--support-paused", "0536490001")
    assert "poste 1 (05 36 49 00 01, palier 2, support national) : en pause, non sonné." in (
        done.stdout
    )


def test_given_every_support_post_away_then_urgent_email_message() -> None:
    args = ("--line", "assistance", "--press", "75", "--press", "4", "--at", WEEKDAY_10)
    done = ivr(
        "simulate",
        *args,
        "--support-paused",
        "05 36 49 00 01",
        "--support-offline",
        "05 36 49 00 02",
    )
    assert done.returncode == 0
    assert "poste 2 (05 36 49 00 02, palier 2, support national) : hors ligne, non sonné." in (
        done.stdout
    )
    assert "Pour une demande urgente" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("Résultat : fin sur un message.")
