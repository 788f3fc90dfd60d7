"""``ivr serve`` on its embedded defaults, as a newcomer starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ivr.app import create_app
from ivr.composition import build_services
from ivr.settings import Settings

REPO = Path(__file__).parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_given_default_settings_then_healthz_reports_the_configuration(
    tmp_path: Path,
) -> None:
    settings = Settings(config_path=REPO / "config" / "departments.yaml", data_dir=tmp_path)
    transport = httpx.ASGITransport(app=create_app(build_services(settings)))
    async with httpx.AsyncClient(transport=transport, base_url="http://ivr") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["departements"] == 101
    assert body["assistance_number"] == "+33806000156"
    # The embedded default keeps live calls in a local file (a restart cuts no call).
    assert body["live_state"]["backend"] == "local"
    assert (tmp_path / "live-state.sqlite3").exists()


def test_given_ivr_serve_process_then_it_answers_healthz_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env["IVR_DATA_DIR"] = str(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["departements"] == 101
    finally:
        process.terminate()
        process.wait(timeout=15)
        assert process.stdout is not None
        output = process.stdout.read().decode()
        process.stdout.close()
    # uvicorn shuts down cleanly, then re-raises the signal so the exit status tells it.
    assert process.returncode in (0, -15)
    assert "Finished server process" in output


def test_given_broken_configuration_then_serve_refuses_to_start_with_the_errors() -> None:
    bad = REPO / "tests" / "data" / "bad" / "bad_number.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "serve", "--config", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "« 06 12 » n'est pas un numéro de téléphone valide" in done.stderr
