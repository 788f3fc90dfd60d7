"""The 115, branch by branch: deterrence, queue, listeners, call-backs, LRO."""

from __future__ import annotations

import pytest

from ivr.flow.engine import Phase
from ivr.flow.vocabulary import (
    CallerHungUp,
    CancelTimer,
    Dequeue,
    DigitsReceived,
    Enqueue,
    FetchQueueStatus,
    Gather,
    Hold,
    InputTimedOut,
    ListenerOffered,
    PeerHungUp,
    QueueStatus,
    QueueStatusFetched,
    RegisterCallback,
    StartRecording,
    StartTimer,
    StopRecording,
    TimerFired,
)
from tests.flow.helpers import (
    CALLER,
    ENTRY_115,
    PARIS_115,
    Call,
    answered,
    dialled,
    hung_up_with,
    no_answer,
    paris,
    prompt_ids,
    texts,
)

NOW = paris("2026-11-23 03:00")  # the 115 runs at night too
LISTENER_1 = "+33261910751"
PARIS_LRO = "+33465710075"
NATIONAL_LRO = ["+33465719900", "+33465719901"]


def status(**overrides: int | bool) -> QueueStatusFetched:
    values: dict[str, int | bool] = {
        "waiting": 2,
        "listeners_logged_in": 2,
        "listeners_available": 0,
        "estimated_wait_s": 300,
        "position": 0,
    }
    values.update(overrides)
    return QueueStatusFetched(QueueStatus(**values))  # type: ignore[arg-type]


def queued_call(caller: str | None = CALLER) -> Call:
    call = Call.start(PARIS_115, NOW, caller=caller)
    call.send(status())
    assert call.phase is Phase.QUEUED
    return call


def test_given_paris_routing_number_then_queue_status_is_fetched_for_75() -> None:
    call = Call.start(PARIS_115, NOW)
    assert call.first[-1] == FetchQueueStatus("75")
    assert call.state.departement == "75"


def test_given_normal_load_then_welcome_notice_queue_position_and_timers() -> None:
    call = Call.start(PARIS_115, NOW)
    commands = call.send(status(waiting=2, estimated_wait_s=300))
    assert prompt_ids(commands) == [
        "welcome_115",
        "recording_notice",
        "queue_position",
        "queue_callback_offer",
    ]
    assert Enqueue("75") in commands
    assert StartTimer("max_wait", 600) in commands
    assert StartTimer("announce", 60) in commands
    assert isinstance(commands[-1], Hold)
    assert texts(commands)["queue_position"] == (
        "Vous êtes en position 3. Temps d'attente estimé : 5 minutes."
    )


def test_given_no_listener_logged_in_when_115_call_arrives_then_lro_is_dialled() -> None:
    call = Call.start(PARIS_115, NOW)
    commands = call.send(status(listeners_logged_in=0))
    assert prompt_ids(commands) == ["no_listener", "lro_transfer"]
    assert dialled(commands) == [PARIS_LRO]
    call.send(answered(PARIS_LRO))
    assert call.phase is Phase.CONNECTED
    assert call.state.summary.lro_used


def test_given_every_lro_fails_then_each_is_dialled_once_and_a_message_ends_the_call() -> None:
    call = Call.start(PARIS_115, NOW)
    numbers = dialled(call.send(status(listeners_logged_in=0)))
    numbers += dialled(call.send(no_answer(PARIS_LRO)))
    numbers += dialled(call.send(no_answer(NATIONAL_LRO[0])))
    commands = call.send(no_answer(NATIONAL_LRO[1]))
    assert numbers == [PARIS_LRO, *NATIONAL_LRO]
    assert prompt_ids(commands) == ["lro_failed"]
    assert hung_up_with(commands) == "message"


@pytest.mark.parametrize(
    ("load", "trigger"),
    [({"waiting": 40}, "saturation"), ({"waiting": 3, "estimated_wait_s": 1201}, "saturation")],
)
def test_given_saturation_then_deterrence_prompt_and_callback_offer(
    load: dict[str, int], trigger: str
) -> None:
    call = Call.start(PARIS_115, NOW)
    commands = call.send(status(**load))
    assert prompt_ids(commands) == ["deterrence_saturation_75", "callback_offer"]
    assert isinstance(commands[-1], Gather)
    assert call.state.summary.deterrence == trigger
    commands = call.send(DigitsReceived("1"))
    assert RegisterCallback("75", CALLER) in commands
    assert hung_up_with(commands) == "callback"
    assert prompt_ids(commands) == ["callback_registered"]


