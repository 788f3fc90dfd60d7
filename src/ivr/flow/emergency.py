"""The 115: département from the inbound number (or asked), deterrence, queue, LRO.

Every call ends connected to a person (a listener or an LRO destination), with a call-back
registered, or after an explicit message: never in silence.
"""

from __future__ import annotations

from ivr.flow import prompts
from ivr.flow.common import (
    ask,
    caller_left,
    departement_menu,
    dial_next,
    end,
    play,
    record_results,
    welcome,
)
from ivr.flow.engine import CallState, FlowContext, FlowDefinition, Phase
from ivr.flow.vocabulary import (
    CallerHungUp,
    CancelTimer,
    Command,
    Dequeue,
    Dial,
    DialResult,
    DialTarget,
    DigitsReceived,
    Enqueue,
    Event,
    FetchQueueStatus,
    Gather,
    Hold,
    InputTimedOut,
    Line,
    ListenerOffered,
    Outcome,
    PeerHungUp,
    QueueStatus,
    QueueStatusFetched,
    RegisterCallback,
    Role,
    StartRecording,
    StartTimer,
    TimerFired,
)
from routing.config import DepartementConfig, RecordingPolicy
from routing.fallback import LRO_RING_TIMEOUT_S

EMERGENCY = FlowDefinition(Line.EMERGENCY)

MENUS = (Phase.DEPT_MENU, Phase.CORSE_MENU, Phase.OUTREMER_MENU)
WAITING = (Phase.QUEUED, Phase.QUEUE_REFRESH)
CALLBACK_DIGIT = "1"
CALLBACK_OFFER_TIMEOUT_S = 8
REQUEUE_PRIORITY = 1


def start_emergency(
    ctx: FlowContext, state: CallState, departement: str | None, hint: str | None
) -> list[Command]:
    """First commands of a 115 call: the département is known from the number, or asked."""
    state.line = Line.EMERGENCY
    state.summary.line = Line.EMERGENCY
    code = departement or (hint if hint in ctx.config.departements else None)
    if code is not None:
        return _check_queue(state, code)
    return [welcome(state, prompts.fixed("welcome_115")), *ask(ctx, state, Phase.DEPT_MENU)]


def _dep(ctx: FlowContext, state: CallState) -> DepartementConfig | None:
    """The call's département in the routing file in force; None once it was withdrawn."""
    return ctx.config.departement(state.departement or "")


def _withdrawn(ctx: FlowContext, state: CallState) -> list[Command]:
    """The routing file applied while this call was in progress no longer has its
    département: the call leaves the queue and goes down the national LRO chain."""
    commands: list[Command] = []
    if state.queued and state.departement is not None:
        commands.append(Dequeue(state.departement))
    state.queued = False
    state.summary.deterrence = "departement_withdrawn"
    commands += [CancelTimer("announce"), CancelTimer("max_wait")]
    return commands + _lro(ctx, state)


def _check_queue(state: CallState, code: str) -> list[Command]:
    state.departement = code
    state.summary.departement = code
    state.phase = Phase.QUEUE_STATUS
    return [FetchQueueStatus(code)]


# --------------------------------------------------------------------------- département menu


def _departement_chosen(ctx: FlowContext, state: CallState, code: str) -> list[Command]:
    if code not in ctx.config.departements:
        state.departement = code
        state.summary.departement = code
        return _lro(ctx, state)  # a département without a configured 115: national LRO
    return _check_queue(state, code)


# --------------------------------------------------------------------------- deterrence


@EMERGENCY.on(
    Phase.QUEUE_STATUS,
    QueueStatusFetched,
    to=(Phase.QUEUED, Phase.SATURATION_OFFER, Phase.LRO_DIALING, Phase.ENDED),
    label="état de la file",
)
def _status(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, QueueStatusFetched)
    dep = _dep(ctx, state)
    if dep is None:
        return _withdrawn(ctx, state)
    status = event.status
    limits = dep.line_115.queue
    code = state.departement
    if status.emergency_closed:
        return _deter(ctx, state, "emergency_closure", dep.line_115.deterrence.emergency_closure)
    if status.closed:
        return _deter(ctx, state, "closure", dep.line_115.deterrence.closure)
    if status.listeners_logged_in == 0:
        return [play(state, prompts.fixed("no_listener")), *_lro(ctx, state)]
    if (
        status.waiting >= limits.max_waiting_calls
        or status.estimated_wait_s > limits.max_estimated_wait_s
    ):
        state.summary.deterrence = "saturation"
        text = dep.line_115.deterrence.saturation
        commands: list[Command] = [
            play(state, prompts.configured(f"deterrence_saturation_{code}", text))
        ]
        if dep.line_115.callback_offer and state.caller is not None:
            state.phase = Phase.SATURATION_OFFER
            offer = prompts.fixed("callback_offer")
            state.summary.prompts.append(offer.id)
            inter_digit = ctx.config.national.assistance.inter_digit_timeout_s
            return [*commands, Gather(offer, 1, CALLBACK_OFFER_TIMEOUT_S, inter_digit)]
        return commands + end(state, Outcome.MESSAGE, prompts.fixed("saturation_goodbye"))
    return _enqueue(ctx, state, dep, status)


