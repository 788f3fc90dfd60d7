"""The ARI transport under 2,000 concurrent 115 calls, against the in-process fake Asterisk.

Run: ``.venv/bin/python bench/bench_ari.py`` (``scripts/bench.sh`` pins it to one core).
2,000 calls arrive on the 115 numbers of the 101 départements, are answered, hear the
welcome, the recording notice and their queue position, and wait on hold (every listener
is on a call) while the announcement timer replays their position every minute; the bench
runs six minutes of (virtual) time. Measured: events handled per second (CPU time of the
process) and event-to-command latency (wall time from the fake emitting an event to the
first REST request it causes on that channel, p50 and p99).

Baseline, same process, same fake and same event stream shape: a loop that only parses
each event and sends one request: a prompt on the channel for each StasisStart and
PlaybackFinished (for as many prompts per call as the service played, each of as many
media as the service's on average, so that Asterisk tells the same PlaybackStarted and
PlaybackContinuing events), ``GET /channels/{id}`` for any other event.
Targets (issue 4): 2,000 calls held, p99 at most 5 ms, throughput at least half the
baseline's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tests.support.fake_asterisk import FakeAsterisk, VirtualClock, settle

from ivr.flow import build_flow
from ivr.runtime.live_state import InMemoryLiveState, Presence
from ivr.runtime.runtime import CallRuntime
from ivr.transports.ari import AriTransport
from ivr.transports.ari.client import AriClient, AriError
from ivr.transports.ari.swagger import AriSpec
from routing.loader import load_config

CALLS = int(__import__("os").environ.get("BENCH_CALLS", "2000"))
MINUTES = 6
ARRIVAL_S = 60.0
CONFIG = Path(__file__).parent.parent / "config" / "departments.yaml"
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
URL = "http://asterisk.bench:8088"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def arrivals(clock: VirtualClock, fake: FakeAsterisk, numbers: list[str]) -> None:
    """CALLS calls arriving evenly over ARRIVAL_S seconds (all of them stay)."""

    def arrive(number: str, caller: str) -> None:
        fake.incoming_call(number, caller)

    for i in range(CALLS):
        clock.call_later(
            ARRIVAL_S * i / CALLS,
            functools.partial(arrive, numbers[i % len(numbers)], f"+336{10_000_000 + i}"),
        )


async def service_run(spec: AriSpec) -> dict[str, float]:
    config = load_config(CONFIG)
    flow = build_flow(config)
    clock = VirtualClock(AT)
    fake = FakeAsterisk(clock, spec, reply_yields=1)
    live = InMemoryLiveState()
    for code, dep in config.departements.items():
        await live.record_handling_time(code, 30)
        for contact in dep.line_115.listeners:
            await live.set_presence(code, contact.number, Presence.BUSY, clock.now())
    runtime = CallRuntime(flow, live, clock.now, timers=clock)
    http = httpx.AsyncClient(transport=fake.http_transport())
    transport = AriTransport(
        url=URL,
        user=fake.user,
        password=fake.password,
        app=fake.app,
        dial_template="PJSIP/{number}@operator",
        runtime=runtime,
        http=http,
        connector=fake.connect,
        scheduler=clock,
    )
    stop = asyncio.Event()
    task = asyncio.ensure_future(transport.run(stop))
    await settle()
    numbers = [dep.line_115.inbound_numbers[0] for dep in config.departements.values()]
    fake.measure = True
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await arrivals(clock, fake, numbers)
    await clock.advance(MINUTES * 60)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    held = sum(1 for c in transport.calls.values() if c.wait.value in ("hold", "playback"))
    waiting = sum([len(await live.waiting_calls(code)) for code in config.departements])
    play_requests = fake.calls_to("playWithId")
    plays = len(play_requests)
    media = sum(len(str(r.params["media"]).split(",")) for r in play_requests)
    result = {
        "events": transport.received,
        "cpu_s": cpu,
        "wall_s": wall,
        "events_per_s": transport.received / cpu,
        "p50_ms": percentile(fake.latencies, 0.50) * 1000,
        "p99_ms": percentile(fake.latencies, 0.99) * 1000,
        "held": held,
        "queued": waiting,
        "plays_per_call": plays / CALLS,
        "media_per_play": media / max(plays, 1),
        "requests": len(fake.requests),
    }
    stop.set()
    await task
    await transport.close()
    await http.aclose()
    return result


async def baseline_run(spec: AriSpec, plays_per_call: int, media_per_play: int) -> dict[str, float]:
    clock = VirtualClock(AT)
    fake = FakeAsterisk(clock, spec, reply_yields=1)
    http = httpx.AsyncClient(transport=fake.http_transport())
    client = AriClient(http, URL, fake.user, fake.password)
    played: dict[str, int] = {}
    events = 0
    counter = 0

    async def answer(channel: str) -> None:
        nonlocal counter
        counter += 1
        media = ["sound:ivr/welcome_115"] * media_per_play
        await client.play(channel, f"{channel}-b{counter}", media, "fr")

    async def look(channel: str) -> None:
        with contextlib.suppress(AriError):
            await client.request("GET", f"/channels/{channel}")

    async def consume(messages: AsyncIterator[str]) -> None:
        nonlocal events
        tasks: set[asyncio.Task[None]] = set()
        async for raw in messages:
            event = json.loads(raw)
            if event.get("application") != fake.app:
                continue
            events += 1
            kind = event["type"]
            if kind in ("PlaybackStarted", "PlaybackContinuing"):
                channel = event["playback"]["target_uri"].removeprefix("channel:")
                task = asyncio.ensure_future(look(channel))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                continue
            if kind == "PlaybackFinished":
                channel = event["playback"]["target_uri"].removeprefix("channel:")
            else:
                channel = event["channel"]["id"]
            played[channel] = played.get(channel, 0) + 1
            if played[channel] <= plays_per_call:
                task = asyncio.ensure_future(answer(channel))
            else:
                task = asyncio.ensure_future(look(channel))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async with fake.connect(client.events_url(fake.app), client._headers) as messages:
        reader = asyncio.ensure_future(consume(messages))
        await settle()
        fake.measure = True
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await arrivals(clock, fake, ["+33353010000"])
        await clock.advance(MINUTES * 60)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        fake.drop_websocket()
        await asyncio.gather(reader, return_exceptions=True)
    await http.aclose()
    return {
        "events": events,
        "cpu_s": cpu,
        "wall_s": wall,
        "events_per_s": events / cpu,
        "p50_ms": percentile(fake.latencies, 0.50) * 1000,
        "p99_ms": percentile(fake.latencies, 0.99) * 1000,
    }


async def main() -> None:
    spec = AriSpec.load()
    service = await service_run(spec)
    baseline = await baseline_run(
        spec, round(service["plays_per_call"]), round(service["media_per_play"])
    )
    print(f"calls: {CALLS}, virtual time: {MINUTES} min")
    print(
        f"service : {service['events']:.0f} events in {service['cpu_s']:.2f} s CPU "
        f"({service['wall_s']:.2f} s wall) = {service['events_per_s']:,.0f} events/s; "
        f"event->command p50 {service['p50_ms']:.3f} ms, p99 {service['p99_ms']:.3f} ms; "
        f"held at the end {service['held']:.0f}, queued {service['queued']:.0f}; "
        f"{service['plays_per_call']:.1f} prompts per call of {service['media_per_play']:.1f} "
        f"media, {service['requests']:.0f} requests"
    )
    print(
        f"baseline: {baseline['events']:.0f} events in {baseline['cpu_s']:.2f} s CPU "
        f"({baseline['wall_s']:.2f} s wall) = {baseline['events_per_s']:,.0f} events/s; "
        f"event->command p50 {baseline['p50_ms']:.3f} ms, p99 {baseline['p99_ms']:.3f} ms"
    )
    ratio = service["events_per_s"] / baseline["events_per_s"]
    print(f"throughput ratio service/baseline: {ratio:.2f} (target >= 0.5)")
    print(f"p99 target <= 5 ms: {'met' if service['p99_ms'] <= 5 else 'NOT met'}")
    print(f"2,000 held: {'met' if service['held'] >= CALLS else 'NOT met'}")


if __name__ == "__main__":
    asyncio.run(main())
