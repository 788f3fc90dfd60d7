"""One entry point per location source, and the rule that combines their answers.

Every ``from_*`` method returns a :class:`LocationAnswer` and never raises on what a caller
or a network may send (an unusable input gives ``Confidence.NONE`` with a French detail),
except :meth:`Locator.from_aml_sms`, which raises :class:`geoloc.aml.AmlError` on a
malformed message so that receivers can refuse it with a 4xx.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from geoloc.aml import AmlReport, parse_aml_sms
from geoloc.index import Commune, GeoIndex
from geoloc.model import (
    SOURCE_LABELS,
    Confidence,
    LocationAnswer,
    LocationDecision,
    LocationSource,
    Position,
    departement_only,
    no_departement,
)
from geoloc.numbers import normalise_number, resolve_caller_number
from geoloc.postcodes import describe, resolve_departement_answer, resolve_postcode

DEFAULT_NEAREST_MAX_M = 3_000.0
DEFAULT_AML_MAX_AGE = timedelta(minutes=30)
CLOCK_SKEW = timedelta(minutes=5)

# Among answers of equal confidence, the first source in this list wins (docs/geoloc.md).
SOURCE_PRECEDENCE: tuple[LocationSource, ...] = (
    LocationSource.NETWORK,
    LocationSource.IVR_DEPARTEMENT,
    LocationSource.IVR_POSTCODE,
    LocationSource.AML,
    LocationSource.POSITION,
    LocationSource.CALLER_NUMBER,
)
_PRECEDENCE = {source: i for i, source in enumerate(SOURCE_PRECEDENCE)}
_LOWER = {
    Confidence.HIGH: Confidence.MEDIUM,
    Confidence.MEDIUM: Confidence.LOW,
    Confidence.LOW: Confidence.LOW,
    Confidence.NONE: Confidence.NONE,
}


def distance_text(metres: float) -> str:
    """``850 m`` or ``2,3 km``."""
    if metres < 1000:
        return f"{metres:.0f} m"
    return f"{metres / 1000:.1f}".removesuffix(".0").replace(".", ",") + " km"


def _age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f}".removesuffix(".0").replace(".", ",") + " h"


class Locator:
    """Turns what a call carries into département answers, and combines them."""

    def __init__(
        self,
        index: GeoIndex,
        *,
        nearest_max_m: float = DEFAULT_NEAREST_MAX_M,
        aml_max_age: timedelta = DEFAULT_AML_MAX_AGE,
    ) -> None:
        self.index = index
        self.nearest_max_m = nearest_max_m
        self.aml_max_age = aml_max_age

    # -- sources ---------------------------------------------------------------------------

    def from_position(
        self,
        lat: float,
        lon: float,
        accuracy_m: float | None = None,
        *,
        source: LocationSource = LocationSource.POSITION,
        at: datetime | None = None,
    ) -> LocationAnswer:
        """Département and commune of a WGS84 position (point in polygon, else nearest)."""
        position = Position(lat=lat, lon=lon, accuracy_m=accuracy_m, at=at)
        if not _valid_position(lat, lon, accuracy_m):
            return no_departement(
                source,
                "Position invalide (latitude −90 à 90, longitude −180 à 180).",
                position=position,
            )
        commune = self.index.commune_at(lat, lon)
        if commune is not None:
            return self._in_commune(commune, position, source)
        nearest = self.index.nearest_commune(lat, lon, self.nearest_max_m)
        if nearest is not None:
            near, distance = nearest
            return _commune_answer(
                near,
                position,
                source,
                Confidence.MEDIUM,
                (
                    f"Position hors des communes (en mer ou à l'étranger) : commune la plus "
                    f"proche {near.name}, {describe(self.index, near.departement)}, "
                    f"à {distance_text(distance)}."
                ),
                nearest=True,
            )
        return no_departement(
            source,
            (
                "Aucune commune française à moins de "
                f"{distance_text(self.nearest_max_m)} : position en mer ou à l'étranger."
            ),
            accuracy_m=accuracy_m,
            position=position,
        )

    def _in_commune(
        self, commune: Commune, position: Position, source: LocationSource
    ) -> LocationAnswer:
        """A position inside ``commune``: less sure when its accuracy circle spills over into
        other départements."""
        accuracy_m = position.accuracy_m
        touched: tuple[str, ...] = ()
        if accuracy_m:
            touched = self.index.departements_near(position.lat, position.lon, accuracy_m)
        where = f"{commune.name}, {describe(self.index, commune.departement)}"
        if len(touched) > 1:
            others = ", ".join(c for c in touched if c != commune.departement)
            return _commune_answer(
                commune,
                position,
                source,
                Confidence.MEDIUM,
                (
                    f"{where}. Le cercle de précision ({distance_text(accuracy_m or 0)}) "
                    f"déborde sur : {others}."
                ),
                candidates=touched,
            )
        return _commune_answer(commune, position, source, Confidence.HIGH, f"{where}.")

    def from_postcode(self, code: str) -> LocationAnswer:
        """A postal code the caller gave (shared codes and CEDEX codes included)."""
        return resolve_postcode(self.index, code)

    def from_departement_answer(self, code: str) -> LocationAnswer:
        """A département code the caller typed or said."""
        return resolve_departement_answer(self.index, code)

    def from_number(self, e164_or_national: str) -> LocationAnswer:
        """The caller's own number (overseas blocks, landline zones; mobiles give nothing)."""
        return resolve_caller_number(self.index, e164_or_national)

    def from_network(self, called_number: str, routing: Mapping[str, str]) -> LocationAnswer:
        """The inbound number the call reached, looked up in the routing configuration."""
        called = normalise_number(called_number) or called_number.strip()
        departement = routing.get(called)
        if departement is None:
            for number, code in routing.items():
                if normalise_number(number) == called:
                    departement = code
                    break
        source = LocationSource.NETWORK
        if departement is None:
            return no_departement(
                source, f"Numéro appelé {called[:24]} rattaché à aucun département."
            )
        found = self.index.departement(departement)
        if found is None or not found.served:
            return no_departement(
                source,
                (
                    f"Configuration : le numéro {called} est rattaché à « {departement[:8]} », "
                    "qui n'est pas un des 101 départements."
                ),
            )
        return departement_only(
            source,
            departement,
            Confidence.HIGH,
            f"Appel reçu sur le numéro {called}, celui de {describe(self.index, departement)}.",
        )

    def from_aml_report(self, report: AmlReport, now: datetime) -> LocationAnswer:
        """An AML position: département, commune, accuracy, age (stale ones trusted less)."""
        answer = self.from_position(
            report.lat,
            report.lon,
            report.accuracy_m,
            source=LocationSource.AML,
            at=report.at,
        )
        age = report.age_seconds(now)
        confidence = answer.confidence
        notes = [f"AML ({report.method_label}), précision {distance_text(report.accuracy_m or 0)}"]
        if age < -CLOCK_SKEW.total_seconds():
            confidence = _LOWER[confidence]
            notes.append("horodatage dans le futur : horloge du téléphone douteuse")
        elif age > self.aml_max_age.total_seconds():
            confidence = _LOWER[confidence]
            notes.append(f"position ancienne, mesurée il y a {_age_text(age)}")
        else:
            notes.append(f"mesurée il y a {_age_text(age)}")
        return LocationAnswer(
            departement=answer.departement,
            commune=answer.commune,
            commune_name=answer.commune_name,
            source=LocationSource.AML,
            confidence=confidence,
            accuracy_m=report.accuracy_m,
            nearest=answer.nearest,
            candidates=answer.candidates,
            detail=f"{', '.join(notes)}. {answer.detail}",
            position=answer.position,
        )

    def from_aml_sms(self, text: str, now: datetime) -> LocationAnswer:
        """Parse an AML SMS (raises ``AmlError`` when malformed) and locate it."""
        return self.from_aml_report(parse_aml_sms(text), now)

    # -- combination -----------------------------------------------------------------------

    def combine(self, answers: Sequence[LocationAnswer]) -> LocationDecision:
        """Choose a département from several answers; say whether to ask the caller."""
        return combine(answers)


