"""Live state behaviour, the same on both implementations (in-process and Redis)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from ivr.runtime.live_state import CallSnapshot, Claim, Presence
from tests.state.conftest import SharedState, snapshot_of
from tests.state.helpers import eventually

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --------------------------------------------------------------------------- rotation


async def test_given_nobody_answered_yet_then_last_answerer_is_none(live: SharedState) -> None:
    assert await live.last_answerer("01") is None


async def test_given_an_answer_recorded_then_it_is_the_last_answerer_of_that_key_only(
    live: SharedState,
) -> None:
    await live.record_answerer("01", "+33199000001")
    await live.record_answerer("01", "+33199000002")
    await live.record_answerer("national", "+33536490001")
    assert await live.last_answerer("01") == "+33199000002"
    assert await live.last_answerer("national") == "+33536490001"
    assert await live.last_answerer("02") is None


# --------------------------------------------------------------------------- queues


async def test_given_calls_enqueued_then_they_wait_in_arrival_order_with_positions(
    live: SharedState,
) -> None:
    assert await live.enqueue("93", "a", 0, at(0)) == 1
    assert await live.enqueue("93", "b", 0, at(1)) == 2
    assert await live.enqueue("93", "c", 0, at(2)) == 3
    assert await live.waiting_calls("93") == ["a", "b", "c"]
    assert await live.waiting_calls("95") == []


async def test_given_same_arrival_millisecond_then_enqueue_order_breaks_the_tie(
    live: SharedState,
) -> None:
    for call_id in ("first", "second", "third"):
        await live.enqueue("93", call_id, 0, at(5))
    assert await live.waiting_calls("93") == ["first", "second", "third"]


async def test_given_a_call_requeued_with_priority_then_it_goes_before_earlier_calls(
    live: SharedState,
) -> None:
    await live.enqueue("93", "a", 0, at(0))
    await live.enqueue("93", "b", 0, at(1))
    assert await live.enqueue("93", "late", 1, at(50)) == 1
    await live.enqueue("93", "later", 1, at(60))
    assert await live.waiting_calls("93") == ["late", "later", "a", "b"]


async def test_given_a_call_dequeued_then_it_leaves_and_a_second_dequeue_says_so(
    live: SharedState,
) -> None:
    await live.enqueue("93", "a", 0, at(0))
    await live.enqueue("93", "b", 0, at(1))
    assert await live.dequeue("93", "a") is True
    assert await live.dequeue("93", "a") is False
    assert await live.waiting_calls("93") == ["b"]


async def test_given_listeners_and_handling_times_then_status_has_what_deterrence_needs(
    live: SharedState,
) -> None:
    await live.set_presence("93", "L1", Presence.BUSY, at(0))
    await live.set_presence("93", "L2", Presence.PAUSED, at(0))
    await live.set_presence("93", "L3", Presence.OFFLINE, at(0))
    for call_id, second in (("a", 1), ("b", 2), ("c", 3)):
        await live.enqueue("93", call_id, 0, at(second))
    await live.record_handling_time("93", 200.0)
    await live.record_handling_time("93", 400.0)

    outside = await live.queue_status("93", None, 300)
    assert outside.waiting == 3
    assert outside.position == 0
    assert (outside.listeners_logged_in, outside.listeners_available) == (2, 0)
    assert outside.estimated_wait_s == 3 * 300 // 2  # 3 ahead, average 300 s, 2 listeners

    third = await live.queue_status("93", "c", 300)
    assert third.position == 3
    assert third.waiting == 2  # the calls ahead of it
    assert third.estimated_wait_s == 2 * 300 // 2
    assert (third.closed, third.emergency_closed) == (False, False)


async def test_given_no_handling_time_yet_then_the_default_estimates_the_wait(
    live: SharedState,
) -> None:
    await live.set_presence("93", "L1", Presence.BUSY, at(0))
    await live.enqueue("93", "a", 0, at(0))
    assert (await live.queue_status("93", None, 240)).estimated_wait_s == 240


async def test_given_nobody_logged_in_then_estimated_wait_is_zero(live: SharedState) -> None:
    await live.enqueue("93", "a", 0, at(0))
    status = await live.queue_status("93", None, 300)
    assert (status.listeners_logged_in, status.estimated_wait_s) == (0, 0)


async def test_given_more_than_twenty_handling_times_then_only_the_recent_twenty_count(
    live: SharedState,
) -> None:
    await live.set_presence("93", "L1", Presence.BUSY, at(0))
    await live.enqueue("93", "a", 0, at(0))
    for _ in range(30):
        await live.record_handling_time("93", 1000.0)
    for _ in range(20):
        await live.record_handling_time("93", 100.0)
    assert (await live.queue_status("93", None, 300)).estimated_wait_s == 100


async def test_given_platform_closed_then_status_says_so_until_reopened(
    live: SharedState,
) -> None:
    await live.set_platform("93", closed=True, emergency_closed=False)
    assert (await live.queue_status("93", None, 300)).closed is True
    await live.set_platform("93", closed=False, emergency_closed=True)
    status = await live.queue_status("93", None, 300)
    assert (status.closed, status.emergency_closed) == (False, True)


# --------------------------------------------------------------------------- presence


async def test_given_presence_changes_then_listeners_report_the_latest_with_since(
    live: SharedState,
) -> None:
    await live.set_presence("93", "L1", Presence.AVAILABLE, at(0))
    await live.set_presence("93", "L1", Presence.PAUSED, at(30))
    await live.set_presence("93", "L2", Presence.AVAILABLE, at(10))
    found = {lst.number: (lst.presence, lst.since) for lst in await live.listeners("93")}
    assert found == {"L1": (Presence.PAUSED, at(30)), "L2": (Presence.AVAILABLE, at(10))}
    assert await live.listeners("95") == []


async def test_given_waiting_calls_and_free_listeners_then_claims_pair_head_with_longest_free(
    live: SharedState,
) -> None:
    await live.set_presence("93", "recent", Presence.AVAILABLE, at(20))
    await live.set_presence("93", "longest", Presence.AVAILABLE, at(5))
    await live.enqueue("93", "a", 0, at(30))
    await live.enqueue("93", "b", 0, at(31))
    await live.enqueue("93", "c", 0, at(32))

    assert await live.claim_next("93", at(40)) == Claim("a", "93", "longest")
    assert await live.claim_next("93", at(41)) == Claim("b", "93", "recent")
    assert await live.claim_next("93", at(42)) is None  # nobody free: c keeps waiting
    assert await live.waiting_calls("93") == ["c"]
    busy = {lst.number: (lst.presence, lst.since) for lst in await live.listeners("93")}
    assert busy == {"longest": (Presence.BUSY, at(40)), "recent": (Presence.BUSY, at(41))}


async def test_given_a_paused_listener_then_no_call_is_offered_to_them(live: SharedState) -> None:
    await live.set_presence("93", "L1", Presence.AVAILABLE, at(0))
    await live.set_presence("93", "L1", Presence.PAUSED, at(1))
    await live.enqueue("93", "a", 0, at(2))
    assert await live.claim_next("93", at(3)) is None


async def test_given_an_empty_queue_then_a_free_listener_stays_free(live: SharedState) -> None:
    await live.set_presence("93", "L1", Presence.AVAILABLE, at(0))
    assert await live.claim_next("93", at(1)) is None
    assert [lst.presence for lst in await live.listeners("93")] == [Presence.AVAILABLE]


async def test_given_head_call_held_by_another_instance_then_only_that_instance_claims_it(
    live: SharedState,
) -> None:
    await live.save_call(snapshot_of("a", "instance-A"))
    await live.set_presence("93", "L1", Presence.AVAILABLE, at(0))
    await live.enqueue("93", "a", 0, at(1))
    assert await live.claim_next("93", at(2), owner="instance-B") is None
    assert await live.claim_next("93", at(2), owner="instance-A") == Claim("a", "93", "L1")


async def test_given_head_call_held_by_nobody_then_any_instance_may_claim_it(
    live: SharedState,
) -> None:
    await live.set_presence("93", "L1", Presence.AVAILABLE, at(0))
    await live.enqueue("93", "orphan", 0, at(1))
    assert await live.claim_next("93", at(2), owner="instance-B") == Claim("orphan", "93", "L1")


# --------------------------------------------------------------------------- live calls


async def test_given_a_call_saved_then_it_loads_back_whole(live: SharedState) -> None:
    snapshot = snapshot_of(
        "c1",
        "instance-A",
        transport="sim",
        timers={"max_wait": at(1800)},
        listener="L1",
        answered_at=at(8),
        dials=[("+33199000001", at(3))],
        transport_data={"presses": ["75"]},
        pending=[{"type": "hold"}],
    )
    assert await live.save_call(snapshot) is True
    loaded = await live.load_call("c1")
    assert loaded == snapshot
    assert await live.call_owner("c1") == "instance-A"
    assert await live.owned_calls("instance-A") == {"c1"}
    assert await live.load_call("nope") is None


async def test_given_a_call_owned_by_another_instance_then_saving_it_is_refused(
    live: SharedState,
) -> None:
    await live.save_call(snapshot_of("c1", "instance-A"))
    assert await live.save_call(snapshot_of("c1", "instance-B")) is False
    assert await live.call_owner("c1") == "instance-A"


async def test_given_a_finished_call_dropped_by_its_owner_then_it_is_gone(
    live: SharedState,
) -> None:
    await live.save_call(snapshot_of("c1", "instance-A"))
    assert await live.drop_call("c1", "instance-B") is False
    assert await live.drop_call("c1", "instance-A") is True
    assert await live.load_call("c1") is None
    assert await live.owned_calls("instance-A") == set()


async def test_given_a_transfer_from_the_current_owner_then_the_call_moves_once(
    live: SharedState,
) -> None:
    await live.save_call(snapshot_of("c1", "instance-A"))
    assert await live.transfer_call("c1", "instance-A", "instance-B") is True
    assert await live.transfer_call("c1", "instance-A", "instance-C") is False
    assert await live.call_owner("c1") == "instance-B"
    assert await live.owned_calls("instance-B") == {"c1"}
    assert await live.owned_calls("instance-A") == set()


async def test_given_an_instance_alive_then_its_calls_are_not_taken_over(
    live: SharedState,
) -> None:
    await live.heartbeat("instance-A", 5.0)
    await live.heartbeat("instance-B", 5.0)
    await live.save_call(snapshot_of("c1", "instance-A"))
    assert await live.instance_alive("instance-A") is True
    assert await live.take_over("instance-B", 10) == []


async def test_given_an_instance_lease_lapsed_then_its_calls_are_taken_over_once(
    live: SharedState,
) -> None:
    await live.heartbeat("instance-A", 0.2)
    await live.heartbeat("instance-B", 5.0)
    for call_id in ("c1", "c2", "c3"):
        await live.save_call(snapshot_of(call_id, "instance-A"))
    await asyncio.sleep(0.3)
    assert await live.instance_alive("instance-A") is False

    taken = await live.take_over("instance-B", 2)
    taken += await live.take_over("instance-B", 10)
    assert sorted(s.call_id for s in taken) == ["c1", "c2", "c3"]
    assert all(isinstance(s, CallSnapshot) and s.owner == "instance-B" for s in taken)
    assert await live.owned_calls("instance-B") == {"c1", "c2", "c3"}
    assert await live.take_over("instance-B", 10) == []


async def test_given_an_instance_released_cleanly_then_its_calls_are_taken_over_at_once(
    live: SharedState,
) -> None:
    await live.heartbeat("instance-A", 60.0)
    await live.save_call(snapshot_of("c1", "instance-A"))
    await live.release_instance("instance-A")
    assert [s.call_id for s in await live.take_over("instance-B", 10)] == ["c1"]


# --------------------------------------------------------------------------- leases


async def test_given_a_lease_held_then_another_holder_cannot_take_it_until_it_lapses(
    live: SharedState,
) -> None:
    assert await live.acquire_lease("dial:c1:+33199000001", "A", 0.2) is True
    assert await live.acquire_lease("dial:c1:+33199000001", "B", 5.0) is False
    assert await live.acquire_lease("dial:c1:+33199000001", "A", 0.2) is True  # renewed
    assert await live.lease_holder("dial:c1:+33199000001") == "A"
    await asyncio.sleep(0.3)
    assert await live.lease_holder("dial:c1:+33199000001") is None
    assert await live.acquire_lease("dial:c1:+33199000001", "B", 5.0) is True


async def test_given_a_lease_then_only_its_holder_releases_it(live: SharedState) -> None:
    await live.acquire_lease("x", "A", 5.0)
    assert await live.release_lease("x", "B") is False
    assert await live.lease_holder("x") == "A"
    assert await live.release_lease("x", "A") is True
    assert await live.acquire_lease("x", "B", 5.0) is True


# --------------------------------------------------------------------------- notifications


async def test_given_a_subscriber_then_a_dispatch_notification_reaches_it(
    live: SharedState,
) -> None:
    stop = asyncio.Event()
    received: list[str] = []

    async def listen() -> None:
        async for departement in live.notifications(stop):
            received.append(departement)

    listening = asyncio.ensure_future(listen())
    await asyncio.sleep(0.3)  # the subscription is in place
    await live.notify("93")
    await live.notify("95")
    await eventually(lambda: len(received) == 2, within=3)
    stop.set()
    await asyncio.wait_for(listening, 3.0)  # ends by itself once stopped
    assert received == ["93", "95"]


# --------------------------------------------------------------------------- listener index


async def test_given_a_call_saved_with_listener_phones_then_each_phone_finds_it(
    live: SharedState,
) -> None:
    assert await live.save_call(snapshot_of("c1", "instance-A", listener_phones=["L1", "L2"]))
    for phone in ("L1", "L2"):
        found = await live.listener_call(phone)
        assert found is not None
        assert (found.call_id, found.owner) == ("c1", "instance-A")
    assert await live.listener_call("L3") is None


async def test_given_a_call_saved_again_with_other_phones_then_the_index_follows(
    live: SharedState,
) -> None:
    await live.save_call(snapshot_of("c1", "instance-A", listener_phones=["L1", "L2"]))
    await live.save_call(snapshot_of("c1", "instance-A", listener_phones=["L2"]))
    assert await live.listener_call("L1") is None
    found = await live.listener_call("L2")
    assert found is not None
    assert found.listener_phones == ["L2"]
    await live.save_call(snapshot_of("c1", "instance-A"))
    assert await live.listener_call("L2") is None


async def test_given_a_phone_indexed_by_a_newer_call_then_the_older_call_leaves_it_alone(
    live: SharedState,
) -> None:
    await live.save_call(snapshot_of("c1", "instance-A", listener_phones=["L1"]))
    await live.save_call(snapshot_of("c2", "instance-B", listener_phones=["L1"]))
    await live.save_call(snapshot_of("c1", "instance-A"))
    assert await live.drop_call("c1", "instance-A") is True
    found = await live.listener_call("L1")
    assert found is not None
    assert found.call_id == "c2"


async def test_given_a_call_dropped_then_its_listener_no_longer_finds_it(
    live: SharedState,
) -> None:
    await live.save_call(snapshot_of("c1", "instance-A", listener_phones=["L1"]))
    assert await live.drop_call("c1", "instance-B") is False
    assert await live.listener_call("L1") is not None
    assert await live.drop_call("c1", "instance-A") is True
    assert await live.listener_call("L1") is None


async def test_given_a_refused_save_then_the_index_is_unchanged(live: SharedState) -> None:
    await live.save_call(snapshot_of("c1", "instance-A", listener_phones=["L1"]))
    assert await live.save_call(snapshot_of("c1", "instance-B", listener_phones=["L2"])) is False
    assert await live.listener_call("L2") is None
    found = await live.listener_call("L1")
    assert found is not None
    assert found.owner == "instance-A"


async def test_given_a_call_taken_over_then_its_listener_finds_it_with_the_new_owner(
    live: SharedState,
) -> None:
    await live.heartbeat("instance-A", 60.0)
    await live.save_call(snapshot_of("c1", "instance-A", listener_phones=["L1"]))
    await live.release_instance("instance-A")
    assert [s.call_id for s in await live.take_over("instance-B", 10)] == ["c1"]
    found = await live.listener_call("L1")
    assert found is not None
    assert found.owner == "instance-B"
