"""Two real ``ivr`` server processes on one Redis and one PostgreSQL, driven over HTTP.

Each process is ``python -m tests.support.node_serve`` (``ivr serve`` plus the internal
endpoints and the node's lifespan), with its own instance id, data directory and log file.
Calls are simulated inside the processes (``POST /internal/simulate``); what they did is read from
the simulated transport's ledger (a Redis list) and from the call records in PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml

from ivr.records.db import make_engine, upgrade
from ivr.records.store import CallRow, RecordStore
from tests.state.helpers import REPO, SHIPPED, free_port

ALL_WEEK = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def always_open_config(directory: Path) -> Path:
    """The shipped configuration: the 93's referents and national support open 24/7, and its
    115 never saturated."""
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    open_hours = {"weekly": ALL_WEEK, "closed_on_public_holidays": False}
    data["national"]["support"]["hours"] = open_hours
    data["departements"]["93"]["assistance"]["hours"] = open_hours
    # The burst queues up to twenty 115 calls at once before any handling time is known, so
    # the estimate starts from the default (300 s per call): on a slow machine that crossed
    # the saturation threshold and some calls heard the deterrence prompt instead of waiting.
    # These tests are about sharing the work, not deterrence (tested in tests/flow).
    queue = data["departements"]["93"]["115"]["queue"]
    queue["max_estimated_wait_s"] = 86_400
    queue["max_waiting_calls"] = 1_000
    path = directory / "departments.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Server:
    """One ``ivr`` process."""

    def __init__(self, name: str, directory: Path, env: dict[str, str], config: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / f"{name}.log"
        self.data_dir = directory / name
        self.env = {**env, "IVR_INSTANCE_ID": name, "IVR_DATA_DIR": str(self.data_dir)}
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.node_serve",
                "--port",
                str(self.port),
                "--config",
                str(self.config),
            ],
            cwd=REPO,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited at start:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/internal/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-6000:]

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=30)

    def simulate(self, to: str, **script: Any) -> dict[str, Any]:
        response = self.post("/internal/simulate", {"to": to, **script})
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def presence(self, departement: str, number: str, presence: str) -> None:
        response = self.post(
            "/internal/presence",
            {"departement": departement, "number": number, "presence": presence},
        )
        assert response.status_code == 204, response.text

    def live_calls(self) -> dict[str, str]:
        body = httpx.get(f"{self.url}/internal/calls", timeout=10).json()
        return {c["call_id"]: c["phase"] for c in body["calls"]}

    def terminate(self, grace_s: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL if the process is still there after ``grace_s``; returns
        the exit code of a clean exit (None when it had to be killed)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def ensure_stopped(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


class Cluster:
    """Two instances, ``a`` and ``b``, on the same Redis and PostgreSQL."""

    def __init__(
        self, directory: Path, redis_url: str, database_url: str, redis_prefix: str = "ivr:"
    ) -> None:
        self.redis_url = redis_url
        self.ledger_key = f"{redis_prefix}sim:ledger"
        self.database_url = database_url
        engine = make_engine(database_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        config = always_open_config(directory)
        env = {
            "IVR_REDIS_URL": redis_url,
            "IVR_REDIS_PREFIX": redis_prefix,
            "IVR_DATABASE_URL": database_url,
            "IVR_LEASE_S": "2",
            "IVR_HEARTBEAT_S": "0.25",
        }
        self.a = Server("ivr-a", directory, env, config)
        self.b = Server("ivr-b", directory, env, config)
        self._redis = redis.Redis.from_url(redis_url, decode_responses=True)

    def start(self) -> None:
        self.a.start()
        self.b.start()

    def close(self) -> None:
        self.a.ensure_stopped()
        self.b.ensure_stopped()
        self._redis.close()

    # ----------------------------------------------------------------- what happened

    def ledger(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._redis.lrange(self.ledger_key, 0, -1)]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.ledger() if e["event"] == event]

    def records(self) -> list[CallRow]:
        engine = make_engine(self.database_url)
        try:
            return RecordStore(engine, lambda: datetime.now(UTC)).latest_calls(10_000)
        finally:
            engine.dispose()

    def wait(self, check: Callable[[], bool], within: float = 60.0, what: str = "") -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"still not {what} after {within} s\n--- ivr-a\n{self.a.log()}"
                    f"\n--- ivr-b\n{self.b.log()}"
                )
            time.sleep(0.1)

    def wait_records(self, count: int, within: float = 60.0) -> list[CallRow]:
        self.wait(lambda: len(self.records()) >= count, within, f"{count} records")
        return self.records()

    def hangups_per_call(self) -> Counter[str]:
        return Counter(e["call"] for e in self.events("hangup"))
