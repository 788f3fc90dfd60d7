"""Helpers for flow tests: a flow on the minimal configuration and a call driven by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.flow import CallFlow, build_flow
from ivr.flow.engine import CallState, Phase
from ivr.flow.vocabulary import (
    CallStarted,
    Command,
    Dial,
    DialOutcome,
    DialResult,
    Event,
    FetchSupportPresence,
    Gather,
    Hangup,
    Play,
    SupportPresenceFetched,
)
from routing.loader import load_config

MINIMAL = Path(__file__).parent.parent / "data" / "good" / "minimal.yaml"
PARIS = ZoneInfo("Europe/Paris")

ASSISTANCE = "+33806000156"
ENTRY_115 = "+33353019999"
PARIS_115 = "+33353010750"
CALLER = "+33612345678"


def paris(text: str) -> datetime:
    """A moment given in Paris local time, e.g. ``paris("2026-11-23 10:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


_FLOW: CallFlow | None = None


def minimal_flow() -> CallFlow:
    global _FLOW
    if _FLOW is None:
        _FLOW = build_flow(load_config(MINIMAL))
    return _FLOW


@dataclass
class Call:
    """A call stepped by hand: ``call.send(event)`` returns the commands of that step.

    National support's presence is answered on the way, as the runtime does: ``away`` (the
    posts whose agents are paused or offline, none by default) replaces a trailing
    ``FetchSupportPresence``, unless ``answer_presence`` is False."""

    flow: CallFlow
    state: CallState
    now: datetime
    first: list[Command]
    history: list[list[Command]] = field(default_factory=list)
    away: tuple[tuple[str, DialOutcome], ...] = ()
    answer_presence: bool = True

    @classmethod
    def start(
        cls,
        to: str,
        at: datetime,
        caller: str | None = CALLER,
        hint: str | None = None,
        flow: CallFlow | None = None,
    ) -> Call:
        flow = flow or minimal_flow()
        state, commands = flow.start(CallStarted("c1", to, caller, hint), at)
        return cls(flow, state, at, commands, [commands])

    def send(self, event: Event) -> list[Command]:
        commands = self.flow.step(self.state, event, self.now)
        self.history.append(commands)
        while self.answer_presence and commands and isinstance(commands[-1], FetchSupportPresence):
            reply = self.flow.step(self.state, SupportPresenceFetched(self.away), self.now)
            self.history.append(reply)
            commands = commands[:-1] + reply
        return commands

    @property
    def phase(self) -> Phase:
        return self.state.phase


def prompt_ids(commands: list[Command]) -> list[str]:
    ids: list[str] = []
    for command in commands:
        if isinstance(command, Play | Gather):
            ids.append(command.prompt.id)
    return ids


def texts(commands: list[Command]) -> dict[str, str]:
    """The French text of each prompt played or gathered, by prompt id."""
    return {c.prompt.id: c.prompt.text for c in commands if isinstance(c, Play | Gather)}


def dialled(commands: list[Command]) -> list[str]:
    return [t.number for c in commands if isinstance(c, Dial) for t in c.targets]


def last(commands: list[Command]) -> Command:
    return commands[-1]


def result(number: str, outcome: DialOutcome) -> DialResult:
    return DialResult(((number, outcome),))


def answered(number: str) -> DialResult:
    return result(number, DialOutcome.ANSWERED)


def no_answer(number: str) -> DialResult:
    return result(number, DialOutcome.NO_ANSWER)


def hung_up_with(commands: list[Command]) -> str | None:
    end = commands[-1] if commands else None
    return end.outcome.value if isinstance(end, Hangup) else None
