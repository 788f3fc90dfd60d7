"""At start, a pause (or a sign-out) saved on the support page before the live state kept
presence is written to it, unless the live state already knows the agent: on memory, the
embedded durable local state and Redis, then through the assembled service's start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.records import tickets
from ivr.records.db import make_engine, upgrade
from ivr.records.store import RecordStore
from ivr.runtime.live_state import Presence, SupportAgentState
from ivr.state.redis_state import RedisLiveState
from ivr.state.support_carry_over import carry_over_support_presence, state_of
from tests.state.conftest import SharedState
from tests.state.test_support_presence import (
    SUPPORT_1,
    SUPPORT_2,
    agent,
    rung,
    runtime_on,
    tier2_dial,
)

SAVED = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # before this version was deployed


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    upgrade(engine)
    yield RecordStore(engine, lambda: SAVED)
    engine.dispose()


def by_login(agents: list[SupportAgentState]) -> dict[str, tuple[str | None, Presence]]:
    return {a.login: (a.phone, a.presence) for a in agents}


async def test_given_a_pause_saved_in_sql_only_when_the_service_starts_then_tier2_skips_it(
    live: SharedState, store: RecordStore
) -> None:
    tickets.set_agent(store, "agent1", SUPPORT_1, "paused")
    assert rung(await tier2_dial(runtime_on(live), "before")) == [SUPPORT_1]

    assert await carry_over_support_presence(store, live) == 1

    assert await live.support_agents() == [
        SupportAgentState("agent1", SUPPORT_1, Presence.PAUSED, SAVED)
    ]
    assert rung(await tier2_dial(runtime_on(live), "after")) == [SUPPORT_2]


async def test_given_sql_rows_then_only_paused_or_offline_agents_on_a_post_are_carried_over(
    live: SharedState, store: RecordStore
) -> None:
    tickets.set_agent(store, "agent1", SUPPORT_1, "offline")
    tickets.set_agent(store, "agent2", SUPPORT_2, "available")  # rung anyway: nothing to do
    tickets.set_agent(store, "agent3", None, "paused")  # no post: nothing to skip

    assert await carry_over_support_presence(store, live) == 1

    assert by_login(await live.support_agents()) == {"agent1": (SUPPORT_1, Presence.OFFLINE)}
    assert rung(await tier2_dial(runtime_on(live), "c1")) == [SUPPORT_2]


async def test_given_the_live_state_already_knows_the_agent_then_sql_does_not_overwrite_it(
    live: SharedState, store: RecordStore
) -> None:
    tickets.set_agent(store, "agent1", SUPPORT_1, "paused")
    await live.set_support_agent(agent("agent1", SUPPORT_1, Presence.AVAILABLE))

    assert await carry_over_support_presence(store, live) == 0

    assert await live.support_agents() == [agent("agent1", SUPPORT_1, Presence.AVAILABLE)]
    assert rung(await tier2_dial(runtime_on(live), "c1")) == [SUPPORT_1]


async def test_given_a_second_start_then_nothing_more_is_written(
    live: SharedState, store: RecordStore
) -> None:
    tickets.set_agent(store, "agent1", SUPPORT_1, "paused")
    assert await carry_over_support_presence(store, live) == 1
    await live.set_support_agent(agent("agent1", SUPPORT_1, Presence.AVAILABLE))  # the page

    assert await carry_over_support_presence(store, live) == 0

    assert by_login(await live.support_agents()) == {"agent1": (SUPPORT_1, Presence.AVAILABLE)}


async def test_given_two_instances_starting_on_redis_then_the_agent_is_written_once(
    redis_pair: tuple[RedisLiveState, RedisLiveState], store: RecordStore
) -> None:
    first, second = redis_pair
    tickets.set_agent(store, "agent1", SUPPORT_1, "paused")

    assert await carry_over_support_presence(store, first) == 1
    assert await carry_over_support_presence(store, second) == 0
    assert rung(await tier2_dial(runtime_on(second), "c1")) == [SUPPORT_2]


def test_given_a_row_read_back_without_its_zone_then_the_live_entry_is_in_utc(
    store: RecordStore,
) -> None:
    tickets.set_agent(store, "agent1", SUPPORT_1, "paused")
    row = tickets.agent(store, "agent1")
    assert row is not None
    row.updated_at = row.updated_at.replace(tzinfo=None)  # as SQLite gives it back
    assert state_of(row) == SupportAgentState("agent1", SUPPORT_1, Presence.PAUSED, SAVED)
