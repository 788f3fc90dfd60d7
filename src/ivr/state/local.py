"""Live state that survives a crash of the embedded default (no Redis): a local SQLite file.

``InMemoryLiveState`` answers every read from memory, as before; each change is also
written, in the same step, to ``<data_dir>/live-state.sqlite3`` (WAL, one small transaction
per change: as often as the Redis snapshots are written). A process that starts finds the
calls, queue places, listener presence, rotation pointers and platform flags of the process
that died: its calls are taken over as another instance's would be (the dead process is
known as an instance whose lease has lapsed), and the ARI transport adopts the channels it
finds in Asterisk with their snapshots instead of starting their flow again.

The file is local to one machine and one process at a time; several instances share Redis
instead (``IVR_REDIS_URL``).
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.runtime.live_state import (
    CallSnapshot,
    Claim,
    InMemoryLiveState,
    ListenerState,
    Presence,
    SupportAgentState,
)

log = logging.getLogger(__name__)
SUPPORT_SPACE = "support_agent"  # kv space: national support agents' posts and presence

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (call_id TEXT PRIMARY KEY, owner TEXT NOT NULL, json TEXT);
CREATE TABLE IF NOT EXISTS queue (
    departement TEXT NOT NULL, call_id TEXT NOT NULL, priority INTEGER NOT NULL,
    at TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (departement, call_id));
CREATE TABLE IF NOT EXISTS listeners (
    departement TEXT NOT NULL, number TEXT NOT NULL, presence TEXT NOT NULL,
    since TEXT NOT NULL, PRIMARY KEY (departement, number));
CREATE TABLE IF NOT EXISTS rotation (key TEXT PRIMARY KEY, number TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS departements (
    departement TEXT PRIMARY KEY, closed INTEGER NOT NULL, emergency_closed INTEGER NOT NULL,
    handling TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (space TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (space, key));
"""