def _deter(ctx: FlowContext, state: CallState, trigger: str, text: str) -> list[Command]:
    state.summary.deterrence = trigger
    prompt = prompts.configured(f"deterrence_{trigger}_{state.departement}", text)
    return [play(state, prompt), *_lro(ctx, state)]


@EMERGENCY.on(Phase.SATURATION_OFFER, DigitsReceived, to=(Phase.ENDED,), label="rappel ?")
def _saturation_choice(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, DigitsReceived)
    if event.digits == CALLBACK_DIGIT:
        return _callback(state)
    return end(state, Outcome.MESSAGE, prompts.fixed("saturation_goodbye"))


@EMERGENCY.on(Phase.SATURATION_OFFER, InputTimedOut, to=(Phase.ENDED,), label="pas de saisie")
def _saturation_timeout(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    return end(state, Outcome.MESSAGE, prompts.fixed("saturation_goodbye"))


def _callback(state: CallState) -> list[Command]:
    assert state.caller is not None
    assert state.departement is not None
    state.summary.callback_registered = True
    commands: list[Command] = [RegisterCallback(state.departement, state.caller)]
    return commands + end(state, Outcome.CALLBACK, prompts.fixed("callback_registered"))


# --------------------------------------------------------------------------- queue


def _enqueue(
    ctx: FlowContext, state: CallState, dep: DepartementConfig, status: QueueStatus
) -> list[Command]:
    assert state.departement is not None
    commands: list[Command] = [play(state, prompts.fixed("welcome_115"))]
    if dep.line_115.recording is RecordingPolicy.ALL:
        commands.append(play(state, prompts.fixed("recording_notice")))
    state.queued = True
    state.callback_offered = dep.line_115.callback_offer and state.caller is not None
    commands.append(Enqueue(state.departement))
    commands += _announce(state, status.waiting + 1, status.estimated_wait_s)
    commands.append(StartTimer("max_wait", dep.line_115.queue.max_time_in_queue_s))
    commands.append(StartTimer("announce", dep.line_115.queue.announcement_interval_s))
    commands.append(Hold())
    state.phase = Phase.QUEUED
    return commands


def _announce(state: CallState, position: int, wait_s: int) -> list[Command]:
    commands: list[Command] = [
        play(state, prompts.queue_position(max(position, 1), (wait_s + 59) // 60))
    ]
    if state.callback_offered:
        commands.append(play(state, prompts.fixed("queue_callback_offer")))
    return commands


@EMERGENCY.on(
    Phase.QUEUED,
    TimerFired,
    to=(Phase.QUEUE_REFRESH, Phase.QUEUED, Phase.LRO_DIALING, Phase.ENDED),
    label="minuterie",
)
def _queued_timer(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, TimerFired)
    assert state.departement is not None
    if event.name == "announce":
        state.phase = Phase.QUEUE_REFRESH
        return [FetchQueueStatus(state.departement)]
    if event.name == "max_wait":
        return _max_wait(ctx, state)
    return []


@EMERGENCY.on(
    Phase.QUEUE_REFRESH,
    TimerFired,
    to=(Phase.QUEUE_REFRESH, Phase.LRO_DIALING, Phase.ENDED),
    label="attente maximale",
)
def _refresh_timer(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, TimerFired)
    return _max_wait(ctx, state) if event.name == "max_wait" else []


def _max_wait(ctx: FlowContext, state: CallState) -> list[Command]:
    assert state.departement is not None
    dep = _dep(ctx, state)
    if dep is None:
        return _withdrawn(ctx, state)
    commands: list[Command] = [Dequeue(state.departement), CancelTimer("announce")]
    state.queued = False
    text = dep.line_115.deterrence.max_wait_exceeded
    return commands + _deter(ctx, state, "max_wait_exceeded", text)


@EMERGENCY.on(
    Phase.QUEUE_REFRESH,
    QueueStatusFetched,
    to=(Phase.QUEUED, Phase.LRO_DIALING, Phase.ENDED),
    label="annonce",
)
def _refreshed(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, QueueStatusFetched)
    dep = _dep(ctx, state)
    if dep is None:
        return _withdrawn(ctx, state)
    state.phase = Phase.QUEUED
    interval = dep.line_115.queue.announcement_interval_s
    status = event.status
    return [
        *_announce(state, status.position, status.estimated_wait_s),
        StartTimer("announce", interval),
        Hold(),
    ]


@EMERGENCY.on(WAITING, DigitsReceived, to=(*WAITING, Phase.ENDED), label="touche en attente")
def _queued_digits(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, DigitsReceived)
    if event.digits == CALLBACK_DIGIT and state.callback_offered:
        return _callback(state)
    return []


@EMERGENCY.on(
    WAITING,
    ListenerOffered,
    to=(Phase.LISTENER_DIALING, Phase.LRO_DIALING, Phase.ENDED),
    label="écoutant libre",
)
def _listener_offered(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, ListenerOffered)
    state.queued = False  # the dispatcher took the call out of the queue to offer it
    dep = _dep(ctx, state)
    if dep is None:
        return _withdrawn(ctx, state)
    state.phase = Phase.LISTENER_DIALING
    target = DialTarget(event.number, event.name, Role.LISTENER)
    timeout = dep.line_115.listener_ring_timeout_s
    return [
        CancelTimer("announce"),
        play(state, prompts.fixed("transfer_listener")),
        Dial((target,), timeout, state.caller),
    ]


@EMERGENCY.on(
    Phase.LISTENER_DIALING,
    DialResult,
    to=(Phase.CONNECTED, Phase.QUEUED, Phase.LRO_DIALING, Phase.ENDED),
    label="résultat écoutant",
)
def _listener_result(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, DialResult)
    assert state.departement is not None
    dep = _dep(ctx, state)
    if record_results(state, event, Role.LISTENER) is not None:
        state.phase = Phase.CONNECTED
        commands: list[Command] = [CancelTimer("max_wait")]
        # Recorded as the département said when the caller heard the notice; a withdrawn
        # département's recording policy is unknown, so nothing is recorded.
        if dep is not None and dep.line_115.recording is RecordingPolicy.ALL:
            state.recording = True
            commands.append(StartRecording())
        return commands
    if dep is None:
        return _withdrawn(ctx, state)
    # The listener did not pick up: back to the head of the queue.
    state.queued = True
    state.phase = Phase.QUEUED
    return [
        Enqueue(state.departement, REQUEUE_PRIORITY),
        StartTimer("announce", dep.line_115.queue.announcement_interval_s),
        Hold(),
    ]


# --------------------------------------------------------------------------- LRO


def _lro(ctx: FlowContext, state: CallState) -> list[Command]:
    """Start the last-routing-option chain; each destination is dialled at most once."""
    state.summary.lro_used = True
    tried = state.tried_numbers()
    state.hunt_targets = tuple(
        DialTarget(step.number, step.label, Role.LRO)
        for step in ctx.routes.lro(
            state.departement if state.departement in ctx.config.departements else None
        )
        if step.number not in tried
    )
    state.hunt_all = False
    state.hunt_ring_timeout_s = LRO_RING_TIMEOUT_S
    dial = dial_next(state, caller_id=state.caller)
    if dial is None:
        return end(state, Outcome.MESSAGE, prompts.fixed("lro_failed"))
    state.phase = Phase.LRO_DIALING
    return [play(state, prompts.fixed("lro_transfer")), dial]


@EMERGENCY.on(
    Phase.LRO_DIALING,
    DialResult,
    to=(Phase.LRO_DIALING, Phase.CONNECTED, Phase.ENDED),
    label="résultat LRO",
)
def _lro_result(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    assert isinstance(event, DialResult)
    if record_results(state, event, Role.LRO) is not None:
        state.phase = Phase.CONNECTED
        return []
    dial: Dial | None = dial_next(state, caller_id=state.caller)
    if dial is not None:
        return [dial]
    return end(state, Outcome.MESSAGE, prompts.fixed("lro_failed"))


# --------------------------------------------------------------------------- end


@EMERGENCY.on(Phase.CONNECTED, PeerHungUp, to=(Phase.ENDED,), label="fin de communication")
def _peer_left(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    return end(state, Outcome.CONNECTED)


@EMERGENCY.on(None, CallerHungUp, to=(Phase.ENDED,), label="l'appelant raccroche")
def _caller_left(ctx: FlowContext, state: CallState, event: Event) -> list[Command]:
    return caller_left(state)


departement_menu(
    EMERGENCY,
    _departement_chosen,
    _lro,
    after_choice=(Phase.QUEUE_STATUS, Phase.LRO_DIALING, Phase.ENDED),
    after_giving_up=(Phase.LRO_DIALING, Phase.ENDED),
)