def test_given_saturation_and_no_callback_wanted_then_goodbye_message() -> None:
    call = Call.start(PARIS_115, NOW)
    call.send(status(waiting=500))
    commands = call.send(InputTimedOut())
    assert prompt_ids(commands) == ["saturation_goodbye"]
    assert hung_up_with(commands) == "message"


def test_given_saturation_and_withheld_number_then_no_callback_offer() -> None:
    call = Call.start(PARIS_115, NOW, caller=None)
    commands = call.send(status(waiting=500))
    assert prompt_ids(commands) == ["deterrence_saturation_75", "saturation_goodbye"]
    assert hung_up_with(commands) == "message"


def test_given_departement_without_callback_offer_then_no_offer_on_saturation() -> None:
    call = Call.start("+33353010200", NOW)  # 2A: callback_offer false, recording none
    commands = call.send(status(waiting=10))
    assert prompt_ids(commands) == ["deterrence_saturation_2A", "saturation_goodbye"]


@pytest.mark.parametrize(
    ("flag", "prompt"),
    [("closed", "deterrence_closure_75"), ("emergency_closed", "deterrence_emergency_closure_75")],
)
def test_given_closure_then_its_prompt_then_lro(flag: str, prompt: str) -> None:
    call = Call.start(PARIS_115, NOW)
    commands = call.send(status(**{flag: True}))
    assert prompt_ids(commands) == [prompt, "lro_transfer"]
    assert dialled(commands) == [PARIS_LRO]


def test_given_queued_when_announce_timer_fires_then_position_is_refreshed_and_announced() -> None:
    call = queued_call()
    assert call.send(TimerFired("announce")) == [FetchQueueStatus("75")]
    commands = call.send(status(position=2, waiting=1, estimated_wait_s=61))
    assert prompt_ids(commands) == ["queue_position", "queue_callback_offer"]
    assert texts(commands)["queue_position"] == (
        "Vous êtes en position 2. Temps d'attente estimé : 2 minutes."
    )
    assert StartTimer("announce", 60) in commands
    assert isinstance(commands[-1], Hold)


def test_given_queued_when_maximum_wait_passes_then_deterrence_and_lro() -> None:
    call = queued_call()
    commands = call.send(TimerFired("max_wait"))
    assert commands[:2] == [Dequeue("75"), CancelTimer("announce")]
    assert prompt_ids(commands) == ["deterrence_max_wait_exceeded_75", "lro_transfer"]
    assert dialled(commands) == [PARIS_LRO]
    assert call.state.summary.deterrence == "max_wait_exceeded"


def test_given_max_wait_while_refreshing_then_it_still_applies() -> None:
    call = queued_call()
    call.send(TimerFired("announce"))
    commands = call.send(TimerFired("max_wait"))
    assert dialled(commands) == [PARIS_LRO]


def test_given_queued_caller_presses_1_then_callback_registered_and_queue_left() -> None:
    call = queued_call()
    commands = call.send(DigitsReceived("1"))
    assert Dequeue("75") in commands
    assert RegisterCallback("75", CALLER) in commands
    assert hung_up_with(commands) == "callback"


def test_given_queued_caller_presses_another_key_then_nothing_changes() -> None:
    call = queued_call()
    assert call.send(DigitsReceived("5")) == []
    assert call.phase is Phase.QUEUED


def test_given_listener_offered_then_dialled_and_recording_starts_on_answer() -> None:
    call = queued_call()
    commands = call.send(ListenerOffered(LISTENER_1, "Écoutant 1"))
    assert commands[0] == CancelTimer("announce")
    assert dialled(commands) == [LISTENER_1]
    commands = call.send(answered(LISTENER_1))
    assert commands == [CancelTimer("max_wait"), StartRecording()]
    assert call.phase is Phase.CONNECTED
    commands = call.send(PeerHungUp())
    assert StopRecording() in commands
    assert hung_up_with(commands) == "connected"
    assert call.state.summary.connected_role is not None
    assert call.state.summary.connected_role.value == "listener"


