"""A mailbox drained by one task at a time: the base of every call the transport drives.

Messages to one actor are handled in order, one at a time; actors run in parallel and share
no lock. Posting never blocks (the websocket reader only parses and posts): the first
message into an idle mailbox spawns the task that drains it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, Generic, TypeVar

M = TypeVar("M")

Spawn = Callable[[Coroutine[Any, Any, None]], None]
Handler = Callable[[Any, Any], Awaitable[None]]

log = logging.getLogger(__name__)


class Actor(Generic[M]):
    """One mailbox; a subclass says how each type of message is handled (``HANDLERS``)."""

    HANDLERS: ClassVar[dict[type, Handler]] = {}
    """Message type -> ``async def handler(self, message)``; a type not listed is ignored."""

    def __init__(self, spawn: Spawn) -> None:
        self.mailbox: deque[tuple[M, float]] = deque()  # with when it arrived (monotonic)
        self.busy = False
        self._spawn = spawn

    def post(self, message: M) -> None:
        self.mailbox.append((message, time.monotonic()))
        if not self.busy:
            self.busy = True
            self._spawn(self._drain())

    async def _drain(self) -> None:
        try:
            while self.mailbox:
                message, posted = self.mailbox.popleft()
                if self.closed:
                    continue
                handler = self.HANDLERS.get(type(message))
                try:
                    if handler is not None:
                        await handler(self, message)
                except Exception:
                    await self.failed(message)
                await self.handled()
                self.timed(message, time.monotonic() - posted)
        finally:
            self.busy = False

    @property
    def closed(self) -> bool:
        """Messages that arrive once this is true are dropped."""
        return False

    async def failed(self, message: M) -> None:
        """A handler raised (a bug): log it, and leave the actor in a safe state."""
        log.exception("%s failed on %s", self, type(message).__name__)

    def timed(self, message: M, seconds: float) -> None:
        """After ``handled``: how long ``message`` took from its posting (metrics)."""

    async def handled(self) -> None:
        """After each message, handled or failed (not after a dropped one)."""
