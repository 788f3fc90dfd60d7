"""Redis going away: calls go on, new calls are routed, state resynchronises, health says so."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.flow.engine import Phase
from ivr.flow.vocabulary import (
    CallerHungUp,
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    Hangup,
    Hold,
    Outcome,
    PeerHungUp,
)
from ivr.runtime.live_state import Claim, Presence
from ivr.runtime.runtime import CallRuntime, MemoryRecords
from ivr.state.redis_state import RedisLiveState
from ivr.state.resilient import ResilientLiveState
from tests.state.conftest import snapshot_of
from tests.state.helpers import (
    CALLER,
    LINE_115_93,
    LISTENERS_93,
    MONDAY_10,
    RecordingTransport,
    RedisServer,
    eventually,
    shipped_flow,
)

pytestmark = pytest.mark.redis

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, started; stopped at the end whatever happens."""
    process = RedisServer(tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def state(server: RedisServer) -> AsyncIterator[ResilientLiveState]:
    resilient = ResilientLiveState(
        RedisLiveState.from_url(server.url, timeout_s=0.3),
        clock=lambda: datetime.now(UTC),
        retry_every_s=0.1,
    )
    try:
        yield resilient
    finally:
        await resilient.close()


async def test_given_redis_stops_then_queue_operations_go_on_locally_and_health_is_degraded(
    server: RedisServer, state: ResilientLiveState
) -> None:
    await state.set_presence("93", "L1", Presence.BUSY, T0)
    await state.enqueue("93", "a", 0, T0)
    await state.enqueue("93", "b", 0, T0 + timedelta(seconds=1))
    assert state.health().degraded is False

    server.stop()
    assert await state.enqueue("93", "c", 0, T0 + timedelta(seconds=2)) == 3
    health = state.health()
    assert health.degraded is True
    assert health.since is not None
    assert health.last_error
    assert health.as_dict()["degraded"] is True
    await state.set_presence("93", "L1", Presence.AVAILABLE, T0 + timedelta(seconds=3))
    assert await state.claim_next("93", T0 + timedelta(seconds=4)) == Claim("a", "93", "L1")
    assert await state.waiting_calls("93") == ["b", "c"]
    assert state.health().journal > 0


async def test_given_redis_comes_back_empty_then_what_this_instance_did_is_resynchronised(
    server: RedisServer, state: ResilientLiveState
) -> None:
    await state.set_presence("93", "L1", Presence.BUSY, T0)
    await state.enqueue("93", "a", 0, T0)
    await state.save_call(snapshot_of("a", "me"))
    server.stop()
    await state.enqueue("93", "b", 0, T0 + timedelta(seconds=1))
    await state.record_answerer("01", "+33199000001")
    await state.save_call(snapshot_of("b", "me"))
    assert state.degraded

    server.start()  # no persistence: Redis is back empty
    await eventually(lambda: not state.degraded)
    fresh = RedisLiveState.from_url(server.url)
    try:
        assert await fresh.waiting_calls("93") == ["a", "b"]
        assert [(lst.number, lst.presence) for lst in await fresh.listeners("93")] == [
            ("L1", Presence.BUSY)
        ]
        assert await fresh.last_answerer("01") == "+33199000001"
        assert await fresh.owned_calls("me") == {"a", "b"}
    finally:
        await fresh.close()
    assert state.health().journal == 0


async def test_given_redis_stops_mid_call_then_the_call_finishes_and_new_calls_are_routed(
    server: RedisServer, state: ResilientLiveState
) -> None:
    records = MemoryRecords()
    runtime = CallRuntime(
        shipped_flow(),
        state,
        lambda: MONDAY_10,
        records=records,
        registry=state,
        instance_id="me",
    )
    transport = RecordingTransport()
    await runtime.set_listener_presence("93", LISTENERS_93[0], Presence.BUSY)
    media = await runtime.start_call(CallStarted("first", LINE_115_93, CALLER), transport)
    assert isinstance(media[-1], Hold)
    assert runtime.state("first") is not None
    assert runtime.state("first").phase is Phase.QUEUED  # type: ignore[union-attr]

    server.stop()
    # New calls are still routed: they queue behind the first one.
    media = await runtime.start_call(CallStarted("second", LINE_115_93, CALLER), transport)
    assert isinstance(media[-1], Hold)
    assert state.health().degraded
    # The listener frees up: the first call is offered and connected on local state.
    await runtime.set_listener_presence("93", LISTENERS_93[0], Presence.AVAILABLE)
    await runtime.drain()
    dial = transport.delivered["first"][-1]
    assert isinstance(dial, Dial)
    assert dial.targets[0].number == LISTENERS_93[0]
    await runtime.handle("first", DialResult(((LISTENERS_93[0], DialOutcome.ANSWERED),)))
    hangup = await runtime.handle("first", PeerHungUp())
    assert Hangup(Outcome.CONNECTED) in hangup
    assert [s.call_id for s, _, _ in records.calls] == ["first"]
    await runtime.drain()

    # The freed listener takes the next call, still on local state.
    offer = transport.delivered["second"][-1]
    assert isinstance(offer, Dial)
    assert offer.targets[0].number == LISTENERS_93[0]

    server.start()
    await eventually(lambda: not state.degraded)
    fresh = RedisLiveState.from_url(server.url)
    try:
        assert await fresh.owned_calls("me") == {"second"}
        assert await fresh.waiting_calls("93") == []
        busy = {lst.number: lst.presence for lst in await fresh.listeners("93")}
        assert busy[LISTENERS_93[0]] is Presence.BUSY
        snapshot = await fresh.load_call("second")
        assert snapshot is not None
        assert snapshot.state["phase"] == Phase.LISTENER_DIALING.value
    finally:
        await fresh.close()
    await runtime.handle("second", CallerHungUp())
    await runtime.drain()
    assert [s.call_id for s, _, _ in records.calls] == ["first", "second"]


async def test_given_redis_stops_then_the_listener_index_works_locally_and_is_replayed(
    server: RedisServer, state: ResilientLiveState
) -> None:
    await state.save_call(snapshot_of("a", "me", listener_phones=["L1"]))
    server.stop()
    found = await state.listener_call("L1")
    assert found is not None
    assert found.call_id == "a"
    assert await state.drop_call("a", "me") is True
    await state.save_call(snapshot_of("b", "me", listener_phones=["L2"]))
    assert await state.listener_call("L1") is None
    assert state.degraded

    server.start()  # no persistence: Redis is back empty
    await eventually(lambda: not state.degraded)
    fresh = RedisLiveState.from_url(server.url)
    try:
        assert await fresh.listener_call("L1") is None
        found = await fresh.listener_call("L2")
        assert found is not None
        assert found.call_id == "b"
    finally:
        await fresh.close()