def test_given_listener_does_not_answer_then_back_to_the_head_of_the_queue() -> None:
    call = queued_call()
    call.send(ListenerOffered(LISTENER_1, "Écoutant 1"))
    commands = call.send(no_answer(LISTENER_1))
    assert commands == [Enqueue("75", 1), StartTimer("announce", 60), Hold()]
    assert call.phase is Phase.QUEUED


def test_given_departement_without_recording_then_no_notice_and_no_recording() -> None:
    call = Call.start("+33353010200", NOW)
    commands = call.send(status(waiting=0))
    assert "recording_notice" not in prompt_ids(commands)
    call.send(ListenerOffered("+33261910201", "Écoutant 2A"))
    assert StartRecording() not in call.send(answered("+33261910201"))


def test_given_national_entry_without_hint_then_departement_is_asked() -> None:
    call = Call.start(ENTRY_115, NOW)
    assert prompt_ids(call.first) == ["welcome_115", "ask_departement"]
    assert call.send(DigitsReceived("75")) == [FetchQueueStatus("75")]


def test_given_national_entry_with_location_hint_then_the_hint_routes_the_call() -> None:
    call = Call.start(ENTRY_115, NOW, hint="2A")
    assert call.first[-1] == FetchQueueStatus("2A")


def test_given_hint_for_unconfigured_departement_then_caller_is_asked() -> None:
    call = Call.start(ENTRY_115, NOW, hint="13")
    assert prompt_ids(call.first) == ["welcome_115", "ask_departement"]


def test_given_national_entry_and_unconfigured_departement_then_national_lro() -> None:
    call = Call.start(ENTRY_115, NOW)
    commands = call.send(DigitsReceived("13"))
    assert dialled(commands) == [NATIONAL_LRO[0]]


def test_given_national_entry_and_menu_failures_then_national_lro() -> None:
    call = Call.start(ENTRY_115, NOW)
    call.send(InputTimedOut())
    call.send(DigitsReceived("99"))
    commands = call.send(InputTimedOut())
    assert dialled(commands) == [NATIONAL_LRO[0]]


def test_given_unknown_called_number_then_treated_as_115_and_asked() -> None:
    call = Call.start("+33199009999", NOW)
    assert prompt_ids(call.first) == ["welcome_115", "ask_departement"]


def test_given_lro_chain_through_another_departement_then_no_number_is_dialled_twice() -> None:
    call = Call.start("+33353010200", NOW)  # 2A → 2B platform → national
    numbers = dialled(call.send(status(listeners_logged_in=0)))
    numbers += dialled(call.send(no_answer(numbers[-1])))
    numbers += dialled(call.send(no_answer(numbers[-1])))
    assert numbers == ["+33353010210", *NATIONAL_LRO]
    assert len(set(numbers)) == len(numbers)


STAGES = [
    "queue_status",
    "saturation_offer",
    "queued",
    "queue_refresh",
    "listener_dialing",
    "lro_dialing",
    "connected",
]


@pytest.mark.parametrize("stage", STAGES)
def test_given_caller_hangs_up_at_each_stage_then_queue_timers_and_recording_are_released(
    stage: str,
) -> None:
    call = Call.start(PARIS_115, NOW)
    if stage == "saturation_offer":
        call.send(status(waiting=500))
    elif stage == "lro_dialing":
        call.send(status(listeners_logged_in=0))
    elif stage != "queue_status":
        call.send(status())
        if stage == "queue_refresh":
            call.send(TimerFired("announce"))
        if stage in ("listener_dialing", "connected"):
            call.send(ListenerOffered(LISTENER_1, "Écoutant 1"))
        if stage == "connected":
            call.send(answered(LISTENER_1))
    assert call.phase.value == stage
    commands = call.send(CallerHungUp())
    assert hung_up_with(commands) == ("connected" if stage == "connected" else "caller-hung-up")
    if stage in ("queued", "queue_refresh"):
        assert Dequeue("75") in commands
    if stage == "connected":
        assert StopRecording() in commands
    assert CancelTimer("max_wait") in commands
    assert call.send(TimerFired("announce")) == []
