"""The SI SIAO assistance line (0 806 000 156).

Welcome → département menu → optional reason menu → tier 1 (the département's referents,
by its hunting strategy and hours) → tier 2 (national support) → the urgent e-mail message.
Outside every opening hour: the closed message with the escalation strategy.
"""

from __future__ import annotations

from ivr.flow import prompts
from ivr.flow.common import (
    ask,
    caller_left,
    departement_menu,
    dial_next,
    end,
    hunt_order,
    play,
    record_results,
    welcome,
)
from ivr.flow.engine import CallState, FlowContext, FlowDefinition, Phase
from ivr.flow.vocabulary import (
    Attempt,
    CallerHungUp,
    Command,
    DialResult,
    DigitsReceived,
    Event,
    FetchRotation,
    FetchSupportPresence,
    Gather,
    InputTimedOut,
    Line,
    Outcome,
    PeerHungUp,
    RecordAnswerer,
    Role,
    RotationFetched,
    StartRecording,
    SupportPresenceFetched,
)
from routing.config import HuntStrategy, RecordingPolicy

ASSISTANCE = FlowDefinition(Line.ASSISTANCE)
NATIONAL_KEY = "national"

MENUS = (Phase.DEPT_MENU, Phase.CORSE_MENU, Phase.OUTREMER_MENU)
AFTER_DEPARTEMENT = (
    Phase.REASON_MENU,
    Phase.FETCH_PRESENCE,
    Phase.FETCH_ROTATION,
    Phase.TIER1_DIALING,
    Phase.TIER2_DIALING,
    Phase.ENDED,
)


def start_assistance(ctx: FlowContext, state: CallState) -> list[Command]:
    """First commands of an assistance call (the call is already answered)."""
    state.line = Line.ASSISTANCE
    state.summary.line = Line.ASSISTANCE
    greeting = welcome(state, prompts.fixed("assistance_welcome"))
    if not ctx.routes.tier2_open(ctx.now) and not ctx.routes.any_tier1_open(ctx.now):
        return [greeting, *end(state, Outcome.MESSAGE, prompts.fixed("assistance_closed"))]
    commands: list[Command] = [greeting]
    if ctx.config.national.assistance.recording is RecordingPolicy.ALL:
        commands.append(play(state, prompts.fixed("recording_notice")))
    return commands + ask(ctx, state, Phase.DEPT_MENU)


# --------------------------------------------------------------------------- menus


def _gave_up(ctx: FlowContext, state: CallState) -> list[Command]:
    return [play(state, prompts.fixed("menu_gave_up")), *_tier2(ctx, state, tier1_tried=False)]


def _departement_chosen(ctx: FlowContext, state: CallState, code: str) -> list[Command]:
    state.departement = code
    state.summary.departement = code
    prompt = prompts.reason_menu_for(ctx.config)
    if prompt is not None:
        state.phase = Phase.REASON_MENU
        state.summary.prompts.append(prompt.id)
        settings = ctx.config.national.assistance
        return [Gather(prompt, 1, settings.digit_timeout_s, settings.inter_digit_timeout_s)]
    return _tier1(ctx, state)


@ASSISTANCE.on(Phase.REASON_MENU, DigitsReceived, to=AFTER_DEPARTEMENT, label="motif")
def _reason(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, DigitsReceived)
    chosen = next(
        (r for r in ctx.config.national.menu_reasons() if str(r.digit) == event.digits), None
    )
    if chosen is None:
        return _tier1(ctx, state)
    state.summary.reason = chosen.code
    if chosen.level == 2 and ctx.routes.tier2_open(ctx.now):
        return _tier2(ctx, state, tier1_tried=False)
    return _tier1(ctx, state)


