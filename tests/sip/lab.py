"""The SIP suite's view of the lab: the Asterisk (ARI), the service, SIPp user agents.

``IVR_LAB_ASTERISK`` names the lab Asterisk (``deploy/asterisk/lab.sh start``), as
space-separated ``key=value`` words; only ``ari`` is required:

    IVR_LAB_ASTERISK="ari=http://127.0.0.1:8088 sip=127.0.0.1:5060 user=ivr password=ivr-lab \
        prompts=/work/lab/prompts"

The suite starts the service itself (``tests/sip/lab_service.py``, dial template
``Local/{number}@ivr-outbound``) and the SIPp user agents, all on 127.0.0.1, on the ports
``deploy/asterisk/lab-pjsip.conf`` expects: the caller (operator side) from 5071, the
in-band DTMF caller from 5072, the operator's far end on 5070, the phones ecoutant-75-1 on
5090 and referent-75-1 on 5080 (registered with the lab's password first).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.sip.rtp import rms

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
HOST = "127.0.0.1"
CALLER_PORT = 5071
INBAND_CALLER_PORT = 5072
OPERATOR_PORT = 5070
REFERENT_PORT = 5080
LISTENER_PORT = 5090
PHONE_PASSWORD = "lab"
ASSISTANCE = "0806000156"
PARIS_115 = "0353010750"
REFERENT_PARIS = "+33199000750"  # the first referent of Paris: referent-75-1's phone
LISTENER_PARIS = "+33261910750"  # the first listener of Paris: ecoutant-75-1's phone
REMOTE_LISTENER_PARIS = "+33261910751"  # the second: ecoutant-75-2, a remote phone (TLS)
LRO_PARIS = "+33465710075"
LOCAL_TEMPLATE = "Local/{number}@ivr-outbound"


@dataclass(frozen=True)
class LabAsterisk:
    ari: str
    sip: str = "127.0.0.1:5060"
    user: str = "ivr"
    password: str = "ivr-lab"
    prompts: str = ""  # the prompts the lab plays (lab.sh start --prompts); default prompts/fr
    # The lab's TLS certificate, which its remote phones trust (PREFIX/lab/etc/keys/sip.crt,
    # made by lab.sh start): needed by the TLS tests only.
    ca: str = ""

    @classmethod
    def from_env(cls) -> LabAsterisk | None:
        raw = os.environ.get("IVR_LAB_ASTERISK", "").strip()
        if not raw:
            return None
        words = dict(word.split("=", 1) for word in raw.split())
        if "ari" not in words:
            raise ValueError(f"IVR_LAB_ASTERISK needs ari=<url>: {raw!r}")
        return cls(**words)

    @property
    def sip_host(self) -> str:
        return self.sip.rsplit(":", 1)[0]

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.ari.rstrip('/')}/ari", auth=(self.user, self.password), timeout=10
        )


class Ari:
    """The few ARI requests the suite makes to look at Asterisk (never to drive calls)."""

    def __init__(self, lab: LabAsterisk) -> None:
        self.http = lab.client()

    def close(self) -> None:
        self.http.close()

    def channels(self) -> list[dict[str, Any]]:
        response = self.http.get("/channels")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def bridges(self) -> list[dict[str, Any]]:
        response = self.http.get("/bridges")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def stored_recordings(self) -> set[str]:
        response = self.http.get("/recordings/stored")
        response.raise_for_status()
        return {r["name"] for r in response.json()}

    def recording_file(self, name: str) -> bytes:
        response = self.http.get(f"/recordings/stored/{name}/file")
        response.raise_for_status()
        return response.content

    def wait_online(self, endpoint: str, timeout: float = 20.0) -> None:
        """Wait until Asterisk has a reachable contact for a PJSIP endpoint (qualified)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.http.get(f"/endpoints/PJSIP/{endpoint}")
            if response.status_code == 200 and response.json().get("state") == "online":
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"PJSIP endpoint {endpoint} not online within {timeout} s")
            time.sleep(0.2)

    def wait_empty(self, timeout: float = 15.0) -> tuple[list[str], list[str]]:
        """Wait until Asterisk holds no channel and no bridge; what is left otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            channels = [c["name"] for c in self.channels()]
            bridges = [b["id"] for b in self.bridges()]
            if (not channels and not bridges) or time.monotonic() > deadline:
                return channels, bridges
            time.sleep(0.3)


# --------------------------------------------------------------------------- the service


def lab_routing(out: Path) -> Path:
    """The shipped routing file with the assistance line recorded and Paris's referents and
    national support open at all hours (the suite runs at any time of day)."""
    data = yaml.safe_load((ROOT / "config/departments.yaml").read_text())
    every_day = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    national = data["national"]
    national["assistance"]["recording"] = "all"
    always = {"weekly": every_day, "closed_on_public_holidays": False}
    national["support"]["hours"] = always
    for dep in data["departements"].values():
        dep["assistance"]["hours"] = always
    # The first referent of Paris (referent-75-1's phone) first, every call.
    data["departements"]["75"]["assistance"]["strategy"] = "in_order"
    out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return out


@dataclass
class Service:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def post(self, path: str, body: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        response = httpx.post(f"{self.url}{path}", json=body, timeout=timeout)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def ari_connected(self) -> bool:
        """The service holds the application's websocket (its ``/healthz`` says so)."""
        try:
            health = httpx.get(f"{self.url}/healthz", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        return bool((health.get("ari") or {}).get("connected"))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_service(
    lab: LabAsterisk, work: Path, port: int, extra_env: dict[str, str] | None = None
) -> Iterator[Service]:
    env = {
        **os.environ,
        "IVR_ARI_URL": lab.ari,
        "IVR_ARI_USER": lab.user,
        "IVR_ARI_PASSWORD": lab.password,
        "IVR_ARI_APP": "ivr",
        # IVR_LAB_DIAL_TEMPLATE='PJSIP/{number}@operator': everything over the trunk (the
        # phones' tests then fail: they are reached through [ivr-outbound] only).
        "IVR_ARI_DIAL_TEMPLATE": os.environ.get("IVR_LAB_DIAL_TEMPLATE", LOCAL_TEMPLATE),
        "IVR_DATA_DIR": str(work / "data"),
        "IVR_ENVIRONMENT": "development",
        **(extra_env or {}),
    }
    config = lab_routing(work / "routing.yaml")
    log = work / "service.log"
    # IVR_LAB_TRACE=FILE: every ARI event and request appended there (scripts/lab_calls.py).
    trace = os.environ.get("IVR_LAB_TRACE")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("lab_service.py")), "--port",
             str(port), "--config", str(config), *(["--trace", trace] if trace else [])],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    service = Service(port, process, log)
    try:
        deadline = time.monotonic() + 60
        while not service.ari_connected():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not connect to ARI:\n{service.log_text()}")
            time.sleep(0.3)
        yield service
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- SIPp


