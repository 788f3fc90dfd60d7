"""Opening hours: a weekly schedule in a local time zone, public holidays, dated exceptions."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from routing.config import Calendar, Hours

# The ``holidays`` package's subdivisions for France: 6AE is Alsace (67, 68), 57 Moselle.
_SUBDIVISIONS: dict[Calendar, str | None] = {
    Calendar.METROPOLE: None,
    Calendar.ALSACE: "6AE",
    Calendar.MOSELLE: "57",
    Calendar.GUADELOUPE: "971",
    Calendar.MARTINIQUE: "972",
    Calendar.GUYANE: "973",
    Calendar.REUNION: "974",
    Calendar.MAYOTTE: "976",
}


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=512)
def holiday_name(calendar: Calendar, day: date) -> str | None:
    """The French name of the public holiday on ``day`` in that calendar, if any."""
    table = _holidays(calendar, day.year)
    name = table.get(day)
    return str(name) if name is not None else None


@lru_cache(maxsize=128)
def _holidays(calendar: Calendar, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(
        "FR", subdiv=_SUBDIVISIONS[calendar], years=year, language="fr"
    )


def is_open(hours: Hours, timezone: str, calendar: Calendar, moment: datetime) -> bool:
    """Whether ``hours`` are open at ``moment`` (an aware datetime) in that zone and calendar."""
    local = moment.astimezone(_zone(timezone))
    day = local.date()
    clock = local.time().replace(tzinfo=None)
    for exception in hours.exceptions:
        if exception.date == day:
            return not exception.closed and any(r.contains(clock) for r in exception.hours)
    if hours.closed_on_public_holidays and holiday_name(calendar, day) is not None:
        return False
    return any(r.contains(clock) for r in hours.weekly.for_weekday(local.weekday()))


def public_holidays(calendar: Calendar, year: int) -> list[tuple[date, str]]:
    """The public holidays of ``year`` in that calendar, in date order, with their names."""
    return sorted((day, str(name)) for day, name in _holidays(calendar, year).items())
