"""Where a 115 call should go when its inbound number does not say: geoloc's answer.

The flow takes the département as ``CallStarted.hint_departement``. This module asks geoloc
for the sources a call carries at its start (the caller's number, a recent AML position from
that number) and returns a hint only when geoloc's combination rule would not ask the caller.
"""

from __future__ import annotations

from datetime import datetime

from geoloc.locator import Locator
from geoloc.model import LocationAnswer
from geoloc.store import RecentPositions
from routing.index import RouteIndex


class CallLocator:
    """Hints for calls that reach a national entry number."""

    def __init__(self, locator: Locator, positions: RecentPositions, routes: RouteIndex) -> None:
        self.locator = locator
        self.positions = positions
        self.routes = routes

    def hint(self, called: str, caller: str | None, now: datetime) -> str | None:
        """The département to route to, or None to let the IVR ask the caller."""
        route = self.routes.route(called)
        if route is None or route.line != "115" or route.departement is not None:
            return None  # the number says it already, or it is not a 115 call
        if caller is None:
            return None
        answers: list[LocationAnswer] = [self.locator.from_number(caller)]
        report = self.positions.latest(caller, now)
        if report is not None:
            answers.append(self.locator.from_aml_report(report, now))
        decision = self.locator.combine(answers)
        if decision.ask_caller or decision.departement is None:
            return None
        if decision.departement not in self.routes.config.departements:
            return None
        return decision.departement
