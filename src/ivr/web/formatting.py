"""French renderings for the pages: times in the platform's zone, durations, labels."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ivr.records.models import CallbackStatus, EscalationStatus
from ivr.runtime.queries import ListenerActivity, ListenerCallStatus, Presence
from routing.config import RoutingConfig

PRESENCE_LABELS = {
    Presence.AVAILABLE: "disponible",
    Presence.PAUSED: "en pause",
    Presence.BUSY: "en communication",
    Presence.OFFLINE: "déconnecté",
}
ESCALATION_LABELS = {
    EscalationStatus.OPEN.value: "ouverte",
    EscalationStatus.IN_PROGRESS.value: "en cours de traitement",
    EscalationStatus.CLOSED.value: "clôturée",
}
CALLBACK_LABELS = {
    CallbackStatus.REQUESTED.value: "à rappeler",
    CallbackStatus.DONE.value: "rappelé",
    CallbackStatus.ABANDONED.value: "abandonné",
}
OUTCOME_LABELS = {
    "connected": "répondu",
    "callback": "rappel demandé",
    "message": "message",
    "caller-hung-up": "raccroché",
}
LINE_LABELS = {"115": "115", "assistance": "assistance SI SIAO"}
BEING_RUNG = "sonnerie en cours"


def presence_text(activity: ListenerActivity) -> str:
    """The listener's presence in French: being rung (« sonnerie en cours ») until they
    answer, « en communication » only once connected."""
    if activity.being_rung:
        return BEING_RUNG
    if activity.in_call:
        return PRESENCE_LABELS[Presence.BUSY]
    return PRESENCE_LABELS[activity.presence]


CALL_STATUS_LABELS = {
    ListenerCallStatus.CONNECTED: "en communication",
    ListenerCallStatus.RINGING: "sonne",
}


def local_time(value: datetime | None, tz: str = "Europe/Paris") -> str:
    """« 23/11/2026 10:05 » in the given zone; empty for None."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime("%d/%m/%Y %H:%M")


def day_text(value: date | datetime | None, tz: str = "Europe/Paris") -> str:
    """« 23/11/2026 »: a day, or a moment's day in the given zone; empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz)).date()
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def typed_day(text: str | None) -> str:
    """A date field's value as a person reads it: « AAAA-MM-JJ » (from a link) shown as
    « JJ/MM/AAAA », anything else as typed."""
    if not text:
        return ""
    try:
        return day_text(date.fromisoformat(text)) if len(text) == 10 and text[4] == "-" else text
    except ValueError:
        return text


def duration(seconds: float) -> str:
    """« 45 s », « 3 min 05 s », « 1 h 02 min »."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def spaced_number(number: str | None) -> str:
    """+33639980101 as « 06 39 98 01 01 » (other numbers as they are)."""
    if not number:
        return "numéro masqué"
    if number.startswith("+33") and len(number) == 12:
        national = "0" + number[3:]
        return " ".join(national[i : i + 2] for i in range(0, 10, 2))
    return number


def typed_number(typed: str) -> str:
    """A French number as typed in a form (« 06 39 98 01 01 », « +33 6 39 98 01 01 »,
    « 0033… ») in E.164, as the records and SI SIAO hold numbers; anything else (a foreign
    or incomplete number) as typed, without its spaces."""
    compact = re.sub(r"[\s.\-()]", "", typed)
    if compact.startswith("0033"):
        compact = "+33" + compact[4:]
    if re.fullmatch(r"0[1-9]\d{8}", compact):
        return "+33" + compact[1:]
    if re.fullmatch(r"\+33[1-9]\d{8}", compact):
        return compact
    return compact or typed.strip()


def escalation_reasons(config: RoutingConfig) -> dict[str, str]:
    """The nomenclature's escalation reasons by code: « Type — Motif (niveau n) »."""
    return {
        r.code: f"{t.label} — {r.label} (niveau {r.level})"
        for t in config.national.nomenclature
        for r in t.reasons
    }
