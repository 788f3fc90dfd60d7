"""A restart of the embedded default (no Redis) cuts nobody.

The process keeps its live state and the ARI call snapshots in a local SQLite file
(``ivr.state.local``). ``kill -9`` then a restart: a conversation already bridged is left
talking (no prompt played again, no leg hung up, its bridge kept), a caller in a menu hears
the question again and goes on, a waiting 115 caller keeps their place; nothing of the old
process is left in Asterisk once the calls end; a new call right after the restart works.
"""

from __future__ import annotations

from pathlib import Path

from ivr.flow.vocabulary import Outcome
from ivr.runtime.live_state import Presence
from ivr.state.local import DurableLiveState, LocalStore
from ivr.transports.ari.local_snapshots import LocalCallSnapshots
from tests.ari.harness import GATHER_PROMPTS, Harness, Instance
from tests.ari.test_scenarios import AIN_115, AIN_LISTENERS, ASSISTANCE, CALLER
from tests.support.fake_asterisk import Caller, Destination

PARIS_REFERENT = "+33199000750"


def process(harness: Harness, path: Path, name: str) -> tuple[Instance, DurableLiveState]:
    """One ``ivr serve`` process on the embedded default, reading and writing ``path``."""
    store = LocalStore(path)
    live = DurableLiveState(store, monotonic=harness.clock.monotonic)
    instance = harness.instance(
        LocalCallSnapshots(store), registry=live, live=live, instance_id=name
    )
    return instance, live


def played(harness: Harness, channel: str) -> list[str]:
    return list(harness.fake.played.get(channel, []))


async def test_given_kill_during_a_bridged_conversation_then_restart_leaves_it_talking(
    harness: Harness, tmp_path: Path
) -> None:
    file = tmp_path / "live-state.sqlite3"
    harness.fake.default_destination = Destination("answer", after_s=2, talk_s=120)
    first, _ = process(harness, file, "host-100")
    await first.start()
    caller = Caller(presses=["75", "1"], gather_prompts=GATHER_PROMPTS)
    talking = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    await harness.clock.advance(40)
    assert first.transport.calls[talking].wait.value == "connected"
    bridge = harness.fake.channels[talking].bridge
    peer = first.transport.calls[talking].peer
    heard = played(harness, talking)

    await first.crash()  # kill -9
    harness.fake.drop_websocket()
    second, live = process(harness, file, "host-200")
    assert live.recovered == 1
    await second.start()
    await harness.clock.advance(5)

    assert harness.fake.channels[talking].bridge == bridge, "the conversation goes on"
    assert peer in harness.fake.channels, "the referent's leg was not hung up"
    assert played(harness, talking) == heard, "nothing played again to the caller"
    assert set(second.transport.calls) == {talking}

    await harness.run_until_finished(talking, second)
    summary = next(s for s, _, _ in harness.records.calls if s.call_id == talking)
    assert summary.outcome is Outcome.CONNECTED
    assert summary.connected_to == PARIS_REFERENT
    assert harness.fake.leaks() == []
    assert await live.load_call(talking) is None  # forgotten by the file too
    assert await second.transport.snapshots.load(talking) is None  # type: ignore[union-attr]


async def test_given_kill_while_in_a_menu_then_restart_asks_again_and_call_goes_on(
    harness: Harness, tmp_path: Path
) -> None:
    file = tmp_path / "live-state.sqlite3"
    first, _ = process(harness, file, "host-100")
    await first.start()
    caller = Caller(presses=["75", "1"], gather_prompts=GATHER_PROMPTS)
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)
    await harness.clock.advance(0.2)  # the welcome plays
    await first.crash()
    harness.fake.drop_websocket()
    second, _ = process(harness, file, "host-200")
    await second.start()

    await harness.run_until_finished(channel, second)
    summary = next(s for s, _, _ in harness.records.calls if s.call_id == channel)
    assert summary.connected_to == PARIS_REFERENT
    assert harness.fake.leaks() == []


async def test_given_kill_with_a_115_caller_waiting_then_restart_keeps_the_place(
    harness: Harness, tmp_path: Path
) -> None:
    file = tmp_path / "live-state.sqlite3"
    first, live = process(harness, file, "host-100")
    await live.set_presence("01", AIN_LISTENERS[0], Presence.PAUSED, harness.clock.now())
    await first.start()
    waiting = harness.fake.incoming_call(AIN_115, CALLER)
    await harness.clock.advance(30)
    assert first.transport.calls[waiting].wait.value == "hold"

    await first.crash()
    harness.fake.drop_websocket()
    second, live = process(harness, file, "host-200")
    assert await live.waiting_calls("01") == [waiting]
    assert [lst.presence for lst in await live.listeners("01")] == [Presence.PAUSED]
    await second.start()
    await harness.clock.advance(5)
    assert harness.fake.channels[waiting].moh

    await second.runtime.set_listener_presence("01", AIN_LISTENERS[0], Presence.AVAILABLE)
    await harness.run_until_finished(waiting, second)
    summary = next(s for s, _, _ in harness.records.calls if s.call_id == waiting)
    assert summary.outcome is Outcome.CONNECTED
    assert summary.connected_to == AIN_LISTENERS[0]
    assert harness.fake.leaks() == []


async def test_given_restart_then_a_new_call_right_after_works(
    harness: Harness, tmp_path: Path
) -> None:
    file = tmp_path / "live-state.sqlite3"
    first, _ = process(harness, file, "host-100")
    await first.start()
    await first.crash()
    harness.fake.drop_websocket()
    second, _ = process(harness, file, "host-200")
    await second.start()
    caller = Caller(presses=["75", "1"], gather_prompts=GATHER_PROMPTS)
    channel = harness.fake.incoming_call(ASSISTANCE, CALLER, caller=caller)

    await harness.run_until_finished(channel, second)
    summary = next(s for s, _, _ in harness.records.calls if s.call_id == channel)
    assert summary.connected_to == PARIS_REFERENT
    assert harness.fake.leaks() == []
