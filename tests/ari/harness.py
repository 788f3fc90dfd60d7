"""A running ARI transport against the fake Asterisk, on virtual time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

import httpx

from ivr.flow import CallFlow, build_flow
from ivr.flow.vocabulary import CallSummary
from ivr.runtime.live_state import CallRegistry, InMemoryLiveState, LiveState, Presence
from ivr.runtime.runtime import CallRuntime, MemoryCallbacks, MemoryRecords
from ivr.sim.simulator import CallScript
from ivr.transports.ari import AriTransport, Backoff, CallSnapshots
from ivr.transports.ari.swagger import AriSpec
from routing.config import RoutingConfig
from routing.loader import load_config
from tests.support.fake_asterisk import Caller, Destination, FakeAsterisk, VirtualClock, settle

# Monday 23 November 2026, 10:00 in Paris: tier 1 and tier 2 are both open.
MONDAY_10H = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
URL = "http://asterisk.test:8088"
GATHER_PROMPTS = frozenset(
    {"ask_departement", "ask_corse", "ask_outremer", "reason_menu", "callback_offer"}
)


@cache
def routing_config() -> RoutingConfig:
    return load_config("config/departments.yaml")


@cache
def flow() -> CallFlow:
    return build_flow(routing_config())


@cache
def spec() -> AriSpec:
    return AriSpec.load()


@dataclass
class Instance:
    """One process of the service: runtime and transport."""

    transport: AriTransport
    runtime: CallRuntime
    http: httpx.AsyncClient
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.transport.run(self.stop))
        await settle()

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task
        await self.transport.close()
        await self.runtime.drain()
        await self.http.aclose()

    async def crash(self) -> None:
        """The process dies: nothing is cleaned up, nothing more is sent."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        for call in self.transport.calls.values():
            call.ended = True
        await self.transport.close()
        for key in list(self.runtime.calls):
            self.runtime.timers.cancel_call(key)
        self.runtime.calls.clear()
        await self.http.aclose()


class Harness:
    """The fake Asterisk, shared live state and records, and one or more instances."""

    def __init__(self, *, reply_yields: int = 2, dial_events: bool = True) -> None:
        self.clock = VirtualClock(MONDAY_10H)
        self.fake = FakeAsterisk(
            self.clock,
            spec(),
            extra_apps=("caller",),
            reply_yields=reply_yields,
            dial_events=dial_events,
        )
        self.live = InMemoryLiveState()
        self.records = MemoryRecords()
        self.callbacks = MemoryCallbacks()
        self.flow = flow()
        self.instances: list[Instance] = []

    def instance(
        self,
        snapshots: CallSnapshots | None = None,
        *,
        registry: CallRegistry | None = None,
        instance_id: str = "local",
        live: LiveState | None = None,
    ) -> Instance:
        """One process; ``registry`` (the harness's live state, say) shares its calls with
        the other instances as Redis does in production; ``live``: its own live state (a
        process restarted on the local file), instead of the harness's."""
        runtime = CallRuntime(
            self.flow,
            live if live is not None else self.live,
            self.clock.now,
            timers=self.clock,
            records=self.records,
            callbacks=self.callbacks,
            registry=registry,
            instance_id=instance_id,
        )
        http = httpx.AsyncClient(transport=self.fake.http_transport())
        transport = AriTransport(
            url=URL,
            user=self.fake.user,
            password=self.fake.password,
            app=self.fake.app,
            dial_template="PJSIP/{number}@operator",
            runtime=runtime,
            http=http,
            connector=self.fake.connect,
            scheduler=self.clock,
            snapshots=snapshots,
            backoff=Backoff(initial_s=0.5, maximum_s=8.0),
        )
        instance = Instance(transport, runtime, http)
        self.instances.append(instance)
        return instance

    async def close(self) -> None:
        for instance in self.instances:
            if instance.task is not None and not instance.http.is_closed:
                await instance.shutdown()
        await settle()

    async def listeners(self, departement: str, count: int) -> None:
        dep = self.flow.config.departement(departement)
        assert dep is not None
        for contact in dep.line_115.listeners[:count]:
            await self.live.set_presence(
                departement, contact.number, Presence.AVAILABLE, self.clock.now()
            )

    def destinations_for(self, script: CallScript) -> None:
        for number in script.busy:
            self.fake.destinations[number] = Destination("busy", after_s=2)
        for number in script.no_answer:
            self.fake.destinations[number] = Destination("no_answer")
        for number in script.failed:
            self.fake.destinations[number] = Destination("fail")
        if script.nobody_answers:
            self.fake.default_destination = Destination("no_answer")

    async def run_until_finished(
        self, channel_id: str, instance: Instance, limit_s: float = 7200
    ) -> None:
        end = self.clock.t + limit_s
        while self.clock.t < end:
            await settle()
            if (
                channel_id not in instance.runtime.calls
                and channel_id not in instance.transport.calls
            ):
                return
            if not await self.clock.run_next():
                return

    async def run_script(self, script: CallScript, instance: Instance) -> CallSummary:
        """A call as the simulator's script describes it, through ARI."""
        self.destinations_for(script)
        caller = Caller(
            presses=list(script.presses), gather_prompts=GATHER_PROMPTS, typed=list(script.typed)
        )
        channel = self.fake.incoming_call(
            script.to_number, script.from_number or "anonymous", caller=caller
        )
        end = self.clock.t + 7200
        while self.clock.t < end:
            await settle()
            state = instance.runtime.state(channel)
            if state is None and channel not in instance.transport.calls:
                break
            if (
                script.hang_up_at is not None
                and state is not None
                and state.phase is script.hang_up_at
                and channel in self.fake.channels
            ):
                self.fake.hang_up(channel)
                continue
            if not await self.clock.run_next():
                break
        await settle()
        summaries = [s for s, _, _ in self.records.calls if s.call_id == channel]
        assert summaries, f"call {channel} never finished"
        return summaries[-1]
