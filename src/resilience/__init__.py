"""Retries and backoffs, written once for every client and loop of the project.

``Backoff`` gives capped exponential delays (with jitter where many peers reconnect at
once); ``retry`` runs an async attempt again on the failures said to be transient, with a
``Backoff`` between attempts and a limit in attempts and in total delay (tenacity does the
bookkeeping). Nothing here imports the rest of the project.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

__all__ = ["Backoff", "Sleep", "retry"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class Backoff:
    """Exponential delays, capped: ``initial_s * factor**attempt`` (attempt from 0), at most
    ``maximum_s``; with ``jitter``, a random share of it between half and all."""

    initial_s: float = 0.5
    factor: float = 2.0
    maximum_s: float = 30.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        base = min(self.maximum_s, self.initial_s * self.factor ** max(attempt, 0))
        return base * self.rng.uniform(0.5, 1.0) if self.jitter else base


async def retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    attempts: int,
    max_delay_s: float,
    backoff: Backoff,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """``await attempt()``, again after a ``backoff`` delay while it raises ``retry_on``, at
    most ``attempts`` times and not past ``max_delay_s``; the last failure is raised."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts) | stop_after_delay(max_delay_s),
        wait=lambda state: backoff.delay(state.attempt_number - 1),
        retry=retry_if_exception_type(retry_on),
        sleep=sleep,
        reraise=True,
    )
    async for state in retrying:
        with state:
            return await attempt()
    raise AssertionError("unreachable: tenacity reraises the last failure")  # pragma: no cover
