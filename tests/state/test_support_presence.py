"""National support agents' presence in the live state, and the tier-2 hunt that reads it
through the real runtime: on memory, the embedded durable local state and Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.flow.vocabulary import (
    CallerHungUp,
    CallStarted,
    Dial,
    DialOutcome,
    DigitsReceived,
    Play,
)
from ivr.runtime.live_state import Presence, SupportAgentState, support_away
from ivr.runtime.runtime import CallRuntime, MediaCommand, MemoryRecords
from ivr.state.local import DurableLiveState, LocalStore
from ivr.state.redis_state import RedisLiveState
from ivr.state.resilient import ResilientLiveState
from tests.state.conftest import SharedState
from tests.state.helpers import (
    ASSISTANCE,
    CALLER,
    MONDAY_10,
    RecordingTransport,
    RedisServer,
    eventually,
    shipped_flow,
)

SUPPORT_1, SUPPORT_2 = "+33536490001", "+33536490002"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RGPD = "4"  # a level-2 reason of the shipped menu: straight to tier 2


def agent(login: str, phone: str | None, presence: Presence) -> SupportAgentState:
    return SupportAgentState(login, phone, presence, T0)


# --------------------------------------------------------------------------- the rule


def test_given_agents_then_only_posts_without_an_available_agent_are_away() -> None:
    agents = [
        agent("a", SUPPORT_1, Presence.PAUSED),
        agent("b", SUPPORT_1, Presence.AVAILABLE),  # one available agent keeps it ringing
        agent("c", SUPPORT_2, Presence.OFFLINE),
        agent("d", "+33612000000", Presence.PAUSED),
        agent("e", None, Presence.PAUSED),  # no post: nothing to skip
    ]
    assert support_away(agents) == (
        (SUPPORT_2, DialOutcome.OFFLINE),
        ("+33612000000", DialOutcome.PAUSED),
    )


def test_given_one_agent_paused_and_one_offline_on_a_post_then_it_is_paused() -> None:
    agents = [agent("a", SUPPORT_1, Presence.OFFLINE), agent("b", SUPPORT_1, Presence.PAUSED)]
    assert support_away(agents) == ((SUPPORT_1, DialOutcome.PAUSED),)


# --------------------------------------------------------------------------- live state


async def test_given_an_agent_changes_presence_then_the_last_one_is_kept(
    live: SharedState,
) -> None:
    assert await live.support_agents() == []
    await live.set_support_agent(agent("agent1", SUPPORT_1, Presence.AVAILABLE))
    await live.set_support_agent(agent("agent1", SUPPORT_1, Presence.PAUSED))
    await live.set_support_agent(agent("agent2", SUPPORT_2, Presence.OFFLINE))
    found = sorted(await live.support_agents(), key=lambda a: a.login)
    assert found == [
        agent("agent1", SUPPORT_1, Presence.PAUSED),
        agent("agent2", SUPPORT_2, Presence.OFFLINE),
    ]


async def test_given_an_agent_moves_to_another_post_then_the_old_post_is_no_longer_claimed(
    live: SharedState,
) -> None:
    await live.set_support_agent(agent("agent1", SUPPORT_1, Presence.PAUSED))
    await live.set_support_agent(agent("agent1", SUPPORT_2, Presence.PAUSED))
    assert support_away(await live.support_agents()) == ((SUPPORT_2, DialOutcome.PAUSED),)


async def test_given_durable_local_state_then_presence_survives_a_restart(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "live-state.sqlite3")
    await DurableLiveState(store).set_support_agent(agent("agent1", SUPPORT_1, Presence.PAUSED))
    store.close()
    reopened = LocalStore(tmp_path / "live-state.sqlite3")
    try:
        found = await DurableLiveState(reopened).support_agents()
    finally:
        reopened.close()
    assert found == [agent("agent1", SUPPORT_1, Presence.PAUSED)]


# --------------------------------------------------------------------------- the runtime


def runtime_on(live: SharedState, records: MemoryRecords | None = None) -> CallRuntime:
    return CallRuntime(shipped_flow(), live, lambda: MONDAY_10, records=records)


async def tier2_dial(runtime: CallRuntime, call_id: str) -> list[MediaCommand]:
    """An assistance call for Paris with a level-2 reason; the media of that answer."""
    await runtime.start_call(CallStarted(call_id, ASSISTANCE, CALLER), RecordingTransport())
    await runtime.handle(call_id, DigitsReceived("75"))
    return await runtime.handle(call_id, DigitsReceived(RGPD))


def rung(media: list[MediaCommand]) -> list[str]:
    return [t.number for m in media if isinstance(m, Dial) for t in m.targets]


async def test_given_support_1_paused_when_a_call_reaches_tier2_then_support_2_rings(
    live: SharedState,
) -> None:
    records = MemoryRecords()
    runtime = runtime_on(live, records)
    await runtime.set_support_agent("agent1", SUPPORT_1, Presence.PAUSED)
    assert rung(await tier2_dial(runtime, "c1")) == [SUPPORT_2]
    await runtime.handle("c1", CallerHungUp())
    summary = records.calls[-1][0]
    assert [(a.number, a.result.value) for a in summary.attempts] == [(SUPPORT_1, "paused")]


async def test_given_agent_available_again_when_a_call_reaches_tier2_then_support_1_rings(
    live: SharedState,
) -> None:
    runtime = runtime_on(live)
    await runtime.set_support_agent("agent1", SUPPORT_1, Presence.PAUSED)
    await runtime.set_support_agent("agent1", SUPPORT_1, Presence.AVAILABLE)
    assert rung(await tier2_dial(runtime, "c1")) == [SUPPORT_1]


async def test_given_every_post_away_when_a_call_reaches_tier2_then_urgent_email_and_hang_up(
    live: SharedState,
) -> None:
    records = MemoryRecords()
    runtime = runtime_on(live, records)
    await runtime.set_support_agent("agent1", SUPPORT_1, Presence.PAUSED)
    await runtime.set_support_agent("agent2", SUPPORT_2, Presence.OFFLINE)
    media = await tier2_dial(runtime, "c1")
    assert rung(media) == []
    assert [m.prompt.id for m in media if isinstance(m, Play)] == ["urgent_email"]
    summary = records.calls[-1][0]
    assert summary.outcome is not None
    assert summary.outcome.value == "message"
    assert [(a.number, a.result.value) for a in summary.attempts] == [
        (SUPPORT_1, "paused"),
        (SUPPORT_2, "offline"),
    ]


async def test_given_two_instances_on_redis_then_a_pause_given_on_one_is_obeyed_by_the_other(
    redis_pair: tuple[RedisLiveState, RedisLiveState],
) -> None:
    first, second = redis_pair
    await runtime_on(first).set_support_agent("agent1", SUPPORT_1, Presence.PAUSED)
    assert rung(await tier2_dial(runtime_on(second), "c1")) == [SUPPORT_2]


@pytest.mark.redis
async def test_given_redis_down_then_presence_is_kept_locally_and_written_back_when_it_returns(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    state = ResilientLiveState(
        RedisLiveState.from_url(server.url, timeout_s=0.3),
        clock=lambda: datetime.now(UTC),
        retry_every_s=0.1,
    )
    try:
        await state.set_support_agent(agent("agent1", SUPPORT_1, Presence.PAUSED))
        server.stop()
        await state.set_support_agent(agent("agent2", SUPPORT_2, Presence.OFFLINE))
        assert state.degraded
        assert support_away(await state.support_agents()) == (
            (SUPPORT_1, DialOutcome.PAUSED),
            (SUPPORT_2, DialOutcome.OFFLINE),
        )
        server.start()  # no persistence: Redis is back empty
        await eventually(lambda: not state.degraded)
        fresh = RedisLiveState.from_url(server.url)
        try:
            found = sorted(await fresh.support_agents(), key=lambda a: a.login)
        finally:
            await fresh.close()
        assert [(a.login, a.presence) for a in found] == [
            ("agent1", Presence.PAUSED),
            ("agent2", Presence.OFFLINE),
        ]
    finally:
        await state.close()
        server.stop()
