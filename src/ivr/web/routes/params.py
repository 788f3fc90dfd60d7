"""Bounds for the consoles' path and query parameters: one place, French refusals.

Every integer a URL carries (a call-back, an escalation, a recording) is a database id:
``RecordId`` accepts 1 to 2**63 - 1 (a signed 64-bit ``BIGINT``), so a number beyond what
the database stores never reaches it (SQLite raised ``OverflowError``, a 500). FastAPI's
validation error (English JSON) is turned by ``ConsoleRoute`` into ``invalid_response``: a
French 404 page when the path names nothing that can exist, a 422 for a query parameter.
``day`` reads a date a person may type (« JJ/MM/AAAA ») or a URL carries (a report's
week) within ``FIRST_DAY`` and ``LAST_DAY``: beyond them, date arithmetic and time zones
overflow.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path
from fastapi.exceptions import RequestValidationError

from ivr.records.periods import read_day

MAX_ID = 2**63 - 1
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]

NOT_FOUND_TITLE = "Page introuvable"
NOT_FOUND = "Cette adresse ne désigne rien : vérifiez le lien, ou revenez à la page précédente."
INVALID_TITLE = "Paramètre invalide"


class DayError(ValueError):
    """A date a person typed that cannot be read or is out of range (French message)."""


def day(text: str) -> date:
    """``JJ/MM/AAAA`` (or ``AAAA-MM-JJ``) between ``FIRST_DAY`` and ``LAST_DAY``; else
    ``DayError``."""
    try:
        value = read_day(text)
    except ValueError:
        raise DayError(f"« {text[:40]} » n'est pas une date (JJ/MM/AAAA attendu).") from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise DayError(
            f"La date {value.day:02d}/{value.month:02d}/{value.year:04d} est hors des limites "
            f"({FIRST_DAY.year} à {LAST_DAY.year})."
        )
    return value


def invalid_parts(error: RequestValidationError) -> tuple[bool, list[str]]:
    """Whether a path parameter is wrong, and the names of the wrong parameters."""
    in_path = False
    names: list[str] = []
    for item in error.errors():
        loc = item.get("loc", ())
        if loc and loc[0] == "path":
            in_path = True
        if len(loc) > 1:
            names.append(str(loc[-1]))
    return in_path, names


def invalid_message(names: list[str]) -> str:
    listed = ", ".join(sorted(set(names))) or "?"
    return f"Valeur invalide ou hors limites pour : {listed}. Vérifiez l'adresse."
