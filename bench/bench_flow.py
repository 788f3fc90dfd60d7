"""Simulated calls per second through the real call runtime, and memory per live call.

Run: ``.venv/bin/python bench/bench_flow.py`` (``scripts/bench.sh`` pins it to one core).
The simulator (``ivr.sim``) runs each call through ``CallRuntime`` on in-memory live state
and a virtual clock, the simulated caller as its transport: what ``ivr simulate``, the
tests and the lab comparison run. Both figures are compared with a baseline measured in
the same process:
- throughput: the flow alone doing the same work: every call's start and events, recorded
  from an untimed run of the same 10,000 calls, replayed into ``CallFlow`` (no runtime, no
  live state, no caller, no clock); five rounds alternating with the simulator's, medians;
- memory: 10,000 plain dicts holding a call id and a phase, the least a call can weigh.
Targets (issue 2): at least 5,000 whole simulated calls per second on one core, at most
10 KB per live call. Time is this process's CPU time (``time.process_time``): the work is
CPU-bound and single-threaded, so the figure depends little on what else the machine runs.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from ivr.flow import build_flow
from ivr.flow.engine import CallState, Phase
from ivr.flow.vocabulary import CallStarted, Command, Event, QueueStatus, QueueStatusFetched
from ivr.sim.simulator import CallScript, Simulator
from routing.loader import load_config

CALLS = 10_000
ROUNDS = 5
CONFIG = Path(__file__).parent.parent / "config" / "departments.yaml"
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Paris


def scripts(config_path: Path = CONFIG) -> list[CallScript]:
    """A mix of both lines and their main branches, spread over the 101 départements."""
    config = load_config(config_path)
    codes = list(config.departements)
    out: list[CallScript] = []
    for i in range(CALLS):
        code = codes[i % len(codes)]
        dep = config.departements[code]
        kind = i % 6
        caller = f"+3361234{i % 10000:04d}"
        if kind == 0:  # assistance, straight to a referent
            keys = ["20", "1"] if code == "2A" else ["75"]
            out.append(CallScript(config.national.assistance_number, caller, presses=keys))
        elif kind == 1:  # assistance, nobody answers: tier 1, tier 2, message
            out.append(
                CallScript(config.national.assistance_number, caller, ["69"], nobody_answers=True)
            )
        elif kind == 2:  # 115 queued then a listener
            out.append(
                CallScript(dep.line_115.inbound_numbers[0], caller, waiting=i % 4, listeners=2)
            )
        elif kind == 3:  # 115 saturated, call-back requested
            out.append(CallScript(dep.line_115.inbound_numbers[0], caller, ["1"], waiting=500))
        elif kind == 4:  # 115 with no listener: LRO
            out.append(CallScript(dep.line_115.inbound_numbers[0], caller, listeners=0))
        else:  # 115 caller leaves the queue
            out.append(
                CallScript(
                    dep.line_115.inbound_numbers[0], None, hang_up_at=Phase.QUEUED, waiting=2
                )
            )
    return out


Recorded = tuple[CallStarted, datetime, list[tuple[Event, datetime]]]


def record_flow_work(work: list[CallScript]) -> list[Recorded]:
    """Every call's flow work as the runtime asks for it (the start, then each event with
    its moment), from an untimed run of the same calls: the baseline replays it."""
    flow = build_flow(load_config(CONFIG))
    calls: dict[str, Recorded] = {}
    start, step = flow.start, flow.step

    def recording_start(event: CallStarted, now: datetime) -> tuple[CallState, list[Command]]:
        calls[event.call_id] = (event, now, [])
        return start(event, now)

    def recording_step(state: CallState, event: Event, now: datetime) -> list[Command]:
        calls[state.call_id][2].append((event, now))
        return step(state, event, now)

    flow.start = recording_start  # type: ignore[method-assign]
    flow.step = recording_step  # type: ignore[method-assign]
    simulator = Simulator(flow, record_steps=False)
    for script in work:
        simulator.run(script, AT)
    return list(calls.values())


def simulate(work: list[CallScript]) -> float:
    """Calls per CPU second through the simulator: runtime, live state, caller, clock."""
    simulator = Simulator(build_flow(load_config(CONFIG)), record_steps=False)
    start = time.process_time()
    for script in work:
        simulator.run(script, AT)
    return len(work) / (time.process_time() - start)


def replay(recorded: list[Recorded]) -> float:
    """Calls per CPU second of the flow alone: the same starts and events, in order."""
    flow = build_flow(load_config(CONFIG))
    start = time.process_time()
    for event, at, steps in recorded:
        state, _ = flow.start(event, at)
        for step, now in steps:
            flow.step(state, step, now)
        assert state.phase is Phase.ENDED
    return len(recorded) / (time.process_time() - start)


def bench_throughput() -> tuple[float, float, int]:
    work = scripts()
    recorded = record_flow_work(work)
    events = sum(len(steps) for _, _, steps in recorded)
    simulate(work[:200])  # warm caches (holiday tables, opening hours)
    replay(recorded[:200])
    rates: list[float] = []
    baselines: list[float] = []
    for _ in range(ROUNDS):  # alternated, so that the machine's load weighs on both
        rates.append(simulate(work))
        baselines.append(replay(recorded))
    return statistics.median(rates), statistics.median(baselines), events


def bench_memory() -> tuple[float, float]:
    config = load_config(CONFIG)
    flow = build_flow(config)
    number = config.departements["75"].line_115.inbound_numbers[0]
    waiting = QueueStatusFetched(QueueStatus(3, 2, 0, 600))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    live = []
    for i in range(CALLS):
        state, _ = flow.start(CallStarted(f"m{i}", number, f"+336{i:08d}"), AT)
        flow.step(state, waiting, AT)  # welcome, queue, announcements: a call on hold
        live.append(state)
    after = tracemalloc.take_snapshot()
    per_call = sum(s.size_diff for s in after.compare_to(before, "filename")) / CALLS
    assert all(s.phase is Phase.QUEUED for s in live)

    before = tracemalloc.take_snapshot()
    bare = [{"call_id": f"x{i}", "phase": "queued"} for i in range(CALLS)]
    after = tracemalloc.take_snapshot()
    baseline = sum(s.size_diff for s in after.compare_to(before, "filename")) / CALLS
    tracemalloc.stop()
    assert len(bare) == CALLS
    return per_call, baseline


def main() -> None:
    flow_rate, baseline_rate, events = bench_throughput()
    per_call, baseline = bench_memory()
    print(f"simulator: {CALLS} whole simulated calls ({events} flow events), median of {ROUNDS}")
    print(f"  simulator {flow_rate:10.0f} calls/s   (target >= 5000)")
    print(f"  baseline  {baseline_rate:10.0f} calls/s   (the flow alone, same events replayed)")
    print(f"  ratio     {flow_rate / baseline_rate:10.3f}")
    print(f"memory: {CALLS} live calls on hold in the 115 queue")
    print(f"  flow      {per_call:10.0f} bytes/call (target <= 10240)")
    print(f"  baseline  {baseline:10.0f} bytes/call (a dict with an id and a phase)")
    print(f"  ratio     {per_call / baseline:10.1f}")
    ok = flow_rate >= 5000 and per_call <= 10240
    print("targets:", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
