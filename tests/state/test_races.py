"""Atomic operations raced by two clients against a real Redis, as two instances race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ivr.runtime.live_state import Claim, Presence
from ivr.state.redis_state import RedisLiveState
from tests.state.conftest import snapshot_of

pytestmark = pytest.mark.redis

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Pair = tuple[RedisLiveState, RedisLiveState]


async def test_given_two_instances_claiming_together_then_no_call_or_listener_is_taken_twice(
    redis_pair: Pair,
) -> None:
    first, second = redis_pair
    for n in range(60):
        await first.enqueue("93", f"call-{n:02d}", 0, T0 + timedelta(seconds=n))
    for n in range(40):
        await second.set_presence("93", f"L{n:02d}", Presence.AVAILABLE, T0)

    async def claim_all(state: RedisLiveState) -> list[Claim]:
        claims = []
        while (claim := await state.claim_next("93", T0)) is not None:
            claims.append(claim)
        return claims

    a, b = await asyncio.gather(claim_all(first), claim_all(second))
    claims = a + b
    assert a, "both instances won some claims"
    assert b, "both instances won some claims"
    assert len(claims) == 40
    assert len({c.call_id for c in claims}) == 40
    assert len({c.listener for c in claims}) == 40
    # Whoever won each claim, the calls left the queue head first.
    assert sorted(c.call_id for c in claims) == [f"call-{n:02d}" for n in range(40)]
    assert await first.waiting_calls("93") == [f"call-{n:02d}" for n in range(40, 60)]


async def test_given_two_instances_enqueuing_together_then_the_queue_is_in_arrival_order(
    redis_pair: Pair,
) -> None:
    first, second = redis_pair
    arrivals = {f"call-{n:03d}": T0 + timedelta(milliseconds=7 * n) for n in range(200)}

    async def enqueue(state: RedisLiveState, ids: list[str]) -> None:
        for call_id in ids:
            await state.enqueue("93", call_id, 0, arrivals[call_id])

    ids = list(arrivals)
    await asyncio.gather(enqueue(first, ids[0::2]), enqueue(second, ids[1::2]))
    assert await first.waiting_calls("93") == ids


async def test_given_two_survivors_taking_over_together_then_each_call_goes_to_exactly_one(
    redis_pair: Pair,
) -> None:
    first, second = redis_pair
    await first.heartbeat("dead", 0.1)
    for n in range(100):
        await first.save_call(snapshot_of(f"c{n}", "dead"))
    await first.heartbeat("B", 10)
    await second.heartbeat("C", 10)
    await asyncio.sleep(0.2)

    async def take_all(state: RedisLiveState, me: str) -> list[str]:
        taken: list[str] = []
        while batch := await state.take_over(me, 7):
            taken += [s.call_id for s in batch]
        return taken

    b, c = await asyncio.gather(take_all(first, "B"), take_all(second, "C"))
    assert sorted(b + c, key=lambda s: int(s[1:])) == [f"c{n}" for n in range(100)]
    assert not set(b) & set(c)
    assert await first.owned_calls("B") == set(b)
    assert await first.owned_calls("C") == set(c)
    assert await first.owned_calls("dead") == set()


async def test_given_two_instances_racing_for_one_dial_lease_then_exactly_one_rings(
    redis_pair: Pair,
) -> None:
    first, second = redis_pair
    for attempt in range(50):
        name = f"dial:call-{attempt}:+33199000001"
        got = await asyncio.gather(
            first.acquire_lease(name, "A", 30), second.acquire_lease(name, "B", 30)
        )
        assert sorted(got) == [False, True]


async def test_given_two_instances_saving_one_new_call_together_then_one_owns_it(
    redis_pair: Pair,
) -> None:
    first, second = redis_pair
    for n in range(50):
        saved = await asyncio.gather(
            first.save_call(snapshot_of(f"c{n}", "A")), second.save_call(snapshot_of(f"c{n}", "B"))
        )
        assert sorted(saved) == [False, True]
        owner = await first.call_owner(f"c{n}")
        assert owner == ("A" if saved[0] else "B")
