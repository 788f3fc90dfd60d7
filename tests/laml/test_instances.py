"""Several instances behind a load balancer: a webhook that lands on another instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from ivr.flow import CallFlow, Phase
from ivr.flow.vocabulary import Outcome
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.runtime import CallRuntime, MemoryRecords
from ivr.transports.laml import LamlConfig, LamlTransport, MemoryProviderEvents, laml_router
from tests.laml.fakes import (
    ACCOUNT_SID,
    ASSISTANCE,
    AUTH_TOKEN,
    PARIS_115,
    PARIS_LISTENERS,
    PARIS_REFERENTS,
    PRIVATE_BASE_URL,
    PUBLIC_BASE_URL,
    FakeClock,
    FakeProvider,
    InboundCall,
    ManualTimers,
    Phone,
    outbound_fields,
)
from tests.laml.harness import OPEN_HOURS


@dataclass
class Instance:
    runtime: CallRuntime
    transport: LamlTransport
    provider: FakeProvider
    phone: Phone
    records: MemoryRecords


@asynccontextmanager
async def two_instances(flow: CallFlow) -> AsyncIterator[tuple[Instance, Instance]]:
    shared = InMemoryLiveState()  # live state and call registry, as Redis is for instances
    clock = FakeClock(OPEN_HOURS)
    async with AsyncExitStack() as stack:
        instances = []
        for name in ("a", "b"):
            records = MemoryRecords()
            runtime = CallRuntime(
                flow, shared, clock, ManualTimers(), records, registry=shared, instance_id=name
            )
            provider = FakeProvider()
            config = LamlConfig(
                auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID
            )
            transport = LamlTransport(runtime, config, provider, clock, MemoryProviderEvents())
            runtime.register_transport("laml", transport)
            app = FastAPI()
            app.include_router(laml_router(transport))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PRIVATE_BASE_URL)
            )
            instances.append(Instance(runtime, transport, provider, Phone(http), records))
        yield instances[0], instances[1]
        for instance in instances:
            await instance.runtime.drain()
            await instance.transport.drain()


async def test_given_menu_webhook_lands_on_another_instance_then_it_adopts_the_call(
    flow: CallFlow,
) -> None:
    async with two_instances(flow) as (a, b):
        call = InboundCall(a.phone, ASSISTANCE)
        first = await call.start()
        call.phone = b.phone  # the load balancer sends the next requests to b
        menu = await call.press(first, "75")
        assert menu.only("Gather").child("Say").text.startswith("Précisez le motif")
        assert b.runtime.state(call.sid) is not None
        doc = await call.press(menu, "1")
        assert doc.dialled() == [PARIS_REFERENTS[0]]
        end = await call.dial_ends(doc, "completed", answered_by=PARIS_REFERENTS[0])
        assert end.tags == ["Hangup"]
        [(summary, _, _)] = b.records.calls
        assert summary.outcome is Outcome.CONNECTED
        assert summary.departement == "75"


async def test_given_queued_caller_waits_on_another_instance_then_listener_still_bridges(
    flow: CallFlow,
) -> None:
    async with two_instances(flow) as (a, b):
        await a.runtime.set_listener_presence("75", PARIS_LISTENERS[0], Presence.BUSY)
        call = InboundCall(a.phone, PARIS_115)
        doc = await call.start()
        call.phone = b.phone
        wait = await call.wait(doc)  # b adopts the call from its wait URL
        assert wait.tags == ["Gather"]  # the caller keeps waiting, now driven by b
        state = b.runtime.state(call.sid)
        assert state is not None
        assert state.phase is Phase.QUEUED
        await b.runtime.set_listener_presence("75", PARIS_LISTENERS[0], Presence.AVAILABLE)
        await b.runtime.drain()
        await b.transport.drain()
        [(sid, leg)] = b.provider.created
        answer = await b.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
        assert answer.only("Dial").child("Queue").text == f"ivr-{call.sid}"
        end = await call.leave_queue(doc, "bridged")
        assert end.tags == ["Hangup"]
