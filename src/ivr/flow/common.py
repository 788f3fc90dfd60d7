"""Pieces both lines share: the département menu, hunting, ending a call."""

from __future__ import annotations

from collections.abc import Callable

from ivr.flow import prompts
from ivr.flow.engine import CallState, FlowContext, FlowDefinition, Phase
from ivr.flow.vocabulary import (
    Attempt,
    CancelTimer,
    Command,
    Dequeue,
    Dial,
    DialOutcome,
    DialResult,
    DialTarget,
    DigitsReceived,
    Event,
    Gather,
    Hangup,
    InputTimedOut,
    Outcome,
    Play,
    Prompt,
    Role,
    StopRecording,
)
from routing.config import Contact, HuntStrategy
from routing.departements import BY_CODE

QUEUE_TIMERS = ("announce", "max_wait")

# --------------------------------------------------------------------------- département menu

MENU_PROMPTS = {
    Phase.DEPT_MENU: ("ask_departement", 2),
    Phase.CORSE_MENU: ("ask_corse", 1),
    Phase.OUTREMER_MENU: ("ask_outremer", 1),
}


def ask(
    ctx: FlowContext, state: CallState, phase: Phase, before: Prompt | None = None
) -> list[Command]:
    """Move to a menu phase and gather its digits, after an optional message."""
    prompt_id, digits = MENU_PROMPTS[phase]
    state.phase = phase
    commands: list[Command] = []
    if before is not None:
        commands.append(play(state, before))
    state.summary.prompts.append(prompt_id)
    commands.append(
        Gather(
            prompts.fixed(prompt_id),
            max_digits=digits,
            timeout_s=ctx.config.national.assistance.digit_timeout_s,
            inter_digit_timeout_s=ctx.config.national.assistance.inter_digit_timeout_s,
        )
    )
    return commands


def menu_choice(phase: Phase, digits: str) -> str | Phase | None:
    """A département code, the submenu to ask next, or None when the answer is not valid."""
    if not digits.isdigit():
        return None  # keypads send digits; anything else is a transport glitch or garbage
    if phase is Phase.DEPT_MENU:
        if digits == "20":
            return Phase.CORSE_MENU
        if digits == "97":
            return Phase.OUTREMER_MENU
        return digits if len(digits) == 2 and digits in BY_CODE else None
    if phase is Phase.CORSE_MENU:
        return {"1": "2A", "2": "2B"}.get(digits)
    if phase is Phase.OUTREMER_MENU:
        code = "97" + digits
        return code if len(digits) == 1 and code in BY_CODE else None
    return None


MenuChoice = Callable[[FlowContext, CallState, str], list[Command]]
GaveUp = Callable[[FlowContext, CallState], list[Command]]


def departement_menu(
    definition: FlowDefinition,
    chosen: MenuChoice,
    gave_up: GaveUp,
    after_choice: tuple[Phase, ...],
    after_giving_up: tuple[Phase, ...],
) -> None:
    """Register the département menu (with its Corsica and overseas submenus) on a flow.

    A valid answer goes to ``chosen``; an invalid answer or a time-out asks again, and after
    the configured number of tries the flow's ``gave_up`` decides where the call goes.
    """

    def retry(ctx: FlowContext, state: CallState, why: str) -> list[Command]:
        state.tries += 1
        if state.tries >= ctx.config.national.assistance.menu_tries:
            return gave_up(ctx, state)
        return ask(ctx, state, state.phase, before=prompts.fixed(why))

    def digits(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
        assert isinstance(event, DigitsReceived)
        choice = menu_choice(state.phase, event.digits)
        if isinstance(choice, Phase):
            return ask(ctx, state, choice)
        if choice is None:
            return retry(ctx, state, "invalid_departement")
        return chosen(ctx, state, choice)

    def timeout(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
        return retry(ctx, state, "no_input")

    submenus = (Phase.CORSE_MENU, Phase.OUTREMER_MENU)
    for menu in MENU_PROMPTS:
        ahead = (menu, *submenus) if menu is Phase.DEPT_MENU else (menu,)
        definition.on(
            menu, DigitsReceived, to=(*ahead, *after_choice, *after_giving_up), label="chiffres"
        )(digits)
        definition.on(menu, InputTimedOut, to=(menu, *after_giving_up), label="pas de saisie")(
            timeout
        )


def play(state: CallState, prompt: Prompt, interruptible: bool = False) -> Play:
    state.summary.prompts.append(prompt.id)
    return Play(prompt, interruptible)


def welcome(state: CallState, prompt: Prompt) -> Play:
    """The welcome: a caller who knows the menus may type ahead and cut it short."""
    return play(state, prompt, interruptible=True)


# --------------------------------------------------------------------------- hunting


def hunt_order(
    contacts: tuple[Contact, ...], strategy: HuntStrategy, last_answerer: str | None, role: Role
) -> tuple[DialTarget, ...]:
    """Targets in ringing order: after the last answerer for rotation, as listed otherwise."""
    targets = tuple(DialTarget(c.number, c.name, role) for c in contacts)
    if strategy is HuntStrategy.ROTATE_LAST_ANSWERER and last_answerer is not None:
        for index, target in enumerate(targets):
            if target.number == last_answerer:
                return targets[index + 1 :] + targets[: index + 1]
    return targets


def dial_next(state: CallState, caller_id: str | None = None) -> Dial | None:
    """Ring the next target of the hunt (all of them at once for ``ring_all``)."""
    remaining = tuple(t for t in state.hunt_targets if t.number not in state.tried_numbers())
    if not remaining:
        state.hunt_targets = ()
        return None
    if state.hunt_all:
        state.hunt_targets = ()
        return Dial(remaining, state.hunt_ring_timeout_s, caller_id)
    state.hunt_targets = remaining[1:]
    return Dial((remaining[0],), state.hunt_ring_timeout_s, caller_id)


def record_results(state: CallState, event: DialResult, role: Role) -> str | None:
    """Write each target's result to the summary; return the number that answered."""
    for number, outcome in event.results:
        state.attempt(Attempt(number, role, outcome))
    answered = event.answered_by
    if answered is not None:
        state.summary.connected_to = answered
        state.summary.connected_role = role
    return answered


def any_answered(event: DialResult) -> bool:
    return any(outcome is DialOutcome.ANSWERED for _, outcome in event.results)


# --------------------------------------------------------------------------- ending


def end(state: CallState, outcome: Outcome, goodbye: Prompt | None = None) -> list[Command]:
    """Finish the call: a last message, then hang up, releasing what the call holds."""
    commands: list[Command] = []
    if goodbye is not None:
        commands.append(play(state, goodbye))
    commands.extend(release(state))
    state.summary.outcome = outcome
    state.phase = Phase.ENDED
    commands.append(Hangup(outcome))
    return commands


def release(state: CallState) -> list[Command]:
    """Commands that free the queue place, timers and recording the call still holds."""
    commands: list[Command] = []
    if state.queued and state.departement is not None:
        commands.append(Dequeue(state.departement))
        state.queued = False
    if state.line is not None and state.line.value == "115":
        commands.extend(CancelTimer(name) for name in QUEUE_TIMERS)
    if state.recording:
        commands.append(StopRecording())
        state.recording = False
    return commands


def caller_left(state: CallState) -> list[Command]:
    """The caller hung up: connected calls still count as connected."""
    outcome = Outcome.CONNECTED if state.phase is Phase.CONNECTED else Outcome.CALLER_HUNG_UP
    return end(state, outcome)
