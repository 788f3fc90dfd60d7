"""The latest AML position of each caller number, kept for a short window.

AML arrives on its own path (an SMS or an HTTPS POST), seconds after the call starts. The
call handling code asks ``latest(caller, now)`` when it shows a call, so the position is
attached to the live call from that number. In memory on purpose: a position older than
the window is useless, and after a restart the next AML message refills it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from geoloc.aml import AmlReport
from geoloc.numbers import normalise_number

DEFAULT_WINDOW = timedelta(minutes=15)
DEFAULT_MAX_ENTRIES = 10_000


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock)."""
    return datetime.now(UTC)


class RecentPositions:
    """Thread-safe map from normalised E.164 number to its latest AML report."""

    def __init__(
        self,
        window: timedelta = DEFAULT_WINDOW,
        clock: Callable[[], datetime] = utc_now,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self.window = window
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[AmlReport, datetime]] = {}

    def attach(self, number: str, report: AmlReport) -> bool:
        """Keep ``report`` as the latest for ``number``; False if a newer one is kept.

        Raises ``ValueError`` when ``number`` is not a phone number.
        """
        key = normalise_number(number)
        if key is None:
            raise ValueError(f"numéro d'appelant invalide « {number[:24]} »")
        received = self._clock()
        with self._lock:
            self._expire(received)
            current = self._entries.get(key)
            if current is not None and current[0].at > report.at:
                return False
            self._entries.pop(key, None)  # re-insert: dict order is arrival order
            self._entries[key] = (report, received)
            while len(self._entries) > self._max_entries:
                oldest = next(iter(self._entries))
                del self._entries[oldest]
            return True

    def latest(self, number: str, now: datetime | None = None) -> AmlReport | None:
        """The latest report for ``number`` received within the window before ``now``."""
        key = normalise_number(number)
        if key is None:
            return None
        moment = now if now is not None else self._clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        report, received = entry
        if moment - received > self.window or received - moment > self.window:
            return None
        return report

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _expire(self, now: datetime) -> None:
        # Entries are in arrival order, so the stale ones are at the front.
        while self._entries:
            key = next(iter(self._entries))
            if now - self._entries[key][1] <= self.window:
                break
            del self._entries[key]
