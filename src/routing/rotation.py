"""The rotation pointer: who answered last, per département (or "national" for tier 2).

It lives outside the flow and is shared by every call, so that rotation by last answerer is
fair across calls. This is the in-process store; the Redis one shares it across instances.
"""

from __future__ import annotations

import threading
from typing import Protocol


class RotationStore(Protocol):
    """Where the last answerer of each hunt group is kept."""

    def last_answerer(self, key: str) -> str | None: ...

    def record_answerer(self, key: str, number: str) -> None: ...


class InMemoryRotationStore:
    """Rotation pointers in this process's memory (the embedded default)."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()

    def last_answerer(self, key: str) -> str | None:
        with self._lock:
            return self._last.get(key)

    def record_answerer(self, key: str, number: str) -> None:
        with self._lock:
            self._last[key] = number
