"""Hostile routing files: each one is refused with a French message naming its line, by the
limit it goes over, before it is expanded or anything is built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing import safe_yaml
from routing.config import RoutingConfig
from routing.loader import MAX_ISSUES, ConfigError, load_config, parse_config
from routing.safe_yaml import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_NODES

HOSTILE = Path(__file__).parent.parent / "data" / "hostile"
REPO = Path(__file__).parent.parent.parent

TAGS_ONLY = "(seules celles de YAML, comme !!str ou !!int, le sont)"
EXPANDED = (
    "les alias YAML (*nom) développent le fichier au-delà de 200 000 éléments : "
    "fichier refusé sans être développé"
)

# name: (limit, the message after the file's name)
CASES = {
    "billion-laughs": ("aliases", f"8: {EXPANDED}"),
    "merge-laughs": ("aliases", f"7: {EXPANDED}"),
    "recursive-alias": ("aliases", "3: l'alias « *loop » renvoie à un élément qui le contient"),
    "python-object": (
        "tag",
        f"2: l'étiquette YAML « !!python/object/apply:os.system » n'est pas permise {TAGS_ONLY}",
    ),
    "python-name": (
        "tag",
        f"3: l'étiquette YAML « !!python/name:os.system » n'est pas permise {TAGS_ONLY}",
    ),
    "local-tag": ("tag", f"1: l'étiquette YAML « !secret » n'est pas permise {TAGS_ONLY}"),
    "deep-lists": (
        "depth",
        "2: imbrication trop profonde (plus de 50 niveaux de listes ou de tables)",
    ),
    "long-number": ("number", "4: nombre trop long (100 caractères au plus)"),
}


@pytest.fixture(params=["libyaml", "python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: with libyaml's parser (when PyYAML has it) and with PyYAML's own."""
    if request.param == "python":
        monkeypatch.setattr(safe_yaml, "LOADER", safe_yaml.PurePythonLoader)
    return str(request.param)


@pytest.fixture
def nothing_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the loader gets as far as the validation of the data."""

    def never(*_: object, **__: object) -> None:
        raise AssertionError("the file was built and validated")

    monkeypatch.setattr(RoutingConfig, "model_validate", never)


@pytest.mark.parametrize(("name", "expected"), sorted(CASES.items()))
@pytest.mark.usefixtures("nothing_built", "parser")
def test_given_hostile_file_then_refused_by_its_limit_in_french_with_its_line(
    name: str, expected: tuple[str, str]
) -> None:
    path = HOSTILE / f"{name}.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    limit, message = expected
    assert caught.value.limit == limit
    assert [str(issue) for issue in caught.value.issues] == [f"{path}:{message}"]


def test_given_every_hostile_file_then_each_one_is_covered_by_a_test() -> None:
    assert {p.stem for p in HOSTILE.glob("*.yaml")} == set(CASES)


def test_given_deep_lists_sample_then_it_really_nests_5000_lists() -> None:
    text = (HOSTILE / "deep-lists.yaml").read_text(encoding="utf-8")
    assert "[" * 5000 + "]" * 5000 in text
    assert MAX_DEPTH < 5000


def test_given_billion_laughs_then_refused_while_counting_not_after_expanding() -> None:
    # What it would expand to: a million strings, far over the limit; the refusal comes
    # at the alias that passes it (line 8, the fifth level), the sixth is never read.
    assert 10**6 > MAX_NODES > 10**5
    with pytest.raises(ConfigError) as caught:
        load_config(HOSTILE / "billion-laughs.yaml")
    assert caught.value.issues[0].line == 8


def test_given_a_file_over_2_mo_then_too_big_before_being_read(tmp_path: Path) -> None:
    path = tmp_path / "departments.yaml"
    path.write_bytes(b"# " + b"x" * MAX_CONFIG_BYTES + b"\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.limit == "size"
    assert str(caught.value) == f"{path}: fichier trop volumineux (2 Mo au plus)"


def test_given_text_over_2_mo_in_utf8_then_too_big_though_fewer_characters() -> None:
    text = "# " + "é" * (MAX_CONFIG_BYTES // 2) + "\n"  # 1 000 003 characters, 2 000 003 bytes
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "collé.yaml")
    assert str(caught.value) == "collé.yaml: fichier trop volumineux (2 Mo au plus)"


@pytest.mark.usefixtures("nothing_built")
def test_given_many_plain_nodes_then_refused_by_their_count() -> None:
    text = "national: [" + "0, " * (MAX_NODES + 1) + "]\n"
    assert len(text) < MAX_CONFIG_BYTES
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "f.yaml")
    assert caught.value.limit == "nodes"
    assert str(caught.value) == "f.yaml:1: le fichier compte plus de 200 000 éléments"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!int abc\n", "1: valeur illisible : « abc » ne peut pas être lu comme !!int"),
        ("a: 1\nb: !!bool 3\n", "2: valeur illisible : « 3 » ne peut pas être lu comme !!bool"),
        (
            "a: !!timestamp demain\n",
            "1: valeur illisible : « demain » ne peut pas être lu comme !!timestamp",
        ),
        (
            "a: !!str {b: 1}\n",
            "1: valeur illisible : une valeur simple est attendue avec cette étiquette",
        ),
        ("a: &x 1\nb: &x 2\n", "2: l'ancre « &x » est définie deux fois (déjà ligne 1)"),
        ("a: *x\n", "1: l'alias « *x » ne renvoie à aucune ancre « &x »"),
        (
            "a: 1\n---\nb: 2\n",
            "2: le fichier contient plusieurs documents YAML (« --- ») : un seul est attendu",
        ),
        ("a: 1\nb: \x00\n", "2: caractère non permis dans un fichier YAML (U+0000)"),
        ("? [1]\n: 2\n", "1: une clé doit être un simple texte (pas une liste ni une table)"),
        ("<<: 3\n", "1: valeur illisible : « << » doit fusionner une table ou une liste de tables"),
    ],
)
@pytest.mark.usefixtures("parser")
def test_given_malformed_yaml_then_a_french_message_with_its_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "f.yaml")
    assert [str(issue) for issue in caught.value.issues] == [f"f.yaml:{expected}"]


@pytest.mark.usefixtures("parser")
def test_given_aliases_within_the_budget_then_the_file_is_read_as_before() -> None:
    text = (REPO / "tests" / "data" / "good" / "minimal.yaml").read_text(encoding="utf-8")
    assert text.count("    timezone: Europe/Paris\n") == 4
    named = text.replace("    timezone: Europe/Paris\n", "    timezone: &paris Europe/Paris\n", 1)
    anchored = named.replace("    timezone: Europe/Paris\n", "    timezone: *paris\n")
    assert anchored.count("*paris") == 3
    assert parse_config(anchored) == parse_config(text)


def test_given_a_million_errors_then_the_first_ones_and_how_many_more() -> None:
    entries = "".join(f"  x{i}: 1\n" for i in range(MAX_ISSUES + 50))
    text = f"national:\n{entries}departements: {{}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "f.yaml")
    issues = caught.value.issues
    assert len(issues) == MAX_ISSUES + 1
    assert str(issues[-1]).startswith("f.yaml: … et ")
    assert str(issues[-1]).endswith(" autres erreurs")


@pytest.mark.usefixtures("parser")
def test_given_the_shipped_file_then_read_as_pyyaml_safe_load_reads_it() -> None:
    import yaml

    text = (REPO / "config" / "departments.yaml").read_text(encoding="utf-8")
    assert safe_yaml.compose(text).construct() == yaml.safe_load(text)
