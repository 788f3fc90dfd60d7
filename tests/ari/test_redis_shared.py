"""Call snapshots and the websocket lease on a real Redis; a takeover between two instances."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest
import redis.asyncio as aioredis

from ivr.flow import Phase
from ivr.flow.engine import CallState
from ivr.flow.vocabulary import (
    Answer,
    Attempt,
    Dial,
    DialOutcome,
    DialTarget,
    Gather,
    Hangup,
    Hold,
    Line,
    Outcome,
    Play,
    Prompt,
    Role,
    SayNumber,
    Sound,
    StartRecording,
    StopRecording,
)
from ivr.runtime.live_state import Presence
from ivr.transports.ari import CallSnapshot
from ivr.transports.ari.ports import Leg, MediaSnapshot, Wait
from ivr.transports.ari.redis_shared import RedisCallSnapshots, RedisLeadership
from tests.ari.harness import GATHER_PROMPTS, MONDAY_10H, Harness, Instance
from tests.ari.test_scenarios import AIN_115, AIN_LISTENERS, ASSISTANCE, CALLER
from tests.support.fake_asterisk import Caller, Destination, settle

pytestmark = pytest.mark.redis


T = TypeVar("T")


def _tasks_report() -> str:
    lines = []
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=3)
        where = ", ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in frames)
        lines.append(
            f"{task.get_name()} ({'cancelling' if task.cancelling() else 'running'}) {where}"
        )
    return "\n".join(lines)


async def within(seconds: float, awaitable: Awaitable[T], what: str) -> T:
    """Every wait of these tests has a deadline: a hang fails with the tasks still running."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        pytest.fail(f"{what}: not done within {seconds} s; tasks:\n{_tasks_report()}")


@pytest.fixture
def key(redis_prefix: str) -> str:
    """The leadership key of this test's own (under its Redis prefix)."""
    return f"{redis_prefix}ari:leader:test"


@pytest.fixture
def snap_prefix(redis_prefix: str) -> str:
    """The call-snapshot key prefix of this test's own."""
    return f"{redis_prefix}ari:snap:"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.Redis.from_url(redis_url)
    try:
        yield r
    finally:
        await r.aclose()


def full_snapshot() -> CallSnapshot:
    state = CallState(call_id="chan-1", called="115", caller="+33612345678")
    state.line = Line.EMERGENCY
    state.phase = Phase.QUEUED
    state.departement = "01"
    state.started_at = MONDAY_10H
    state.tries = 2
    state.hunt_key = "01"
    state.hunt_targets = (DialTarget("+33400000001", "Écoutant 1", Role.LISTENER),)
    state.hunt_all = True
    state.hunt_ring_timeout_s = 25
    state.queued = True
    state.recording = True
    state.callback_offered = True
    state.summary.line = Line.EMERGENCY
    state.summary.departement = "01"
    state.summary.prompts = ["welcome_115", "queue_position"]
    state.summary.attempts = [Attempt("+33400000001", Role.LISTENER, DialOutcome.NO_ANSWER)]
    state.summary.connected_to = None
    state.summary.reason = "hébergement"
    state.summary.deterrence = "saturation"
    prompt = Prompt("queue_position", "Vous êtes 3e", (Sound("queue_position"), SayNumber(3)))
    dial = Dial(
        (DialTarget("+33400000001", "Écoutant 1", Role.LISTENER),), 20, caller_id="+33612345678"
    )
    media = MediaSnapshot(
        called="115",
        caller=None,
        wait=Wait.HOLD,
        current=Gather(prompt, max_digits=2, timeout_s=8, inter_digit_timeout_s=4),
        pending=[
            Answer(),
            Play(prompt),
            dial,
            Hold(),
            StartRecording(),
            StopRecording(),
            Hangup(Outcome.CALLBACK),
        ],
        digits="0",
        legs=[
            Leg("chan-1-leg-1", dial.targets[0], DialOutcome.BUSY),
            Leg("chan-1-leg-2", DialTarget("+33400000002", "LRO", Role.LRO)),
        ],
        bridge_id="chan-1-bridge",
        peer="chan-1-leg-1",
        recording="chan-1-rec-1",
    )
    return CallSnapshot(state, media)


