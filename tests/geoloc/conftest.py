"""Shared fixtures: one GeoIndex (the shipped data) for the whole test session."""

from __future__ import annotations

import pytest

from geoloc.index import GeoIndex
from geoloc.locator import Locator


@pytest.fixture(scope="session")
def index() -> GeoIndex:
    return GeoIndex.load()


@pytest.fixture(scope="session")
def locator(index: GeoIndex) -> Locator:
    return Locator(index)
