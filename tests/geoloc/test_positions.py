"""Positions (WGS84) to département and commune: known places, sea, abroad, borders."""

from __future__ import annotations

import math

import pytest

from geoloc.locator import Locator
from geoloc.model import Confidence, LocationSource

KNOWN_PLACES = [
    # name, lat, lon, département, INSEE code of the commune
    ("Paris", 48.8566, 2.3522, "75", "75056"),
    ("Ajaccio", 41.9192, 8.7386, "2A", "2A004"),
    ("Bastia", 42.7028, 9.4503, "2B", "2B033"),
    ("Strasbourg", 48.5734, 7.7521, "67", "67482"),
    ("Metz", 49.1193, 6.1757, "57", "57463"),
    ("Lille", 50.6292, 3.0573, "59", "59350"),
    ("Brest", 48.3904, -4.4861, "29", "29019"),
    ("Pointe-à-Pitre", 16.2411, -61.5331, "971", "97120"),
    ("Fort-de-France", 14.6161, -61.0588, "972", "97209"),
    ("Cayenne", 4.9224, -52.3135, "973", "97302"),
    ("Saint-Denis", -20.8823, 55.4504, "974", "97411"),
    ("Mamoudzou", -12.7806, 45.2279, "976", "97611"),
]


@pytest.mark.parametrize(
    ("name", "lat", "lon", "departement", "commune"),
    KNOWN_PLACES,
    ids=[p[0] for p in KNOWN_PLACES],
)
def test_given_known_town_centre_then_its_departement_and_commune(
    locator: Locator, name: str, lat: float, lon: float, departement: str, commune: str
) -> None:
    answer = locator.from_position(lat, lon)
    assert answer.departement == departement
    assert answer.commune == commune
    assert answer.commune_name == name
    assert answer.source is LocationSource.POSITION
    assert answer.confidence is Confidence.HIGH
    assert answer.nearest is False


def test_given_ajaccio_then_2a_not_20(locator: Locator) -> None:
    answer = locator.from_position(41.9192, 8.7386)
    assert answer.departement == "2A"
    assert "Corse-du-Sud (2A)" in answer.detail


def test_given_position_at_sea_off_brest_then_29_flagged_as_nearest(locator: Locator) -> None:
    answer = locator.from_position(48.33, -4.62)
    assert answer.departement == "29"
    assert answer.nearest is True
    assert answer.confidence is Confidence.MEDIUM
    assert answer.commune_name == "Locmaria-Plouzané"
    assert "la plus proche" in answer.detail
    assert "893 m" in answer.detail


def test_given_position_in_the_goulet_de_brest_then_29_nearest(locator: Locator) -> None:
    answer = locator.from_position(48.345, -4.56)
    assert answer.departement == "29"
    assert answer.nearest is True


def test_given_position_in_geneva_then_nothing_found(locator: Locator) -> None:
    answer = locator.from_position(46.2044, 6.1432)
    assert answer.departement is None
    assert answer.commune is None
    assert answer.confidence is Confidence.NONE
    assert answer.nearest is False
    assert "en mer ou à l'étranger" in answer.detail


def test_given_position_in_brussels_then_nothing_found(locator: Locator) -> None:
    answer = locator.from_position(50.8503, 4.3517)
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE


def test_given_position_far_out_in_the_atlantic_then_nothing_found(locator: Locator) -> None:
    answer = locator.from_position(47.0, -8.0)
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE


def test_given_position_in_kehl_across_the_rhine_then_strasbourg_nearest_and_said_so(
    locator: Locator,
) -> None:
    # Within the 3 km cap of a land border the nearest commune is taken, flagged.
    answer = locator.from_position(48.5726, 7.8157)
    assert answer.departement == "67"
    assert answer.nearest is True
    assert answer.confidence is Confidence.MEDIUM


def test_given_nearest_cap_of_zero_then_sea_off_brest_gives_nothing(locator: Locator) -> None:
    strict = Locator(locator.index, nearest_max_m=0.0)
    answer = strict.from_position(48.33, -4.62)
    assert answer.departement is None
    assert answer.nearest is False


def test_given_wide_accuracy_circle_across_corsican_border_then_medium_with_both(
    locator: Locator,
) -> None:
    # Ghisonaccia area, a few kilometres from the 2A/2B boundary.
    answer = locator.from_position(41.98, 9.31, accuracy_m=20_000)
    assert answer.departement == "2B"
    assert answer.confidence is Confidence.MEDIUM
    assert answer.candidates == ("2A", "2B")
    assert "déborde" in answer.detail
    assert answer.accuracy_m == 20_000


def test_given_paris_centre_with_small_accuracy_then_high_and_accuracy_kept(
    locator: Locator,
) -> None:
    answer = locator.from_position(48.8566, 2.3522, accuracy_m=30)
    assert answer.confidence is Confidence.HIGH
    assert answer.accuracy_m == 30
    assert answer.candidates == ()


def test_given_paris_edge_with_two_km_accuracy_then_neighbouring_departements_listed(
    locator: Locator,
) -> None:
    # Porte de la Chapelle: the circle reaches Seine-Saint-Denis.
    answer = locator.from_position(48.8985, 2.3590, accuracy_m=2_000)
    assert answer.departement == "75"
    assert answer.confidence is Confidence.MEDIUM
    assert "93" in answer.candidates
    assert "75" in answer.candidates


def test_given_point_each_side_of_the_moselle_bas_rhin_border_then_each_departement(
    locator: Locator,
) -> None:
    # Sarrebourg (57) and Saverne (67), either side of the Vosges border.
    assert locator.from_position(48.7353, 7.0539).departement == "57"
    assert locator.from_position(48.7414, 7.3625).departement == "67"


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(91.0, 2.0), (-91.0, 2.0), (48.0, 181.0), (math.nan, 2.0), (48.0, math.inf)],
)
def test_given_impossible_coordinates_then_none_with_reason(
    locator: Locator, lat: float, lon: float
) -> None:
    answer = locator.from_position(lat, lon)
    assert answer.departement is None
    assert answer.confidence is Confidence.NONE
    assert answer.detail.startswith("Position invalide")


def test_given_negative_accuracy_then_invalid(locator: Locator) -> None:
    answer = locator.from_position(48.8566, 2.3522, accuracy_m=-5)
    assert answer.confidence is Confidence.NONE
