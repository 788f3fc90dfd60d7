"""The embedded default's live state kept in a local file: what a restarted process finds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ivr.runtime.live_state import Presence
from ivr.state.local import DurableLiveState, LocalStore
from tests.state.conftest import snapshot_of

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def reopen(path: Path) -> DurableLiveState:
    return DurableLiveState(LocalStore(path))


async def test_given_state_written_when_process_restarts_then_everything_is_found(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.sqlite3"
    first = reopen(path)
    await first.record_answerer("75", "+33199000751")
    await first.enqueue("93", "call-a", 0, AT)
    await first.enqueue("93", "call-b", 1, AT)  # came back after a listener did not answer
    await first.enqueue("93", "call-c", 0, AT)
    await first.dequeue("93", "call-c")
    await first.set_presence("93", "+33261910930", Presence.AVAILABLE, AT)
    await first.set_presence("93", "+33261910931", Presence.PAUSED, AT)
    await first.record_handling_time("93", 240.0)
    await first.set_platform("93", closed=False, emergency_closed=True)
    await first.heartbeat("host-1", 10)
    assert await first.save_call(snapshot_of("call-a", "host-1", listener_phones=["+3326"]))
    claim = await first.claim_next("93", AT, owner=None)
    assert claim is not None
    assert claim.call_id == "call-b"

    second = reopen(path)  # kill -9, then a new process on the same file

    assert await second.last_answerer("75") == "+33199000751"
    assert await second.waiting_calls("93") == ["call-a"]
    presence = {lst.number: lst.presence for lst in await second.listeners("93")}
    assert presence == {"+33261910930": Presence.BUSY, "+33261910931": Presence.PAUSED}
    status = await second.queue_status("93", "call-a", 300)
    assert status.emergency_closed
    assert status.position == 1
    assert second.recovered == 1
    assert (await second.listener_call("+3326")) is not None
    # The dead process's calls go to the first instance that takes over.
    taken = await second.take_over("host-2", 10)
    assert [s.call_id for s in taken] == ["call-a"]
    third = reopen(path)
    assert await third.call_owner("call-a") == "host-2"
    # New queue places come after the old ones.
    await third.enqueue("93", "call-d", 0, AT)
    assert await third.waiting_calls("93") == ["call-a", "call-d"]


async def test_given_call_dropped_then_a_restart_does_not_find_it(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite3"
    first = reopen(path)
    await first.save_call(snapshot_of("call-a", "host-1"))
    assert await first.drop_call("call-a", "host-1")
    assert reopen(path).recovered == 0


async def test_given_a_corrupt_snapshot_then_it_is_skipped_and_the_others_load(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.sqlite3"
    first = reopen(path)
    await first.save_call(snapshot_of("call-a", "host-1"))
    await first.save_call(snapshot_of("call-b", "host-1"))
    db = sqlite3.connect(path)
    db.execute("UPDATE calls SET json = '{not json' WHERE call_id = 'call-b'")
    db.commit()
    db.close()

    second = reopen(path)
    assert second.recovered == 1
    assert await second.load_call("call-a") is not None
    assert await second.load_call("call-b") is None