def _valid_position(lat: float, lon: float, accuracy_m: float | None) -> bool:
    return (
        math.isfinite(lat)
        and math.isfinite(lon)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
        and (accuracy_m is None or (math.isfinite(accuracy_m) and accuracy_m >= 0))
    )


def _commune_answer(
    commune: Commune,
    position: Position,
    source: LocationSource,
    confidence: Confidence,
    detail: str,
    *,
    nearest: bool = False,
    candidates: tuple[str, ...] = (),
) -> LocationAnswer:
    return LocationAnswer(
        departement=commune.departement,
        commune=commune.code,
        commune_name=commune.name,
        source=source,
        confidence=confidence,
        accuracy_m=position.accuracy_m,
        nearest=nearest,
        candidates=candidates,
        detail=detail,
        position=position,
    )


def _rank(answer: LocationAnswer) -> tuple[int, int]:
    return (-answer.confidence.rank, _PRECEDENCE.get(answer.source, len(_PRECEDENCE)))


def _says(answer: LocationAnswer) -> str:
    return (
        f"{SOURCE_LABELS[answer.source]} : {answer.departement} "
        f"(confiance {answer.confidence.label})"
    )


def combine(answers: Sequence[LocationAnswer]) -> LocationDecision:
    """The documented rule (docs/geoloc.md, "Combining sources").

    1. Only answers naming a département with some confidence count.
    2. The best is the most confident; on a tie, the first source in SOURCE_PRECEDENCE.
    3. Conflict: another answer of medium or high confidence names another département.
    4. Ask the caller when nothing counts, when the best is only low, or when a conflict
       leaves the best below high.
    """
    usable = [a for a in answers if a.departement is not None and a.confidence.rank > 0]
    hesitations = sorted({c for a in answers if a.departement is None for c in a.candidates})
    if not usable:
        if hesitations:
            reason = (
                f"Département incertain entre {', '.join(hesitations)} : "
                "demander le département à l'appelant."
            )
        else:
            reason = "Aucune source ne donne le département : le demander à l'appelant."
        return LocationDecision(
            chosen=None,
            ask_caller=True,
            conflict=False,
            reason=reason,
            candidates=tuple(hesitations),
        )
    ordered = sorted(usable, key=_rank)
    best = ordered[0]
    dissent = [
        a
        for a in ordered[1:]
        if a.departement != best.departement and a.confidence.rank >= Confidence.MEDIUM.rank
    ]
    conflict = bool(dissent)
    ask = best.confidence is Confidence.LOW or (conflict and best.confidence is not Confidence.HIGH)
    parts = [f"Département {best.departement} retenu d'après {_says(best)}."]
    if conflict:
        parts.append("Sources en désaccord : " + " ; ".join(_says(a) for a in dissent) + ".")
    if ask:
        parts.append("Confirmer le département avec l'appelant.")
    elif conflict:
        parts.append("À signaler à l'écoutant.")
    candidates: tuple[str, ...] = ()
    if ask:
        candidates = tuple(
            sorted({a.departement for a in usable if a.departement} | set(hesitations))
        )
    return LocationDecision(
        chosen=best,
        ask_caller=ask,
        conflict=conflict,
        reason=" ".join(parts),
        candidates=candidates,
    )
