"""The routing configuration (``config/departments.yaml``) as validated, immutable models.

Every validator raises a ``ValueError`` whose message is a French sentence: the loader puts
it behind the file, line and field path so an admin reads exactly what is wrong.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from routing.departements import BY_CODE
from routing.phone import normalize_number


class LocatedValueError(ValueError):
    """A cross-field error that knows which field of the file it concerns."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def _e164(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"« {value} » n'est pas un numéro de téléphone valide")
    return normalize_number(value)


PhoneNumber = Annotated[str, AfterValidator(_e164)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class HuntStrategy(StrEnum):
    """How the referents of a département are rung."""

    ROTATE_LAST_ANSWERER = "rotate_last_answerer"
    RING_ALL = "ring_all"
    IN_ORDER = "in_order"


class Calendar(StrEnum):
    """Public-holiday calendars: mainland, Alsace, Moselle and each overseas département."""

    METROPOLE = "metropole"
    ALSACE = "alsace"
    MOSELLE = "moselle"
    GUADELOUPE = "guadeloupe"
    MARTINIQUE = "martinique"
    GUYANE = "guyane"
    REUNION = "reunion"
    MAYOTTE = "mayotte"


_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class TimeRange(_Model):
    """An opening range within one day, written ``HH:MM-HH:MM`` in the file."""

    start: time
    end: time  # time.max stands for 24:00

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            match = _RANGE.match(value.strip())
            if not match:
                raise ValueError(
                    f"« {value} » n'est pas une plage horaire valide (attendu HH:MM-HH:MM, "
                    "par exemple 09:30-11:30)"
                )
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h2 == 24 and m2 != 0:
                raise ValueError(f"« {value} » : l'heure de fin 24:{m2:02d} n'existe pas")
            end = time.max if h2 == 24 else time(h2, m2)
            start = time(h1, m1)
            if end <= start:
                raise ValueError(f"« {value} » : la fin de la plage doit suivre son début")
            return {"start": start, "end": end}
        return value

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end or (self.end == time.max and moment >= self.start)

    def __str__(self) -> str:
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


DayRanges = tuple[TimeRange, ...]


class WeeklySchedule(_Model):
    """Opening ranges per weekday; a missing day is closed."""

    mon: DayRanges = ()
    tue: DayRanges = ()
    wed: DayRanges = ()
    thu: DayRanges = ()
    fri: DayRanges = ()
    sat: DayRanges = ()
    sun: DayRanges = ()

    def for_weekday(self, weekday: int) -> DayRanges:
        return (self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun)[weekday]


class DatedException(_Model):
    """A date with its own hours (empty or ``closed: true`` means closed all day)."""

    date: date
    label: str = ""
    closed: bool = False
    hours: DayRanges = ()

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.closed and self.hours:
            raise ValueError("une exception fermée (closed: true) ne peut pas avoir d'horaires")
        return self


class Hours(_Model):
    """A weekly schedule, closed on public holidays unless said otherwise, with dated exceptions."""

    weekly: WeeklySchedule
    closed_on_public_holidays: bool = True
    exceptions: tuple[DatedException, ...] = ()

    @field_validator("exceptions")
    @classmethod
    def _unique_dates(cls, value: tuple[DatedException, ...]) -> tuple[DatedException, ...]:
        seen: set[date] = set()
        for exception in value:
            if exception.date in seen:
                raise ValueError(f"la date {exception.date.isoformat()} apparaît deux fois")
            seen.add(exception.date)
        return value


def always_open() -> Hours:
    every_day = (TimeRange.model_validate("00:00-24:00"),)
    return Hours(
        weekly=WeeklySchedule(
            mon=every_day,
            tue=every_day,
            wed=every_day,
            thu=every_day,
            fri=every_day,
            sat=every_day,
            sun=every_day,
        ),
        closed_on_public_holidays=False,
    )


class Contact(_Model):
    """A person or position reachable by phone."""

    name: str = Field(min_length=1)
    number: PhoneNumber


class AssistanceDepartement(_Model):
    """Tier 1 of the assistance line: the département's local SI referents."""

    referents: tuple[Contact, ...] = ()
    strategy: HuntStrategy = HuntStrategy.ROTATE_LAST_ANSWERER
    ring_timeout_s: int = Field(default=20, ge=5, le=120)
    hours: Hours

    @field_validator("referents")
    @classmethod
    def _distinct_numbers(cls, value: tuple[Contact, ...]) -> tuple[Contact, ...]:
        _reject_duplicate_numbers(value)
        return value


class QueueLimits(_Model):
    """Thresholds of a 115 waiting room; above them the deterrence prompts play."""

    max_waiting_calls: int = Field(ge=0, le=10_000)
    max_estimated_wait_s: int = Field(ge=0, le=86_400)
    max_time_in_queue_s: int = Field(ge=30, le=86_400)
    announcement_interval_s: int = Field(default=60, ge=15, le=3600)
    default_handling_time_s: int = Field(default=300, ge=10, le=7200)


class DeterrencePrompts(_Model):
    """The French text of each deterrence prompt, by trigger."""

    saturation: str = Field(min_length=10)
    closure: str = Field(min_length=10)
    emergency_closure: str = Field(min_length=10)
    max_wait_exceeded: str = Field(min_length=10)


class LroEntry(_Model):
    """One step of a last-routing-option chain: a number, or another département's platform."""

    number: PhoneNumber | None = None
    departement: str | None = None
    label: str = ""

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.number is None) == (self.departement is None):
            raise ValueError("une étape LRO indique soit « number », soit « departement »")
        if self.departement is not None and self.departement not in BY_CODE:
            raise ValueError(f"« {self.departement} » n'est pas un code de département connu")
        return self


