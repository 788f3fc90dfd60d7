"""Call snapshots and the websocket lease on a real Redis; a takeover between two instances."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
from ivr.transports.ari import CallSnapshot
from ivr.transports.ari.redis_shared import RedisCallSnapshots
from ivr.transports.ari.transport import Leg, MediaSnapshot, Wait
from tests.ari.harness import MONDAY_10H

pytestmark = pytest.mark.redis

KEY = "ivr:ari:leader:test"


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
) -> None:
    snapshots = RedisCallSnapshots(client, ttl_s=60)
    snapshot = full_snapshot()

    await snapshots.save("chan-1", snapshot)
    loaded = await snapshots.load("chan-1")

    assert loaded == snapshot
    assert loaded is not None
    assert loaded.state.summary == snapshot.state.summary
    assert 0 < await client.pttl("ivr:ari:snap:chan-1") <= 60_000
    await snapshots.delete("chan-1")
    assert await snapshots.load("chan-1") is None
    assert await snapshots.load("never-saved") is None


async def test_given_unreadable_snapshot_then_load_returns_none(client: aioredis.Redis) -> None:
    await client.set("ivr:ari:snap:bad", b'{"state": {}}')
    assert await RedisCallSnapshots(client).load("bad") is None
