"""The routing in force: the file, or the version an admin applied since; shared by instances."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

import pytest

from ivr.composition import Services, build_services
from ivr.config_sync import digest, latest_version
from ivr.settings import Settings
from routing.config import RoutingConfig
from routing.loader import parse_config

REPO = Path(__file__).parent.parent.parent
PARIS_LRO = '{number: "04 65 71 00 75", label: "Astreinte 115 Paris"}'
NEW_PARIS_LRO = '{number: "04 65 71 00 99", label: "Nouvelle astreinte 115 Paris"}'


def routing_file(tmp_path: Path) -> Path:
    path = tmp_path / "departments.yaml"
    shutil.copy(REPO / "config" / "departments.yaml", path)
    return path


def services(tmp_path: Path, path: Path) -> Services:
    return build_services(Settings(config_path=path, data_dir=tmp_path / "data"))


def paris_lro(services: Services) -> list[str]:
    return [step.number for step in services.flow.routes.lro("75")][:1]


def admin_applies(services: Services, text: str) -> int:
    """What the admin page does once a pasted file validated."""
    version = services.store.record_config_version(text, digest(text), "admin.national")
    services.apply_config(parse_config(text, "departments.yaml"), text)
    return version


def set_mtime(path: Path, seconds_from_now: float) -> None:
    moment = path.stat().st_mtime + seconds_from_now
    os.utime(path, (moment, moment))


def test_given_first_start_then_the_file_is_in_force_and_recorded_as_a_version(
    tmp_path: Path,
) -> None:
    path = routing_file(tmp_path)
    first = services(tmp_path, path)
    assert paris_lro(first) == ["+33465710075"]
    stored = latest_version(first.store)
    assert stored is not None
    assert stored.sha256 == digest(path.read_text(encoding="utf-8"))

    again = services(tmp_path, path)  # a restart with the same file records nothing new
    assert latest_version(again.store) == stored


def test_given_admin_applied_a_version_when_service_restarts_then_that_version_is_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = routing_file(tmp_path)
    set_mtime(path, -3600)  # deployed an hour ago
    first = services(tmp_path, path)
    changed = path.read_text(encoding="utf-8").replace(PARIS_LRO, NEW_PARIS_LRO)
    version = admin_applies(first, changed)
    assert paris_lro(first) == ["+33465710099"]

    with caplog.at_level(logging.WARNING, logger="ivr.config_sync"):
        restarted = services(tmp_path, path)

    assert paris_lro(restarted) == ["+33465710099"], "the admin's change survives a restart"
    assert restarted.config_sync is not None
    assert restarted.config_sync.current == version
    assert f"version {version}" in caplog.text


def test_given_file_deployed_after_the_last_version_then_the_file_wins_and_is_recorded(
    tmp_path: Path,
) -> None:
    path = routing_file(tmp_path)
    set_mtime(path, -3600)
    first = services(tmp_path, path)
    admin_applies(first, path.read_text(encoding="utf-8").replace(PARIS_LRO, NEW_PARIS_LRO))
    deployed = path.read_text(encoding="utf-8").replace(
        PARIS_LRO, '{number: "04 65 71 00 98", label: "Astreinte déployée"}'
    )
    path.write_text(deployed, encoding="utf-8")
    set_mtime(path, 3600)  # modified after the admin's version

    restarted = services(tmp_path, path)

    assert paris_lro(restarted) == ["+33465710098"]
    stored = latest_version(restarted.store)
    assert stored is not None
    assert stored.sha256 == digest(deployed)


def test_given_stored_version_no_longer_valid_then_the_file_is_used_and_it_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = routing_file(tmp_path)
    set_mtime(path, -3600)
    first = services(tmp_path, path)
    broken = "national: [\n"
    first.store.record_config_version(broken, digest(broken), "admin.national")

    with caplog.at_level(logging.ERROR, logger="ivr.config_sync"):
        restarted = services(tmp_path, path)

    assert paris_lro(restarted) == ["+33465710075"]
    assert "no longer validates" in caplog.text


async def test_given_two_instances_when_one_accepts_a_version_then_the_other_applies_it(
    tmp_path: Path,
) -> None:
    path = routing_file(tmp_path)
    a = services(tmp_path, path)
    b = services(tmp_path, path)  # the same records (a shared database)
    assert a.config_sync is not None
    assert b.config_sync is not None
    changed = path.read_text(encoding="utf-8").replace(PARIS_LRO, NEW_PARIS_LRO)
    admin_applies(a, changed)

    assert await a.config_sync.check() is False, "already in force where it was accepted"
    assert paris_lro(b) == ["+33465710075"]
    assert await b.config_sync.check() is True
    assert paris_lro(b) == ["+33465710099"]
    assert b.runtime.flow is b.flow, "the runtime routes new steps by it"
    assert await b.config_sync.check() is False


async def test_given_sync_running_then_it_polls_and_stops_with_the_service(
    tmp_path: Path,
) -> None:
    path = routing_file(tmp_path)
    a = services(tmp_path, path)
    b = services(tmp_path, path)
    assert b.config_sync is not None
    b.config_sync.poll_s = 0.05
    applied = asyncio.Event()
    apply = b.config_sync.apply

    def applying(config: RoutingConfig, text: str) -> None:
        apply(config, text)
        applied.set()

    b.config_sync.apply = applying
    stop = asyncio.Event()
    running = asyncio.ensure_future(b.config_sync.run(stop))
    admin_applies(a, path.read_text(encoding="utf-8").replace(PARIS_LRO, NEW_PARIS_LRO))
    async with asyncio.timeout(5):
        await applied.wait()
    assert paris_lro(b) == ["+33465710099"]
    stop.set()
    async with asyncio.timeout(5):
        await running