class RecordingPolicy(StrEnum):
    """Whether calls are recorded once a person answers."""

    NONE = "none"
    ALL = "all"


class Line115(_Model):
    """The département's 115: inbound routing numbers, listeners, waiting room and fallbacks."""

    inbound_numbers: tuple[PhoneNumber, ...] = Field(min_length=1)
    listeners: tuple[Contact, ...] = ()
    queue: QueueLimits
    deterrence: DeterrencePrompts
    callback_offer: bool = True
    recording: RecordingPolicy = RecordingPolicy.ALL
    lro: tuple[LroEntry, ...] = ()
    listener_ring_timeout_s: int = Field(default=20, ge=5, le=120)

    @field_validator("listeners")
    @classmethod
    def _distinct_listeners(cls, value: tuple[Contact, ...]) -> tuple[Contact, ...]:
        _reject_duplicate_numbers(value)
        return value


class DepartementConfig(_Model):
    """One département: identity, calendar and both lines."""

    name: str = Field(min_length=1)
    timezone: str
    holidays: Calendar
    assistance: AssistanceDepartement
    line_115: Line115 = Field(alias="115")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"« {value} » n'est pas un fuseau horaire connu") from None
        return value


class Reason(_Model):
    """A reason of the assistance nomenclature."""

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    level: Literal[1, 2]
    digit: int | None = Field(default=None, ge=1, le=9)


class Theme(_Model):
    """A theme of the assistance nomenclature, grouping reasons."""

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    reasons: tuple[Reason, ...] = Field(min_length=1)


class NationalSupport(_Model):
    """Tier 2: the national support team."""

    numbers: tuple[Contact, ...] = Field(min_length=1)
    strategy: HuntStrategy = HuntStrategy.IN_ORDER
    ring_timeout_s: int = Field(default=25, ge=5, le=120)
    timezone: str = "Europe/Paris"
    holidays: Calendar = Calendar.METROPOLE
    hours: Hours


class UrgentEmail(_Model):
    """The message given when nobody can answer an assistance call."""

    address: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    prompt: str = Field(min_length=10)


class AssistanceSettings(_Model):
    """National settings of the assistance IVR."""

    recording: RecordingPolicy = RecordingPolicy.NONE
    reason_menu: bool = True
    menu_tries: int = Field(default=3, ge=1, le=5)
    digit_timeout_s: int = Field(default=6, ge=2, le=30)
    # After a key, how long a menu waits for the next one before judging the answer.
    inter_digit_timeout_s: int = Field(default=3, ge=1, le=10)


