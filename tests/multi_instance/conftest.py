"""Two runtimes sharing one live state, as two instances share Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from ivr.flow.vocabulary import CallStarted, Event
from ivr.runtime.live_state import InMemoryLiveState
from ivr.runtime.runtime import CallRuntime, MediaCommand, MemoryRecords
from ivr.state.redis_state import RedisLiveState
from tests.state.helpers import MONDAY_10, RecordingTransport, shipped_flow

SharedState = InMemoryLiveState | RedisLiveState


@dataclass
class Instance:
    runtime: CallRuntime
    transport: RecordingTransport
    records: MemoryRecords

    async def start(self, event: CallStarted) -> list[MediaCommand]:
        """Start a call; what the runtime answers is kept with what it delivers later."""
        media = await self.runtime.start_call(event, self.transport)
        self.transport.delivered[event.call_id].extend(media)
        return media

    async def send(self, call_id: str, event: Event) -> list[MediaCommand]:
        media = await self.runtime.handle(call_id, event)
        self.transport.delivered[call_id].extend(media)
        return media


def instance(name: str, live: SharedState) -> Instance:
    transport = RecordingTransport()
    records = MemoryRecords()
    runtime = CallRuntime(
        shipped_flow(),
        live,
        lambda: MONDAY_10,
        records=records,
        registry=live,
        instance_id=name,
        transports={"rec": transport},
    )
    return Instance(runtime, transport, records)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        yield InMemoryLiveState()
        return
    state = RedisLiveState.from_url(
        request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
    )
    try:
        yield state
    finally:
        await state.close()
