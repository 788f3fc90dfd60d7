"""Many simultaneous callers on a lab Asterisk, each checked against the simulator.

A lab tool, not part of the service. With a lab Asterisk (``deploy/asterisk/lab.sh start``)
and ``ivr serve`` connected to it (``IVR_ARI_DIAL_TEMPLATE='Local/{number}@lab-outbound'``),
it places ``--calls`` assistance-line calls at once, one per département, each caller
typing its département and reason during the welcome. The referents of each département
behave by scenario (AstDB ``lab/dest/<number>``): all answer; the first is busy; the first
rings out; all busy (the call goes on to national support). The same calls are run through
``ivr.sim`` (the real flows, the same routing file, the same keys at the same moments); once
every call has ended, the records the service wrote must say the same destinations were
tried, with the same results, and the same person took the call; no channel or bridge may
be left in Asterisk. The simulator starts with no rotation pointer: the service must not
have taken calls for these départements before (start it on a fresh ``IVR_DATA_DIR``); the
tool refuses to run otherwise.

    .venv/bin/python scripts/lab_load.py --prefix /work/lab/asterisk \\
        --config /work/lab/run/routing-open.yaml --data-dir /work/lab/run/data --calls 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ivr.flow import build_flow
from ivr.sim.simulator import CallScript, Simulator
from routing.loader import load_config

ROOT = Path(__file__).resolve().parents[1]
ARI = "http://127.0.0.1:8088/ari"
AUTH = ("ivr", "ivr-lab")
ASSISTANCE_DIALLED = "0806000156"  # as the operator sends it to [from-operator]
TYPE_AT_S = 1.5  # the caller starts typing during the welcome
KEY_EVERY_S = 0.45  # SendDTMF(keys,250,200) in [lab-inbound]: 250 ms tone, 200 ms gap
# The caller hangs up this long after typing: after the longest scenario (a referent ringing
# out for its ring timeout, then the next answering) the conversation still lasts a while.
TALK_S = 60
SCENARIOS = ("answer", "first-busy", "first-rings-out", "all-busy")


@dataclass
class Planned:
    caller: str
    departement: str
    scenario: str
    busy: frozenset[str]
    no_answer: frozenset[str]
    expected: dict[str, Any]


def lab_cli(prefix: str, command: str) -> None:
    subprocess.run(
        ["bash", str(ROOT / "deploy/asterisk/lab.sh"), "cli", "--prefix", prefix, "--", command],
        check=True,
        capture_output=True,
    )


def plan(config_path: str, calls: int, now: datetime) -> list[Planned]:
    config = load_config(config_path)
    reason = next(
        r.digit
        for theme in config.national.nomenclature
        for r in theme.reasons
        if r.level == 1 and r.digit
    )
    codes = [
        code
        for code, dep in sorted(config.departements.items())
        if code.isdigit() and len(code) == 2 and code != "75" and len(dep.assistance.referents) >= 2
    ][:calls]
    if len(codes) < calls:
        sys.exit(f"only {len(codes)} départements with two referents or more")
    simulator = Simulator(build_flow(config))
    planned: list[Planned] = []
    for index, code in enumerate(codes):
        referents = [c.number for c in config.departements[code].assistance.referents]
        scenario = SCENARIOS[3] if index == calls - 1 else SCENARIOS[index % 3]
        busy: frozenset[str] = frozenset()
        no_answer: frozenset[str] = frozenset()
        if scenario == "first-busy":
            busy = frozenset(referents[:1])
        elif scenario == "first-rings-out":
            no_answer = frozenset(referents[:1])
        elif scenario == "all-busy":
            busy = frozenset(referents)
        caller = f"+3361234{index:04d}"
        keys = f"{code}{reason}"
        typed = [(TYPE_AT_S + i * KEY_EVERY_S, key) for i, key in enumerate(keys)]
        script = CallScript(
            to_number=config.national.assistance_number,
            from_number=caller,
            typed=typed,
            busy=busy,
            no_answer=no_answer,
            conversation_s=TALK_S,
        )
        expected = simulator.run(script, now).summary()
        planned.append(Planned(caller, code, scenario, busy, no_answer, expected))
    return planned


async def place(client: httpx.AsyncClient, call: Planned, keys: str) -> None:
    body = {
        "endpoint": f"Local/{ASSISTANCE_DIALLED}@from-operator",
        "context": "lab-inbound",
        "extension": "s",
        "priority": 1,
        "timeout": 60,
        "callerId": call.caller,
        "variables": {"LAB_SCRIPT": f"{TYPE_AT_S}-{keys}-{TALK_S}"},
    }
    response = await client.post(f"{ARI}/channels", json=body)
    response.raise_for_status()


def records(data_dir: str, config_path: str) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "IVR_DATA_DIR": data_dir, "IVR_CONFIG_PATH": config_path}
    out = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "calls", "list", "--json", "--limit", "500"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows: dict[str, dict[str, Any]] = {}
    for row in json.loads(out):
        rows.setdefault(row["caller"], row)  # the most recent first
    return rows


async def leftovers(client: httpx.AsyncClient) -> tuple[list[str], list[str]]:
    channels = (await client.get(f"{ARI}/channels")).json()
    bridges = (await client.get(f"{ARI}/bridges")).json()
    return [c["name"] for c in channels], [b["id"] for b in bridges]


async def run(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    planned = plan(args.config, args.calls, now)
    earlier = {row["departement"] for row in records(args.data_dir, args.config).values()}
    if earlier & {c.departement for c in planned}:
        print(
            "the service already took calls for these départements (rotation pointers set): "
            "start it on a fresh IVR_DATA_DIR",
            file=sys.stderr,
        )
        return 2
    lab_cli(args.prefix, "database deltree lab/dest")
    for call in planned:
        for number in call.busy:
            lab_cli(args.prefix, f"database put lab/dest {number} busy")
        for number in call.no_answer:
            lab_cli(args.prefix, f"database put lab/dest {number} ringout")
    started = time.monotonic()
    reason = planned[0].expected["reason"]
    async with httpx.AsyncClient(auth=AUTH, timeout=10) as client:
        before = await leftovers(client)
        if before != ([], []):
            print(f"Asterisk is not idle: {before}", file=sys.stderr)
            return 2
        keys_of = {c.caller: f"{c.departement}{_digit(args.config, reason)}" for c in planned}
        await asyncio.gather(*(place(client, c, keys_of[c.caller]) for c in planned))
        placed = time.monotonic() - started
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(2)
            if await leftovers(client) == ([], []):
                break
        channels, bridges = await leftovers(client)
    lab_cli(args.prefix, "database deltree lab/dest")
    await asyncio.sleep(1)  # the last records are written as the calls end
    found = records(args.data_dir, args.config)
    failures = 0
    for call in planned:
        row = found.get(call.caller)
        want = call.expected
        wanted_legs = [(a["number"], a["role"], a["result"]) for a in want["destinations_tried"]]
        got_legs = [
            (leg["number"], leg["role"], leg["result"]) for leg in (row or {}).get("legs", [])
        ]
        same = (
            row is not None
            and row["departement"] == want["departement"]
            and row["connected_to"] == want["connected_to"]
            and got_legs == wanted_legs
        )
        failures += not same
        print(
            f"{'ok ' if same else 'KO '} {call.departement:>3} {call.scenario:<16} "
            f"simulateur → {want['connected_to']} {wanted_legs}"
            + ("" if same else f"\n     service → {row and row['connected_to']} {got_legs}")
        )
    print(
        f"{len(planned)} appels placés en {placed:.2f} s ; {failures} différent(s) du simulateur ; "
        f"{len(channels)} canal(aux) et {len(bridges)} pont(s) restants"
    )
    return 1 if failures or channels or bridges else 0


def _digit(config_path: str, reason: str | None) -> int:
    config = load_config(config_path)
    for theme in config.national.nomenclature:
        for r in theme.reasons:
            if r.code == reason and r.digit:
                return r.digit
    raise SystemExit(f"no digit for reason {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefix", required=True, help="the lab Asterisk's prefix")
    parser.add_argument("--config", required=True, help="the routing file the service uses")
    parser.add_argument("--data-dir", required=True, help="the service's IVR_DATA_DIR")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=240)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