class StandardAnswer(_Model):
    """A standard answer ("réponse type") an agent picks to fill a ticket's note."""

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    text: str = Field(min_length=10)


class SubMotif(_Model):
    """A sub-motif of the support nomenclature."""

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)


class SupportMotif(_Model):
    """A motif of the support nomenclature: its sub-motifs, its standard answers, and the
    assistance-menu reasons it is proposed for (``menu_reasons``)."""

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    sub_motifs: tuple[SubMotif, ...] = Field(min_length=1)
    standard_answers: tuple[StandardAnswer, ...] = ()
    menu_reasons: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unique_inside(self) -> Self:
        _reject_duplicate_codes(
            [s.code for s in self.sub_motifs], "le sous-motif « {} » apparaît deux fois"
        )
        _reject_duplicate_codes(
            [a.code for a in self.standard_answers], "la réponse type « {} » apparaît deux fois"
        )
        return self

    def sub_motif(self, code: str) -> SubMotif | None:
        return next((s for s in self.sub_motifs if s.code == code), None)


def _reject_duplicate_codes(codes: list[str], message: str) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ValueError(message.format(code))
        seen.add(code)


class NationalConfig(_Model):
    """National section: assistance number, tier 2, urgent e-mail, LRO chain, nomenclature."""

    assistance_number: PhoneNumber
    entry_115_numbers: tuple[PhoneNumber, ...] = ()
    support: NationalSupport
    urgent_email: UrgentEmail
    callback_number: PhoneNumber
    default_lro: tuple[LroEntry, ...] = Field(min_length=1)
    assistance: AssistanceSettings = AssistanceSettings()
    nomenclature: tuple[Theme, ...] = Field(min_length=1)
    # National support's ticket classification: motifs, sub-motifs, standard answers.
    support_nomenclature: tuple[SupportMotif, ...] = ()

    @field_validator("support_nomenclature")
    @classmethod
    def _unique_motifs(cls, value: tuple[SupportMotif, ...]) -> tuple[SupportMotif, ...]:
        _reject_duplicate_codes([m.code for m in value], "le motif « {} » apparaît deux fois")
        return value

    @model_validator(mode="after")
    def _known_menu_reasons(self) -> Self:
        for index, motif in enumerate(self.support_nomenclature):
            for position, code in enumerate(motif.menu_reasons):
                if self.reason(code) is None:
                    raise LocatedValueError(
                        f"« {code} » n'est pas un motif de la nomenclature d'assistance",
                        ("national", "support_nomenclature", index, "menu_reasons", position),
                    )
        return self

    def support_motif(self, code: str) -> SupportMotif | None:
        return next((m for m in self.support_nomenclature if m.code == code), None)

    def motif_for_reason(self, reason_code: str | None) -> SupportMotif | None:
        """The first support motif proposed for an assistance-menu reason."""
        if not reason_code:
            return None
        return next((m for m in self.support_nomenclature if reason_code in m.menu_reasons), None)

    @field_validator("nomenclature")
    @classmethod
    def _unique_codes_and_digits(cls, value: tuple[Theme, ...]) -> tuple[Theme, ...]:
        codes: set[str] = set()
        digits: set[int] = set()
        for theme in value:
            for reason in theme.reasons:
                if reason.code in codes:
                    raise ValueError(f"le motif « {reason.code} » apparaît deux fois")
                codes.add(reason.code)
                if reason.digit is not None:
                    if reason.digit in digits:
                        raise ValueError(f"la touche {reason.digit} sert à deux motifs")
                    digits.add(reason.digit)
        return value

    @field_validator("default_lro")
    @classmethod
    def _numbers_only(cls, value: tuple[LroEntry, ...]) -> tuple[LroEntry, ...]:
        if any(entry.number is None for entry in value):
            raise ValueError("la chaîne LRO nationale ne contient que des numéros")
        return value

    def menu_reasons(self) -> tuple[Reason, ...]:
        """Reasons offered in the IVR menu, by digit."""
        reasons = [r for theme in self.nomenclature for r in theme.reasons if r.digit is not None]
        return tuple(sorted(reasons, key=lambda r: r.digit or 0))

    def reason(self, code: str) -> Reason | None:
        for theme in self.nomenclature:
            for candidate in theme.reasons:
                if candidate.code == code:
                    return candidate
        return None


