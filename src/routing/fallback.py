"""The fallback plan: where a call goes when the service cannot take it.

When the service is unreachable (Asterisk's ``Stasis()`` fails, the cloud provider's webhook
times out) or gives a call up, the PBX follows a plan that needs nothing but the routing
file. It is computed here, once, and rendered by each transport: the Asterisk dialplan
(``ivr.transports.ari.dialplan``) and the LaML fallback document
(``ivr.transports.laml.documents``). Both therefore ring the same numbers, in the same
order, with the same timeouts, and end on the same message.

- A 115 number of a département: its listeners' phones together, then its LRO chain one
  number at a time, then the message that the call cannot be put through.
- A national 115 entry number, or any number the file does not know (still an emergency
  call): the national LRO chain, then the same message.
- The assistance line: national support while it is open (the département, hence the
  tier 1 referents, is not known without the menu), then the urgent e-mail message.

A chain never loops: the LRO chain is resolved once, every number at most once
(``routing.config.lro_chain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from routing.config import Calendar, Hours, RoutingConfig
from routing.hours import is_open
from routing.index import RouteIndex

LRO_RING_TIMEOUT_S = 30  # how long each number of an LRO chain rings, on every path


class StepKind(StrEnum):
    LISTENERS = "listeners"
    LRO = "lro"
    SUPPORT = "support"


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Hours with the zone and holiday calendar they are read in, and a name to refer to."""

    name: str
    hours: Hours
    timezone: str
    calendar: Calendar

    def is_open(self, moment: datetime) -> bool:
        return is_open(self.hours, self.timezone, self.calendar, moment)


@dataclass(frozen=True, slots=True)
class FallbackStep:
    """One ``Dial``: these numbers ring together for ``ring_timeout_s``."""

    kind: StepKind
    label: str  # French, for the dialplan's comments and the logs
    numbers: tuple[str, ...]
    ring_timeout_s: int
    announcement: str | None = None  # the fixed prompt played before ringing
    only_when_open: OpeningHours | None = None  # skipped while these hours are closed

    def applies(self, moment: datetime) -> bool:
        return self.only_when_open is None or self.only_when_open.is_open(moment)


@dataclass(frozen=True, slots=True)
class LastWord:
    """The message that ends the plan when nobody answered."""

    prompt: str  # the prompt's name (a sound file ``ivr/<prompt>`` for Asterisk)
    configured_text: str | None = None  # the routing file's text, when it writes the prompt


@dataclass(frozen=True, slots=True)
class FallbackPlan:
    name: str  # "assistance", "115-national", "115-<département>"
    line: str  # "assistance" or "115"
    departement: str | None
    title: str  # French
    steps: tuple[FallbackStep, ...]
    last_word: LastWord

    def next_step(self, index: int, moment: datetime) -> int | None:
        """The index of the first step from ``index`` on that applies at ``moment``."""
        for position in range(index, len(self.steps)):
            if self.steps[position].applies(moment):
                return position
        return None

    def steps_at(self, moment: datetime) -> tuple[FallbackStep, ...]:
        """The steps a call placed at ``moment`` goes through (nobody answering)."""
        return tuple(step for step in self.steps if step.applies(moment))


NATIONAL_115 = "115-national"


class FallbackPlans:
    """Every plan of a routing file, and which inbound number follows which."""

    def __init__(self, config: RoutingConfig, routes: RouteIndex | None = None) -> None:
        routes = routes or RouteIndex(config)
        self.config = config
        support = config.national.support
        self.support_hours = OpeningHours(
            "support", support.hours, support.timezone, support.holidays
        )
        lro_failed = LastWord("lro_failed")
        plans = [
            FallbackPlan(
                name="assistance",
                line="assistance",
                departement=None,
                title=(
                    "Ligne d'assistance SI SIAO : le support national, sinon le message d'urgence"
                ),
                steps=(
                    FallbackStep(
                        kind=StepKind.SUPPORT,
                        label="Support national SI SIAO",
                        numbers=tuple(c.number for c in support.numbers),
                        ring_timeout_s=support.ring_timeout_s,
                        announcement="transfer_tier2",
                        only_when_open=self.support_hours,
                    ),
                ),
                last_word=LastWord("urgent_email", config.national.urgent_email.prompt),
            ),
            FallbackPlan(
                name=NATIONAL_115,
                line="115",
                departement=None,
                title="115 sans département connu : la LRO nationale",
                steps=self._lro_steps(routes, None),
                last_word=lro_failed,
            ),
        ]
        for code, dep in sorted(config.departements.items()):
            listeners = tuple(c.number for c in dep.line_115.listeners)
            steps: tuple[FallbackStep, ...] = ()
            if listeners:
                steps = (
                    FallbackStep(
                        kind=StepKind.LISTENERS,
                        label=f"Écoutants du 115 {dep.name}",
                        numbers=listeners,
                        ring_timeout_s=dep.line_115.listener_ring_timeout_s,
                    ),
                )
            plans.append(
                FallbackPlan(
                    name=f"115-{code}",
                    line="115",
                    departement=code,
                    title=f"115 {dep.name} : les écoutants, puis la LRO",
                    steps=steps + self._lro_steps(routes, code),
                    last_word=lro_failed,
                )
            )
        self._plans = {plan.name: plan for plan in plans}
        self._by_number: dict[str, str] = {}
        for number, route in routes.inbound_numbers().items():
            if route.line == "assistance":
                self._by_number[number] = "assistance"
            elif route.departement is not None:
                self._by_number[number] = f"115-{route.departement}"
            else:
                self._by_number[number] = NATIONAL_115

    @staticmethod
    def _lro_steps(routes: RouteIndex, departement: str | None) -> tuple[FallbackStep, ...]:
        chain = routes.lro(departement)
        return tuple(
            FallbackStep(
                kind=StepKind.LRO,
                label=step.label or "LRO",
                numbers=(step.number,),
                ring_timeout_s=LRO_RING_TIMEOUT_S,
                # Said once, before the first number of the chain.
                announcement="lro_transfer" if position == 0 else None,
            )
            for position, step in enumerate(chain)
        )

    def plans(self) -> tuple[FallbackPlan, ...]:
        return tuple(self._plans.values())

    def plan(self, name: str) -> FallbackPlan:
        return self._plans[name]

    def numbers(self) -> dict[str, FallbackPlan]:
        """Every inbound number of the file and the plan it follows."""
        return {number: self._plans[name] for number, name in sorted(self._by_number.items())}

    def for_number(self, called: str | None) -> FallbackPlan:
        """The plan of a call to ``called``; an unknown number is a 115 call (national LRO)."""
        name = self._by_number.get(called or "", NATIONAL_115)
        return self._plans[name]
