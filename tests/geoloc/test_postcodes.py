"""Postal codes and département codes given by the caller in the IVR."""

from __future__ import annotations

import pytest

from geoloc.index import GeoIndex
from geoloc.locator import Locator
from geoloc.model import Confidence, LocationSource


def test_given_postcode_20200_then_haute_corse(locator: Locator) -> None:
    answer = locator.from_postcode("20200")
    assert answer.departement == "2B"
    assert answer.confidence is Confidence.HIGH
    assert answer.source is LocationSource.IVR_POSTCODE
    assert "Haute-Corse (2B)" in answer.detail


def test_given_postcode_20000_then_corse_du_sud_ajaccio(locator: Locator) -> None:
    answer = locator.from_postcode("20000")
    assert answer.departement == "2A"
    assert answer.commune == "2A004"
    assert answer.commune_name == "Ajaccio"


@pytest.mark.parametrize(
    ("code", "departement"),
    [("20090", "2A"), ("20167", "2A"), ("20600", "2B"), ("20620", "2B"), ("20290", "2B")],
)
def test_given_corsican_postcode_in_the_table_then_2a_or_2b(
    locator: Locator, code: str, departement: str
) -> None:
    assert locator.from_postcode(code).departement == departement


def test_given_every_corsican_postcode_in_the_table_then_the_prefix_rule_agrees(
    index: GeoIndex, locator: Locator
) -> None:
    corsican = [code for code in index.postcodes() if code.startswith("20")]
    assert len(corsican) > 100
    for code in corsican:
        expected = "2A" if code[:3] in ("200", "201") else "2B"
        assert code[:3] in ("200", "201", "202", "206")
        assert locator.from_postcode(code).departement == expected, code


@pytest.mark.parametrize(
    ("code", "departement"),
    [("20187", "2A"), ("20016", "2A"), ("20405", "2B"), ("20601", "2B")],
)
def test_given_corsican_cedex_code_then_departement_by_prefix_medium(
    locator: Locator, code: str, departement: str
) -> None:
    answer = locator.from_postcode(code)
    assert answer.departement == departement
    assert answer.confidence is Confidence.MEDIUM
    assert "CEDEX" in answer.detail


def test_given_unallocated_corsican_prefix_then_ask_between_2a_and_2b(locator: Locator) -> None:
    answer = locator.from_postcode("20800")
    assert answer.departement is None
    assert answer.candidates == ("2A", "2B")
    assert answer.confidence is Confidence.LOW


def test_given_postcode_01200_shared_then_no_departement_and_both_candidates(
    locator: Locator,
) -> None:
    answer = locator.from_postcode("01200")
    assert answer.departement is None
    assert answer.candidates == ("01", "74")
    assert answer.confidence is Confidence.LOW
    assert answer.detail == (
        "Code postal 01200 partagé entre Ain (01) et Haute-Savoie (74) : "
        "demander la commune ou le département."
    )


SHARED = {
    "01200": ("01", "74"),
    "01410": ("01", "39"),
    "01590": ("01", "39"),
    "05110": ("04", "05"),
    "05130": ("04", "05"),
    "05160": ("04", "05"),
    "05700": ("05", "26"),
    "06260": ("04", "06"),
    "13780": ("13", "83"),
    "21340": ("21", "71"),
    "33220": ("24", "33"),
    "37160": ("37", "86"),
    "42620": ("03", "42"),
    "43450": ("15", "43"),
    "48250": ("07", "48"),
    "52100": ("51", "52"),
}


@pytest.mark.parametrize(("code", "candidates"), sorted(SHARED.items()))
def test_given_each_of_the_16_shared_postcodes_then_its_two_departements(
    locator: Locator, code: str, candidates: tuple[str, str]
) -> None:
    answer = locator.from_postcode(code)
    assert answer.departement is None
    assert answer.candidates == candidates


def test_given_the_table_then_exactly_16_postcodes_span_two_departements(
    index: GeoIndex,
) -> None:
    shared = {
        code
        for code in index.postcodes()
        if len({c.departement for c in index.communes_for_postcode(code)}) > 1
    }
    assert shared == set(SHARED)


def test_given_postcode_94390_then_essonne_not_val_de_marne(locator: Locator) -> None:
    answer = locator.from_postcode("94390")
    assert answer.departement == "91"
    assert answer.confidence is Confidence.HIGH


def test_given_paris_arrondissement_postcode_then_paris_commune(locator: Locator) -> None:
    answer = locator.from_postcode("75011")
    assert answer.departement == "75"
    assert answer.commune == "75056"
    assert answer.commune_name == "Paris"


