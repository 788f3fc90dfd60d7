"""Write-behind for the records: a call never waits for the database.

The runtime hands each finished call (and each call-back request) to ``RecordWriter``, which
only appends it to an in-memory queue. A thread takes batches from the queue and writes
them in one transaction each; when the database is slow or down, the batch goes back to the
head of the queue and is retried with a growing pause. Writes are idempotent (one row per
call id), so a batch that did reach the database before an error is not written twice.

Nothing is lost on a clean stop: ``stop()`` keeps writing until the queue is empty or its
time is up, then appends whatever is left to a spool file (JSON lines), which the next
start writes first. A queue that outgrows its bound spills to the same file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ivr.flow.vocabulary import CallSummary
from ivr.records.store import CallbackRequest, CallRecord, Item, RecordStore, item_from_dict
from ivr.runtime.runtime import FinishedCall
from resilience import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriterStats:
    """What health reports about the records writer."""

    queued: int
    written: int
    duplicates: int
    failures: int
    spooled: int
    last_error: str | None
    failing: bool = False  # the last write attempt failed

    def as_dict(self) -> dict[str, object]:
        return {
            "failing": self.failing,
            "queued": self.queued,
            "written": self.written,
            "duplicates": self.duplicates,
            "failures": self.failures,
            "spooled": self.spooled,
            "last_error": self.last_error,
        }


class RecordWriter:
    """``CallRecordSink``, ``FinishedCallSink`` and ``CallbackSink`` with a write-behind queue."""

    def __init__(
        self,
        store: RecordStore,
        spool_path: Path | None = None,
        *,
        instance_id: str | None = None,
        batch_size: int = 500,
        max_queue: int = 50_000,
        linger_s: float = 0.02,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
    ) -> None:
        self.store = store
        self.spool_path = spool_path
        self.instance_id = instance_id
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._linger_s = linger_s
        self._backoff = Backoff(backoff_initial_s, maximum_s=backoff_max_s, jitter=False)
        self._queue: deque[Item] = deque()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._spool_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._deadline = float("inf")
        self._from_spool = 0  # items at the head of the queue that came from the spool file
        self._loading: Path | None = None
        self._overflowed = False
        self._written = 0
        self._duplicates = 0
        self._failures = 0
        self._spooled = 0
        self._last_error: str | None = None
        self._failing = False

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Load what a previous run spooled, then start writing in the background."""
        if self._thread is not None:
            return
        self.store.ensure_directory()
        self._load_spool()
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> int:
        """Write what is queued (for at most ``timeout_s``), spool the rest; returns how
        many items went to the spool file."""
        with self._cond:
            self._stopping = True
            self._deadline = time.monotonic() + timeout_s
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s + 5.0)
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
        if left:
            self._spool(left)
            log.warning("%d records could not be written: kept in %s", len(left), self.spool_path)
        return len(left)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written (True) or the time is up."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                queued=len(self._queue) + self._in_flight,
                written=self._written,
                duplicates=self._duplicates,
                failures=self._failures,
                spooled=self._spooled,
                last_error=self._last_error,
                failing=self._failing,
            )

    # ----------------------------------------------------------------- sinks

    def submit(self, item: Item) -> None:
        """Queue an item; never blocks on the database."""
        with self._cond:
            if len(self._queue) < self._max_queue or self.spool_path is None:
                self._queue.append(item)
                self._cond.notify_all()
                return
            self._overflowed = True
        self._spool([item])

    async def call_finished(
        self, summary: CallSummary, started_at: datetime, ended_at: datetime
    ) -> None:
        self.submit(
            CallRecord.from_summary(summary, started_at, ended_at, instance_id=self.instance_id)
        )

    async def call_ended(self, call: FinishedCall) -> None:
        self.submit(CallRecord.from_finished(call))

    async def register(self, departement: str, number: str, call_id: str, at: datetime) -> None:
        self.submit(CallbackRequest(call_id, departement, number, at))

    # ----------------------------------------------------------------- worker

    def _take_batch(self) -> list[Item] | None:
        """The next batch, or None when stopping with nothing left."""
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                if self._overflowed:
                    self._overflowed = False
                    self._load_spool()
                    continue
                self._cond.wait(1.0)
            if len(self._queue) < self._batch_size and not self._stopping:
                self._cond.wait(self._linger_s)  # let a burst gather into one transaction
            count = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._in_flight = count
            return batch

    def _run(self) -> None:
        failures = 0  # in a row
        while (batch := self._take_batch()) is not None:
            try:
                result = self.store.write(batch)
            except Exception as exc:  # any database failure: retry the batch later
                with self._cond:
                    self._queue.extendleft(reversed(batch))
                    self._in_flight = 0
                    self._failures += 1
                    self._failing = True
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    if self._stopping and time.monotonic() >= self._deadline:
                        self._cond.notify_all()
                        return
                    backoff = self._backoff.delay(failures)
                    log.warning("records not written (%s), retry in %.1f s", exc, backoff)
                    self._cond.wait(min(backoff, max(self._deadline - time.monotonic(), 0)))
                failures += 1
                continue
            failures = 0
            if result.duplicates:
                log.info("records already written, left as they were: %s", result.duplicates)
            with self._cond:
                self._written += result.calls + result.callbacks
                self._failing = False
                self._duplicates += len(result.duplicates)
                self._in_flight = 0
                if self._from_spool:
                    self._from_spool = max(self._from_spool - len(batch), 0)
                    if not self._from_spool and self._loading is not None:
                        self._loading.unlink(missing_ok=True)
                        self._loading = None
                self._cond.notify_all()

    # ----------------------------------------------------------------- spool file

    def _spool(self, items: list[Item]) -> None:
        if self.spool_path is None:
            log.error("%d records lost: no spool file configured", len(items))
            return
        with self._spool_lock:
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            with self.spool_path.open("a", encoding="utf-8") as spool:
                for item in items:
                    spool.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
                spool.flush()
                os.fsync(spool.fileno())
            self._spooled += len(items)

    def _load_spool(self) -> None:
        """Put spooled items at the head of the queue; the file goes once they are written.

        The caller holds ``_cond`` or no thread runs yet."""
        if self.spool_path is None:
            return
        loading = self.spool_path.with_name(self.spool_path.name + ".loading")
        with self._spool_lock:
            if self.spool_path.exists():
                with (
                    self.spool_path.open(encoding="utf-8") as new,
                    loading.open("a", encoding="utf-8") as merged,
                ):
                    merged.write(new.read())
                self.spool_path.unlink()
        if not loading.exists():
            return
        items = []
        for line in loading.read_text(encoding="utf-8").splitlines():
            if line.strip():
                items.append(item_from_dict(json.loads(line)))
        # Already-loaded items at the head are in the file too: replace them, keep order.
        for _ in range(min(self._from_spool, len(self._queue))):
            self._queue.popleft()
        self._queue.extendleft(reversed(items))
        self._from_spool = len(items)
        self._loading = loading
        if items:
            log.info("%d spooled records to write from %s", len(items), loading)
