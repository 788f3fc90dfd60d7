"""Look-ups derived once from the configuration: inbound numbers, open hours, LRO chains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from routing.config import LroStep, RoutingConfig, lro_chain
from routing.hours import is_open

NATIONAL = "national"  # the key of national support among the per-minute opening answers


@dataclass(frozen=True, slots=True)
class Route:
    """What an inbound number means: the line, and the département when the number says it."""

    line: str  # "assistance" or "115"
    departement: str | None


class RouteIndex:
    """Inbound numbers to routes, and cached per-minute answers about opening hours."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._routes: dict[str, Route] = {
            config.national.assistance_number: Route("assistance", None)
        }
        for number in config.national.entry_115_numbers:
            self._routes[number] = Route("115", None)
        for code, dep in config.departements.items():
            for number in dep.line_115.inbound_numbers:
                self._routes[number] = Route("115", code)
        self._lro = {code: lro_chain(config, code) for code in config.departements}
        self._national_lro = tuple(
            LroStep(number=e.number, label=e.label or "LRO nationale")
            for e in config.national.default_lro
            if e.number is not None
        )
        self._tier1: dict[tuple[str, int], bool] = {}

    def route(self, number: str) -> Route | None:
        return self._routes.get(number)

    def inbound_numbers(self) -> dict[str, Route]:
        return dict(self._routes)

    def departement_by_number(self) -> dict[str, str]:
        """Inbound 115 numbers to their département (for geolocation by network routing)."""
        return {n: r.departement for n, r in self._routes.items() if r.departement is not None}

    def lro(self, departement: str | None) -> tuple[LroStep, ...]:
        if departement is None:
            return self._national_lro
        return self._lro.get(departement, self._national_lro)

    def tier1_open(self, departement: str, moment: datetime) -> bool:
        """Whether the département's referents are on duty at ``moment`` (cached per minute)."""
        minute = int(moment.timestamp()) // 60
        key = (departement, minute)
        cached = self._tier1.get(key)
        if cached is None:
            at = datetime.fromtimestamp(minute * 60, tz=moment.tzinfo)
            if departement == NATIONAL:
                support = self.config.national.support
                cached = is_open(support.hours, support.timezone, support.holidays, at)
                self._tier1[key] = cached
                return cached
            dep = self.config.departements.get(departement)
            cached = bool(
                dep is not None
                and dep.assistance.referents
                and is_open(dep.assistance.hours, dep.timezone, dep.holidays, at)
            )
            if len(self._tier1) > 65_536:
                self._tier1.clear()
            self._tier1[key] = cached
        return cached

    def any_tier1_open(self, moment: datetime) -> bool:
        """Whether any département's referents are on duty at ``moment``."""
        return any(self.tier1_open(code, moment) for code in self.config.departements)

    def tier2_open(self, moment: datetime) -> bool:
        """Whether national support is open at ``moment``."""
        return self.tier1_open(NATIONAL, moment)
