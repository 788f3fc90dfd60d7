"""Report periods and scopes, pure: what a day, a week, a month or a custom range is in a
time zone, and which départements a scope (one département, a région, national) covers.

Bad input raises ``ReportInputError`` naming the form field and saying what is wrong in
French, so that the page can show it next to the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.records.regions import DEPARTEMENT_REGION, REGION_NAMES
from routing.departements import BY_CODE

KINDS = {"jour": "Jour", "semaine": "Semaine", "mois": "Mois", "plage": "Période choisie"}
MAX_RANGE_DAYS = 366
SCOPE = "perimetre"
MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


class ReportInputError(ValueError):
    """A period or scope the report cannot use: ``field`` is the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Period:
    """Local days [first, last] (inclusive) in ``tz``; ``kind`` says how it was chosen."""

    kind: str
    first: date
    last: date
    tz: str = "Europe/Paris"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), ZoneInfo(self.tz))

    @property
    def label(self) -> str:
        if self.kind == "jour":
            return f"le {self.first.strftime('%d/%m/%Y')}"
        if self.kind == "mois":
            return f"{MONTHS_FR[self.first.month - 1]} {self.first.year}"
        return f"du {self.first.strftime('%d/%m/%Y')} au {self.last.strftime('%d/%m/%Y')}"

    def previous(self) -> Period:
        return self.shifted(-1)

    def following(self) -> Period:
        return self.shifted(1)

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` units away (a range moves by its own length)."""
        if self.kind == "mois":
            first = add_months(self.first, steps)
            return Period("mois", first, add_months(first, 1) - timedelta(days=1), self.tz)
        length = (self.last - self.first).days + 1
        delta = timedelta(days=length * steps)
        return Period(self.kind, self.first + delta, self.last + delta, self.tz)


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


FIRST_DAY = date(2000, 1, 1)  # reports cover these years; beyond, a French refusal
LAST_DAY = date(2999, 12, 31)


_FRENCH_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read_day(text: str) -> date:
    """A day as people type it in the consoles, « JJ/MM/AAAA » (« 5/1/2025 » too), or
    « AAAA-MM-JJ » (the pages' own links and older bookmarks); ``ValueError`` otherwise."""
    value = text.strip()
    match = _FRENCH_DAY.match(value)
    try:
        if match:
            day, month, year = (int(group) for group in match.groups())
            return date(year, month, day)
        if _ISO_DAY.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"not a day: {value[:40]!r}")


def _day(field: str, value: str) -> date:
    try:
        chosen = read_day(value)
    except ValueError:
        raise ReportInputError(
            field, f"« {value[:40]} » n'est pas une date valide (JJ/MM/AAAA)."
        ) from None
    if not FIRST_DAY <= chosen <= LAST_DAY:
        raise ReportInputError(
            field, f"La date {value.strip()[:40]} est hors des limites (2000 à 2999)."
        )
    return chosen


def parse_period(
    kind: str, day: str, first: str, last: str, today: date, tz: str = "Europe/Paris"
) -> Period:
    """The period a form asks for. ``kind`` is jour, semaine, mois or plage; ``day`` any day
    of it (default: the last complete one); ``first``/``last`` the bounds of a range."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportInputError("fuseau", f"Fuseau horaire inconnu : « {tz[:40]} ».") from None
    kind = kind or "semaine"
    if kind not in KINDS:
        raise ReportInputError("periode", "Choisissez un jour, une semaine, un mois ou une plage.")
    if kind == "plage":
        if not first or not last:
            field = "debut" if not first else "fin"
            raise ReportInputError(field, "Indiquez le début et la fin de la période.")
        start, end = _day("debut", first), _day("fin", last)
        if end < start:
            raise ReportInputError("fin", "La fin de la période précède son début.")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise ReportInputError("fin", f"Une période dure au plus {MAX_RANGE_DAYS} jours.")
        return Period("plage", start, end, tz)
    if kind == "jour":
        chosen = _day("date", day) if day else today - timedelta(days=1)
        return Period("jour", chosen, chosen, tz)
    if kind == "semaine":
        chosen = _day("date", day) if day else today - timedelta(days=7)
        monday = chosen - timedelta(days=chosen.weekday())
        return Period("semaine", monday, monday + timedelta(days=6), tz)
    chosen = _day("date", day) if day else add_months(today, -1)
    start = chosen.replace(day=1)
    return Period("mois", start, add_months(start, 1) - timedelta(days=1), tz)


@dataclass(frozen=True, slots=True)
class Scope:
    """``national``, ``region:CODE`` or ``dep:CODE``, resolved to its départements."""

    key: str
    label: str
    departements: tuple[str, ...] | None  # None: every département (and undetermined calls)

    @property
    def national(self) -> bool:
        return self.departements is None


def region_departements(region: str) -> tuple[str, ...]:
    return tuple(d for d, r in DEPARTEMENT_REGION.items() if r == region)


def parse_scope(value: str, allowed: list[str] | None) -> Scope:
    """The scope ``value`` asks for, within what the admin may see (``allowed`` None:
    everything). Default: national for a national admin, else the admin's départements."""
    value = value.strip()
    if not value:
        if allowed is None:
            return Scope("national", "National", None)
        if len(allowed) == 1:
            value = f"dep:{allowed[0]}"
        else:
            return Scope("mine", "Mes départements", tuple(sorted(allowed)))
    if value == "national" or value == "mine":
        if allowed is not None and value == "national":
            raise ReportInputError(
                "perimetre", "Le périmètre national est réservé aux admins nationaux."
            )
        if allowed is None:
            return Scope("national", "National", None)
        return Scope("mine", "Mes départements", tuple(sorted(allowed)))
    kind, _, code = value.partition(":")
    if kind == "region" and code in REGION_NAMES:
        deps = region_departements(code)
        if allowed is not None and not set(deps) <= set(allowed):
            raise ReportInputError(
                "perimetre", "Vous ne voyez pas tous les départements de cette région."
            )
        return Scope(value, f"Région {REGION_NAMES[code]}", deps)
    if kind == "dep" and code in DEPARTEMENT_REGION:
        if allowed is not None and code not in allowed:
            raise ReportInputError(
                "perimetre", f"Le département {code} n'est pas dans votre périmètre."
            )
        return Scope(value, f"Département {code} — {BY_CODE[code].name}", (code,))
    raise ReportInputError(SCOPE, f"Périmètre inconnu : « {value[:40]} ».")


def scope_choices(allowed: list[str] | None, names: dict[str, str]) -> list[tuple[str, str]]:
    """(value, label) of every scope an admin may choose."""
    choices: list[tuple[str, str]] = []
    if allowed is None:
        choices.append(("national", "National (consolidation)"))
        for code, name in sorted(REGION_NAMES.items(), key=lambda item: item[1]):
            choices.append((f"region:{code}", f"Région {name}"))
        deps = list(DEPARTEMENT_REGION)
    else:
        if len(allowed) > 1:
            choices.append(("mine", "Mes départements"))
        deps = sorted(allowed)
    for code in deps:
        choices.append((f"dep:{code}", f"{code} — {names.get(code, code)}"))
    return choices