def test_given_postcode_of_several_communes_then_departement_without_commune(
    locator: Locator,
) -> None:
    answer = locator.from_postcode("01400")
    assert answer.departement == "01"
    assert answer.commune is None
    assert "communes, toutes dans le département Ain (01)" in answer.detail


@pytest.mark.parametrize(
    ("code", "departement"),
    [
        ("97110", "971"),
        ("97200", "972"),
        ("97300", "973"),
        ("97400", "974"),
        ("97600", "976"),
    ],
)
def test_given_overseas_postcode_then_overseas_departement(
    locator: Locator, code: str, departement: str
) -> None:
    answer = locator.from_postcode(code)
    assert answer.departement == departement
    assert answer.confidence is Confidence.HIGH


@pytest.mark.parametrize(
    ("code", "departement"),
    [("97109", "971"), ("97262", "972"), ("97306", "973"), ("97493", "974"), ("97690", "976")],
)
def test_given_overseas_cedex_code_then_three_digit_prefix(
    locator: Locator, code: str, departement: str
) -> None:
    answer = locator.from_postcode(code)
    assert answer.departement == departement
    assert answer.confidence is Confidence.MEDIUM


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("97133", "Saint-Barthélemy"),
        ("97150", "Saint-Martin"),
        ("97500", "Saint-Pierre-et-Miquelon"),
        ("98800", "Nouvelle-Calédonie"),
        ("98714", "Polynésie française"),
        ("98600", "Wallis"),
    ],
)
def test_given_overseas_collectivity_postcode_then_no_departement_and_said_so(
    locator: Locator, code: str, name: str
) -> None:
    answer = locator.from_postcode(code)
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert name in answer.detail
    assert "hors des 101 départements" in answer.detail


def test_given_monaco_postcode_then_outside_france(locator: Locator) -> None:
    answer = locator.from_postcode("98000")
    assert answer.departement is None
    assert answer.detail == "Code postal 98000 : Monaco, hors de France."


@pytest.mark.parametrize(
    ("code", "departement"),
    [("75700", "75"), ("33076", "33"), ("59046", "59"), ("67091", "67"), ("13331", "13")],
)
def test_given_metropolitan_cedex_code_then_first_two_digits_medium(
    locator: Locator, code: str, departement: str
) -> None:
    answer = locator.from_postcode(code)
    assert answer.departement == departement
    assert answer.confidence is Confidence.MEDIUM
    assert answer.commune is None


@pytest.mark.parametrize("code", ["00100", "96000", "99000", "97700", "97900", "98300"])
def test_given_unallocated_prefix_then_unknown(locator: Locator, code: str) -> None:
    answer = locator.from_postcode(code)
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert answer.detail == f"Code postal {code} inconnu de La Poste."


@pytest.mark.parametrize("text", ["", "7500", "750011", "75O11", "abcde", "75-011"])
def test_given_malformed_postcode_then_invalid_with_french_reason(
    locator: Locator, text: str
) -> None:
    answer = locator.from_postcode(text)
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert "5 chiffres attendus" in answer.detail


def test_given_postcode_with_spaces_and_dtmf_hash_then_read(locator: Locator) -> None:
    assert locator.from_postcode(" 29 200#").departement == "29"


# -- département codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "departement"),
    [("75", "75"), ("2A", "2A"), ("2b", "2B"), ("974", "974"), ("1", "01"), ("01#", "01")],
)
def test_given_departement_code_from_caller_then_high(
    locator: Locator, text: str, departement: str
) -> None:
    answer = locator.from_departement_answer(text)
    assert answer.departement == departement
    assert answer.confidence is Confidence.HIGH
    assert answer.source is LocationSource.IVR_DEPARTEMENT


def test_given_20_typed_on_a_keypad_then_ask_corse_du_sud_or_haute_corse(
    locator: Locator,
) -> None:
    answer = locator.from_departement_answer("20")
    assert answer.departement is None
    assert answer.candidates == ("2A", "2B")
    assert answer.confidence is Confidence.LOW


@pytest.mark.parametrize("text", ["00", "96", "99", "970", "", "abc"])
def test_given_unknown_departement_code_then_none(locator: Locator, text: str) -> None:
    answer = locator.from_departement_answer(text)
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert answer.detail.startswith("Code de département inconnu")


def test_given_saint_pierre_et_miquelon_code_then_outside_the_101(locator: Locator) -> None:
    answer = locator.from_departement_answer("975")
    assert answer.departement is None
    assert "hors des 101 départements" in answer.detail


def test_given_the_shipped_table_then_101_departements_served(index: GeoIndex) -> None:
    assert len(index.served_codes) == 101
    assert "2A" in index.served_codes
    assert "20" not in index.served_codes
    assert "975" not in index.served_codes