class LocalStore:
    """One SQLite file, written from the event loop in small transactions.

    Writes are short (a few rows, no fsync with WAL and ``synchronous=NORMAL``: a crash of
    the process loses nothing, a power cut at most the last transactions)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()  # the console's worker threads may read it too
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, params))

    # A small key-value space for other local stores (the ARI call snapshots).
    def put(self, space: str, key: str, value: str) -> None:
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO kv (space, key, value) VALUES (?, ?, ?)",
                (space, key, value),
            )

    def get(self, space: str, key: str) -> str | None:
        found = self.rows("SELECT value FROM kv WHERE space = ? AND key = ?", space, key)
        return str(found[0][0]) if found else None

    def delete(self, space: str, key: str) -> None:
        with self.write() as db:
            db.execute("DELETE FROM kv WHERE space = ? AND key = ?", (space, key))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class DurableLiveState(InMemoryLiveState):
    """``InMemoryLiveState`` whose every change is also kept in a ``LocalStore``."""

    def __init__(self, store: LocalStore, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(monotonic)
        self.store = store
        self.recovered = self._load()

    # ----------------------------------------------------------------- start

    def _load(self) -> int:
        """Rebuild memory from the file; returns the number of live calls found."""
        s = self.store
        for key, number in s.rows("SELECT key, number FROM rotation"):
            self._rotation[key] = number
        for (raw,) in s.rows("SELECT value FROM kv WHERE space = ?", SUPPORT_SPACE):
            agent = SupportAgentState.from_json(raw)
            self._support[agent.login] = agent
        last_seq = -1
        for dep, call_id, priority, at, seq in s.rows(
            "SELECT departement, call_id, priority, at, seq FROM queue"
        ):
            self._queue(dep).entries[call_id] = (int(priority), datetime.fromisoformat(at), seq)
            last_seq = max(last_seq, int(seq))
        self._seq = itertools.count(last_seq + 1)
        for dep, number, presence, since in s.rows(
            "SELECT departement, number, presence, since FROM listeners"
        ):
            self._queue(dep).listeners[number] = ListenerState(
                number, Presence(presence), datetime.fromisoformat(since)
            )
        for dep, closed, emergency_closed, handling in s.rows(
            "SELECT departement, closed, emergency_closed, handling FROM departements"
        ):
            queue = self._queue(dep)
            queue.closed = bool(closed)
            queue.emergency_closed = bool(emergency_closed)
            queue.handling.extend(float(v) for v in json.loads(handling))
        found = 0
        for call_id, owner, raw in s.rows("SELECT call_id, owner, json FROM calls"):
            try:
                snapshot = CallSnapshot.from_json(raw)
            except (ValueError, KeyError, TypeError):
                log.error("call %s: unreadable snapshot in %s, ignored", call_id, s.path)
                continue
            snapshot.owner = owner
            self._index(snapshot)
            # The process that held it is gone: its calls go to whoever takes over.
            self._instances[owner] = float("-inf")
            found += 1
        if found:
            log.warning("%d live call(s) found in %s: taken over", found, s.path)
        return found

    # ----------------------------------------------------------------- writes

    def _write_queue_entry(self, db: sqlite3.Connection, dep: str, call_id: str) -> None:
        entry = self._queue(dep).entries.get(call_id)
        if entry is None:
            db.execute("DELETE FROM queue WHERE departement = ? AND call_id = ?", (dep, call_id))
            return
        priority, at, seq = entry
        db.execute(
            "INSERT OR REPLACE INTO queue VALUES (?, ?, ?, ?, ?)",
            (dep, call_id, priority, at.isoformat(), seq),
        )

    def _write_listener(self, db: sqlite3.Connection, dep: str, number: str) -> None:
        state = self._queue(dep).listeners[number]
        db.execute(
            "INSERT OR REPLACE INTO listeners VALUES (?, ?, ?, ?)",
            (dep, number, state.presence.value, state.since.isoformat()),
        )

    def _write_departement(self, db: sqlite3.Connection, dep: str) -> None:
        queue = self._queue(dep)
        db.execute(
            "INSERT OR REPLACE INTO departements VALUES (?, ?, ?, ?)",
            (dep, int(queue.closed), int(queue.emergency_closed), json.dumps(list(queue.handling))),
        )

    def _write_call(self, db: sqlite3.Connection, call_id: str) -> None:
        raw = self._snapshots.get(call_id)
        if raw is None:
            db.execute("DELETE FROM calls WHERE call_id = ?", (call_id,))
            return
        db.execute(
            "INSERT OR REPLACE INTO calls VALUES (?, ?, ?)", (call_id, self._owners[call_id], raw)
        )

    async def record_answerer(self, key: str, number: str) -> None:
        await super().record_answerer(key, number)
        with self.store.write() as db:
            db.execute("INSERT OR REPLACE INTO rotation VALUES (?, ?)", (key, number))

    async def enqueue(self, departement: str, call_id: str, priority: int, at: datetime) -> int:
        position = await super().enqueue(departement, call_id, priority, at)
        with self.store.write() as db:
            self._write_queue_entry(db, departement, call_id)
        return position

    async def dequeue(self, departement: str, call_id: str) -> bool:
        removed = await super().dequeue(departement, call_id)
        if removed:
            with self.store.write() as db:
                self._write_queue_entry(db, departement, call_id)
        return removed

    async def set_presence(
        self, departement: str, listener: str, presence: Presence, at: datetime
    ) -> None:
        await super().set_presence(departement, listener, presence, at)
        with self.store.write() as db:
            self._write_listener(db, departement, listener)

    async def claim_next(
        self, departement: str, at: datetime, owner: str | None = None
    ) -> Claim | None:
        claim = await super().claim_next(departement, at, owner)
        if claim is not None:
            with self.store.write() as db:
                self._write_queue_entry(db, departement, claim.call_id)
                self._write_listener(db, departement, claim.listener)
        return claim

    async def set_support_agent(self, agent: SupportAgentState) -> None:
        await super().set_support_agent(agent)
        self.store.put(SUPPORT_SPACE, agent.login, agent.to_json())

    async def record_handling_time(self, departement: str, seconds: float) -> None:
        await super().record_handling_time(departement, seconds)
        with self.store.write() as db:
            self._write_departement(db, departement)

    async def set_platform(self, departement: str, *, closed: bool, emergency_closed: bool) -> None:
        await super().set_platform(departement, closed=closed, emergency_closed=emergency_closed)
        with self.store.write() as db:
            self._write_departement(db, departement)

    async def save_call(self, snapshot: CallSnapshot) -> bool:
        if not await super().save_call(snapshot):
            return False
        with self.store.write() as db:
            self._write_call(db, snapshot.call_id)
        return True

    async def drop_call(self, call_id: str, owner: str) -> bool:
        if not await super().drop_call(call_id, owner):
            return False
        with self.store.write() as db:
            self._write_call(db, call_id)
        return True

    async def transfer_call(self, call_id: str, from_owner: str, to_owner: str) -> bool:
        if not await super().transfer_call(call_id, from_owner, to_owner):
            return False
        with self.store.write() as db:
            self._write_call(db, call_id)
        return True

    async def take_over(self, instance: str, limit: int) -> list[CallSnapshot]:
        taken = await super().take_over(instance, limit)
        if taken:
            with self.store.write() as db:
                for snapshot in taken:
                    self._write_call(db, snapshot.call_id)
        return taken
