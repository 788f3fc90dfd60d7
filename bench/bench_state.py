"""Live-state operations per second on Redis, against raw Redis commands in the same run.

Run: ``.venv/bin/python bench/bench_state.py`` (``scripts/bench.sh`` pins it to one core).
Redis: ``IVR_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/12``, flushed before and
after). Every figure uses the same client (``redis.asyncio``, one connection pool) and the
same concurrency (``CONCURRENCY`` tasks), so the baseline is what Python can drive on raw
commands, measured in the same process a moment before:

- queue operations: ``enqueue`` then ``dequeue`` (a Lua script, then ZREM), against raw
  ZADD then ZREM of the same keys;
- claims: ``claim_next`` pairing the head call with the longest-free listener (one Lua
  script) after ``set_presence`` (one Lua script), against raw ZADD then ZPOPMIN;
- state updates: ``save_call`` of a real call snapshot (about 800 bytes of JSON, encoded
  each time; owner check and index in one Lua script), against raw SET of the same bytes.

Each comparison alternates rounds of raw commands and of our operations, so that the load
of other processes on the machine weighs on both alike.

Target (issue 3): at least half the raw rate. ``redis-benchmark`` (C, 50 clients) runs too,
for reference: it shows what the server itself can take.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import redis

from ivr.flow import build_flow
from ivr.flow.vocabulary import CallStarted, DigitsReceived
from ivr.runtime.live_state import CallSnapshot, Presence
from ivr.state.redis_state import RedisLiveState
from routing.loader import load_config

URL = os.environ.get("IVR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CONCURRENCY = 32
OPS = 20_000
ROUNDS = 10
CONFIG = Path(__file__).parent.parent / "config" / "departments.yaml"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def timed(ops: int, work: Callable[[int], Awaitable[object]], offset: int) -> float:
    """Seconds for ``ops`` calls of ``work(i)`` spread over CONCURRENCY tasks."""
    counter = iter(range(offset, offset + ops))

    async def worker() -> None:
        for i in counter:
            await work(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def compare(
    label: str,
    raw_label: str,
    ours: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
) -> tuple[float, float]:
    """Both rates, measured in alternating rounds so that a change of load on the machine
    weighs on both alike."""
    spent = {"ours": 0.0, "raw": 0.0}
    per_round = OPS // ROUNDS
    for n in range(ROUNDS):
        spent["raw"] += await timed(per_round, raw, n * per_round)
        spent["ours"] += await timed(per_round, ours, n * per_round)
    ours_rate, raw_rate = OPS / spent["ours"], OPS / spent["raw"]
    print(f"  {raw_label:<48} {raw_rate:>10,.0f} /s")
    print(f"  {label:<48} {ours_rate:>10,.0f} /s")
    return ours_rate, raw_rate


def snapshot_json() -> CallSnapshot:
    flow = build_flow(load_config(CONFIG))
    state, _ = flow.start(CallStarted("c", "+33806000156", "+33612345678"), T0)
    flow.step(state, DigitsReceived("93"), T0)
    flow.step(state, DigitsReceived("1"), T0)
    return CallSnapshot(
        "c",
        "bench",
        state.to_dict(),
        transport="ari",
        timers={"max_wait": T0},
        pending=[{"type": "hold"}],
    )


async def main() -> None:
    flush = redis.Redis.from_url(URL)
    flush.flushdb()
    state = RedisLiveState.from_url(URL, timeout_s=5.0)
    raw = state._r  # the same client and pool for the baseline
    snapshot = snapshot_json()
    payload = snapshot.to_json()
    print(
        f"Redis {URL}, {CONCURRENCY} concurrent tasks, {OPS:,} operations each figure, "
        f"in {ROUNDS} rounds alternating with the raw commands"
    )
    print(f"snapshot: {len(payload):,} bytes of JSON")
    try:
        await raw.ping()
        for i in range(2_000):  # warm up connections and script caches
            await state.enqueue("00", f"w{i}", 0, T0)
        queue, raw_queue = await compare(
            "enqueue + dequeue (Lua + ZREM)",
            "raw ZADD + ZREM",
            lambda i: _pair(
                state.enqueue("93", f"c{i}", 0, T0 + timedelta(milliseconds=i)),
                state.dequeue("93", f"c{i}"),
            ),
            lambda i: _pair(raw.zadd("raw:q", {f"c{i}": i}), raw.zrem("raw:q", f"c{i}")),
        )
        for i in range(OPS):
            await state.enqueue("94", f"q{i}", 0, T0 + timedelta(milliseconds=i))
        claim, raw_claim = await compare(
            "set_presence + claim_next (Lua + Lua)",
            "raw ZADD + ZPOPMIN",
            lambda i: _pair(
                state.set_presence("94", f"L{i}", Presence.AVAILABLE, T0),
                state.claim_next("94", T0, None),
            ),
            lambda i: _pair(raw.zadd("raw:free", {f"L{i}": i}), raw.zpopmin("raw:free")),
        )

        async def save(i: int) -> bool:
            snapshot.call_id = f"c{i % 500}"
            return await state.save_call(snapshot)

        saves, raw_set = await compare(
            "save_call (Lua: owner check, SET, index)",
            "raw SET (snapshot bytes)",
            save,
            lambda i: raw.set(f"raw:call:{i % 500}", payload),
        )
        print()
        for name, ours, base in (
            ("queue operations", queue, raw_queue),
            ("claims", claim, raw_claim),
            ("state updates", saves, raw_set),
        ):
            verdict = "met" if ours >= base / 2 else "MISSED"
            print(f"  {name:<18} {ours / base:.2f} of the raw rate (target >= 0.50: {verdict})")
    finally:
        flush.flushdb()
        flush.close()
        await state.close()
    reference()


async def _pair(first: Awaitable[object], second: Awaitable[object]) -> None:
    await first
    await second


def reference() -> None:
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return
    parts = urlsplit(URL)
    command = [
        binary,
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 6379),
        "-n",
        "100000",
        "-c",
        "50",
        "-q",
        "-t",
        "set,zadd,zpopmin",
    ]
    print("\nredis-benchmark (reference: the server driven from C, 50 clients):")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    for line in done.stdout.replace("\r", "\n").splitlines():
        if "requests per second" in line:
            print("  " + line.strip())


if __name__ == "__main__":
    asyncio.run(main())
