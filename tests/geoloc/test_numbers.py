"""The caller's own number: overseas blocks, landline zones, mobiles and VoIP."""

from __future__ import annotations

import phonenumbers
import phonenumbers.geodata
import pytest

from geoloc.index import GeoIndex
from geoloc.locator import Locator
from geoloc.model import Confidence, LocationSource
from geoloc.numbers import ZONE_DEPARTEMENTS, normalise_number


@pytest.mark.parametrize(
    ("number", "departement"),
    [
        ("0590 20 12 34", "971"),  # Guadeloupe landline
        ("0690 00 12 34", "971"),  # Guadeloupe mobile
        ("0596 30 12 34", "972"),  # Martinique landline
        ("0696 20 12 34", "972"),  # Martinique mobile
        ("0594 10 12 34", "973"),  # Guyane landline
        ("0694 20 12 34", "973"),  # Guyane mobile
        ("0262 16 12 34", "974"),  # La Réunion landline
        ("0692 12 34 56", "974"),  # La Réunion mobile
        ("0693 12 34 56", "974"),
        ("0269 60 12 34", "976"),  # Mayotte landline
        ("0639 01 23 45", "976"),  # Mayotte mobile
        ("+590 590 20 12 34", "971"),
        ("+596 696 20 12 34", "972"),
        ("+262 269 60 12 34", "976"),
        ("00262 692 12 34 56", "974"),
    ],
)
def test_given_overseas_number_then_its_departement_with_medium_confidence(
    locator: Locator, number: str, departement: str
) -> None:
    answer = locator.from_number(number)
    assert answer.departement == departement
    assert answer.confidence is Confidence.MEDIUM
    assert answer.source is LocationSource.CALLER_NUMBER
    assert "outre-mer" in answer.detail


@pytest.mark.parametrize(
    ("national", "e164"),
    [
        ("0690 00 12 34", "+590690001234"),
        ("0596 30 12 34", "+596596301234"),
        ("0262 16 12 34", "+262262161234"),
        ("0639 01 23 45", "+262639012345"),
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
    ],
)
def test_given_national_overseas_number_then_normalised_with_its_own_region(
    national: str, e164: str
) -> None:
    assert normalise_number(national) == e164


@pytest.mark.parametrize("text", ["", "abc", "12", "+", "06 12", "anonymous"])
def test_given_not_a_number_then_normalise_gives_none(text: str) -> None:
    assert normalise_number(text) is None


def test_given_mobile_number_then_nothing_and_said_so(locator: Locator) -> None:
    answer = locator.from_number("06 12 34 56 78")
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert answer.detail == "Numéro mobile : il ne dit pas où se trouve l'appelant."


def test_given_07_mobile_number_then_nothing(locator: Locator) -> None:
    assert locator.from_number("07 81 23 45 67").confidence is Confidence.NONE


def test_given_voip_09_number_then_nothing_and_said_so(locator: Locator) -> None:
    answer = locator.from_number("09 12 34 56 78")
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert "VoIP" in answer.detail


def test_given_special_rate_number_then_nothing(locator: Locator) -> None:
    answer = locator.from_number("0800 112 112")
    assert answer.departement is None
    assert "non géographique" in answer.detail


def test_given_strasbourg_landline_then_67_low_confidence(locator: Locator) -> None:
    answer = locator.from_number("03 88 12 34 56")
    assert answer.departement == "67"
    assert answer.commune_name == "Strasbourg"
    assert answer.confidence is Confidence.LOW
    assert "zone Nord-Est (03)" in answer.detail


def test_given_paris_landline_then_75_low_confidence(locator: Locator) -> None:
    phonenumber = "+33 1 44 12 34 56"
    answer = locator.from_number(phonenumber)
    assert answer.departement == "75"
    assert answer.confidence is Confidence.LOW


def test_given_landline_without_town_then_zone_only(locator: Locator) -> None:
    answer = locator.from_number("02 98 12 34 56")
    assert answer.departement is None
    assert answer.confidence is Confidence.LOW
    assert answer.detail == "Ligne fixe de la zone Nord-Ouest (02) : pas de département précis."


def test_given_hidden_number_then_nothing(locator: Locator) -> None:
    answer = locator.from_number("anonymous")
    assert answer.confidence is Confidence.NONE
    assert answer.detail == "Numéro masqué : aucune indication de lieu."


def test_given_swiss_number_then_foreign_and_no_departement(locator: Locator) -> None:
    answer = locator.from_number("+41 22 345 67 89")
    assert answer.departement is None
    assert answer.detail == "Numéro étranger (Suisse) : pas de département."


def test_given_saint_barthelemy_landline_then_collectivity_not_a_departement(
    locator: Locator,
) -> None:
    answer = locator.from_number("+590 590 27 12 34")
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert "Saint-Barthélemy" in answer.detail


def test_given_garbage_then_not_recognised(locator: Locator) -> None:
    answer = locator.from_number("<script>")
    assert answer.confidence is Confidence.NONE
    assert answer.detail.startswith("Numéro non reconnu")


def test_given_every_phonenumbers_town_then_zone_filter_never_leaves_the_zone(
    index: GeoIndex, locator: Locator
) -> None:
    # Each geocoded French landline prefix resolves inside its own numbering zone: the zone
    # filter rejects homonyms elsewhere (Évry, Vire, Saint-Ouen...).
    checked = 0
    for prefix in phonenumbers.geodata.GEOCODE_DATA:
        if not prefix.startswith("33") or len(prefix) < 5 or prefix[2] not in "12345":
            continue
        number = "+" + prefix + "0" * (11 - len(prefix))
        answer = locator.from_number(number)
        if answer.departement is not None:
            assert answer.departement in ZONE_DEPARTEMENTS[prefix[2]], (number, answer)
            checked += 1
    assert checked > 5000


def test_given_zone_table_then_it_covers_the_96_metropolitan_departements_once(
    index: GeoIndex,
) -> None:
    metro = {code for code in index.served_codes if len(code) == 2}
    listed = [code for codes in ZONE_DEPARTEMENTS.values() for code in codes]
    assert sorted(listed) == sorted(metro)
