"""The simulator drives the real flows: rotation shared across calls, queue timing, safety."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ivr.flow import Phase, build_flow
from ivr.sim.simulator import CallScript, SimulationError, Simulator
from routing.loader import load_config
from tests.flow.helpers import ASSISTANCE, PARIS_115, minimal_flow, paris

MONDAY_10 = paris("2026-11-23 10:00")
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "departments.yaml"


def test_given_six_calls_then_rotation_by_last_answerer_spreads_them_evenly() -> None:
    simulator = Simulator(minimal_flow())
    answered = [
        simulator.run(CallScript(ASSISTANCE, presses=["75"]), MONDAY_10).state.summary.connected_to
        for _ in range(6)
    ]
    assert answered[:3] == ["+33199007501", "+33199007502", "+33199007503"]
    assert Counter(answered) == {"+33199007501": 2, "+33199007502": 2, "+33199007503": 2}


def test_given_busy_referent_then_rotation_continues_after_the_one_who_answered() -> None:
    simulator = Simulator(minimal_flow())
    script = CallScript(ASSISTANCE, presses=["75"], busy=frozenset({"+33199007501"}))
    first = simulator.run(script, MONDAY_10).state.summary
    assert [a.result.value for a in first.attempts] == ["busy", "answered"]
    second = simulator.run(CallScript(ASSISTANCE, presses=["75"]), MONDAY_10).state.summary
    assert second.connected_to == "+33199007503"


def test_given_queue_then_listener_offered_after_the_estimated_wait() -> None:
    call = Simulator(minimal_flow()).run(
        CallScript(PARIS_115, "+33612345678", waiting=2, listeners=2), MONDAY_10
    )
    offered = next(s for s in call.steps if s.kind == "listener_offered")
    assert offered.t >= 300  # two calls ahead, two listeners, 300 s each
    assert call.summary()["outcome"] == "connected"


def test_given_listeners_never_answer_then_maximum_wait_sends_to_lro() -> None:
    script = CallScript(
        PARIS_115,
        "+33612345678",
        listeners=2,
        no_answer=frozenset({"+33261910751", "+33261910752"}),
    )
    summary = Simulator(minimal_flow()).run(script, MONDAY_10).summary()
    roles = [(d["role"], d["result"]) for d in summary["destinations_tried"]]
    assert roles == [("listener", "no-answer"), ("listener", "no-answer"), ("lro", "answered")]
    assert summary["deterrence"] == "max_wait_exceeded"


def test_given_three_listeners_who_do_not_pick_up_then_each_is_offered_in_rank_order() -> None:
    """The routing preview reads this order to an admin: 1, 2, 3 as the file ranks them
    (it used to skip one: 1, 3, 2)."""
    config = load_config(SHIPPED)
    essonne = config.departement("91")
    assert essonne is not None
    numbers = [post.number for post in essonne.line_115.listeners[:3]]
    script = CallScript(
        essonne.line_115.inbound_numbers[0],
        "+33612345678",
        listeners=3,
        no_answer=frozenset(numbers),
    )
    summary = Simulator(build_flow(config)).run(script, MONDAY_10).summary()
    listeners = [d["number"] for d in summary["destinations_tried"] if d["role"] == "listener"]
    assert listeners == numbers


def test_given_caller_hangs_up_on_hold_then_queue_is_left() -> None:
    script = CallScript(PARIS_115, None, waiting=3, listeners=1, hang_up_at=Phase.QUEUED)
    call = Simulator(minimal_flow()).run(script, MONDAY_10)
    kinds = [s.kind for s in call.steps]
    assert "dequeue" in kinds
    assert call.summary()["outcome"] == "caller-hung-up"


def test_given_naive_datetime_then_simulation_refuses_in_french() -> None:
    with pytest.raises(SimulationError, match="fuseau"):
        Simulator(minimal_flow()).run(CallScript(ASSISTANCE), MONDAY_10.replace(tzinfo=None))


def test_given_calls_then_the_real_runtime_runs_them_on_in_memory_live_state() -> None:
    simulator = Simulator(minimal_flow())
    call = simulator.run(CallScript(ASSISTANCE, presses=["75"]), MONDAY_10)
    assert call.state.summary.connected_to == "+33199007501"
    assert simulator.runtime.calls == {}, "the runtime let the finished call go"
    assert simulator.live.rotation_pointers() == {"75": "+33199007501"}


def test_given_a_queued_call_then_announcements_follow_the_runtimes_timer() -> None:
    """The runtime starts the flow's timers when it steps the call (as for a real call), so
    the position is announced every interval from the moment the call was queued."""
    flow = minimal_flow()
    dep = flow.config.departement("75")
    assert dep is not None
    interval = dep.line_115.queue.announcement_interval_s
    call = Simulator(flow).run(CallScript(PARIS_115, None, waiting=2, listeners=1), MONDAY_10)
    enqueued = next(s.t for s in call.steps if s.kind == "enqueue")
    announced = [
        s.t for s in call.steps if s.kind == "play" and s.data["prompt"] == "queue_position"
    ]
    assert announced[1:3] == [enqueued + interval, enqueued + 2 * interval]
    assert call.summary()["outcome"] == "connected"


def test_given_keys_typed_during_the_welcome_then_they_answer_the_menu() -> None:
    script = CallScript(ASSISTANCE, typed=[(2.5, "7"), (2.7, "5")])
    call = Simulator(minimal_flow()).run(script, MONDAY_10)
    kinds = [s.kind for s in call.steps]
    assert "interrupted" in kinds
    assert call.state.summary.departement == "75"


def test_given_support_post_offline_then_simulated_tier2_skips_it_and_logs_why() -> None:
    script = CallScript(
        ASSISTANCE, presses=["75", "2"], support_offline=frozenset({"+33536490001"})
    )
    call = Simulator(minimal_flow()).run(script, MONDAY_10)
    summary = call.summary()
    assert [(d["number"], d["result"]) for d in summary["destinations_tried"]] == [
        ("+33536490001", "offline"),
        ("+33536490002", "answered"),
    ]
    away = [s.data for s in call.steps if s.kind == "support_away"]
    assert away == [{"number": "+33536490001", "name": "Support 1", "result": "offline"}]