async def test_given_snapshot_when_saved_and_loaded_then_it_comes_back_identical(
    client: aioredis.Redis,
    snap_prefix: str,
) -> None:
    snapshots = RedisCallSnapshots(client, ttl_s=60, prefix=snap_prefix)
    snapshot = full_snapshot()

    await snapshots.save("chan-1", snapshot)
    loaded = await snapshots.load("chan-1")

    assert loaded == snapshot
    assert loaded is not None
    assert loaded.state.summary == snapshot.state.summary
    assert 0 < await client.pttl(f"{snap_prefix}chan-1") <= 60_000
    await snapshots.delete("chan-1")
    assert await snapshots.load("chan-1") is None
    assert await snapshots.load("never-saved") is None


async def test_given_unreadable_snapshot_then_load_returns_none(
    client: aioredis.Redis, snap_prefix: str
) -> None:
    await client.set(f"{snap_prefix}bad", b'{"state": {}}')
    assert await RedisCallSnapshots(client, prefix=snap_prefix).load("bad") is None


async def test_given_two_instances_racing_then_exactly_one_leads_and_other_waits(
    client: aioredis.Redis,
    key: str,
) -> None:
    a = RedisLeadership(client, key, "a", lease_s=0.6, renew_every_s=0.1, retry_s=0.02)
    b = RedisLeadership(client, key, "b", lease_s=0.6, renew_every_s=0.1, retry_s=0.02)
    tasks = {name: asyncio.ensure_future(lead.acquire()) for name, lead in (("a", a), ("b", b))}
    try:
        done, _ = await within(
            5,
            asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED),
            "one instance leads",
        )
        first, second = (a, b) if tasks["a"] in done else (b, a)
        assert await client.get(key) == first.instance_id.encode()

        await asyncio.sleep(1.5)  # more than two leases: renewals keep it with the first
        assert not tasks[second.instance_id].done(), "the other waits"
        assert await first.holder() == first.instance_id
        assert not first.lost.is_set()

        await within(5, first.stop_renewing(), "the first stops renewing")  # it dies
        crashed_at = time.monotonic()
        assert await within(5, tasks[second.instance_id], "the second takes over") is True
        # Within the lease, plus slack for a loaded machine (retry every 20 ms).
        assert time.monotonic() - crashed_at <= 0.6 + 1.0
        assert await second.holder() == second.instance_id
        assert second.leading

        await asyncio.sleep(0.3)
        assert await within(5, first.release(), "release") is False, "only the holder releases"
        assert await second.holder() == second.instance_id
        assert await within(5, second.release(), "release") is True
        assert await client.get(key) is None
    finally:
        for task in tasks.values():
            task.cancel()
        await within(5, asyncio.gather(*tasks.values(), return_exceptions=True), "clean up")
        await within(5, a.stop_renewing(), "clean up")
        await within(5, b.stop_renewing(), "clean up")


async def test_given_lease_taken_by_another_then_renewal_sets_lost(
    client: aioredis.Redis, key: str
) -> None:
    a = RedisLeadership(client, key, "a", lease_s=0.5, renew_every_s=0.05)
    assert await within(5, a.acquire(), "acquire") is True
    await client.set(key, "intruder")
    await within(5, a.lost.wait(), "the renewal finds the lease taken")
    assert not a.leading
    assert await within(5, a.release(), "release") is False
    assert await client.get(key) == b"intruder"


async def test_given_renewal_cancelled_while_a_command_is_in_flight_then_it_still_stops(
    client: aioredis.Redis,
    key: str,
) -> None:
    """redis-py 8.1 can swallow a cancellation that lands mid-command; the renewal loop
    used to run on after it and ``stop_renewing`` (hence shutdown) waited forever."""
    lead = RedisLeadership(client, key, "a", lease_s=0.5, renew_every_s=0.0005)
    rng = random.Random(4)
    for _ in range(300):
        assert await within(5, lead.acquire(), "acquire") is True
        await asyncio.sleep(rng.random() * 0.003)  # lands anywhere in the renewal loop
        await within(2, lead.stop_renewing(), "stop renewing")
    assert await within(5, lead.release(), "release") is True


