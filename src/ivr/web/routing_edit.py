"""Editing one département's routing by form: pure functions, no I/O.

A form (``Mapping[str, str]``, field names stable for the pages and their browser tests)
becomes the département's section of the routing file; the section is put into the file in
force (``routing_text.with_section``) and the whole file is checked by the loader
(``routing.loader.parse_config``), exactly as an uploaded file is. Each problem the loader
names (``departements.91.assistance.referents[1].number``) is put back next to the field it
comes from; a problem elsewhere is a general error. Nothing is kept of a form with errors.

Field names: ``referent-{i}-nom``, ``referent-{i}-numero``, ``referent-{i}-ordre``,
``referent-{i}-supprimer``; the same with ``ecoutant-`` for the 115 listeners' posts;
``horaires-{mon…sun}`` (``09:00-12:30, 13:30-17:00``; empty: closed); ``feries-fermes``;
``exception-{i}-date`` (dd/mm/yyyy), ``exception-{i}-libelle``, ``exception-{i}-fermee``,
``exception-{i}-horaires``; ``lro-{i}-numero``, ``lro-{i}-departement``,
``lro-{i}-libelle``; ``dissuasion-{saturation,fermeture,fermeture-urgence,attente-max}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ivr.web.routing_text import DAY_NAMES, DAYS, section_data, with_section
from routing.config import DepartementConfig, RoutingConfig
from routing.loader import ConfigError, ConfigIssue
from routing.phone import display_number

DAY_LABELS = dict(zip(DAYS, DAY_NAMES, strict=True))
DETERRENCE_FIELDS = {
    "saturation": "dissuasion-saturation",
    "closure": "dissuasion-fermeture",
    "emergency_closure": "dissuasion-fermeture-urgence",
    "max_wait_exceeded": "dissuasion-attente-max",
}
EXTRA_ROWS = 2
"""Empty rows offered below each list, to add a referent, a post, a closure, an LRO step."""

GENERAL = "general"
FIRST_YEAR, LAST_YEAR = 2000, 2999

_ROW = re.compile(r"^(referent|ecoutant|exception|lro)-(\d{1,3})-")
_RANGE_SEP = re.compile(r"\s*[,;]\s*|\s+(?=\d)(?<!-\s)")
_HOUR = re.compile(r"(\d{1,2})(?:[:hH](\d{2})?)?")


# --------------------------------------------------------------------------- form values


def form_values(dep: DepartementConfig) -> dict[str, str]:
    """The form as it opens: the département's routing in force, and empty rows to add."""
    values: dict[str, str] = {}
    for prefix, contacts in (
        ("referent", dep.assistance.referents),
        ("ecoutant", dep.line_115.listeners),
    ):
        for i, contact in enumerate(contacts):
            values[f"{prefix}-{i}-nom"] = contact.name
            values[f"{prefix}-{i}-numero"] = display_number(contact.number)
            values[f"{prefix}-{i}-ordre"] = str(i + 1)
    hours = dep.assistance.hours
    for i, day in enumerate(DAYS):
        values[f"horaires-{day}"] = ", ".join(str(r) for r in hours.weekly.for_weekday(i))
    if hours.closed_on_public_holidays:
        values["feries-fermes"] = "1"
    for i, exc in enumerate(hours.exceptions):
        values[f"exception-{i}-date"] = exc.date.strftime("%d/%m/%Y")
        values[f"exception-{i}-libelle"] = exc.label
        values[f"exception-{i}-horaires"] = ", ".join(str(r) for r in exc.hours)
        if exc.closed or not exc.hours:
            values[f"exception-{i}-fermee"] = "1"
    for i, entry in enumerate(dep.line_115.lro):
        values[f"lro-{i}-numero"] = display_number(entry.number) if entry.number else ""
        values[f"lro-{i}-departement"] = entry.departement or ""
        values[f"lro-{i}-libelle"] = entry.label
    for key, name in DETERRENCE_FIELDS.items():
        values[name] = getattr(dep.line_115.deterrence, key)
    return values


def row_indices(values: Mapping[str, str], prefix: str) -> list[int]:
    """The row numbers the form holds for ``prefix`` (in order)."""
    found = set()
    for key in values:
        match = _ROW.match(key)
        if match and match.group(1) == prefix:
            found.add(int(match.group(2)))
    return sorted(found)


def rows_shown(values: Mapping[str, str], prefix: str) -> list[int]:
    """The rows a page shows: those of the form up to its last filled one, then
    ``EXTRA_ROWS`` empty ones (the empty rows a posted form sends back are not kept: each
    « Vérifier » would add two more)."""
    rows = row_indices(values, prefix)
    while rows and not _filled(values, f"{prefix}-{rows[-1]}-"):
        rows.pop()
    start = rows[-1] + 1 if rows else 0
    return [*rows, *range(start, start + EXTRA_ROWS)]