@ASSISTANCE.on(Phase.REASON_MENU, InputTimedOut, to=AFTER_DEPARTEMENT, label="pas de motif")
def _no_reason(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    return _tier1(ctx, state)


departement_menu(
    ASSISTANCE,
    _departement_chosen,
    _gave_up,
    after_choice=AFTER_DEPARTEMENT,
    after_giving_up=(Phase.FETCH_PRESENCE, Phase.FETCH_ROTATION, Phase.TIER2_DIALING, Phase.ENDED),
)


# --------------------------------------------------------------------------- tier 1


def _tier1(ctx: FlowContext, state: CallState) -> list[Command]:
    code = state.departement or ""
    dep = ctx.config.departement(code)
    if dep is None or not dep.assistance.referents or not ctx.routes.tier1_open(code, ctx.now):
        return _tier2(ctx, state, tier1_tried=False)
    state.hunt_key = code
    state.hunt_ring_timeout_s = dep.assistance.ring_timeout_s
    state.hunt_all = dep.assistance.strategy is HuntStrategy.RING_ALL
    if dep.assistance.strategy is HuntStrategy.ROTATE_LAST_ANSWERER:
        state.phase = Phase.FETCH_ROTATION
        return [FetchRotation(code)]
    state.hunt_targets = hunt_order(
        dep.assistance.referents, dep.assistance.strategy, None, Role.TIER1
    )
    return _ring(ctx, state, Phase.TIER1_DIALING, "transfer_tier1")


def _ring(ctx: FlowContext, state: CallState, phase: Phase, announce: str) -> list[Command]:
    dial = dial_next(state, caller_id=state.caller)
    if dial is None:  # every target was already tried in this call
        if phase is Phase.TIER1_DIALING:
            return _tier2(ctx, state, tier1_tried=True)
        return _nobody(ctx, state)
    state.phase = phase
    return [play(state, prompts.fixed(announce)), dial]


@ASSISTANCE.on(
    Phase.FETCH_ROTATION,
    RotationFetched,
    to=(
        Phase.TIER1_DIALING,
        Phase.TIER2_DIALING,
        Phase.FETCH_PRESENCE,
        Phase.FETCH_ROTATION,
        Phase.ENDED,
    ),
    label="dernier répondant",
)
def _rotation(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, RotationFetched)
    if state.hunt_key == NATIONAL_KEY:
        support = ctx.config.national.support
        state.hunt_targets = hunt_order(
            support.numbers, support.strategy, event.last_answerer, Role.TIER2
        )
        return _ring(ctx, state, Phase.TIER2_DIALING, "transfer_tier2")
    dep = ctx.config.departement(state.hunt_key)
    if dep is None or not dep.assistance.referents:
        # Withdrawn from the routing file applied while the call was in progress.
        return _tier2(ctx, state, tier1_tried=False)
    state.hunt_targets = hunt_order(
        dep.assistance.referents, dep.assistance.strategy, event.last_answerer, Role.TIER1
    )
    return _ring(ctx, state, Phase.TIER1_DIALING, "transfer_tier1")


@ASSISTANCE.on(
    Phase.TIER1_DIALING,
    DialResult,
    to=(
        Phase.TIER1_DIALING,
        Phase.CONNECTED,
        Phase.FETCH_PRESENCE,
        Phase.FETCH_ROTATION,
        Phase.TIER2_DIALING,
        Phase.ENDED,
    ),
    label="résultat palier 1",
)
def _tier1_result(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    commands = _answered_or_next(ctx, state, event, Role.TIER1)
    if commands is not None:
        return commands
    return [play(state, prompts.fixed("tier1_unavailable")), *_tier2(ctx, state, tier1_tried=True)]


def _answered_or_next(
    ctx: FlowContext, state: CallState, event: Event, role: Role
) -> list[Command] | None:
    """Connected when a number of the tier answered, else the tier's next number rung;
    ``None`` when the tier has no number left."""
    assert isinstance(event, DialResult)
    answered = record_results(state, event, role)
    if answered is not None:
        return _connected(ctx, state, answered)
    dial = dial_next(state, caller_id=state.caller)
    return [dial] if dial is not None else None


# --------------------------------------------------------------------------- tier 2


def _tier2(ctx: FlowContext, state: CallState, *, tier1_tried: bool) -> list[Command]:
    if not ctx.routes.tier2_open(ctx.now):
        if tier1_tried:
            return _nobody(ctx, state)
        return end(state, Outcome.MESSAGE, prompts.fixed("assistance_closed"))
    support = ctx.config.national.support
    state.hunt_key = NATIONAL_KEY
    state.hunt_ring_timeout_s = support.ring_timeout_s
    state.hunt_all = support.strategy is HuntStrategy.RING_ALL
    state.phase = Phase.FETCH_PRESENCE
    return [FetchSupportPresence()]


@ASSISTANCE.on(
    Phase.FETCH_PRESENCE,
    SupportPresenceFetched,
    to=(Phase.FETCH_ROTATION, Phase.TIER2_DIALING, Phase.ENDED),
    label="présence du support",
)
def _support_presence(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    """Numbers whose agents are paused or signed out are not rung: each is written to the
    call's story as skipped (so the hunt passes over it); the others ring as configured."""
    assert isinstance(event, SupportPresenceFetched)
    support = ctx.config.national.support
    configured = {c.number for c in support.numbers}
    tried = state.tried_numbers()
    for number, why in event.away:
        if number in configured and number not in tried:
            state.attempt(Attempt(number, Role.TIER2, why))
            tried.add(number)
    if support.strategy is HuntStrategy.ROTATE_LAST_ANSWERER and configured - tried:
        state.phase = Phase.FETCH_ROTATION
        return [FetchRotation(NATIONAL_KEY)]
    state.hunt_targets = hunt_order(support.numbers, support.strategy, None, Role.TIER2)
    return _ring(ctx, state, Phase.TIER2_DIALING, "transfer_tier2")


@ASSISTANCE.on(
    Phase.TIER2_DIALING,
    DialResult,
    to=(Phase.TIER2_DIALING, Phase.CONNECTED, Phase.ENDED),
    label="résultat palier 2",
)
def _tier2_result(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    commands = _answered_or_next(ctx, state, event, Role.TIER2)
    return commands if commands is not None else _nobody(ctx, state)


def _nobody(ctx: FlowContext, state: CallState) -> list[Command]:
    """Nobody could answer: the urgent e-mail message, then goodbye."""
    urgent = prompts.configured("urgent_email", ctx.config.national.urgent_email.prompt)
    return end(state, Outcome.MESSAGE, urgent)


# --------------------------------------------------------------------------- connected


def _connected(ctx: FlowContext, state: CallState, number: str) -> list[Command]:
    state.phase = Phase.CONNECTED
    commands: list[Command] = [RecordAnswerer(state.hunt_key, number)]
    if ctx.config.national.assistance.recording is RecordingPolicy.ALL:
        state.recording = True
        commands.append(StartRecording())
    return commands


@ASSISTANCE.on(Phase.CONNECTED, PeerHungUp, to=(Phase.ENDED,), label="fin de communication")
def _peer_left(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    return end(state, Outcome.CONNECTED)


@ASSISTANCE.on(None, CallerHungUp, to=(Phase.ENDED,), label="l'appelant raccroche")
def _caller_left(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    return caller_left(state)
