"""A softphone for the SIP suite: Debian's baresip 1.0.0, registered to the lab over TLS.

It plays a phone of ``[phone-remote]`` (deploy/asterisk/pjsip.conf): registration with
digest authentication over TLS to the lab's ``transport-tls`` (127.0.0.1:5061, the lab's
self-signed certificate as its CA), SRTP mandatory (``mediaenc=srtp-mand``: a call whose
media is not encrypted fails), A-law only, answering every call at once. It says a sine
(``ausine``) and ``sndfile`` keeps what it hears, decoded, in a WAV file. Its SIP trace
(``-s``: the messages as sent and received inside TLS) is its output file. It is driven
through ``ctrl_tcp`` (netstring-framed JSON commands), e.g. to hang up.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TLS_PORT = 5061
TRACED = re.compile(r"\x1b\[36;1m#\n((?:TLS|TCP|UDP) \S+ -> \S+)\n(.*?)\x1b\[;m", re.S)


@dataclass
class Baresip:
    """One baresip process, its configuration and files in ``work/<name>``."""

    name: str  # the endpoint of pjsip.conf, e.g. ecoutant-75-2
    work: Path
    ca_file: Path  # the lab's certificate (PREFIX/lab/etc/keys/sip.crt)
    password: str
    tone_hz: int = 1500
    sip_port: int = 5096
    ctrl_port: int = 4446
    media: str = "srtp-mand"  # "" for a phone that offers plain RTP
    host: str = "127.0.0.1"  # the phone's own address
    proxy: str = f"127.0.0.1:{TLS_PORT}"  # the lab's TLS transport, as the phone reaches it
    netns: str = ""  # a network namespace to run in (tests/sip/home_nat.py)
    process: subprocess.Popen[bytes] | None = None
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.work / self.name

    def start(self) -> Baresip:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dumps").mkdir(exist_ok=True)
        (self.home / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen {self.host}:{self.sip_port}",
                    f"sip_cafile {self.ca_file}",
                    f"audio_source ausine,{self.tone_hz}",
                    # Nothing is played out loud; sndfile keeps what the phone hears.
                    "audio_player aubridge,speaker",
                    "audio_alert aubridge,alert",
                    # ausine makes 48 kHz stereo only; baresip resamples to and from G.711.
                    "ausrc_srate 48000",
                    "ausrc_channels 2",
                    # Its own addresses on loopback, where the lab is (not eth0's).
                    f"net_interface {self.host}",
                    f"snd_path {self.home / 'dumps'}",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module ausine.so",
                    "module aubridge.so",
                    "module sndfile.so",
                    "module srtp.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen {self.host}:{self.ctrl_port}",
                    "",
                ]
            )
        )
        media = f";mediaenc={self.media}" if self.media else ""
        domain = self.proxy.rsplit(":", 1)[0]
        (self.home / "accounts").write_text(
            f"<sip:{self.name}@{domain};transport=tls>;auth_pass={self.password}"
            f";answermode=auto{media};audio_codecs=PCMA;regint=60"
            f';outbound="sip:{self.proxy};transport=tls"\n'
        )
        with (self.home / "baresip.out").open("wb") as out:
            self.process = subprocess.Popen(
                [*netns_exec(self.netns), "baresip", "-f", str(self.home), "-s"],
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def command(self, command: str, params: str = "") -> None:
        """One ctrl_tcp command (``hangup``, ``dial``...), as a netstring of JSON."""
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        with socket.create_connection((self.host, self.ctrl_port), timeout=5) as sock:
            sock.sendall(str(len(body)).encode() + b":" + body + b",")
            sock.settimeout(5)
            with contextlib.suppress(TimeoutError):
                sock.recv(4096)  # the response (or the first event): the command was read

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        path = self.home / "baresip.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def messages(self) -> list[tuple[str, str]]:
        """The SIP trace: (``"TLS a -> b"`` header line, message text), in order."""
        # Each message: ESC[36;1m "#", the transport line, the message, ESC[;m.
        found = TRACED.findall(self.output())
        return [(head, message.strip()) for head, message in found]

    def messages_matching(self, start: str) -> list[str]:
        """The traced messages that begin with ``start`` (``"INVITE "``, ``"SIP/2.0 488"``)."""
        return [message for _, message in self.messages() if message.startswith(start)]

    def dump(self, side: str, timeout: float = 5.0) -> Path:
        """sndfile's WAV of the last call: ``dec`` what the phone heard, ``enc`` what it
        said."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dumps = sorted((self.home / "dumps").glob(f"*-{side}.wav"))
            if dumps:
                return dumps[-1]
            time.sleep(0.2)
        raise AssertionError(f"baresip {self.name}: no {side} dump in {self.home / 'dumps'}")


def netns_exec(netns: str) -> list[str]:
    return ["ip", "netns", "exec", netns] if netns else []
