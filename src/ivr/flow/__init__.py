"""The pure call flows of both lines: events in, commands out, no I/O, time given."""

from __future__ import annotations

from ivr.flow.assistance import ASSISTANCE, start_assistance
from ivr.flow.emergency import EMERGENCY, start_emergency
from ivr.flow.engine import CallFlow, CallState, FlowContext, Phase
from ivr.flow.vocabulary import Answer, CallStarted, Command
from routing.config import RoutingConfig

__all__ = ["CallFlow", "CallState", "Phase", "build_flow"]


def _start(ctx: FlowContext, state: CallState, event: CallStarted) -> list[Command]:
    route = ctx.routes.route(event.to_number)
    commands: list[Command] = [Answer()]
    if route is not None and route.line == "assistance":
        return commands + start_assistance(ctx, state)
    # A 115 number, or a number this configuration does not know: a misrouted call is still
    # an emergency call, so it gets the 115 treatment (asked, or sent to the national LRO).
    departement = route.departement if route is not None else None
    return commands + start_emergency(ctx, state, departement, event.hint_departement)


def build_flow(config: RoutingConfig) -> CallFlow:
    """The call flow for a configuration (built once per configuration version)."""
    return CallFlow(config, ASSISTANCE, EMERGENCY, _start)
