"""The SIP suite runs only against a lab Asterisk named by ``IVR_LAB_ASTERISK``.

Without it every test here is skipped (CI does not run them: they need a built Asterisk,
SIPp and sox, see docs/asterisk.md, "SIP and RTP"). Run them with:

    IVR_LAB_ASTERISK="ari=http://127.0.0.1:8088 sip=127.0.0.1:5060 prompts=/work/lab/prompts \\
        ca=/work/lab/asterisk/lab/etc/keys/sip.crt" \\
        .venv/bin/pytest tests/sip -m sip -v
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sip.lab import Ari, LabAsterisk, Service, running_service, sipp_available

SERVICE_PORT = 8191


@pytest.fixture(scope="session")
def lab() -> LabAsterisk:
    found = LabAsterisk.from_env()
    if found is None:
        pytest.skip("IVR_LAB_ASTERISK is not set: no lab Asterisk for the SIP suite")
    if not sipp_available():
        pytest.skip("sipp or sox missing (apt-get install sip-tester sox)")
    return found


@pytest.fixture(scope="session")
def ari(lab: LabAsterisk) -> Iterator[Ari]:
    ari = Ari(lab)
    try:
        channels, bridges = ari.wait_empty(timeout=1)
        if channels or bridges:
            pytest.fail(f"the lab Asterisk is not idle: channels {channels}, bridges {bridges}")
        yield ari
    finally:
        ari.close()


@pytest.fixture(scope="module")
def service(
    lab: LabAsterisk, ari: Ari, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    work = tmp_path_factory.mktemp("service")
    with running_service(lab, work, SERVICE_PORT) as running:
        yield running


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(autouse=True)
def nothing_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each SIP test: no channel and no bridge left in Asterisk."""
    yield
    if "ari" not in request.fixturenames:
        return
    ari: Ari = request.getfixturevalue("ari")
    channels, bridges = ari.wait_empty(timeout=15)
    assert channels == [], f"channels left: {channels}"
    assert bridges == [], f"bridges left: {bridges}"