async def test_given_acquire_cancelled_while_a_command_is_in_flight_then_it_ends(
    client: aioredis.Redis,
    key: str,
) -> None:
    await client.set(key, "someone-else", px=60_000)
    lead = RedisLeadership(client, key, "a", lease_s=0.5, renew_every_s=0.1, retry_s=0.0005)
    rng = random.Random(7)
    for _ in range(300):
        task = asyncio.ensure_future(lead.acquire())
        await asyncio.sleep(rng.random() * 0.003)
        task.cancel()
        await within(2, asyncio.gather(task, return_exceptions=True), "a cancelled standby")
        assert task.cancelled()
    assert await client.get(key) == b"someone-else"


async def test_given_standby_when_stop_is_set_then_acquire_returns_false(
    client: aioredis.Redis,
    key: str,
) -> None:
    await client.set(key, "leader", px=60_000)
    lead = RedisLeadership(client, key, "standby", lease_s=0.5, renew_every_s=0.1, retry_s=0.05)
    stop = asyncio.Event()
    waiting = asyncio.ensure_future(lead.acquire(stop))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    stop.set()
    assert await within(2, waiting, "a standby told to stop") is False
    assert not lead.leading
    assert await client.get(key) == b"leader"
    assert await within(2, lead.acquire(stop), "acquire once stopped") is False


class CountedSnapshots(RedisCallSnapshots):
    """Redis snapshots that tell the virtual-clock driver when a round trip is under way."""

    inflight = 0

    async def save(self, call_id: str, snapshot: CallSnapshot) -> None:
        self.inflight += 1
        try:
            await super().save(call_id, snapshot)
        finally:
            self.inflight -= 1

    async def load(self, call_id: str) -> CallSnapshot | None:
        self.inflight += 1
        try:
            return await super().load(call_id)
        finally:
            self.inflight -= 1

    async def delete(self, call_id: str) -> None:
        self.inflight += 1
        try:
            await super().delete(call_id)
        finally:
            self.inflight -= 1


async def quiet(snapshots: CountedSnapshots) -> None:
    """Settle, also waiting (in real time) for Redis round trips to come back."""
    await within(10, _quiet(snapshots), "Redis round trips come back")


async def _quiet(snapshots: CountedSnapshots) -> None:
    while True:
        await settle()
        if snapshots.inflight == 0:
            await asyncio.sleep(0.002)  # a reply may be on its way after the last request
            await settle()
            if snapshots.inflight == 0:
                return
        await asyncio.sleep(0.001)


async def advance(harness: Harness, snapshots: CountedSnapshots, seconds: float) -> None:
    end = harness.clock.t + seconds
    await quiet(snapshots)
    while (due := harness.clock.next_due()) is not None and due <= end:
        await harness.clock.run_next()
        await quiet(snapshots)
    harness.clock.t = max(harness.clock.t, end)
    await quiet(snapshots)


async def until_finished(
    harness: Harness, snapshots: CountedSnapshots, channel: str, instance: Instance
) -> None:
    end = harness.clock.t + 7200
    while harness.clock.t < end:
        await quiet(snapshots)
        if channel not in instance.runtime.calls and channel not in instance.transport.calls:
            return
        if not await harness.clock.run_next():
            return


