"""The consoles' Jinja templates, with their French filters and helpers."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from ivr.web.formatting import (
    LINE_LABELS,
    OUTCOME_LABELS,
    day_text,
    duration,
    local_time,
    spaced_number,
    typed_day,
)
from ivr.web.routing_versions import author_text, comment_text

TEMPLATES_DIR = Path(__file__).parent / "templates"


def console_templates(timezone: str) -> Jinja2Templates:
    """The templates; times and days are shown in ``timezone`` (the platform's)."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters["heure"] = lambda v: local_time(v, timezone)
    env.filters["duree"] = duration
    env.filters["jour"] = lambda v: day_text(v, timezone)
    env.filters["saisie_jour"] = typed_day
    env.filters["issue"] = lambda v: OUTCOME_LABELS.get(v or "", v or "")
    env.filters["ligne"] = lambda v: LINE_LABELS.get(v or "", v or "")
    env.filters["numero"] = spaced_number
    env.globals["auteur_version"] = author_text
    env.globals["commentaire_version"] = comment_text
    return templates
