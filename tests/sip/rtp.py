"""A small RTP peer for the SIP suite: G.711 A-law audio and RFC 4733 events, both ways.

SIPp carries the SIP dialogue of each user agent; the SDP it sends names this peer's port
(``-set rtp_port N``), so the media of the call is here, where the test can measure it:

- it sends 20 ms A-law frames (payload type 8) paced by the clock: a tone of its own
  frequency (each party has one, so that a recording shows who was heard), silence, or
  in-band DTMF (the two frequencies of a key);
- it sends RFC 4733 ``telephone-event`` packets (payload type 101) for a key, as a phone
  does: a marked first packet, updates every 20 ms, three end packets, one timestamp;
- it keeps every A-law frame it receives (decoded to 16-bit samples, with its arrival
  time) and every telephone-event it receives.

The far end's address is learnt from the first packet received (symmetric RTP): Asterisk
sends first on both kinds of leg (a prompt to the caller, the caller's audio to the person).
"""

from __future__ import annotations

import math
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

PT_PCMA = 8
PT_EVENT = 101
FRAME = 160  # samples per 20 ms at 8 kHz
RATE = 8000
DTMF_FREQS = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}  # fmt: skip
EVENT_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13}
EVENT_CODES.update({"C": 14, "D": 15})


def alaw_encode(sample: int) -> int:
    """One 16-bit linear sample to G.711 A-law (ITU-T G.711, as sox and Asterisk do)."""
    sign = 0x80 if sample >= 0 else 0x00
    magnitude = min(abs(sample) if sample >= 0 else -sample - 1, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def _alaw_decode(byte: int) -> int:
    byte ^= 0x55
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    value = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return value if byte & 0x80 else -value


ALAW_DECODE = [_alaw_decode(b) for b in range(256)]
ALAW_SILENCE = alaw_encode(0)


def rms(samples: list[int]) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@dataclass
class Received:
    at: float  # time.monotonic() on arrival
    samples: list[int]


@dataclass
class RtpPeer:
    """One party's media. ``tone_hz`` is what it says when it talks (0: silence)."""

    tone_hz: float = 0.0
    amplitude: int = 8000
    host: str = "127.0.0.1"
    frames: list[Received] = field(default_factory=list)
    events: list[tuple[float, int, bool]] = field(default_factory=list)  # (at, event, end)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.host, 0))
        self.sock.settimeout(0.005)
        self.port: int = self.sock.getsockname()[1]
        self.remote: tuple[str, int] | None = None
        self.talking = False
        self._seq = random.randrange(0, 0xFFFF)
        self._ts = random.randrange(0, 0xFFFFFFFF)
        self._ssrc = random.randrange(1, 0xFFFFFFFF)
        self._phase = 0.0
        self._queue: list[tuple[str, str, int]] = []  # (kind, key, ms)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.first_received: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"rtp-{self.port}", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- control

    def talk(self, on: bool = True) -> None:
        self.talking = on

    def send_rfc4733(self, keys: str, ms: int = 160, gap_ms: int = 100) -> None:
        """Queue keys as RFC 4733 events (sent in order, ``gap_ms`` of audio between)."""
        with self._lock:
            for key in keys:
                self._queue.append(("event", key, ms))
                self._queue.append(("gap", "", gap_ms))

    def send_inband(self, keys: str, ms: int = 200, gap_ms: int = 200) -> None:
        """Queue keys as in-band DTMF tones in the audio."""
        with self._lock:
            for key in keys:
                self._queue.append(("inband", key, ms))
                self._queue.append(("gap", "", gap_ms))

    def idle(self) -> bool:
        with self._lock:
            return not self._queue

    def wait_idle(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                raise TimeoutError("RTP peer: keys still queued")
            time.sleep(0.02)

    def wait_first_packet(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while self.first_received is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no RTP received on port {self.port} within {timeout} s")
            time.sleep(0.02)
        return self.first_received

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    # ----------------------------------------------------------------- measures

    def samples_between(self, start: float, end: float) -> list[int]:
        out: list[int] = []
        for frame in list(self.frames):
            if start <= frame.at < end:
                out.extend(frame.samples)
        return out

    def voiced_spans(
        self, threshold: float = 300.0, gap_s: float = 0.6
    ) -> list[tuple[float, float]]:
        """Spans (arrival times) where the received audio is not silence; gaps shorter than
        ``gap_s`` (pauses between words) do not split a span."""
        spans: list[tuple[float, float]] = []
        for frame in list(self.frames):
            if rms(frame.samples) < threshold:
                continue
            if spans and frame.at - spans[-1][1] <= gap_s:
                spans[-1] = (spans[-1][0], frame.at + 0.02)
            else:
                spans.append((frame.at, frame.at + 0.02))
        return spans

    def wav_bytes(self) -> bytes:
        """Everything received as a 16-bit 8 kHz mono WAV (for sox or a person)."""
        pcm = b"".join(struct.pack(f"<{len(f.samples)}h", *f.samples) for f in self.frames)
        header = struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1, RATE, RATE * 2, 2, 16,
            b"data", len(pcm),
        )  # fmt: skip
        return header + pcm

    # ----------------------------------------------------------------- the loop

    def _packet(
        self, pt: int, payload: bytes, marker: bool = False, ts: int | None = None
    ) -> bytes:
        self._seq = (self._seq + 1) & 0xFFFF
        header = struct.pack(
            "!BBHII",
            0x80,
            (0x80 if marker else 0) | pt,
            self._seq,
            (self._ts if ts is None else ts) & 0xFFFFFFFF,
            self._ssrc,
        )
        return header + payload

    def _audio(self, freqs: tuple[float, ...], amplitude: int) -> bytes:
        out = bytearray()
        for n in range(FRAME):
            t = (self._phase + n) / RATE
            value = sum(math.sin(2 * math.pi * f * t) for f in freqs) / max(len(freqs), 1)
            out.append(alaw_encode(int(amplitude * value)))
        self._phase += FRAME
        return bytes(out)

    def _send(self, data: bytes) -> None:
        if self.remote is not None:
            self.sock.sendto(data, self.remote)

    def _receive(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(2048)
            except (TimeoutError, BlockingIOError):
                return
            except OSError:
                return
            if len(data) < 12:
                continue
            now = time.monotonic()
            if self.remote is None:
                self.remote = addr
            if self.first_received is None:
                self.first_received = now
            cc = data[0] & 0x0F
            pt = data[1] & 0x7F
            payload = data[12 + 4 * cc :]
            if pt == PT_PCMA:
                self.frames.append(Received(now, [ALAW_DECODE[b] for b in payload]))
            elif pt == PT_EVENT and len(payload) >= 4:
                self.events.append((now, payload[0], bool(payload[1] & 0x80)))

    def _run(self) -> None:
        next_at = time.monotonic()
        step: tuple[str, str, int] | None = None
        step_left = 0
        event_ts = 0
        event_sent = 0
        while not self._stop.is_set():
            self._receive()
            now = time.monotonic()
            if now < next_at:
                time.sleep(min(next_at - now, 0.005))
                continue
            next_at += 0.02
            if now - next_at > 0.2:  # fell far behind (machine busy): do not burst
                next_at = now + 0.02
            if self.remote is None:
                continue
            if step is None:
                with self._lock:
                    if self._queue:
                        step = self._queue[0]
                        step_left = step[2]
                        event_ts = self._ts
                        event_sent = 0
            if step is not None and step[0] == "event":
                code = EVENT_CODES[step[1]]
                event_sent += FRAME
                end = step_left <= 20
                payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, event_sent)
                for _ in range(3 if end else 1):
                    self._send(
                        self._packet(PT_EVENT, payload, marker=event_sent == FRAME, ts=event_ts)
                    )
                self._ts += FRAME
            elif step is not None and step[0] == "inband":
                self._send(self._packet(PT_PCMA, self._audio(DTMF_FREQS[step[1]], 12000)))
                self._ts += FRAME
            elif self.talking and self.tone_hz:
                self._send(self._packet(PT_PCMA, self._audio((self.tone_hz,), self.amplitude)))
                self._ts += FRAME
            else:
                self._send(self._packet(PT_PCMA, bytes([ALAW_SILENCE]) * FRAME))
                self._ts += FRAME
            if step is not None:
                step_left -= 20
                if step_left <= 0:
                    with self._lock:
                        self._queue.pop(0)
                    step = None
