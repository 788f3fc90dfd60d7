"""The assembled service's start writes to the live state the support agents' pauses saved in
the records before the live state kept presence (embedded state, and Redis through the
resilient wrapper), without overwriting what the live state already knows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.app import create_app
from ivr.composition import build_services
from ivr.records import tickets
from ivr.runtime.live_state import Presence, SupportAgentState, support_away
from tests.app.test_assembled import settings_for

SUPPORT_1, SUPPORT_2 = "+33536490001", "+33536490002"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def test_given_pauses_saved_in_sql_when_the_service_starts_then_the_live_state_has_them(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    extra: dict[str, object] = {}
    if backend == "redis":
        extra = {
            "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    services = build_services(settings_for(tmp_path, **extra))
    tickets.set_agent(services.store, "agent1", SUPPORT_1, "paused")
    tickets.set_agent(services.store, "agent2", SUPPORT_2, "paused")
    # agent2 gave « disponible » since, through this version: the live state's entry wins.
    await services.live.set_support_agent(
        SupportAgentState("agent2", SUPPORT_2, Presence.AVAILABLE, NOW)
    )
    app = create_app(services)

    async with app.router.lifespan_context(app):
        found = {a.login: a.presence for a in await services.live.support_agents()}

    assert found == {"agent1": Presence.PAUSED, "agent2": Presence.AVAILABLE}
    assert [phone for phone, _ in support_away(await services.live.support_agents())] == [SUPPORT_1]
