"""Running a coroutine eagerly: until it first waits, without a task."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Finished(Generic[T]):
    value: T


def start_eagerly(work: Coroutine[Any, Any, T]) -> Finished[T] | asyncio.Task[T]:
    """Run ``work`` until it first waits; finish it in a task only if it does.

    What ``asyncio.eager_task_factory`` does in Python 3.12: a webhook whose runtime work
    never waits (state in this process) costs no task and no trip through the event loop.
    """
    try:
        waiting_on = work.send(None)
    except StopIteration as stop:
        return Finished(cast(T, stop.value))
    return asyncio.ensure_future(_carry_on(work, waiting_on))


async def _carry_on(work: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    return await _Resumed(work, waiting_on)


class _Resumed(Generic[T]):
    """Awaitable that hands the task the future ``work`` already waits on, then drives it."""

    def __init__(self, work: Coroutine[Any, Any, T], waiting_on: Any) -> None:
        self._work = work
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, T]:
        yielded = self._waiting_on
        while True:
            try:
                sent = yield yielded
            except BaseException as error:  # cancellation or a failed future: pass it on
                try:
                    yielded = self._work.throw(error)
                except StopIteration as stop:
                    return cast(T, stop.value)
            else:
                try:
                    yielded = self._work.send(sent)
                except StopIteration as stop:
                    return cast(T, stop.value)
