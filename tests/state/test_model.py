"""Redis behaves like the in-process state: random operation sequences, same answers."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.state.redis_state import RedisLiveState

pytestmark = pytest.mark.redis

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEPS = st.sampled_from(["93", "95"])
CALLS = st.sampled_from([f"c{n}" for n in range(6)])
LISTENERS = st.sampled_from(["L1", "L2", "L3"])
SECONDS = st.integers(min_value=0, max_value=600)

OPERATIONS = st.one_of(
    st.tuples(st.just("enqueue"), DEPS, CALLS, st.integers(0, 2), SECONDS),
    st.tuples(st.just("dequeue"), DEPS, CALLS),
    st.tuples(st.just("set_presence"), DEPS, LISTENERS, st.sampled_from(list(Presence)), SECONDS),
    st.tuples(st.just("claim_next"), DEPS, SECONDS),
    st.tuples(st.just("record_handling_time"), DEPS, st.integers(1, 900)),
    st.tuples(st.just("queue_status"), DEPS, st.none() | CALLS),
    st.tuples(st.just("record_answerer"), DEPS, LISTENERS),
    st.tuples(st.just("last_answerer"), DEPS),
)


async def apply(state: Any, op: tuple[Any, ...]) -> Any:
    name, *args = op
    if name == "enqueue":
        dep, call_id, priority, second = args
        return await state.enqueue(dep, call_id, priority, T0 + timedelta(seconds=second))
    if name == "set_presence":
        dep, listener, presence, second = args
        # Distinct instants per listener, as real clocks give them.
        since = T0 + timedelta(seconds=second, milliseconds=int(listener[1:]))
        return await state.set_presence(dep, listener, presence, since)
    if name == "claim_next":
        dep, second = args
        return await state.claim_next(dep, T0 + timedelta(seconds=second))
    if name == "queue_status":
        dep, call_id = args
        return await state.queue_status(dep, call_id, 300)
    return await getattr(state, name)(*args)


async def run_both(url: str, prefix: str, ops: list[tuple[Any, ...]]) -> None:
    memory = InMemoryLiveState()
    shared = RedisLiveState.from_url(url, prefix=prefix)
    try:
        for op in ops:
            expected = await apply(memory, op)
            actual = await apply(shared, op)
            assert actual == expected, op
        for dep in ("93", "95"):
            assert await shared.waiting_calls(dep) == await memory.waiting_calls(dep)
            key = lambda lst: lst.number  # noqa: E731
            assert sorted(await shared.listeners(dep), key=key) == sorted(
                await memory.listeners(dep), key=key
            )
    finally:
        await shared.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(OPERATIONS, max_size=40))
def test_given_any_sequence_of_operations_then_redis_answers_like_the_in_process_state(
    redis_url: str, redis_prefix: str, ops: list[tuple[Any, ...]]
) -> None:
    # Each example starts from an empty state: keys of its own under the test's prefix.
    example = f"{redis_prefix}{secrets.token_hex(4)}:"
    asyncio.run(run_both(redis_url, example, ops))
