"""Whole calls recorded on a real Asterisk 22.10.1, replayed into the transport.

``data/real-calls.jsonl`` holds every websocket event of each call (``dir: in``) and every
request the service sent (``dir: out``, with its result), times in seconds from the call's
StasisStart. The numbers are the fictitious ones of config/departments.yaml. Replaying the
events on virtual time must make the transport send the same requests, in the same order,
as it did against the real Asterisk; and the fake must tell the caller's side of the same
call with the same event types in the same order.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ivr.flow import CallFlow, build_flow
from ivr.runtime.live_state import InMemoryLiveState
from ivr.runtime.runtime import CallRuntime, MemoryCallbacks, MemoryRecords
from ivr.state.local import DurableLiveState, LocalStore
from ivr.transports.ari import AriTransport
from ivr.transports.ari.local_snapshots import LocalCallSnapshots
from routing.loader import load_config
from tests.ari.harness import GATHER_PROMPTS, MONDAY_10H, URL, Harness, flow
from tests.sip.lab import lab_routing
from tests.support.fake_asterisk import Caller, Destination, VirtualClock, settle

DATA = Path(__file__).parent / "data" / "real-calls.jsonl"
# Calls whose course does not depend on the lab's routing file (hours open all day, the
# 115 Paris announcements every 20 s): replayed with config/departments.yaml at 10:00.
REPLAYED = [
    "assistance-referent-answers",
    "assistance-tier2-busy-congestion",
    "115-no-listener",
    "assistance-type-ahead-welcome",
]
# Calls recorded by the SIP suite (tests/sip with IVR_LAB_TRACE): the caller a PJSIP channel
# of the operator trunk, keys as RFC 4733 events, each leg a Local channel of
# [ivr-outbound]; replayed with the suite's routing file (tests.sip.lab.lab_routing).
SIP_REPLAYED = ["sip-assistance-referent-phone", "sip-115-no-listener-lro"]


def recorded() -> dict[str, list[dict[str, Any]]]:
    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        calls[row["call"]].append(row)
    return calls


def _reply(request: httpx.Request) -> httpx.Response:
    """What Asterisk answered: only the status and shape matter to the transport."""
    path = request.url.path.removeprefix("/ari")
    if request.method == "GET":
        return httpx.Response(200, json=[])
    if "/play/" in path or path.endswith("/record"):
        return httpx.Response(201, json={"id": path.rsplit("/", 1)[1], "state": "queued"})
    if request.method == "POST" and path.count("/") == 2:  # originate or create a bridge
        return httpx.Response(200, json={"id": path.rsplit("/", 1)[1]})
    return httpx.Response(204)


def _is_originate(path: str) -> bool:
    return path.startswith("/channels/") and path.count("/") == 2


def _token(rows: list[dict[str, Any]]) -> str:
    """The instance token the recorded identifiers carry (``<call>-p1-<token>``)."""
    for row in rows:
        if row["dir"] == "out" and "/play/" in row["path"]:
            return str(row["path"].rsplit("-", 1)[1])
    raise AssertionError("no playback in the recording")


async def replay(
    rows: list[dict[str, Any]],
    call_flow: CallFlow | None = None,
    originated: list[dict[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """The requests the transport sends for the recorded events (``originated``: the
    parameters of each originate, when given)."""
    clock = VirtualClock(MONDAY_10H)
    sent: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/ari")
        if request.method != "GET":
            sent.append((request.method, path))
        if originated is not None and request.method == "POST" and _is_originate(path):
            originated.append(dict(request.url.params))
        return _reply(request)

    done = asyncio.Event()
    inbound = [row for row in rows if row["dir"] == "in"]

    @asynccontextmanager
    async def connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[AsyncIterator[str]]:
        async def messages() -> AsyncIterator[str]:
            for row in inbound:
                await clock.advance(max(0.0, row["t"] - clock.t))
                yield json.dumps(row["event"])
            await clock.advance(5)
            done.set()
            await asyncio.Event().wait()  # the websocket stays open
            yield ""  # never reached

        yield messages()

    runtime = CallRuntime(
        call_flow or flow(),
        InMemoryLiveState(),
        clock.now,
        timers=clock,
        records=MemoryRecords(),
        callbacks=MemoryCallbacks(),
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    transport = AriTransport(
        url=URL,
        user="ivr",
        password="secret",
        app="ivr",
        dial_template="Local/{number}@ivr-outbound",
        runtime=runtime,
        http=http,
        connector=connect,
        scheduler=clock,
    )
    transport.token = _token(rows)
    stop = asyncio.Event()
    task = asyncio.ensure_future(transport.run(stop))
    await asyncio.wait_for(done.wait(), timeout=30)
    stop.set()
    await task
    await transport.close()
    await runtime.drain()
    await http.aclose()
    await settle()
    assert transport.calls == {}, "the call is over"
    return sent


@pytest.mark.parametrize("name", REPLAYED)
async def test_given_real_call_events_when_replayed_then_transport_sends_the_same_requests(
    name: str,
) -> None:
    rows = recorded()[name]
    expected = [
        (row["method"], row["path"])
        for row in sorted((r for r in rows if r["dir"] == "out"), key=lambda r: r["t"])
        if row["method"] != "GET"
    ]
    assert all(row["status"] == "ok" for row in rows if row["dir"] == "out"), "no 4xx"
    assert len(expected) >= 9

    assert await replay(rows) == expected


def _expected_requests(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (row["method"], row["path"])
        for row in sorted((r for r in rows if r["dir"] == "out"), key=lambda r: r["t"])
        if row["method"] != "GET"
    ]


@pytest.mark.parametrize("name", SIP_REPLAYED)
async def test_given_real_sip_call_when_replayed_then_same_requests_and_legs_name_the_caller(
    name: str, tmp_path: Path
) -> None:
    rows = recorded()[name]
    caller = next(row["event"]["channel"] for row in rows if row["dir"] == "in")
    assert caller["name"].startswith("PJSIP/operator-"), "a call from the SIP trunk"
    expected = _expected_requests(rows)
    assert all(row["status"] == "ok" for row in rows if row["dir"] == "out"), "no 4xx"
    recorded_originates = [
        row["params"] for row in rows if row["dir"] == "out" and row["method"] == "POST"
        and _is_originate(row["path"]) and row["path"] != f"/channels/{caller['id']}"
    ]  # fmt: skip
    call_flow = build_flow(load_config(lab_routing(tmp_path / "routing.yaml")))
    originated: list[dict[str, str]] = []

    assert await replay(rows, call_flow, originated) == expected
    # Each leg named the caller's channel as its originator, as sent to the real Asterisk
    # (where the leg then ran in A-law: docs/asterisk.md, "Every leg in G.711").
    assert [o["originator"] for o in recorded_originates] == [caller["id"]]
    assert originated == recorded_originates


def test_given_recordings_then_every_call_of_the_checks_is_there() -> None:
    calls = recorded()
    assert set(REPLAYED) <= set(calls)
    assert "115-queued-listener-answers-recorded" in calls
    types = {row["event"]["type"] for rows in calls.values() for row in rows if row["dir"] == "in"}
    assert {"PlaybackContinuing", "RecordingFinished", "Dial", "ChannelDtmfReceived"} <= types


# The caller's side of a call: what the transport reads (other types are not compared).
CALLER_SIDE = {"StasisStart", "ChannelDtmfReceived", "StasisEnd", "ChannelEnteredBridge"}
PLAYBACK_SIDE = {"PlaybackStarted", "PlaybackContinuing", "PlaybackFinished"}


def _story(events: list[dict[str, Any]], caller: str) -> list[str]:
    out = []
    for event in events:
        kind = event["type"]
        channel = (event.get("channel") or {}).get("id")
        if kind in CALLER_SIDE and channel == caller:
            out.append(kind)
        elif kind in PLAYBACK_SIDE:
            out.append(f"{kind}:{event['playback']['state']}")
        elif kind == "Dial" and event.get("dialstatus"):
            out.append(f"Dial:{event['dialstatus']}")
    return out


async def test_given_tier2_busy_then_congestion_then_fake_tells_the_caller_side_like_asterisk(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = recorded()["assistance-tier2-busy-congestion"]
    real = [row["event"] for row in rows if row["dir"] == "in"]
    real_caller = real[0]["channel"]["id"]
    emitted: list[dict[str, Any]] = []
    original = harness.fake.emit

    def capture(event_type: str, **fields: Any) -> None:
        emitted.append({"type": event_type, **fields})
        original(event_type, **fields)

    monkeypatch.setattr(harness.fake, "emit", capture)
    harness.fake.destinations["+33536490001"] = Destination("busy", after_s=0)
    harness.fake.destinations["+33536490002"] = Destination("fail", after_s=0)
    instance = harness.instance()
    instance.transport.dial_template = "Local/{number}@ivr-outbound"
    await instance.start()
    caller = Caller(presses=["75", "4"], gather_prompts=GATHER_PROMPTS)
    channel = harness.fake.incoming_call("0806000156", "0612345678", caller=caller, local=True)
    await harness.run_until_finished(channel, instance)

    story = _story(real, real_caller)
    assert story.count("ChannelDtmfReceived") == 3
    assert "Dial:CONGESTION" in story
    assert _story(emitted, channel) == story
    assert harness.fake.leaks() == []


class _Process:
    """One ``ivr serve`` process of a recording, on the embedded default's local file."""

    def __init__(self, clock: VirtualClock, file: Path, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.sent: list[tuple[str, str]] = []
        self.fed = asyncio.Event()
        # What this process's GETs were answered (at a restart: the calls still up).
        self.answers: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            if row["dir"] == "out" and row["method"] == "GET":
                self.answers[row["path"]].append(row.get("body", []))
        self.store = LocalStore(file)
        self.live = DurableLiveState(self.store, monotonic=clock.monotonic)
        self.runtime = CallRuntime(
            flow(),
            self.live,
            clock.now,
            timers=clock,
            records=MemoryRecords(),
            callbacks=MemoryCallbacks(),
            registry=self.live,
            instance_id=rows[0]["process"],
        )
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self._handle))
        inbound = [row for row in rows if row["dir"] == "in"]

        @asynccontextmanager
        async def connect(
            url: str, headers: Mapping[str, str]
        ) -> AsyncIterator[AsyncIterator[str]]:
            async def messages() -> AsyncIterator[str]:
                for row in inbound:
                    await clock.advance(max(0.0, row["t"] - clock.t))
                    yield json.dumps(row["event"])
                await clock.advance(1)
                self.fed.set()
                await asyncio.Event().wait()
                yield ""  # never reached

            yield messages()

        self.transport = AriTransport(
            url=URL,
            user="ivr",
            password="secret",
            app="ivr",
            dial_template="Local/{number}@ivr-outbound",
            runtime=self.runtime,
            http=self.http,
            connector=connect,
            scheduler=clock,
            snapshots=LocalCallSnapshots(self.store),
        )
        self.transport.token = (
            _token(rows) if any("/play/" in r.get("path", "") for r in rows) else ""
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Future[None] | None = None

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/ari")
        if request.method == "GET":
            answers = self.answers.get(path)
            return httpx.Response(200, json=answers.pop(0) if answers else [])
        self.sent.append((request.method, path))
        return _reply(request)

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.transport.run(self.stop))

    def expected(self) -> list[tuple[str, str]]:
        return [
            (row["method"], row["path"])
            for row in sorted((r for r in self.rows if r["dir"] == "out"), key=lambda r: r["t"])
            if row["method"] != "GET"
        ]


