"""The routing file's text around an edit, and what an edit changes, in French.

``with_section`` puts a département's new section into the file in force: the lines of
that section are replaced, the rest of the file (comments, layout, other départements) is
kept as it is. A file laid out otherwise (flow style, anchors…) is written anew from its
data instead; either way the result must leave every other part of the routing alone.
``changes`` says what was and what will be, field by field; ``yaml_diff`` adds the
section's YAML diff.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from routing.config import Contact, DepartementConfig, Hours, LroEntry, RoutingConfig
from routing.loader import ConfigError, parse_config
from routing.phone import display_number
from routing.safe_yaml import compose

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
FORM_FILE = "formulaire"


def _contact(contact: Contact) -> dict[str, str]:
    return {"name": contact.name, "number": display_number(contact.number)}


def _lro(entry: LroEntry) -> dict[str, str]:
    out = (
        {"number": display_number(entry.number)}
        if entry.number is not None
        else {"departement": entry.departement or ""}
    )
    if entry.label:
        out["label"] = entry.label
    return out


def plain_hours(hours: Hours) -> dict[str, Any]:
    weekly = {
        day: [str(r) for r in hours.weekly.for_weekday(i)]
        for i, day in enumerate(DAYS)
        if hours.weekly.for_weekday(i)
    }
    out: dict[str, Any] = {"weekly": weekly}
    if not hours.closed_on_public_holidays:
        out["closed_on_public_holidays"] = False
    if hours.exceptions:
        out["exceptions"] = []
        for exc in hours.exceptions:
            item: dict[str, Any] = {"date": exc.date.isoformat()}
            if exc.label:
                item["label"] = exc.label
            if exc.closed:
                item["closed"] = True
            if exc.hours:
                item["hours"] = [str(r) for r in exc.hours]
            out["exceptions"].append(item)
    return out


def section_data(dep: DepartementConfig) -> dict[str, Any]:
    """The département's section as the routing file writes it (numbers in French form)."""
    assistance = dep.assistance
    line = dep.line_115
    data_115: dict[str, Any] = {
        "inbound_numbers": [display_number(n) for n in line.inbound_numbers],
        "listeners": [_contact(c) for c in line.listeners],
        "listener_ring_timeout_s": line.listener_ring_timeout_s,
        "queue": line.queue.model_dump(mode="json"),
        "deterrence": line.deterrence.model_dump(mode="json"),
        "callback_offer": line.callback_offer,
        "recording": line.recording.value,
    }
    if line.lro:
        data_115["lro"] = [_lro(e) for e in line.lro]
    return {
        "name": dep.name,
        "timezone": dep.timezone,
        "holidays": dep.holidays.value,
        "assistance": {
            "strategy": assistance.strategy.value,
            "ring_timeout_s": assistance.ring_timeout_s,
            "referents": [_contact(c) for c in assistance.referents],
            "hours": plain_hours(assistance.hours),
        },
        "115": data_115,
    }


def dump(data: Any, indent: int = 0) -> str:
    """YAML as the routing file writes it (UTF-8 kept, keys in their order)."""
    text = yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def _section_span(lines: list[str], code: str) -> tuple[int, int] | None:
    """The lines ``[start, end)`` of département ``code`` in a block-style file."""
    try:
        top = next(i for i, line in enumerate(lines) if line.rstrip() == "departements:")
    except StopIteration:
        return None
    key = re.compile(rf"""^  (["']?){re.escape(code)}\1:\s*(#.*)?$""")
    start = next((i for i in range(top + 1, len(lines)) if key.match(lines[i].rstrip("\n"))), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines):
        line = lines[end]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if stripped and indent <= 2:
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines between sections stay where they are
    return start, end


def _spliced(text: str, code: str, section: dict[str, Any]) -> str | None:
    lines = text.splitlines(True)
    span = _section_span(lines, code)
    if span is None:
        return None
    start, end = span
    block = f'  "{code}":\n' + dump(section, 4)
    return "".join([*lines[:start], block, *lines[end:]])


def _rewritten(text: str, code: str, section: dict[str, Any]) -> str:
    data = compose(text).construct()
    data["departements"][code] = section
    return dump(data)


Parsed = RoutingConfig | ConfigError


def _parsed(text: str) -> Parsed:
    try:
        return parse_config(text, FORM_FILE)
    except ConfigError as exc:
        return exc


def _only_section_changed(base: RoutingConfig, new: Parsed, code: str) -> bool:
    if isinstance(new, ConfigError):
        return True  # the loader names the problem to the admin
    if new.national != base.national or set(new.departements) != set(base.departements):
        return False
    return all(new.departements[c] == d for c, d in base.departements.items() if c != code)


def with_section(
    base: RoutingConfig, base_text: str, code: str, section: dict[str, Any]
) -> tuple[str, Parsed]:
    """``base_text`` with département ``code``'s section replaced by ``section``, and that
    text checked by the loader (the routing, or the loader's ``ConfigError``)."""
    spliced = _spliced(base_text, code, section)
    if spliced is not None:
        parsed = _parsed(spliced)
        if _only_section_changed(base, parsed, code):
            return spliced, parsed
    text = _rewritten(base_text, code, section)
    return text, _parsed(text)