async def test_given_instance_dies_then_second_takes_waiting_and_connected_calls_through_redis(
    harness: Harness, client: aioredis.Redis, key: str, snap_prefix: str
) -> None:
    snapshots = CountedSnapshots(client, ttl_s=600, prefix=snap_prefix)
    first_lead = RedisLeadership(client, key, "first", lease_s=0.5, renew_every_s=0.1)
    second_lead = RedisLeadership(
        client, key, "second", lease_s=0.5, renew_every_s=0.1, retry_s=0.02
    )
    await harness.live.set_presence("01", AIN_LISTENERS[0], Presence.BUSY, harness.clock.now())
    harness.fake.default_destination = Destination("answer", after_s=3, talk_s=600)
    first = harness.instance(snapshots)
    first.transport.leadership = first_lead
    second = harness.instance(snapshots)
    second.transport.leadership = second_lead
    try:
        await within(10, first.start(), "first instance starts")
        await within(5, first.transport.connected.wait(), "first instance connects")
        await within(10, second.start(), "standby starts")  # it waits for the lease
        waiting = harness.fake.incoming_call(AIN_115, CALLER)
        caller = Caller(presses=["01", "1"], gather_prompts=GATHER_PROMPTS)
        talking = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
        await advance(harness, snapshots, 30)
        assert first.transport.calls[waiting].wait.value == "hold"
        assert first.transport.calls[talking].wait.value == "connected"
        assert not second.transport.connected.is_set()
        assert await client.exists(snapshots.key(waiting))
        assert await client.exists(snapshots.key(talking))
        bridge = harness.fake.channels[talking].bridge

        await within(10, first.crash(), "first instance crashes")
        await within(5, first_lead.stop_renewing(), "stop renewing")  # its lease runs out
        harness.fake.drop_websocket()
        await within(5, second.transport.connected.wait(), "standby takes the websocket")
        await advance(harness, snapshots, 5)

        assert set(second.transport.calls) == {waiting, talking}
        assert harness.fake.channels[waiting].moh, "the caller hears music again"
        assert bridge is not None
        assert harness.fake.channels[talking].bridge == bridge, "the conversation goes on"
        state = second.runtime.state(waiting)
        assert state is not None
        assert state.phase in (Phase.QUEUED, Phase.QUEUE_REFRESH)
        announced = len(harness.fake.played[waiting])
        await advance(harness, snapshots, 120)
        assert len(harness.fake.played[waiting]) > announced, "announcements go on"

        await second.runtime.set_listener_presence("01", AIN_LISTENERS[0], Presence.AVAILABLE)
        await within(60, until_finished(harness, snapshots, waiting, second), "call ends")
        await within(60, until_finished(harness, snapshots, talking, second), "call ends")
        outcomes = {s.call_id: (s.outcome, s.connected_to) for s, _, _ in harness.records.calls}
        assert outcomes[waiting] == (Outcome.CONNECTED, AIN_LISTENERS[0])
        assert outcomes[talking][0] is Outcome.CONNECTED
        assert harness.fake.leaks() == []
        assert await client.keys(f"{snap_prefix}*") == []
        await within(10, second.shutdown(), "shutdown")
    finally:
        await within(5, first_lead.release(), "release")
        await within(5, second_lead.release(), "release")
        for instance in (first, second):
            if instance.task is not None and not instance.http.is_closed:
                await within(10, instance.shutdown(), "shutdown")
    assert await client.get(key) is None


async def test_given_lease_lost_then_transport_drops_websocket_and_leads_again_later(
    harness: Harness, client: aioredis.Redis, key: str
) -> None:
    lead = RedisLeadership(client, key, "only", lease_s=0.5, renew_every_s=0.05, retry_s=0.02)
    instance = harness.instance()
    instance.transport.leadership = lead
    try:
        await within(10, instance.start(), "instance starts")
        await within(5, instance.transport.connected.wait(), "instance connects")
        await client.set(key, "intruder", px=300)  # another instance took the lease

        await within(5, lead.lost.wait(), "the renewal finds the lease taken")
        await within(5, settle(), "settle")
        assert not instance.transport.connected.is_set()
        assert not harness.fake.connected

        await within(5, instance.transport.connected.wait(), "leads again once it expired")
        assert instance.transport.connections == 2
        assert await lead.holder() == "only"
        await within(10, instance.shutdown(), "shutdown")
    finally:
        await within(5, lead.release(), "release")
        if instance.task is not None and not instance.http.is_closed:
            await within(10, instance.shutdown(), "shutdown")


async def test_given_standby_transport_when_stopped_then_it_ends_without_being_cancelled(
    harness: Harness, client: aioredis.Redis, key: str
) -> None:
    await client.set(key, "other-instance", px=60_000)
    lead = RedisLeadership(client, key, "standby", lease_s=0.5, renew_every_s=0.1, retry_s=0.05)
    instance = harness.instance()
    instance.transport.leadership = lead
    stop = asyncio.Event()
    running = asyncio.ensure_future(instance.transport.run(stop))
    try:
        await asyncio.sleep(0.2)
        assert not running.done()
        assert not instance.transport.connected.is_set()
        stop.set()
        await within(2, running, "a standby transport told to stop")
        assert not running.cancelled()
        assert instance.transport.connections == 0
    finally:
        running.cancel()
        await within(5, asyncio.gather(running, return_exceptions=True), "clean up")
        await within(5, instance.http.aclose(), "clean up")
    assert await client.get(key) == b"other-instance"
