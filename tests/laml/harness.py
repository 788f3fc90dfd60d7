"""The service as the provider sees it: runtime, transport and routes, behind a proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from ivr.flow import CallFlow
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.runtime import CallRuntime, MemoryCallbacks, MemoryRecords
from ivr.transports.laml import LamlConfig, LamlTransport, MemoryProviderEvents, laml_router
from tests.laml.fakes import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PRIVATE_BASE_URL,
    PUBLIC_BASE_URL,
    FakeClock,
    FakeProvider,
    ManualTimers,
    Phone,
)

PARIS = ZoneInfo("Europe/Paris")
# A Monday morning: the assistance line and national support are open.
OPEN_HOURS = datetime(2025, 3, 10, 10, 0, tzinfo=PARIS)
# A Sunday night: everything but the 115 is closed.
SUNDAY_NIGHT = datetime(2025, 3, 9, 23, 0, tzinfo=PARIS)


@dataclass
class Harness:
    runtime: CallRuntime
    transport: LamlTransport
    provider: FakeProvider
    timers: ManualTimers
    clock: FakeClock
    live: InMemoryLiveState
    events: MemoryProviderEvents
    records: MemoryRecords
    callbacks: MemoryCallbacks
    phone: Phone

    async def listeners(self, departement: str, **presence: Presence) -> None:
        """Set listeners' presence by number, e.g. ``listeners("75", **{num: AVAILABLE})``."""
        for number, state in presence.items():
            await self.runtime.set_listener_presence(departement, number, state)

    async def settle(self) -> None:
        """Let background work finish (dispatches, REST calls, sink writes)."""
        for _ in range(3):
            await self.runtime.drain()
            await self.transport.drain()


@asynccontextmanager
async def running(
    flow: CallFlow, now: datetime = OPEN_HOURS, **options: object
) -> AsyncIterator[Harness]:
    clock = FakeClock(now)
    live = InMemoryLiveState()
    timers = ManualTimers()
    records = MemoryRecords()
    callbacks = MemoryCallbacks()
    runtime = CallRuntime(flow, live, clock, timers, records, callbacks)
    provider = FakeProvider()
    events = MemoryProviderEvents()
    config = LamlConfig(
        auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC_BASE_URL,
        account_sid=ACCOUNT_SID,
        **options,  # type: ignore[arg-type]
    )
    transport = LamlTransport(runtime, config, provider, clock, events)
    app = FastAPI()
    app.include_router(laml_router(transport))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PRIVATE_BASE_URL
    ) as http:
        yield Harness(
            runtime,
            transport,
            provider,
            timers,
            clock,
            live,
            events,
            records,
            callbacks,
            Phone(http),
        )
        await runtime.drain()
        await transport.drain()
