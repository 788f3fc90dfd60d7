"""The simulated calls of the routing edit page: when (typed dd/mm/yyyy and HH:MM, in the
département's time zone; by default now and next Sunday at 03:00) and what they give."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.records.outcomes import DIAL_RESULT_TEXT, OUTCOME_TEXT
from ivr.web.routes.common import Ctx
from ivr.web.routing_edit import parse_fr_moment
from routing.config import RoutingConfig, lro_chain
from routing.phone import display_number

LINES = (("assistance", "Ligne d'assistance SI SIAO"), ("115", "115"))
ROLES = {
    "tier1": "référent SI (palier 1)",
    "tier2": "support national (palier 2)",
    "listener": "écoutant",
    "lro": "LRO",
}
RESULTS = DIAL_RESULT_TEXT
OUTCOMES = OUTCOME_TEXT


@dataclass(slots=True)
class Moments:
    """The two moments of the preview, as typed, and the problems found in them."""

    typed: dict[str, str]
    at: list[datetime]
    errors: dict[str, list[str]] = field(default_factory=dict)


def next_sunday_3am(now: datetime) -> datetime:
    days = (6 - now.weekday()) % 7 or 7
    day = (now + timedelta(days=days)).date()
    return datetime.combine(day, time(3, 0), now.tzinfo)


def moments_from(ctx: Ctx, config: RoutingConfig, code: str, values: Mapping[str, str]) -> Moments:
    """The preview moments of the form (``apercu-{1,2}-date``, ``apercu-{1,2}-heure``)."""
    zone = ZoneInfo(config.departements[code].timezone)
    now = ctx.deps.clock().astimezone(zone)
    defaults = (now, next_sunday_3am(now))
    typed: dict[str, str] = {}
    moments = Moments(typed, [])
    for i, default in enumerate(defaults, 1):
        day_name, time_name = f"apercu-{i}-date", f"apercu-{i}-heure"
        day = values.get(day_name, "").strip() or default.strftime("%d/%m/%Y")
        hour = values.get(time_name, "").strip() or default.strftime("%H:%M")
        typed[day_name], typed[time_name] = day, hour
        moment = parse_fr_moment(day, hour)
        if moment is None:
            wrong = time_name if parse_fr_moment(day, "00:00") else day_name
            message = (
                f"« {hour} » n'est pas une heure valide (HH:MM, de 00:00 à 23:59)"
                if wrong == time_name
                else f"« {day} » n'est pas une date valide (jj/mm/aaaa)"
            )
            moments.errors[wrong] = [message]
            continue
        moments.at.append(moment.replace(tzinfo=zone))
    return moments


def _tried(summary: dict[str, Any], names: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {
            "name": names.get(a["number"], ""),
            "number": display_number(a["number"]),
            "role": ROLES.get(a["role"], a["role"]),
            "result": RESULTS.get(a["result"], a["result"]),
        }
        for a in summary["destinations_tried"]
    ]


def _names(config: RoutingConfig, code: str) -> dict[str, str]:
    dep = config.departements[code]
    names = {c.number: c.name for c in dep.assistance.referents}
    names.update({c.number: c.name for c in dep.line_115.listeners})
    names.update({c.number: c.name for c in config.national.support.numbers})
    names.update({step.number: step.label for step in lro_chain(config, code)})
    return names


def simulate_all(
    ctx: Ctx, config: RoutingConfig, code: str, at: list[datetime]
) -> list[dict[str, Any]]:
    """Each moment × line: the call when nobody answers (every destination, in order)."""
    preview = ctx.deps.preview
    assert preview is not None
    names = _names(config, code)
    out = []
    for moment in at:
        for line, label in LINES:
            result = preview(config, line, code, moment, True)
            summary = result["summary"]
            out.append(
                {
                    "when": moment.strftime("%d/%m/%Y à %H:%M"),
                    "line": line,
                    "label": label,
                    "tried": _tried(summary, names),
                    "outcome": OUTCOMES.get(summary["outcome"] or "", summary["outcome"]),
                    "prompts": summary["prompts"],
                    "summary": summary,
                    "text": result["text"],
                }
            )
    return out


async def previews(
    ctx: Ctx, config: RoutingConfig, code: str, moments: Moments
) -> list[dict[str, Any]] | None:
    """The simulated calls (None: no simulator wired)."""
    if ctx.deps.preview is None:
        return None
    return await ctx.web.db(simulate_all, ctx, config, code, moments.at)
