"""Helpers for live-state tests: the shipped flow, a recording transport, a private Redis."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from ivr.flow import CallFlow, build_flow
from ivr.runtime.runtime import MediaCommand
from routing.loader import load_config

REPO = Path(__file__).parent.parent.parent
SHIPPED = REPO / "config" / "departments.yaml"
PARIS = ZoneInfo("Europe/Paris")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)

LINE_115_93 = "+33353010930"
LISTENERS_93 = ("+33261910930", "+33261910931", "+33261910932")
REFERENTS_93 = ("+33199000930", "+33199000931", "+33199000932")
ASSISTANCE = "+33806000156"
CALLER = "+33612345678"


@functools.cache
def shipped_flow() -> CallFlow:
    return build_flow(load_config(SHIPPED))


class RecordingTransport:
    """A transport that keeps what it was told to do, per call."""

    def __init__(self) -> None:
        self.delivered: dict[str, list[MediaCommand]] = defaultdict(list)

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        self.delivered[call_id].extend(commands)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A real ``redis-server`` this test owns, so that it can stop it and start it again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server not installed"
            if os.environ.get("IVR_REQUIRE_SERVERS") == "1":
                pytest.fail(f"{message} and IVR_REQUIRE_SERVERS=1")
            pytest.skip(message)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], within: float = 10.0, every: float = 0.05
) -> None:
    """Wait until ``check()`` (sync or async) is true."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {within} s")
        await asyncio.sleep(every)