def sipp_available() -> bool:
    return shutil.which("sipp") is not None and shutil.which("sox") is not None


@dataclass
class Sipp:
    """One SIPp process (a user agent), started in ``work``, its message trace kept."""

    name: str
    work: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    trace: bool = True  # every message in <name>.msg.log (costly under load)
    out: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out = self.work / f"{self.name}.out"

    def start(self) -> Sipp:
        self.work.mkdir(parents=True, exist_ok=True)
        with self.out.open("wb") as out:
            traces = ["-trace_msg", "-message_file", f"{self.name}.msg.log"] if self.trace else []
            self.process = subprocess.Popen(
                ["sipp", *self.args, "-nostdin", *traces, "-trace_err", "-trace_stat",
                 "-fd", "1", "-error_file", f"{self.name}.err.log",
                 "-stf", f"{self.name}.stat.csv"],
                cwd=self.work, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.stop()
            message = f"SIPp {self.name} still running after {timeout} s:\n{self.tail()}"
            raise AssertionError(message) from exc

    def ended_dialogs(self) -> int:
        """Calls this SIPp took (an INVITE received) that ended: a 200 OK to their BYE, sent
        or received. A stray BYE (a dialog of an earlier run Asterisk still closes) does
        not count."""
        invited = {header(m, "Call-ID") for m in self.received_requests("INVITE")}
        ended = set()
        for block in re.split(r"\n-{10,}", self.messages()):
            body = block.split("\n", 2)[-1].lstrip("\n")
            if body.startswith("SIP/2.0 200") and re.search(r"^CSeq: *\d+ BYE", body, re.M):
                ended.add(header(body, "Call-ID"))
        return len(ended & invited)

    def wait_ended(self, timeout: float, dialogs: int = 1) -> None:
        """Wait until ``dialogs`` calls ended (BYE answered), then stop this SIPp. For a
        SIPp answering calls, which Asterisk also sends out-of-dialog OPTIONS (qualify):
        SIPp counts each as a call, so ``-m`` cannot say when the real call is over."""
        deadline = time.monotonic() + timeout
        while self.ended_dialogs() < dialogs:
            if time.monotonic() > deadline or (
                self.process is not None and self.process.poll() is not None
            ):
                self.stop()
                raise AssertionError(
                    f"SIPp {self.name}: no call ended in {timeout} s\n{self.tail()}"
                )
            time.sleep(0.1)
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # SIPp: stop placing/taking calls
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def messages(self) -> str:
        path = self.work / f"{self.name}.msg.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self) -> str:
        parts = []
        for suffix in (".out", ".err.log"):
            path = self.work / f"{self.name}{suffix}"
            if path.exists():
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def received_requests(self, method: str, initial: bool = True) -> list[str]:
        """The requests of this method SIPp received, each as its text; ``initial``: only
        those that open a dialog (no tag in To: not a re-INVITE)."""
        blocks = re.split(r"\n(?=-{10,}|\S+ message received)", self.messages())
        out = []
        for block in blocks:
            if "message received" not in block:
                continue
            body = block.split("\n", 2)[-1].lstrip("\n")
            if body.startswith(f"{method} "):
                if initial and "tag=" in (header(body, "To") or ""):
                    continue
                out.append(body)
        return out


def header(message: str, name: str) -> str | None:
    for line in message.splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def uas(name: str, work: Path, port: int, rtp_port: int, hangup_after_ms: int) -> Sipp:
    """A phone (or the operator's far end) answering calls with person.xml until stopped
    (``Sipp.wait_ended``); ``-aa`` answers Asterisk's OPTIONS (qualify)."""
    return Sipp(
        name, work,
        ["-sf", str(SCENARIOS / "person.xml"), "-i", HOST, "-p", str(port),
         "-mp", str(30000 + port), "-set", "rtp_port", str(rtp_port),
         "-d", str(hangup_after_ms), "-aa"],
    )  # fmt: skip


def caller(
    name: str,
    work: Path,
    lab: LabAsterisk,
    to: str,
    from_number: str,
    rtp_port: int,
    hangup_after_ms: int,
    port: int = CALLER_PORT,
    scenario: str = "caller.xml",
    extra: list[str] | None = None,
) -> Sipp:
    return Sipp(
        name, work,
        [lab.sip, "-sf", str(SCENARIOS / scenario), "-i", HOST, "-p", str(port),
         "-mp", str(30000 + port), "-s", to, "-set", "caller", from_number,
         "-set", "rtp_port", str(rtp_port), "-d", str(hangup_after_ms), "-m", "1",
         "-timeout", "180", *(extra or [])],
    )  # fmt: skip


def register(work: Path, lab: LabAsterisk, endpoint: str, port: int) -> None:
    """Register a phone of pjsip.conf (digest with the lab's password) from ``port``."""
    sipp = Sipp(
        f"register-{endpoint}", work,
        [lab.sip, "-sf", str(SCENARIOS / "register.xml"), "-i", HOST, "-p", str(port),
         "-mp", str(30000 + port), "-s", endpoint, "-au", endpoint, "-ap", PHONE_PASSWORD,
         "-m", "1", "-timeout", "10"],
    ).start()  # fmt: skip
    code = sipp.wait(15)
    assert code == 0, f"{endpoint} did not register:\n{sipp.tail()}"


def sox_stat(wav: Path, *effects: str) -> dict[str, float]:
    """``sox FILE -n [effects] stat``: RMS amplitude, length... (floats)."""
    result = subprocess.run(
        ["sox", str(wav), "-n", *effects, "stat"], capture_output=True, text=True, check=True
    )
    out: dict[str, float] = {}
    for line in result.stderr.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            try:
                out[key.strip()] = float(value.split()[0])
            except (ValueError, IndexError):
                continue
    return out


def prompt_file(lab: LabAsterisk, prompt_id: str) -> Path:
    return Path(lab.prompts or ROOT / "prompts/fr") / f"{prompt_id}.wav"


def wav_samples(path: Path) -> list[int]:
    """A 16-bit mono WAV's samples (the prompts are 8 kHz mono 16-bit)."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2, path
        assert wav.getnchannels() == 1, path
        assert wav.getframerate() == 8000, path
        data = wav.readframes(wav.getnframes())
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def envelope(samples: list[int], frame: int = 160) -> list[float]:
    """RMS per 20 ms: the shape of speech (syllables, pauses), whatever the codec did."""
    return [rms(samples[i : i + frame]) for i in range(0, len(samples) - frame + 1, frame)]


def tone_level_db(samples: list[int], sent_amplitude: int) -> float:
    """How loud a tone arrived against how loud it was sent, in dB: the median RMS of its
    loud 20 ms frames (those above 1000) against a sine's RMS at the amplitude sent.
    0 dB through G.711 untouched; -6 dB was a Local leg left in slin192 (docs/asterisk.md)."""
    loud = sorted(v for v in envelope(samples) if v > 1000)
    assert loud, "the tone never arrived"
    return 20 * math.log10(loud[len(loud) // 2] / (sent_amplitude / math.sqrt(2)))


def correlation(a: list[float], b: list[float]) -> float:
    n = min(len(a), len(b))
    if n < 10:
        return 0.0
    a, b = a[:n], b[:n]
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = math.sqrt(sum((x - ma) ** 2 for x in a))
    vb = math.sqrt(sum((y - mb) ** 2 for y in b))
    return cov / (va * vb) if va and vb else 0.0


def best_correlation(received: list[float], expected: list[float], max_shift: int = 50) -> float:
    """The envelope correlation at the best alignment (up to 1 s either way)."""
    best = 0.0
    for shift in range(0, max_shift):
        best = max(best, correlation(received[shift:], expected))
        best = max(best, correlation(received, expected[shift:]))
    return best