class RoutingConfig(_Model):
    """The whole routing file."""

    version: Literal[1] = 1
    national: NationalConfig
    departements: dict[str, DepartementConfig]

    @field_validator("departements", mode="before")
    @classmethod
    def _known_codes(cls, value: object) -> object:
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    raise ValueError(
                        f"le code de département {key!r} doit être écrit entre guillemets "
                        f'(par exemple « "{str(key).zfill(2)}" »)'
                    )
                if key not in BY_CODE:
                    raise ValueError(f"« {key} » n'est pas un code de département connu")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        check_inbound_numbers(self)
        for code in self.departements:
            lro_chain(self, code)  # raises on loops and dangling references
        return self

    def departement(self, code: str) -> DepartementConfig | None:
        return self.departements.get(code)


def _reject_duplicate_numbers(contacts: tuple[Contact, ...]) -> None:
    seen: set[str] = set()
    for contact in contacts:
        if contact.number in seen:
            raise ValueError(f"le numéro {contact.number} apparaît deux fois")
        seen.add(contact.number)


def check_inbound_numbers(config: RoutingConfig) -> None:
    """Every inbound number identifies exactly one line and département."""
    owner: dict[str, str] = {config.national.assistance_number: "la ligne d'assistance"}
    for number in config.national.entry_115_numbers:
        if number in owner:
            raise ValueError(f"le numéro {number} est déjà celui de {owner[number]}")
        owner[number] = "l'entrée nationale du 115"
    for code, dep in config.departements.items():
        for index, number in enumerate(dep.line_115.inbound_numbers):
            if number in owner:
                raise LocatedValueError(
                    f"le numéro entrant {number} est déjà celui de {owner[number]}",
                    ("departements", code, "115", "inbound_numbers", index),
                )
            owner[number] = f"115 du {code}"


class LroStep(BaseModel):
    """One resolved destination of an LRO chain."""

    model_config = ConfigDict(frozen=True)

    number: str
    label: str


def lro_chain(config: RoutingConfig, code: str) -> tuple[LroStep, ...]:
    """The département's LRO destinations in order: its own chain, then the national default.

    An entry naming another département expands to that département's first inbound number
    followed by that département's own chain. A reference that comes back to a département
    already being expanded is a loop and an error; a number reached twice is dialled once.
    """
    steps: list[LroStep] = []
    seen_numbers: set[str] = set()

    def add(number: str, label: str) -> None:
        if number not in seen_numbers:
            seen_numbers.add(number)
            steps.append(LroStep(number=number, label=label))

    def expand(dep_code: str, path: tuple[str, ...]) -> None:
        dep = config.departements[dep_code]
        for index, entry in enumerate(dep.line_115.lro):
            loc = ("departements", dep_code, "115", "lro", index)
            if entry.number is not None:
                add(entry.number, entry.label or f"LRO du {dep_code}")
                continue
            target = entry.departement or ""
            if target in path or target == dep_code:
                cycle = " → ".join((*path, dep_code, target))
                raise LocatedValueError(f"la chaîne LRO boucle : {cycle}", loc)
            target_dep = config.departements.get(target)
            if target_dep is None:
                raise LocatedValueError(
                    f"la chaîne LRO renvoie au département {target}, absent du fichier", loc
                )
            add(target_dep.line_115.inbound_numbers[0], entry.label or f"115 du {target}")
            expand(target, (*path, dep_code))

    expand(code, ())
    for entry in config.national.default_lro:
        if entry.number is not None:
            add(entry.number, entry.label or "LRO nationale")
    return tuple(steps)
