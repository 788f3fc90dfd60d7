"""Both live-state implementations behind one fixture: every behaviour test runs on each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.runtime.live_state import InMemoryLiveState
from ivr.state.local import DurableLiveState, LocalStore
from ivr.state.redis_state import RedisLiveState

SharedState = InMemoryLiveState | RedisLiveState


@pytest.fixture(params=["memory", "local", pytest.param("redis", marks=pytest.mark.redis)])
async def live(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SharedState]:
    """A fresh live state: in-process, in-process kept in a local file (the embedded
    default), or on a real (flushed) Redis database."""
    if request.param == "memory":
        yield InMemoryLiveState()
        return
    if request.param == "local":
        store = LocalStore(tmp_path / "live-state.sqlite3")
        yield DurableLiveState(store)
        store.close()
        return
    url: str = request.getfixturevalue("redis_url")
    state = RedisLiveState.from_url(url, prefix=request.getfixturevalue("redis_prefix"))
    try:
        yield state
    finally:
        await state.close()


@pytest.fixture
async def redis_pair(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[tuple[RedisLiveState, RedisLiveState]]:
    """Two independent clients of the same Redis, as two instances of the service are."""
    first = RedisLiveState.from_url(redis_url, prefix=redis_prefix)
    second = RedisLiveState.from_url(redis_url, prefix=redis_prefix)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def snapshot_of(call_id: str, owner: str, **extra: Any) -> Any:
    """A minimal call snapshot (the state dict of a fresh call)."""
    from ivr.flow.engine import CallState
    from ivr.runtime.live_state import CallSnapshot

    state = CallState(call_id=call_id, called="+33353010000", caller="+33612345678")
    return CallSnapshot(call_id=call_id, owner=owner, state=state.to_dict(), **extra)