def _filled(values: Mapping[str, str], head: str) -> bool:
    return any(value.strip() for key, value in values.items() if key.startswith(head))


# --------------------------------------------------------------------------- form → section


@dataclass(slots=True)
class Proposal:
    """What a form proposes: the section, which form row each list item came from, and
    the problems found before the loader's check (fields the file has no word for)."""

    section: dict[str, Any]
    rows: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def parse_fr_date(text: str) -> date | None:
    """``25/12/2026`` (dd/mm/yyyy) as a date; None when it is not one (or is not between
    ``FIRST_YEAR`` and ``LAST_YEAR``)."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text.strip())
    if match is None:
        return None
    day, month, year = (int(g) for g in match.groups())
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None  # beyond, time zones and date arithmetic overflow
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_fr_moment(day_text: str, time_text: str) -> datetime | None:
    """dd/mm/yyyy and HH:MM (24 h) as a naive datetime; None when either is wrong."""
    day = parse_fr_date(day_text)
    match = re.fullmatch(r"([01]?\d|2[0-3])[:h]([0-5]\d)", time_text.strip())
    if day is None or match is None:
        return None
    return datetime(day.year, day.month, day.day, int(match.group(1)), int(match.group(2)))


def _hour(text: str) -> str:
    match = _HOUR.fullmatch(text.strip())
    if match is None:
        return text.strip()
    return f"{int(match.group(1)):02d}:{match.group(2) or '00'}"


def ranges(text: str) -> list[str]:
    """``9h30-11h30, 14:00-16:30`` as ``["09:30-11:30", "14:00-16:30"]`` (checked later)."""
    cleaned = text.strip()
    if cleaned.lower() in ("", "fermé", "ferme"):
        return []
    out = []
    for part in _RANGE_SEP.split(cleaned):
        start, dash, end = part.strip().partition("-")
        out.append(f"{_hour(start)}-{_hour(end)}" if dash else part.strip())
    return [part for part in out if part]


def _contacts(values: Mapping[str, str], prefix: str, proposal: Proposal) -> list[dict[str, str]]:
    kept: list[tuple[int, int, dict[str, str]]] = []
    for i in row_indices(values, prefix):
        name = values.get(f"{prefix}-{i}-nom", "").strip()
        number = values.get(f"{prefix}-{i}-numero", "").strip()
        if values.get(f"{prefix}-{i}-supprimer") or not (name or number):
            continue
        order_text = values.get(f"{prefix}-{i}-ordre", "").strip()
        order = i + 1
        if order_text:
            if order_text.isdigit() and 1 <= int(order_text) <= 999:
                order = int(order_text)
            else:
                proposal.error(
                    f"{prefix}-{i}-ordre",
                    f"« {order_text} » n'est pas un rang valide (un nombre de 1 à 999)",
                )
        kept.append((order, i, {"name": name, "number": number}))
    kept.sort(key=lambda item: (item[0], item[1]))
    proposal.rows[prefix] = [i for _, i, _ in kept]
    return [contact for _, _, contact in kept]


def _exceptions(values: Mapping[str, str], proposal: Proposal) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rows: list[int] = []
    for i in row_indices(values, "exception"):
        day_text = values.get(f"exception-{i}-date", "").strip()
        label = values.get(f"exception-{i}-libelle", "").strip()
        hours_text = values.get(f"exception-{i}-horaires", "").strip()
        if not (day_text or label or hours_text):
            continue
        day = parse_fr_date(day_text)
        if day is None:
            message = (
                "date obligatoire (jj/mm/aaaa)"
                if not day_text
                else f"« {day_text} » n'est pas une date valide (jj/mm/aaaa, ex. 25/12/2026)"
            )
            proposal.error(f"exception-{i}-date", message)
            continue
        item: dict[str, Any] = {"date": day.isoformat()}
        if label:
            item["label"] = label
        closed = bool(values.get(f"exception-{i}-fermee"))
        if closed:
            item["closed"] = True
        if hours_text:
            item["hours"] = ranges(hours_text)
        out.append(item)
        rows.append(i)
    proposal.rows["exception"] = rows
    return out


def _lro_steps(values: Mapping[str, str], proposal: Proposal) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    rows: list[int] = []
    for i in row_indices(values, "lro"):
        number = values.get(f"lro-{i}-numero", "").strip()
        target = values.get(f"lro-{i}-departement", "").strip().upper()
        label = values.get(f"lro-{i}-libelle", "").strip()
        if not (number or target or label):
            continue
        item: dict[str, str] = {}
        if number:
            item["number"] = number
        if target:
            item["departement"] = target
        if label:
            item["label"] = label
        out.append(item)
        rows.append(i)
    proposal.rows["lro"] = rows
    return out


def propose(dep: DepartementConfig, values: Mapping[str, str]) -> Proposal:
    """The section the form proposes for ``dep`` (the fields it does not edit are kept)."""
    section = section_data(dep)
    proposal = Proposal(section)
    assistance = section["assistance"]
    assistance["referents"] = _contacts(values, "referent", proposal)
    weekly = {day: ranges(values.get(f"horaires-{day}", "")) for day in DAYS}
    hours: dict[str, Any] = {"weekly": {d: r for d, r in weekly.items() if r}}
    if not values.get("feries-fermes"):
        hours["closed_on_public_holidays"] = False
    exceptions = _exceptions(values, proposal)
    if exceptions:
        hours["exceptions"] = exceptions
    assistance["hours"] = hours
    line = section["115"]
    line["listeners"] = _contacts(values, "ecoutant", proposal)
    line.pop("lro", None)
    steps = _lro_steps(values, proposal)
    if steps:
        line["lro"] = steps
    line["deterrence"] = {
        key: " ".join(values.get(name, "").split()) for key, name in DETERRENCE_FIELDS.items()
    }
    return proposal


# --------------------------------------------------------------------------- loader → fields

_LIST_FIELDS = {
    ("assistance", "referents"): ("referent", "referents"),
    ("115", "listeners"): ("ecoutant", "ecoutants"),
    ("assistance", "hours", "exceptions"): ("exception", "exceptions"),
    ("115", "lro"): ("lro", "lro"),
}
_ITEM_FIELDS = {
    "name": "nom",
    "number": "numero",
    "date": "date",
    "label": "libelle",
    "closed": "horaires",
    "hours": "horaires",
    "departement": "departement",
}


def _parts(path: str) -> list[str | int]:
    found = re.findall(r"\[\d+\]|[^.\[\]]+", path)
    return [int(p[1:-1]) if p.startswith("[") else p for p in found]


def field_of(path: str, code: str, rows: Mapping[str, list[int]]) -> str:
    """The form field a loader problem at ``path`` belongs to (``GENERAL`` if none)."""
    parts = _parts(path)
    if parts[:2] != ["departements", code]:
        return GENERAL
    rest = parts[2:]
    for prefix, (row_prefix, whole) in _LIST_FIELDS.items():
        if tuple(rest[: len(prefix)]) != prefix:
            continue
        tail = rest[len(prefix) :]
        if not tail or not isinstance(tail[0], int):
            return whole
        row_list = rows.get(row_prefix, [])
        if tail[0] >= len(row_list):
            return whole
        leaf = tail[1] if len(tail) > 1 and isinstance(tail[1], str) else None
        name = _ITEM_FIELDS.get(leaf or "", "numero" if row_prefix == "lro" else "horaires")
        return f"{row_prefix}-{row_list[tail[0]]}-{name}"
    if rest[:3] == ["assistance", "hours", "weekly"] and len(rest) > 3:
        return f"horaires-{rest[3]}"
    if rest[:2] == ["115", "deterrence"] and len(rest) > 2:
        return DETERRENCE_FIELDS.get(str(rest[2]), GENERAL)
    return GENERAL


@dataclass(slots=True)
class Checked:
    """The outcome of a form: the new routing and its text, or the errors by field."""

    config: RoutingConfig | None
    text: str
    errors: dict[str, list[str]]


def check(base: RoutingConfig, base_text: str, code: str, values: Mapping[str, str]) -> Checked:
    """Check a form against the routing in force ``base`` (its text ``base_text``)."""
    dep = base.departements[code]
    proposal = propose(dep, values)
    text, config = with_section(base, base_text, code, proposal.section)
    errors = proposal.errors
    if isinstance(config, ConfigError):
        for issue in config.issues:
            name = field_of(issue.path, code, proposal.rows)
            errors.setdefault(name, []).append(_message(issue, name))
    if errors or not isinstance(config, RoutingConfig):
        return Checked(None, text, errors)
    return Checked(config, text, {})


def _message(issue: ConfigIssue, name: str) -> str:
    if name == GENERAL and issue.path:
        return f"{issue.path} : {issue.message}"
    return issue.message


def with_departement(
    base: RoutingConfig, base_text: str, code: str, dep: DepartementConfig
) -> Checked:
    """The routing in force with ``dep`` as département ``code`` (a section restored)."""
    text, config = with_section(base, base_text, code, section_data(dep))
    if isinstance(config, ConfigError):
        return Checked(None, text, {GENERAL: [str(issue) for issue in config.issues]})
    return Checked(config, text, {})
