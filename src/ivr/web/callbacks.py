"""Placing a call-back from the listener console: a port the composition root fills.

The listener presses « Rappeler maintenant » on a call-back the caller asked for: the
telephony rings the listener's phone first, then the person's, presenting the configured
call-back number (0 800 112 112), and bridges them. The listener then marks it done.
"""

from __future__ import annotations

from typing import Protocol


class CallbackError(Exception):
    """The call-back could not be placed; ``str(exc)`` is French, for the listener."""


class CallbackPlacer(Protocol):
    async def place(self, departement: str, listener: str, person: str) -> str:
        """Start ringing ``listener`` then ``person``; returns an id for the log.

        Raises ``CallbackError`` with a French reason when it cannot be placed."""
        ...


class RecordingPlacer:
    """A ``CallbackPlacer`` for tests: keeps what it is asked, or fails as told."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, str, str]] = []
        self.fail_with: str | None = None

    async def place(self, departement: str, listener: str, person: str) -> str:
        if self.fail_with is not None:
            raise CallbackError(self.fail_with)
        self.placed.append((departement, listener, person))
        return f"cb-{len(self.placed)}"
