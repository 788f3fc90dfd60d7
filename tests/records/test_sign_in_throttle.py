"""The failed sign-in counters in the records database (``ivr.web.throttle``), on SQLite
and PostgreSQL: counting, the window, the lock, clearing, and concurrent failures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from ivr.web import throttle
from ivr.web.throttle import ThrottlePolicy
from tests.records.conftest import Clock

POLICY = ThrottlePolicy(login_failures=3, address_failures=10)


def test_given_failures_below_the_limit_then_no_lock_and_the_limit_locks_for_the_lockout(
    engine: sa.Engine, clock: Clock
) -> None:
    key = throttle.login_key("  C.Dupont ")
    assert key == "login:c.dupont"
    assert throttle.record_failure(engine, key, 3, POLICY, clock()) is None
    assert throttle.record_failure(engine, key, 3, POLICY, clock()) is None
    assert throttle.active_lock(engine, [key], clock()) is None
    lock = throttle.record_failure(engine, key, 3, POLICY, clock())
    assert lock == throttle.Lock(key, clock() + POLICY.lockout)
    assert lock.kind == "login"
    assert throttle.active_lock(engine, [key, "addr:10.0.0.1"], clock()) == lock
    assert throttle.locks(engine, clock()) == {key: clock() + POLICY.lockout}
    clock.advance(minutes=15)
    assert throttle.active_lock(engine, [key], clock()) is None


def test_given_failures_spread_beyond_the_window_then_the_count_starts_again(
    engine: sa.Engine, clock: Clock
) -> None:
    key = throttle.address_key("192.0.2.7")
    throttle.record_failure(engine, key, 3, POLICY, clock())
    throttle.record_failure(engine, key, 3, POLICY, clock())
    clock.advance(minutes=15, seconds=1)
    assert throttle.record_failure(engine, key, 3, POLICY, clock()) is None  # 1 in a new window
    assert throttle.record_failure(engine, key, 3, POLICY, clock()) is None
    assert throttle.record_failure(engine, key, 3, POLICY, clock()) is not None


def test_given_a_lock_when_cleared_then_gone_and_clearing_again_says_there_was_nothing(
    engine: sa.Engine, clock: Clock
) -> None:
    key = throttle.login_key("a")
    for _ in range(3):
        throttle.record_failure(engine, key, 3, POLICY, clock())
    assert throttle.clear(engine, key) is True
    assert throttle.active_lock(engine, [key], clock()) is None
    assert throttle.clear(engine, key) is False


def test_given_idle_counters_then_the_next_failure_deletes_them(
    engine: sa.Engine, clock: Clock
) -> None:
    throttle.record_failure(engine, throttle.login_key("old"), 3, POLICY, clock())
    clock.advance(days=2)
    throttle.record_failure(engine, throttle.login_key("new"), 3, POLICY, clock())
    with engine.connect() as conn:
        keys = conn.scalars(sa.select(throttle.TABLE.c.key)).all()
    assert keys == ["login:new"]


def test_given_concurrent_failures_from_several_instances_then_every_one_is_counted(
    engine: sa.Engine, clock: Clock
) -> None:
    key = throttle.login_key("c.dupont")
    policy = ThrottlePolicy(login_failures=1000, window=timedelta(hours=1))
    now = clock()
    with ThreadPoolExecutor(max_workers=8) as pool:
        locks = list(
            pool.map(lambda _: throttle.record_failure(engine, key, 40, policy, now), range(40))
        )
    assert sum(lock is not None for lock in locks) == 1  # the 40th failure, exactly once
    assert throttle.active_lock(engine, [key], now) is not None
