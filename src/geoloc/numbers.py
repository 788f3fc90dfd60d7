"""What the caller's own number says about where they are (little, and said so).

- Overseas numbers (landline or mobile) belong to one département: medium confidence
  (a mobile can roam; a landline can be ported within its territory). National-format
  overseas numbers (``0690…``) are parsed with their own region, as ``phonenumbers`` needs.
- A metropolitan landline (01–05) gives its numbering zone; ``phonenumbers.geocoder``
  sometimes names a town: when that name is a commune of exactly one département of the
  zone, low confidence; otherwise no département. The ARCEP block table is not shipped.
- Mobiles (06, 07), VoIP (09) and special numbers (08) give nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from geoloc.index import GeoIndex
from geoloc.model import Confidence, LocationAnswer, LocationSource

# National-format prefix -> region whose rules parse it (phonenumbers needs the region).
_NATIONAL_OVERSEAS_PREFIX = {
    "0590": "GP",
    "0690": "GP",
    "0691": "GP",
    "0596": "MQ",
    "0696": "MQ",
    "0697": "MQ",
    "0594": "GF",
    "0694": "GF",
    "0262": "RE",
    "0263": "RE",
    "0692": "RE",
    "0693": "RE",
    "0269": "YT",
    "0639": "YT",
}
_REGION_DEPARTEMENT = {"GP": "971", "MQ": "972", "GF": "973", "RE": "974", "YT": "976"}
_COLLECTIVITY_REGIONS = {
    "BL": "Saint-Barthélemy",
    "MF": "Saint-Martin",
    "PM": "Saint-Pierre-et-Miquelon",
    "WF": "Wallis-et-Futuna",
    "PF": "Polynésie française",
    "NC": "Nouvelle-Calédonie",
}
# Overseas country code + national significant number prefix, for numbers phonenumbers
# does not (yet) know as valid: the block still tells the territory.
_INTERNATIONAL_OVERSEAS_PREFIX = {
    (590, "590"): "971",
    (590, "690"): "971",
    (590, "691"): "971",
    (596, "596"): "972",
    (596, "696"): "972",
    (596, "697"): "972",
    (594, "594"): "973",
    (594, "694"): "973",
    (262, "262"): "974",
    (262, "263"): "974",
    (262, "692"): "974",
    (262, "693"): "974",
    (262, "269"): "976",
    (262, "639"): "976",
}

# ARCEP numbering zones of metropolitan landlines (first digit after the 0).
ZONE_NAMES = {
    "1": "Île-de-France",
    "2": "Nord-Ouest",
    "3": "Nord-Est",
    "4": "Sud-Est",
    "5": "Sud-Ouest",
}
ZONE_DEPARTEMENTS: dict[str, frozenset[str]] = {
    "1": frozenset({"75", "77", "78", "91", "92", "93", "94", "95"}),
    "2": frozenset(
        {
            "14",
            "18",
            "22",
            "27",
            "28",
            "29",
            "35",
            "36",
            "37",
            "41",
            "44",
            "45",
            "49",
            "50",
            "53",
            "56",
            "61",
            "72",
            "76",
            "85",
        }
    ),
    "3": frozenset(
        {
            "02",
            "08",
            "10",
            "21",
            "25",
            "39",
            "51",
            "52",
            "54",
            "55",
            "57",
            "58",
            "59",
            "60",
            "62",
            "67",
            "68",
            "70",
            "71",
            "80",
            "88",
            "89",
            "90",
        }
    ),
    "4": frozenset(
        {
            "01",
            "03",
            "04",
            "05",
            "06",
            "07",
            "11",
            "13",
            "15",
            "26",
            "2A",
            "2B",
            "30",
            "34",
            "38",
            "42",
            "43",
            "48",
            "63",
            "66",
            "69",
            "73",
            "74",
            "83",
            "84",
        }
    ),
    "5": frozenset(
        {
            "09",
            "12",
            "16",
            "17",
            "19",
            "23",
            "24",
            "31",
            "32",
            "33",
            "40",
            "46",
            "47",
            "64",
            "65",
            "79",
            "81",
            "82",
            "86",
            "87",
        }
    ),
}

_HIDDEN = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})


@dataclass(frozen=True)
class ParsedNumber:
    """A caller number, normalised."""

    e164: str
    number: phonenumbers.PhoneNumber


def _digits(text: str) -> str:
    cleaned = re.sub(r"[\s.\-()/]", "", text.strip())
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return cleaned


def parse_number(text: str) -> ParsedNumber | None:
    """Parse an E.164 or French national number; ``None`` when it cannot be a number."""
    cleaned = _digits(text)
    if not re.fullmatch(r"\+?\d{3,16}", cleaned):
        return None
    region = "FR"
    if not cleaned.startswith("+"):
        region = _NATIONAL_OVERSEAS_PREFIX.get(cleaned[:4], "FR")
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ParsedNumber(e164=e164, number=number)


def normalise_number(text: str) -> str | None:
    """E.164 form of a caller number (``0690…`` -> ``+590690…``), ``None`` if not one."""
    parsed = parse_number(text)
    return parsed.e164 if parsed else None


def _answer(
    confidence: Confidence,
    detail: str,
    departement: str | None = None,
    commune: tuple[str, str] | None = None,
) -> LocationAnswer:
    return LocationAnswer(
        departement=departement,
        commune=commune[0] if commune else None,
        commune_name=commune[1] if commune else None,
        source=LocationSource.CALLER_NUMBER,
        confidence=confidence,
        detail=detail,
    )


def resolve_caller_number(index: GeoIndex, text: str) -> LocationAnswer:
    """The département a caller number points to, if any, and how weakly."""
    if text.strip().lower() in _HIDDEN:
        return _answer(Confidence.NONE, "Numéro masqué : aucune indication de lieu.")
    parsed = parse_number(text)
    if parsed is None:
        return _answer(Confidence.NONE, f"Numéro non reconnu « {text.strip()[:24]} ».")
    number = parsed.number
    country = number.country_code or 0
    national = phonenumbers.national_significant_number(number)
    region = phonenumbers.region_code_for_number(number)
    valid = phonenumbers.is_valid_number(number)
    shown = parsed.e164

    if region in _COLLECTIVITY_REGIONS and valid:
        name = _COLLECTIVITY_REGIONS[region]
        if region in ("BL", "MF"):
            name = "Saint-Barthélemy ou Saint-Martin"
        return _answer(Confidence.NONE, f"Numéro {shown} de {name} : hors des 101 départements.")
    departement = _REGION_DEPARTEMENT.get(region or "") if valid else None
    if departement is None and country != 33:
        departement = _INTERNATIONAL_OVERSEAS_PREFIX.get((country, national[:3]))
    if departement is not None:
        kind = "mobile" if phonenumbers.number_type(number) == PhoneNumberType.MOBILE else "fixe"
        place = index.departement(departement)
        label = f"{place.name} ({departement})" if place else departement
        return _answer(
            Confidence.MEDIUM,
            f"Numéro {kind} d'outre-mer {shown} : {label} (le téléphone peut être ailleurs).",
            departement=departement,
        )
    # Imported here: the geocoder's tables take half a second to load, and most lookups
    # (positions, postal codes, overseas or mobile numbers) never need them.
    from phonenumbers import geocoder

    if country != 33:
        country_name = geocoder.country_name_for_number(number, "fr") or f"+{country}"
        return _answer(Confidence.NONE, f"Numéro étranger ({country_name}) : pas de département.")

    first = national[:1]
    if first in ("6", "7"):
        return _answer(Confidence.NONE, "Numéro mobile : il ne dit pas où se trouve l'appelant.")
    if first == "9":
        return _answer(
            Confidence.NONE, "Numéro VoIP (09) : non géographique, il ne dit pas où est l'appelant."
        )
    if first not in ZONE_NAMES or len(national) != 9:
        return _answer(Confidence.NONE, f"Numéro {shown} non géographique : pas de département.")
    zone = ZONE_NAMES[first]
    town = geocoder.description_for_number(number, "fr") if valid else ""
    communes = index.communes_named(town) if town else ()
    in_zone = [c for c in communes if c.departement in ZONE_DEPARTEMENTS[first]]
    departements = sorted({c.departement for c in in_zone})
    if len(departements) == 1:
        departement = departements[0]
        commune = (in_zone[0].code, in_zone[0].name) if len(in_zone) == 1 else None
        dep = index.departement(departement)
        label = f"{dep.name} ({departement})" if dep else departement
        return _answer(
            Confidence.LOW,
            (
                f"Ligne fixe de la zone {zone} (0{first}) rattachée à {town} d'après le plan "
                f"de numérotation : {label}, sans certitude (portabilité, dégroupage)."
            ),
            departement=departement,
            commune=commune,
        )
    return _answer(
        Confidence.LOW,
        f"Ligne fixe de la zone {zone} (0{first}) : pas de département précis.",
    )
