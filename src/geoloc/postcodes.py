"""Département answers from a postal code or a département code the caller gives in the IVR.

Postal codes known to La Poste's table (shipped) resolve exactly: one département, or two
for the 16 codes shared across a département boundary (then the answer lists both as
candidates and names none). Codes not in the table (CEDEX codes, new codes) fall back on
La Poste's allocation by prefix:

- ``01``–``95``: the first two digits (``20`` is Corsica, see below);
- ``200``/``201``: Corse-du-Sud (2A); ``202``–``206``: Haute-Corse (2B); ``207``–``209``
  are not allocated and give both as candidates;
- ``971``–``974``, ``976``: the overseas département; ``975`` and ``98x`` are overseas
  collectivities (and ``980`` is Monaco), outside the 101 départements.
"""

from __future__ import annotations

import re

from geoloc.index import Departement, GeoIndex
from geoloc.model import (
    Confidence,
    LocationAnswer,
    LocationSource,
    departement_only,
    no_departement,
)

_POSTCODE = re.compile(r"\d{5}")
_CORSICA_SOUTH = ("200", "201")
_CORSICA_NORTH = ("202", "203", "204", "205", "206")
_OVERSEAS_COLLECTIVITIES = {
    "975": "Saint-Pierre-et-Miquelon",
    "984": "Terres australes et antarctiques françaises",
    "986": "Wallis-et-Futuna",
    "987": "Polynésie française",
    "988": "Nouvelle-Calédonie",
}


def describe(index: GeoIndex, code: str) -> str:
    """``Corse-du-Sud (2A)``, or the bare code when unknown."""
    departement = index.departement(code)
    return f"{departement.name} ({code})" if departement else code


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]


def _clean(text: str) -> str:
    return "".join(text.split()).rstrip("#").upper()


def resolve_postcode(index: GeoIndex, text: str) -> LocationAnswer:
    """The département (and commune when only one) of a French postal code."""
    source = LocationSource.IVR_POSTCODE
    code = _clean(text)
    if not _POSTCODE.fullmatch(code):
        return no_departement(
            source, f"Code postal invalide « {text.strip()[:20]} » : 5 chiffres attendus."
        )
    communes = index.communes_for_postcode(code)
    if communes:
        codes = sorted({c.departement for c in communes})
        places = [index.departement(c) for c in codes]
        if not any(p is not None and p.served for p in places):
            name = _join([p.name for p in places if p is not None] or codes)
            return no_departement(
                source,
                f"Code postal {code} : {name}, collectivité d'outre-mer hors des 101 départements.",
            )
        if len(codes) > 1:
            return no_departement(
                source,
                (
                    f"Code postal {code} partagé entre "
                    f"{_join([describe(index, c) for c in codes])} : "
                    "demander la commune ou le département."
                ),
                confidence=Confidence.LOW,
                candidates=tuple(codes),
            )
        departement = codes[0]
        if len(communes) == 1:
            commune = communes[0]
            return LocationAnswer(
                departement=departement,
                commune=commune.code,
                commune_name=commune.name,
                source=source,
                confidence=Confidence.HIGH,
                detail=f"Code postal {code} : {commune.name}, {describe(index, departement)}.",
            )
        return departement_only(
            source,
            departement,
            Confidence.HIGH,
            (
                f"Code postal {code} : {len(communes)} communes, "
                f"toutes dans le département {describe(index, departement)}."
            ),
        )
    return _by_prefix(index, code)


def _by_prefix(index: GeoIndex, code: str) -> LocationAnswer:
    source = LocationSource.IVR_POSTCODE
    unknown = f"Code postal {code} inconnu de La Poste"
    if code.startswith("20"):
        if code[:3] in _CORSICA_SOUTH:
            departement = "2A"
        elif code[:3] in _CORSICA_NORTH:
            departement = "2B"
        else:
            return no_departement(
                source,
                f"{unknown} : Corse, sans savoir si 2A ou 2B ; demander le département.",
                confidence=Confidence.LOW,
                candidates=("2A", "2B"),
            )
        return _prefix_answer(index, code, departement)
    if code.startswith("97"):
        prefix = code[:3]
        found = index.departement(prefix)
        if found is not None and found.served:
            return _prefix_answer(index, code, prefix)
        if prefix in _OVERSEAS_COLLECTIVITIES:
            name = _OVERSEAS_COLLECTIVITIES[prefix]
            return no_departement(
                source, f"Code postal {code} : {name}, hors des 101 départements."
            )
        return no_departement(source, f"{unknown}.")
    if code.startswith("98"):
        if code.startswith("980"):
            return no_departement(source, f"Code postal {code} : Monaco, hors de France.")
        collectivity = _OVERSEAS_COLLECTIVITIES.get(code[:3])
        if collectivity:
            return no_departement(
                source, f"Code postal {code} : {collectivity}, hors des 101 départements."
            )
        return no_departement(source, f"{unknown}.")
    found = index.departement(code[:2])
    if found is None or not found.served:
        return no_departement(source, f"{unknown}.")
    return _prefix_answer(index, code, code[:2])


def _prefix_answer(index: GeoIndex, code: str, departement: str) -> LocationAnswer:
    return departement_only(
        LocationSource.IVR_POSTCODE,
        departement,
        Confidence.MEDIUM,
        (
            f"Code postal {code} absent de la table de La Poste (code CEDEX ou récent) : "
            f"{describe(index, departement)} d'après son préfixe."
        ),
    )


def resolve_departement_answer(index: GeoIndex, text: str) -> LocationAnswer:
    """A département code typed (DTMF) or said by the caller: ``75``, ``2A``, ``974``...

    Keypads have no letters: ``20`` means Corsica and asks which one; a single digit is
    read with a leading zero (``1`` -> ``01``).
    """
    source = LocationSource.IVR_DEPARTEMENT
    code = _clean(text)
    if re.fullmatch(r"\d", code):
        code = "0" + code
    if code == "20":
        return no_departement(
            source,
            "« 20 » désigne la Corse : demander Corse-du-Sud (2A) ou Haute-Corse (2B).",
            confidence=Confidence.LOW,
            candidates=("2A", "2B"),
        )
    found: Departement | None = index.departement(code) if code else None
    if found is None:
        shown = text.strip()[:20]
        return no_departement(source, f"Code de département inconnu « {shown} ».")
    if not found.served:
        return no_departement(
            source, f"{found.name} ({code}) : collectivité d'outre-mer hors des 101 départements."
        )
    return departement_only(
        source,
        code,
        Confidence.HIGH,
        f"Département donné par l'appelant : {describe(index, code)}.",
    )
