"""Fixtures of the LaML transport tests: the real routing file and flows, loaded once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.flow import CallFlow, build_flow
from routing.config import RoutingConfig
from routing.loader import load_config
from tests.laml.harness import Harness, running

CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "departments.yaml"


@pytest.fixture(scope="session")
def routing_config() -> RoutingConfig:
    return load_config(CONFIG_PATH)


@pytest.fixture(scope="session")
def flow(routing_config: RoutingConfig) -> CallFlow:
    return build_flow(routing_config)


@pytest.fixture
async def service(flow: CallFlow) -> AsyncIterator[Harness]:
    async with running(flow) as harness:
        yield harness
