"""The support nomenclature of the routing file: motifs, sub-motifs, standard answers, each
mistake refused with its line and a French message."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.loader import ConfigError, load_config, parse_config

REPO = Path(__file__).parent.parent.parent
FILE = REPO / "config" / "departments.yaml"


def text() -> str:
    return FILE.read_text(encoding="utf-8")


def edited(old: str, new: str) -> str:
    source = text()
    assert old in source
    return source.replace(old, new, 1)


def refusal(source: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(source, "departments.yaml")
    return [f"{i.path} : {i.message}" for i in caught.value.issues]


def test_given_the_shipped_file_then_every_motif_has_sub_motifs_answers_and_menu_reasons() -> None:
    national = load_config(FILE).national
    codes = [m.code for m in national.support_nomenclature]
    assert codes == ["acces", "usage", "donnees", "incident", "offre"]
    acces = national.support_motif("acces")
    assert acces is not None
    assert acces.sub_motif("mot_de_passe") is not None
    assert acces.standard_answers[0].label == "Réinitialisation du mot de passe"
    motif = national.motif_for_reason("rgpd")
    assert motif is not None
    assert motif.code == "donnees"
    assert national.motif_for_reason(None) is None
    menu = {r.code for r in national.menu_reasons()}
    listed = {code for m in national.support_nomenclature for code in m.menu_reasons}
    assert menu <= listed  # every reason of the menu proposes a motif


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "{code: droits, label:",
            "{code: mot_de_passe, label:",
            "national.support_nomenclature[0] : le sous-motif « mot_de_passe » apparaît deux fois",
        ),
        (
            '    - code: usage\n      label: "Prise en main et formation"\n      menu_reasons',
            '    - code: acces\n      label: "Prise en main et formation"\n      menu_reasons',
            "national.support_nomenclature : le motif « acces » apparaît deux fois",
        ),
        (
            "menu_reasons: [gestion_offre]",
            "menu_reasons: [gestion_offres]",
            "national.support_nomenclature[4].menu_reasons[0] : « gestion_offres » n'est pas "
            "un motif de la nomenclature d'assistance",
        ),
        (
            "        - code: guide\n",
            "        - code: Guide Utilisateur\n",
            "national.support_nomenclature[1].standard_answers[0].code : « Guide Utilisateur » "
            "n'a pas la forme attendue",
        ),
    ],
)
def test_given_a_wrong_support_nomenclature_then_a_french_error_names_the_field(
    old: str, new: str, expected: str
) -> None:
    issues = refusal(edited(old, new))
    assert len(issues) == 1, issues
    assert issues[0].startswith(expected), issues


def test_given_a_motif_without_sub_motifs_then_refused_in_french() -> None:
    source = edited(
        '      sub_motifs:\n        - {code: places, label: "Création ou modification de places"}\n'
        '        - {code: structures, label: "Structures et dispositifs"}\n',
        "      sub_motifs: []\n",
    )
    (issue,) = refusal(source)
    assert issue == "national.support_nomenclature[4].sub_motifs : la liste ne peut pas être vide"
