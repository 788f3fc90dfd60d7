"""Good and bad routing files: each bad one is rejected with the exact message a person reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.config import HuntStrategy, RecordingPolicy, lro_chain
from routing.loader import ConfigError, load_config, parse_config

DATA = Path(__file__).parent.parent / "data"
REPO = Path(__file__).parent.parent.parent

BAD = {
    "bad_number": [
        "42: departements.75.assistance.referents[1].number : "
        "« 06 12 » n'est pas un numéro de téléphone valide"
    ],
    "unknown_key": ["36: departements.75.colour : champ inconnu"],
    "bad_time": [
        "46: departements.75.assistance.hours.weekly.mon[0] : « 25:00-26:00 » n'est pas une "
        "plage horaire valide (attendu HH:MM-HH:MM, par exemple 09:30-11:30)"
    ],
    "unknown_departement": ["91: departements.99 : « 99 » n'est pas un code de département connu"],
    "unquoted_code": [
        "34: departements.75 : le code de département 75 doit être écrit entre guillemets "
        '(par exemple « "75" »)'
    ],
    "lro_loop": ["107: departements.2B.115.lro[0] : la chaîne LRO boucle : 2A → 2B → 2A"],
    "lro_dangling": [
        "90: departements.2A.115.lro[0] : la chaîne LRO renvoie au département 13, "
        "absent du fichier"
    ],
    "duplicate_inbound": [
        "118: departements.67.115.inbound_numbers[0] : le numéro entrant +33353010750 est "
        "déjà celui de 115 du 75"
    ],
    "yaml_syntax": [
        "35: erreur de syntaxe YAML : deux-points inattendu (une valeur contient-elle « : » ?)"
    ],
    "duplicate_key": ["36: departements.75.name : cette clé apparaît deux fois"],
    "missing_field": ["126: departements.971.timezone : champ obligatoire manquant"],
    "bad_timezone": [
        "128: departements.971.timezone : « America/Pointe-a-Pitre » n'est pas un fuseau "
        "horaire connu"
    ],
    "duplicate_digit": ["24: national.nomenclature : la touche 1 sert à deux motifs"],
    "bad_level": [
        "32: national.nomenclature[1].reasons[0].level : « 3 » n'est pas une valeur permise "
        "(1 ou 2)"
    ],
    "several_errors": [
        "42: departements.75.assistance.referents[1].number : « 01 99 » n'est pas un numéro "
        "de téléphone valide",
        "59: departements.75.115.queue.max_waiting_calls : « beaucoup » n'est pas un nombre entier",
        "128: departements.971.timezone : « Mars/Olympus » n'est pas un fuseau horaire connu",
    ],
    "not_a_mapping": ["1: le fichier doit contenir une table (national, departements)"],
}


@pytest.mark.parametrize(("name", "expected"), sorted(BAD.items()))
def test_given_bad_file_then_every_error_is_named_with_its_line_and_french_message(
    name: str, expected: list[str]
) -> None:
    path = DATA / "bad" / f"{name}.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(issue) for issue in caught.value.issues] == [f"{path}:{line}" for line in expected]


def test_given_empty_file_then_it_says_so() -> None:
    path = DATA / "bad" / "empty.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: le fichier est vide"


def test_given_missing_file_then_it_says_file_not_found() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(DATA / "nope.yaml")
    assert str(caught.value).endswith("nope.yaml: fichier introuvable")


def test_given_every_bad_file_then_each_one_is_covered_by_a_test() -> None:
    files = {p.stem for p in (DATA / "bad").glob("*.yaml")}
    assert files == {*BAD, "empty"}


def test_given_minimal_file_then_numbers_are_stored_in_e164_with_overseas_regions() -> None:
    config = load_config(DATA / "good" / "minimal.yaml")
    assert config.national.assistance_number == "+33806000156"
    assert config.national.callback_number == "+33800112112"
    assert config.departements["75"].assistance.referents[0].number == "+33199007501"
    assert config.departements["971"].assistance.referents[0].number == "+590590123456"
    assert config.departements["2A"].assistance.strategy is HuntStrategy.IN_ORDER
    assert config.departements["2A"].line_115.recording is RecordingPolicy.NONE


def test_given_lro_reference_to_another_departement_then_chain_expands_without_repeats() -> None:
    config = load_config(DATA / "good" / "minimal.yaml")
    chain = [step.number for step in lro_chain(config, "2A")]
    # 2A's own chain points at 2B's platform; 2B has none; then the national default.
    assert chain == ["+33353010210", "+33465719900", "+33465719901"]
    assert [s.number for s in lro_chain(config, "75")] == [
        "+33465710075",
        "+33465719900",
        "+33465719901",
    ]


def test_given_shipped_configuration_then_it_has_the_101_departements_with_their_zones() -> None:
    config = load_config(REPO / "config" / "departments.yaml")
    assert len(config.departements) == 101
    zones = {code: dep.timezone for code, dep in config.departements.items()}
    assert zones["971"] == "America/Guadeloupe"
    assert zones["972"] == "America/Martinique"
    assert zones["973"] == "America/Cayenne"
    assert zones["974"] == "Indian/Reunion"
    assert zones["976"] == "Indian/Mayotte"
    assert zones["75"] == "Europe/Paris"
    assert config.departements["67"].holidays.value == "alsace"
    assert config.departements["57"].holidays.value == "moselle"
    assert config.departements["91"].line_115.queue.max_waiting_calls == 40
    assert config.departements["95"].line_115.queue.max_waiting_calls == 50


def test_given_shipped_configuration_then_every_number_is_in_a_fiction_range() -> None:
    text = (REPO / "config" / "departments.yaml").read_text(encoding="utf-8")
    assert "FICTIFS" in text.split("version:")[0]
    config = load_config(REPO / "config" / "departments.yaml")
    fiction = ("+33199", "+33261", "+33353", "+33465", "+33536")
    for dep in config.departements.values():
        for contact in (*dep.assistance.referents, *dep.line_115.listeners):
            assert contact.number.startswith(fiction), contact
        assert all(n.startswith(fiction) for n in dep.line_115.inbound_numbers)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_time_in_queue_s: 600", "max_time_in_queue_s: 5", "5 est trop petit (minimum 30)"),
        ("strategy: rotate_last_answerer", "strategy: au_hasard", "n'est pas une valeur permise"),
        ('mon: ["09:00-17:00"]\n          tue', 'mon: ["17:00-09:00"]\n          tue', "la fin"),
    ],
)
def test_given_out_of_range_values_then_french_messages(
    field: str, value: str, message: str
) -> None:
    text = (DATA / "good" / "minimal.yaml").read_text(encoding="utf-8").replace(field, value, 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.yaml")
    assert message in str(caught.value)
