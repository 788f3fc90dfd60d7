"""A simulated call on a proposed routing, for the routing edit page's preview.

The same simulation as ``ivr simulate`` (``Simulator`` over ``build_flow``): the caller
dials the département's line (the assistance number, typing the département's code; or
the département's first 115 inbound number) at a chosen moment. The result is the summary
``ivr simulate --json`` prints, with the dialogue as ``ivr simulate`` prints it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ivr.flow import build_flow
from ivr.sim.render import render_text
from ivr.sim.simulator import CallScript, Simulator
from routing.config import RoutingConfig


def departement_keys(code: str) -> list[str]:
    """What a caller types for ``code`` in the assistance menu (Corsica: 20, then 1 or 2)."""
    if code in ("2A", "2B"):
        return ["20", "1" if code == "2A" else "2"]
    return [code]


def script_for(
    config: RoutingConfig, line: str, code: str, *, nobody_answers: bool = False
) -> CallScript:
    """The call ``ivr simulate --line LINE`` makes for département ``code``."""
    dep = config.departements[code]
    if line == "assistance":
        return CallScript(
            to_number=config.national.assistance_number,
            presses=departement_keys(code),
            nobody_answers=nobody_answers,
        )
    return CallScript(
        to_number=dep.line_115.inbound_numbers[0],
        nobody_answers=nobody_answers,
        listeners=max(len(dep.line_115.listeners), 1),
    )


def preview_call(
    config: RoutingConfig, line: str, code: str, at: datetime, nobody_answers: bool
) -> dict[str, Any]:
    """Simulate one call on ``config``: ``{"summary": …, "text": …}`` (see the module)."""
    script = script_for(config, line, code, nobody_answers=nobody_answers)
    call = Simulator(build_flow(config)).run(script, at)
    return {"summary": call.summary(), "text": render_text(call)}
