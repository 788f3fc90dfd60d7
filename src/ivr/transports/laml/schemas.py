"""The webhook forms the providers post, and what their status fields mean to the flow.

Field names are the providers' documented ones (``CallSid``, ``AccountSid``, ``From``, ``To``,
``CallStatus``, ``Direction``, ``Digits``, ``DialCallStatus``, ``QueueResult``,
``RecordingSid``, ``RecordingUrl``, ...). A missing field is the sender's mistake: a 400 whose
French message names it, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_plus

from ivr.flow.vocabulary import DialOutcome
from routing.phone import try_normalize

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class WebhookError(Exception):
    """A webhook the service refuses, with the HTTP status and the French message to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def missing_fields(names: Sequence[str]) -> WebhookError:
    plural = "s" if len(names) > 1 else ""
    return WebhookError(400, f"Champ{plural} manquant{plural} : {', '.join(names)}")


def unknown_call(call_sid: str) -> WebhookError:
    return WebhookError(404, f"Appel inconnu : {call_sid}")


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a urlencoded body, blank values kept (they are signed)."""
    if not body:
        return []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookError(400, "Corps de requête illisible (UTF-8 attendu)") from None
    return parse_pairs(text)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(text, keep_blank_values=True)``, faster on plain pieces.

    Most fields of a webhook need no decoding (``CallStatus=ringing``); only those with a
    ``%`` or a ``+`` go through ``unquote_plus``, exactly as ``parse_qsl`` would decode them.
    """
    pairs: list[tuple[str, str]] = []
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "+" in piece:
            name, value = unquote_plus(name), unquote_plus(value)
        elif "%" in piece:
            if piece.count("%") == piece.count("%2B"):
                # Only E.164 plus signs (From=%2B33...): what unquote_plus gives, cheaply.
                name, value = name.replace("%2B", "+"), value.replace("%2B", "+")
            else:
                name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return pairs


class Form:
    """A webhook's fields, by name (the last value wins for a repeated name)."""

    __slots__ = ("fields",)

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.fields: dict[str, str] = dict(pairs)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    def require(self, *names: str) -> list[str]:
        """The values of ``names``, or a 400 naming every one that is missing or empty."""
        missing = [name for name in names if not self.fields.get(name)]
        if missing:
            raise missing_fields(missing)
        return [self.fields[name] for name in names]


def query_value(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise WebhookError(400, f"Paramètre manquant dans l'URL : {name}")
    return value


def query_step(query: Mapping[str, str]) -> int:
    raw = query_value(query, "s")
    if not raw.isdigit():
        raise WebhookError(400, f"Paramètre d'URL invalide : s={raw}")
    return int(raw)


# --------------------------------------------------------------------------- numbers

_E164 = re.compile(r"^\+[1-9]\d{5,14}$")
# What the providers put in From when the caller withholds the number.
_WITHHELD = frozenset({"+266696687", "anonymous", "restricted", "unknown", "private", ""})


def phone_number(raw: str) -> str | None:
    """E.164 form of a From or To field; None when withheld or not a telephone number."""
    text = raw.strip()
    if text.lower() in _WITHHELD:
        return None
    if _E164.match(text):
        return text  # the providers send E.164: no need for the slower full parse
    return try_normalize(text)


# --------------------------------------------------------------------------- statuses

TERMINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# How far a call has gone; a status callback that ranks lower than one already seen arrived
# out of order and changes nothing.
_CALL_STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "answered": 3,
}


def call_status_rank(status: str) -> int:
    return 4 if status in TERMINAL_CALL_STATUSES else _CALL_STATUS_RANK.get(status, -1)


def caller_gone(form: Form) -> bool:
    """The call that posted this request has ended (its CallStatus is terminal)."""
    return form.get("CallStatus") in TERMINAL_CALL_STATUSES


_DIAL_OUTCOMES = {
    "completed": DialOutcome.ANSWERED,
    "answered": DialOutcome.ANSWERED,
    "busy": DialOutcome.BUSY,
    "no-answer": DialOutcome.NO_ANSWER,
    "failed": DialOutcome.FAILED,
    # The dialled leg was cancelled before it answered (by us, or the caller left).
    "canceled": DialOutcome.NO_ANSWER,
}


def dial_outcome(status: str) -> DialOutcome:
    """The flow's outcome for a DialCallStatus (or an outbound leg's final CallStatus)."""
    outcome = _DIAL_OUTCOMES.get(status)
    if outcome is None:
        raise WebhookError(400, f"Valeur inconnue pour DialCallStatus : {status}")
    return outcome


RECORDING_STATUS_RANK = {"in-progress": 0, "completed": 1, "absent": 1, "failed": 1}
