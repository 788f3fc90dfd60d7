"""What every location answer says: where, from which source, and how far to trust it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class LocationSource(StrEnum):
    """Where an answer comes from."""

    NETWORK = "network"  # the inbound number the network routed the call to
    IVR_DEPARTEMENT = "ivr_departement"  # the caller typed or said a département code
    IVR_POSTCODE = "ivr_postcode"  # the caller typed a postal code
    CALLER_NUMBER = "caller_number"  # the calling number's numbering block
    AML = "aml"  # Advanced Mobile Location from the handset
    POSITION = "position"  # a WGS84 position from elsewhere (console, tests, CLI)


class Confidence(StrEnum):
    """How far the département of an answer can be trusted."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"

    @property
    def rank(self) -> int:
        """3 for high down to 0 for none, for comparisons."""
        return _RANK[self]

    @property
    def label(self) -> str:
        """French label for people."""
        return _LABEL[self]


_RANK = {Confidence.HIGH: 3, Confidence.MEDIUM: 2, Confidence.LOW: 1, Confidence.NONE: 0}
_LABEL = {
    Confidence.HIGH: "élevée",
    Confidence.MEDIUM: "moyenne",
    Confidence.LOW: "faible",
    Confidence.NONE: "aucune",
}

SOURCE_LABELS = {
    LocationSource.NETWORK: "numéro appelé (réseau)",
    LocationSource.IVR_DEPARTEMENT: "département saisi par l'appelant",
    LocationSource.IVR_POSTCODE: "code postal saisi par l'appelant",
    LocationSource.CALLER_NUMBER: "numéro de l'appelant",
    LocationSource.AML: "localisation AML du téléphone",
    LocationSource.POSITION: "position",
}


@dataclass(frozen=True)
class Position:
    """A WGS84 position, its accuracy radius in metres and when it was measured."""

    lat: float
    lon: float
    accuracy_m: float | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class LocationAnswer:
    """One source's answer. ``confidence`` is about the département.

    ``commune`` is an INSEE code; ``nearest`` says the position fell outside every commune
    and the closest one within the distance cap was taken; ``candidates`` lists the
    départements an ambiguous answer hesitates between; ``detail`` explains it in French.
    """

    departement: str | None
    commune: str | None
    commune_name: str | None
    source: LocationSource
    confidence: Confidence
    accuracy_m: float | None = None
    nearest: bool = False
    detail: str = ""
    candidates: tuple[str, ...] = ()
    position: Position | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view (the CLI's ``--json`` and the HTTP responses)."""
        return {
            "departement": self.departement,
            "commune": self.commune,
            "commune_name": self.commune_name,
            "source": self.source.value,
            "confidence": self.confidence.value,
            "accuracy_m": self.accuracy_m,
            "nearest": self.nearest,
            "detail": self.detail,
            "candidates": list(self.candidates),
            "lat": self.position.lat if self.position else None,
            "lon": self.position.lon if self.position else None,
        }


def no_departement(
    source: LocationSource,
    detail: str,
    *,
    confidence: Confidence = Confidence.NONE,
    candidates: tuple[str, ...] = (),
    accuracy_m: float | None = None,
    position: Position | None = None,
) -> LocationAnswer:
    """An answer that names no département: nothing found (``Confidence.NONE``), or a
    hesitation between ``candidates``."""
    return LocationAnswer(
        departement=None,
        commune=None,
        commune_name=None,
        source=source,
        confidence=confidence,
        accuracy_m=accuracy_m,
        candidates=candidates,
        detail=detail,
        position=position,
    )


def departement_only(
    source: LocationSource, departement: str, confidence: Confidence, detail: str
) -> LocationAnswer:
    """An answer that names a département but no commune."""
    return LocationAnswer(
        departement=departement,
        commune=None,
        commune_name=None,
        source=source,
        confidence=confidence,
        detail=detail,
    )


@dataclass(frozen=True)
class LocationDecision:
    """The outcome of combining answers (see ``docs/geoloc.md``, "Combining sources")."""

    chosen: LocationAnswer | None
    ask_caller: bool
    conflict: bool
    reason: str
    candidates: tuple[str, ...] = ()

    @property
    def departement(self) -> str | None:
        """The département to route to, if any."""
        return self.chosen.departement if self.chosen else None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view."""
        return {
            "departement": self.departement,
            "source": self.chosen.source.value if self.chosen else None,
            "ask_caller": self.ask_caller,
            "conflict": self.conflict,
            "reason": self.reason,
            "candidates": list(self.candidates),
        }
