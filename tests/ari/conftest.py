"""Fixtures: a harness with the fake Asterisk, checked for leaks and bad requests at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.ari.harness import Harness


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        await h.close()
    assert h.fake.violations == [], "requests or events outside the ARI documents"
