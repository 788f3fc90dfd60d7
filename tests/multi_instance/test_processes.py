"""Two ``ivr`` server processes sharing a real Redis and a real PostgreSQL: a burst of calls
handled exactly once, the rotation fair across both, the queue order kept; one instance
stopped mid-call (SIGTERM, or SIGKILL) and the other finishing its calls."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.multi_instance.cluster import Cluster
from tests.state.helpers import ASSISTANCE, LINE_115_93, LISTENERS_93, REFERENTS_93

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

TIER1 = {"presses": ["93", "1"]}  # département 93, reason "connexion" (tier 1)


@pytest.fixture
def cluster(
    tmp_path: Path, redis_url: str, redis_prefix: str, postgres_url: str
) -> Iterator[Cluster]:
    two = Cluster(tmp_path, redis_url, postgres_url, redis_prefix)
    try:
        two.start()
        yield two
    finally:
        two.close()


def test_given_two_instances_when_a_burst_arrives_then_each_call_is_handled_exactly_once(
    cluster: Cluster,
) -> None:
    for listener in LISTENERS_93:
        cluster.a.presence("93", listener, "available")
    calls = []
    for n in range(40):
        server = cluster.a if n % 2 == 0 else cluster.b
        if n % 4 < 2:
            calls.append((server, ASSISTANCE, {**TIER1, "from": f"+3361234{n:04d}"}))
        else:
            calls.append((server, LINE_115_93, {"from": f"+3361234{n:04d}"}))
    with ThreadPoolExecutor(max_workers=20) as pool:
        started = list(
            pool.map(
                lambda c: c[0].simulate(c[1], conversation_s=0.3, **c[2]),
                calls,
            )
        )
    ids = [s["call_id"] for s in started]
    assert Counter(s["instance"] for s in started) == {"ivr-a": 20, "ivr-b": 20}

    records = cluster.wait_records(40)
    assert sorted(r.call_id for r in records) == sorted(ids)
    assert all(r.outcome is not None for r in records)
    assert cluster.hangups_per_call() == {call_id: 1 for call_id in ids}
    by_start = {e["call"]: e["instance"] for e in cluster.events("start")}
    assert all(r.instance_id == by_start[r.call_id] for r in records)
    assert all(r.takeovers == 0 for r in records)
    # Nobody was rung twice for one call.
    for call_id in ids:
        dialled = [n for e in cluster.events("dial") if e["call"] == call_id for n in e["numbers"]]
        assert len(dialled) == len(set(dialled)), call_id
    # Every 115 call reached a listener: three of them served twenty calls in turn.
    emergency = [r for r in records if r.line == "115"]
    assert len(emergency) == 20
    strays = [(r.call_id, r.outcome, r.connected_to) for r in emergency]
    assert all(r.connected_to in LISTENERS_93 for r in emergency), strays


def test_given_two_instances_then_the_rotation_goes_round_the_referents_across_both(
    cluster: Cluster,
) -> None:
    order = []
    for n in range(9):
        server = cluster.a if n % 2 == 0 else cluster.b
        call_id = server.simulate(ASSISTANCE, conversation_s=0.05, **TIER1)["call_id"]
        cluster.wait(
            lambda call_id=call_id: call_id in {r.call_id for r in cluster.records()},  # type: ignore[misc]
            what=f"{call_id} recorded",
        )
        order.append(call_id)
    records = {r.call_id: r for r in cluster.records()}
    answered = [records[call_id].connected_to for call_id in order]
    assert answered == list(REFERENTS_93) * 3
    assert [records[c].instance_id for c in order] == ["ivr-a", "ivr-b"] * 4 + ["ivr-a"]


def test_given_calls_waiting_on_both_instances_then_a_listener_takes_them_in_arrival_order(
    cluster: Cluster,
) -> None:
    for listener in LISTENERS_93:
        cluster.b.presence("93", listener, "paused")
    arrivals = []
    for n in range(8):
        server = cluster.a if n % 2 == 0 else cluster.b
        started = server.simulate(LINE_115_93, conversation_s=0.2, **{"from": f"+336000000{n:02d}"})
        assert started["phase"] == "queued"
        arrivals.append(started["call_id"])
    cluster.b.presence("93", LISTENERS_93[0], "available")

    records = {r.call_id: r for r in cluster.wait_records(8)}
    served = sorted(arrivals, key=lambda c: records[c].answered_at)  # type: ignore[arg-type, return-value]
    assert served == arrivals
    assert {records[c].connected_to for c in arrivals} == {LISTENERS_93[0]}
    assert {records[c].instance_id for c in arrivals} == {"ivr-a", "ivr-b"}


def start_mid_call_load(cluster: Cluster) -> list[str]:
    """On ivr-a: three conversations under way, two calls queued, one in the menus."""
    for listener in LISTENERS_93:
        cluster.a.presence("93", listener, "paused")
    connected = [
        cluster.a.simulate(ASSISTANCE, conversation_s=6.0, **TIER1)["call_id"] for _ in range(3)
    ]
    cluster.wait(lambda: len(cluster.events("answered")) == 3, what="3 conversations")
    queued = [
        cluster.a.simulate(LINE_115_93, conversation_s=0.2, **{"from": f"+3360000000{n}"})[
            "call_id"
        ]
        for n in range(2)
    ]
    in_menu = cluster.a.simulate(ASSISTANCE, digit_delay_s=2.5, conversation_s=0.2, **TIER1)
    assert set(cluster.a.live_calls()) == {*connected, *queued, in_menu["call_id"]}
    return [*connected, *queued, in_menu["call_id"]]


def check_finished_by_b(cluster: Cluster, calls: list[str]) -> None:
    records = {r.call_id: r for r in cluster.wait_records(len(calls), within=90)}
    assert set(records) == set(calls)
    assert {r.instance_id for r in records.values()} == {"ivr-b"}
    assert all(r.takeovers == 1 for r in records.values())
    assert all(r.outcome == "connected" for r in records.values())
    assert cluster.hangups_per_call() == {call_id: 1 for call_id in calls}
    assert {e["instance"] for e in cluster.events("hangup")} == {"ivr-b"}
    for conversation in calls[:3]:  # answered before the stop, by ivr-a
        record = records[conversation]
        assert record.answered_at is not None
        assert record.connected_to in REFERENTS_93


def test_given_sigterm_mid_call_then_the_other_instance_takes_over_at_once_and_finishes(
    cluster: Cluster,
) -> None:
    calls = start_mid_call_load(cluster)
    stopped_at = time.monotonic()
    # A clean exit, no SIGKILL needed (uvicorn exits by the signal it caught, -15).
    assert cluster.a.terminate() in (0, -15)
    # The clean stop handed the calls over: ivr-b holds them within a heartbeat or two.
    cluster.wait(lambda: set(calls) <= set(cluster.b.live_calls()), within=5, what="handed over")
    assert time.monotonic() - stopped_at < 15
    assert "instance ivr-a stopped, 6 live calls handed over" in cluster.a.log()
    cluster.b.presence("93", LISTENERS_93[0], "available")
    check_finished_by_b(cluster, calls)
    records = {r.call_id: r for r in cluster.records()}
    assert records[calls[3]].answered_at < records[calls[4]].answered_at  # type: ignore[operator]


def test_given_sigkill_mid_call_then_the_other_instance_takes_over_when_the_lease_lapses(
    cluster: Cluster,
) -> None:
    calls = start_mid_call_load(cluster)
    cluster.a.kill()
    killed_at = time.time()
    cluster.wait(lambda: set(calls) <= set(cluster.b.live_calls()), within=10, what="taken over")
    resumed = cluster.events("resume")
    assert {e["call"] for e in resumed} == set(calls)
    assert min(e["at"] for e in resumed) - killed_at > 1.0  # not before the 2 s lease lapsed
    cluster.b.presence("93", LISTENERS_93[0], "available")
    check_finished_by_b(cluster, calls)
    phases = {e["call"]: e["phase"] for e in resumed}
    assert phases[calls[0]] == "connected"
    assert phases[calls[3]] == "queued"
    assert phases[calls[5]] == "dept_menu"