def whole_text(config: RoutingConfig) -> str:
    """A routing file written from the models (when no version of the text is recorded)."""
    national = config.national.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    national["support"]["hours"] = plain_hours(config.national.support.hours)
    departements = {code: section_data(dep) for code, dep in config.departements.items()}
    return dump({"version": 1, "national": national, "departements": departements})


# --------------------------------------------------------------------------- what changes


@dataclass(frozen=True, slots=True)
class Change:
    """One field of the département, as it was and as it will be (French, multi-line)."""

    label: str
    before: str
    after: str


def _people(contacts: Any) -> str:
    lines = [f"{i}. {c.name} — {display_number(c.number)}" for i, c in enumerate(contacts, 1)]
    return "\n".join(lines) or "aucun"


def _day(ranges: Any) -> str:
    return ", ".join(str(r) for r in ranges) or "fermé"


def _exceptions_text(hours: Hours) -> str:
    lines = []
    for exc in hours.exceptions:
        what = "fermé" if exc.closed or not exc.hours else _day(exc.hours)
        label = f" ({exc.label})" if exc.label else ""
        lines.append(f"{exc.date.strftime('%d/%m/%Y')}{label} : {what}")
    return "\n".join(lines) or "aucune"


def _lro_text(dep: DepartementConfig) -> str:
    lines = []
    for i, entry in enumerate(dep.line_115.lro, 1):
        where = display_number(entry.number) if entry.number else f"115 du {entry.departement}"
        lines.append(f"{i}. {where}" + (f" ({entry.label})" if entry.label else ""))
    return "\n".join(lines) or "aucun (chaîne nationale seule)"


_DETERRENCE = (
    ("saturation", "Message de dissuasion : saturation"),
    ("closure", "Message de dissuasion : fermeture"),
    ("emergency_closure", "Message de dissuasion : fermeture exceptionnelle"),
    ("max_wait_exceeded", "Message de dissuasion : attente maximale dépassée"),
)


def _fields(dep: DepartementConfig) -> list[tuple[str, str]]:
    hours = dep.assistance.hours
    out = [
        ("Référents SI (dans l'ordre d'appel)", _people(dep.assistance.referents)),
        ("Postes d'écoutants du 115", _people(dep.line_115.listeners)),
    ]
    out += [
        (f"Horaires des référents le {name}", _day(hours.weekly.for_weekday(i)))
        for i, name in enumerate(DAY_NAMES)
    ]
    out.append(("Fermé les jours fériés", "oui" if hours.closed_on_public_holidays else "non"))
    out.append(("Fermetures et horaires exceptionnels", _exceptions_text(hours)))
    out.append(("Numéros LRO (dernier recours, dans l'ordre)", _lro_text(dep)))
    out += [(label, getattr(dep.line_115.deterrence, key)) for key, label in _DETERRENCE]
    return out


def _others(dep: DepartementConfig) -> str:
    data = section_data(dep)
    for key in ("referents", "hours"):
        data["assistance"].pop(key)
    for key in ("listeners", "lro", "deterrence"):
        data["115"].pop(key, None)
    return dump(data)


def changes(old: DepartementConfig | None, new: DepartementConfig | None) -> list[Change]:
    """What changes in the département, field by field (nothing: an empty list)."""
    if old is None or new is None:
        before = "absent du fichier" if old is None else "présent"
        after = "absent du fichier" if new is None else "présent"
        return [] if before == after else [Change("Département", before, after)]
    out = [
        Change(label, before, after)
        for (label, before), (_, after) in zip(_fields(old), _fields(new), strict=True)
        if before != after
    ]
    if _others(old) != _others(new):
        out.append(Change("Autres réglages du département", _others(old), _others(new)))
    return out


def yaml_diff(old: DepartementConfig | None, new: DepartementConfig | None, code: str) -> str:
    """The unified diff of the département's section (en vigueur → proposé)."""

    def text(dep: DepartementConfig | None) -> list[str]:
        return dump({code: section_data(dep)}).splitlines(True) if dep else []

    diff = difflib.unified_diff(text(old), text(new), "en vigueur", "proposé", n=2)
    return "".join(diff)


def touched(old: RoutingConfig, new: RoutingConfig) -> list[str]:
    """The départements whose section differs (``national`` first when it differs)."""
    codes = sorted(set(old.departements) | set(new.departements))
    out = ["national"] if old.national != new.national else []
    return out + [c for c in codes if old.departements.get(c) != new.departements.get(c)]


def summary_lines(code: str, found: list[Change]) -> list[str]:
    """The version's « what changed », one line per field."""
    return [f"{code} : {change.label}" for change in found]


def upload_summary(codes: list[str], shown: int = 12) -> list[str]:
    """« What changed » of a whole file sent by a national admin: the parts it changes."""
    if not codes:
        return ["fichier complet : aucun changement de routage"]
    more = len(codes) - shown
    listed = ", ".join(codes[:shown]) + (f" et {more} autre(s)" if more > 0 else "")
    return [f"fichier complet : {listed}"]
