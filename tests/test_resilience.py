"""The one retry helper and backoff of the project."""

from __future__ import annotations

import random

import pytest

from resilience import Backoff, retry


class TransientError(Exception):
    pass


class PermanentError(Exception):
    pass


def test_given_no_jitter_then_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(0.2, maximum_s=1.0, jitter=False)
    assert [backoff.delay(n) for n in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff.delay(-1) == 0.2


def test_given_jitter_then_each_delay_is_between_half_and_all_of_its_step() -> None:
    backoff = Backoff(0.5, maximum_s=8.0, rng=random.Random(7))
    for attempt, step in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        assert step / 2 <= backoff.delay(attempt) <= step


async def test_given_transient_failures_then_retried_with_the_backoff_until_success() -> None:
    slept: list[float] = []
    calls = 0

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TransientError
        return "ok"

    result = await retry(
        attempt,
        retry_on=TransientError,
        attempts=5,
        max_delay_s=60,
        backoff=Backoff(0.2, maximum_s=1.0, jitter=False),
        sleep=sleep,
    )
    assert result == "ok"
    assert calls == 3
    assert slept == [0.2, 0.4]


async def test_given_attempts_exhausted_then_the_last_failure_is_raised() -> None:
    calls = 0

    async def sleep(seconds: float) -> None:
        pass

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise TransientError(f"essai {calls}")

    with pytest.raises(TransientError, match="essai 3"):
        await retry(
            attempt,
            retry_on=TransientError,
            attempts=3,
            max_delay_s=60,
            backoff=Backoff(0.01, jitter=False),
            sleep=sleep,
        )
    assert calls == 3


async def test_given_a_failure_not_said_transient_then_not_retried() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise PermanentError

    with pytest.raises(PermanentError):
        await retry(
            attempt,
            retry_on=TransientError,
            attempts=5,
            max_delay_s=60,
            backoff=Backoff(jitter=False),
        )
    assert calls == 1