async def test_given_real_kill_during_a_conversation_when_replayed_then_restart_leaves_it_talking(
    tmp_path: Path,
) -> None:
    # Recorded on Asterisk 22.10.1: a Paris referent answered, `kill -9` of `ivr serve`
    # (embedded default, no Redis) 10 s into the conversation, a new process 2 s later;
    # the caller hung up 25 s after that. The new process found the call in its local file,
    # adopted it (GET /channels, /bridges), played nothing and hung nothing up until the
    # caller left, then hung up the referent's leg and destroyed the bridge.
    rows = recorded()["assistance-restart-while-bridged"]
    assert {row["process"] for row in rows} == {"p1", "p2"}
    clock = VirtualClock(MONDAY_10H)
    file = tmp_path / "live-state.sqlite3"

    first = _Process(clock, file, [r for r in rows if r["process"] == "p1"])
    first.start()
    await asyncio.wait_for(first.fed.wait(), timeout=30)
    assert first.sent == first.expected()
    # kill -9: nothing cleaned up, nothing more sent.
    assert first.task is not None
    first.task.cancel()
    await asyncio.gather(first.task, return_exceptions=True)
    for call in first.transport.calls.values():
        call.ended = True
    await first.transport.close()
    for key in list(first.runtime.calls):
        first.runtime.timers.cancel_call(key)
    first.runtime.calls.clear()
    await first.http.aclose()
    first.store.close()

    second = _Process(clock, file, [r for r in rows if r["process"] == "p2"])
    assert second.live.recovered == 1
    second.start()
    await asyncio.wait_for(second.fed.wait(), timeout=30)
    second.stop.set()
    assert second.task is not None
    await second.task
    await second.transport.close()
    await second.runtime.drain()
    await second.http.aclose()
    await settle()

    assert second.sent == second.expected()
    assert not [path for _, path in second.sent if "/play/" in path], "nothing played again"
    assert second.sent == [
        ("DELETE", f"/channels/{rows[0]['event']['channel']['id']}-leg4-{_token(rows)}"),
        ("DELETE", f"/bridges/{rows[0]['event']['channel']['id']}-bridge"),
    ]
    assert second.transport.calls == {}
    second.store.close()
