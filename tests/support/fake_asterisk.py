"""A fake Asterisk, in-process, for tests and the bench; and a virtual clock.

``FakeAsterisk`` answers the ARI REST requests (through an httpx transport) and streams
events (through an in-memory websocket), checking every request against Asterisk's own
Swagger documents. Its events are shaped like the ones recorded from a real Asterisk
22.10.1 (``event-samples.jsonl``). Callers and dialled destinations follow small scripts;
everything that takes time waits on the ``VirtualClock`` that the transport and the runtime
share, so a test moves time forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from ivr.transports.ari.swagger import AriSpec, SwaggerViolationError

Json = dict[str, Any]

# --------------------------------------------------------------------------- virtual time


class VirtualTimer:
    """A callback due at a virtual time; ``cancel`` is idempotent."""

    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Virtual time: the transport's scheduler, the runtime's timer service, the fake's delays."""

    def __init__(self, start: datetime) -> None:
        self.origin = start
        self.t = 0.0
        self._heap: list[tuple[float, int, VirtualTimer]] = []
        self._seq = itertools.count()
        self._keyed: dict[tuple[str, str], VirtualTimer] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    def call_later(self, delay: float, callback: Callable[[], None]) -> VirtualTimer:
        timer = VirtualTimer(self.t + max(delay, 0.0), callback)
        heapq.heappush(self._heap, (timer.due, next(self._seq), timer))
        return timer

    # The runtime's TimerService.
    def start(
        self, key: tuple[str, str], seconds: float, fire: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        self.cancel(key)

        def run() -> None:
            self._keyed.pop(key, None)
            task = asyncio.get_running_loop().create_task(fire())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._keyed[key] = self.call_later(seconds, run)

    def cancel(self, key: tuple[str, str]) -> None:
        timer = self._keyed.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_call(self, call_id: str) -> None:
        for key in [k for k in self._keyed if k[0] == call_id]:
            self.cancel(key)

    def next_due(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def run_next(self) -> bool:
        """Move to the next due timer and run it (and what it sets off); False when none."""
        await settle()
        due = self.next_due()
        if due is None:
            return False
        _, _, timer = heapq.heappop(self._heap)
        self.t = max(self.t, due)
        timer.callback()
        await settle()
        return True

    async def advance(self, seconds: float) -> None:
        """Run every timer due within ``seconds``, then stand at the end of that span."""
        end = self.t + seconds
        await settle()
        while (due := self.next_due()) is not None and due <= end:
            await self.run_next()
        self.t = max(self.t, end)
        await settle()


async def settle(max_rounds: int = 200_000) -> None:
    """Let every task run until nothing is ready any more (all wait on time or on input)."""
    loop = asyncio.get_running_loop()
    quiet = 0
    for _ in range(max_rounds):
        await asyncio.sleep(0)
        ready = getattr(loop, "_ready", None)  # asyncio's run queue; only tests look at it
        if ready is not None and not ready:
            quiet += 1
            if quiet >= 3:
                return
        else:
            quiet = 0


# --------------------------------------------------------------------------- scripts


@dataclass(slots=True)
class Destination:
    """How a dialled number behaves when the service originates a call to it."""

    outcome: str = "answer"  # answer, busy, no_answer, fail
    after_s: float = 3.0
    talk_s: float | None = 60.0  # the destination hangs up after this long (None: never)
    ignores_timeout: bool = False  # answers even after the originate timeout
    answers_while_hung_up: bool = False  # answers at the very moment the service hangs up


@dataclass(slots=True)
class Caller:
    """A scripted caller: presses keys when asked, and on hold; and, as regular callers of
    the 115 do, keys at set times whatever is playing (``typed``: seconds after the call is
    answered, keys), which Asterisk sends as ``ChannelDtmfReceived`` during a playback."""

    presses: list[str] = field(default_factory=list)
    gather_prompts: frozenset[str] = frozenset()
    press_delay_s: float = 0.5
    hold_press_after_s: float = 5.0
    typed: list[tuple[float, str]] = field(default_factory=list)


@dataclass(slots=True)
class FakeChannel:
    id: str
    name: str
    state: str
    caller_number: str
    caller_name: str
    exten: str
    context: str
    created: str
    app_name: str = ""
    app_data: str = ""
    in_stasis: bool = False
    bridge: str | None = None
    moh: bool = False
    ringing: bool = False
    other_half: str | None = None  # the other half of a Local channel
    outbound: bool = False
    destination: Destination | None = None
    caller: Caller | None = None
    app_args: list[str] = field(default_factory=list)
    timers: list[VirtualTimer] = field(default_factory=list)
    answered_at: float | None = None  # on the fake's clock
    # The channel's native formats (`core show channel`): a caller from the A-law trunk.
    formats: tuple[str, ...] = ("alaw",)


@dataclass(slots=True)
class FakeBridge:
    id: str
    name: str
    created: str
    channels: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FakePlayback:
    id: str
    media: list[str]
    target: str  # channel id
    language: str
    state: str = "playing"
    timer: VirtualTimer | None = None
    index: int = 0  # the media item playing now


@dataclass(slots=True)
class FakeRecording:
    name: str
    target_uri: str
    fmt: str
    state: str = "recording"


@dataclass(slots=True)
class Request:
    """A request the fake received, once checked."""

    method: str
    path: str
    nickname: str
    params: dict[str, str]


class FakeSocket:
    """One websocket connection to the fake's event stream."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.open = True

    def close(self) -> None:
        if self.open:
            self.open = False
            self.queue.put_nowait(None)

    async def messages(self) -> AsyncIterator[str]:
        while True:
            message = await self.queue.get()
            if message is None:
                raise ConnectionResetError("websocket closed by Asterisk")
            yield message


# The trunk's and phones' codecs (deploy/asterisk/pjsip.conf: alaw, then ulaw), and the
# format names Asterisk knows that the tests use.
TRUNK_CODECS = ("alaw", "ulaw")
KNOWN_FORMATS = frozenset({"alaw", "ulaw", "slin", "slin16", "slin48", "slin192", "g722", "opus"})
_ENDPOINT = re.compile(r"^(?P<tech>[A-Za-z]+)/(?P<number>[^@/]+)(@(?P<context>.*))?$")
CAUSES = {
    16: "Normal Clearing",
    17: "User busy",
    19: "No answer",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
    0: "Unknown",
}
REASON_CAUSES = {
    "normal": 16,
    "busy": 17,
    "no_answer": 19,
    "answered_elsewhere": 26,
    "congestion": 34,
}


class FakeAsterisk:
    """An in-process Asterisk for the ARI transport: REST, events, channels, bridges."""

    def __init__(
        self,
        clock: VirtualClock,
        spec: AriSpec,
        *,
        app: str = "ivr",
        user: str = "ivr",
        password: str = "secret",
        extra_apps: tuple[str, ...] = (),
        reply_yields: int = 2,
        media_seconds: float = 1.0,
        dial_events: bool = True,
        check_events: bool = True,
        duplicates: bool = False,
        instant_playbacks: bool = False,
    ) -> None:
        self.clock = clock
        self.spec = spec
        self.app = app
        self.user = user
        self.password = password
        self.extra_apps = extra_apps
        self.reply_yields = reply_yields
        self.media_seconds = media_seconds
        self.dial_events = dial_events
        self.check_events = check_events
        self.duplicates = duplicates  # every event sent twice, as after a resubscription
        self.instant_playbacks = instant_playbacks  # finished before the REST reply leaves
        self.asterisk_id = "02:fc:00:00:00:01"
        self.channels: dict[str, FakeChannel] = {}
        self.bridges: dict[str, FakeBridge] = {}
        self.playbacks: dict[str, FakePlayback] = {}
        self.live_recordings: dict[str, FakeRecording] = {}
        self.stored_recordings: list[str] = []
        self.discarded_recordings: list[str] = []
        self.destinations: dict[str, Destination] = {}
        # Each originated endpoint's native formats (the last channel dialled to it).
        self.originated_formats: dict[str, tuple[str, ...]] = {}
        # Media URIs with no file: Asterisk still answers 201, then the playback reaches
        # them and ends at once with state "failed" (seen on Asterisk 22.10.1).
        self.missing_media: set[str] = set()
        self.default_destination = Destination()
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self.fallbacks: list[tuple[str, str]] = []  # calls the dialplan routed itself
        self.played: dict[str, list[str]] = {}  # channel id -> media URIs started
        self.socket: FakeSocket | None = None
        self.down = False
        self.events_sent = 0
        self._ids = itertools.count(1)
        self._epoch = 1795456093
        self.fail_next: dict[str, int] = {}  # nickname -> status to answer once
        self.measure = False  # bench: event-to-command latencies, in seconds
        self.latencies: list[float] = []
        self._event_at: dict[str, float] = {}

    # ----------------------------------------------------------------- plumbing

    def http_transport(self) -> FakeAsteriskTransport:
        return FakeAsteriskTransport(self)

    def _timestamp(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{self.clock.now().microsecond // 1000:03d}+0000"
        )

    def _new_id(self) -> str:
        return f"{self._epoch}.{next(self._ids)}"

    def emit(self, event_type: str, **fields: Any) -> None:
        base: Json = {"type": event_type, "timestamp": self._timestamp(), **fields}
        base["asterisk_id"] = self.asterisk_id
        if self.check_events:
            self._check_event(base)
        if self.socket is None or not self.socket.open:
            return  # Asterisk does not queue events while no controller is connected
        if self.measure:
            obj = fields.get("channel") or fields.get("playback") or {}
            target = str(obj.get("target_uri", "")).removeprefix("channel:") or obj.get("id")
            if target:
                self._event_at[str(target)] = time.perf_counter()
        for app in (*self.extra_apps, self.app):
            message = json.dumps({**base, "application": app})
            self.socket.queue.put_nowait(message)
            self.events_sent += 1
            if self.duplicates:
                self.socket.queue.put_nowait(message)

    def _check_event(self, event: Json) -> None:
        model = self.spec.models.get(event["type"])
        if model is None:
            self.violations.append(f"event {event['type']}: not documented")
            return
        for name, prop in model.get("properties", {}).items():
            if prop.get("required") and name not in event:
                self.violations.append(f"event {event['type']}: missing {name}")

    @asynccontextmanager
    async def connect(
        self, url: str, headers: Mapping[str, str]
    ) -> AsyncIterator[AsyncIterator[str]]:
        """The ``EventConnector`` of this fake: an in-memory websocket."""
        if self.down:
            raise ConnectionRefusedError("Asterisk is not running")
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        try:
            op, _ = self.spec.match("GET", parts.path.removeprefix("/ari"), query)
            if not op.websocket:
                raise SwaggerViolationError(f"{parts.path} is not the event websocket")
        except SwaggerViolationError as exc:
            self.violations.append(str(exc))
            raise ConnectionRefusedError(str(exc)) from None
        if not self._authorized(headers.get("Authorization")):
            raise ConnectionRefusedError("401 Unauthorized")
        if query.get("app") != self.app:
            self.violations.append(f"websocket for unknown application {query.get('app')}")
        if self.socket is not None and self.socket.open:
            self.emit("ApplicationReplaced", application=self.app)
            self.socket.close()
        socket = FakeSocket()
        self.socket = socket
        try:
            yield socket.messages()
        finally:
            if self.socket is socket:
                self.socket = None
            socket.open = False

    def _authorized(self, header: str | None) -> bool:
        import base64

        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    @property
    def connected(self) -> bool:
        return self.socket is not None and self.socket.open

    def drop_websocket(self) -> None:
        """The websocket breaks (network, proxy): calls stay in Stasis, events are lost."""
        if self.socket is not None:
            self.socket.close()

    def restart(self) -> None:
        """Asterisk restarts: every channel, bridge and playback is gone, silently."""
        for channel in self.channels.values():
            for timer in channel.timers:
                timer.cancel()
        for playback in self.playbacks.values():
            if playback.timer:
                playback.timer.cancel()
        self.channels.clear()
        self.bridges.clear()
        self.playbacks.clear()
        for recording in self.live_recordings.values():
            self.stored_recordings.append(recording.name)
        self.live_recordings.clear()
        self.drop_websocket()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        body: Any = json.loads(request.content) if request.content else None
        if not path.startswith("/ari/"):
            return self._error(404, f"{path}: not under /ari")
        if not self._authorized(request.headers.get("Authorization")):
            return self._error(401, "Authentication required")
        if self.down:
            raise httpx.ConnectError("Asterisk is not running", request=request)
        try:
            op, path_params = self.spec.match(
                request.method, path.removeprefix("/ari"), query, body
            )
        except SwaggerViolationError as exc:
            self.violations.append(str(exc))
            return self._error(400, str(exc))
        self.requests.append(Request(request.method, path, op.nickname, query))
        if self.measure and "channelId" in path_params:
            sent = self._event_at.pop(path_params["channelId"], None)
            if sent is not None:
                self.latencies.append(time.perf_counter() - sent)
        status = self.fail_next.pop(op.nickname, None)
        if status is not None:
            return self._error(status, "injected failure")
        handler = getattr(self, f"_op_{op.path.strip('/').split('/')[0]}_{op.nickname}", None)
        if handler is None:
            return self._error(501, f"fake does not implement {op.nickname}")
        result: tuple[int, Any] = handler(path_params, query)
        for _ in range(self.reply_yields):
            await asyncio.sleep(0)  # let the events overtake the reply, as they do for real
        status_code, payload = result
        if payload is None:
            return httpx.Response(status_code)
        return httpx.Response(status_code, json=payload)

    @staticmethod
    def _error(status: int, message: str) -> httpx.Response:
        return httpx.Response(status, json={"message": message})

    # ----------------------------------------------------------------- JSON shapes

    def channel_json(self, ch: FakeChannel) -> Json:
        return {
            "id": ch.id,
            "name": ch.name,
            "state": ch.state,
            "protocol_id": "",
            "caller": {"name": ch.caller_name, "number": ch.caller_number},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": ch.context,
                "exten": ch.exten,
                "priority": 2 if ch.in_stasis else 1,
                "app_name": ch.app_name,
                "app_data": ch.app_data,
            },
            "creationtime": ch.created,
            "language": "fr",
        }

    def bridge_json(self, bridge: FakeBridge) -> Json:
        return {
            "id": bridge.id,
            "technology": "simple_bridge",
            "bridge_type": "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": bridge.name,
            "channels": list(bridge.channels),
            "creationtime": bridge.created,
            "video_mode": "talker",
        }

    @staticmethod
    def playback_json(pb: FakePlayback) -> Json:
        out: Json = {"id": pb.id, "media_uri": pb.media[pb.index]}
        if pb.index + 1 < len(pb.media):
            out["next_media_uri"] = pb.media[pb.index + 1]  # as Asterisk 22.10.1 sends it
        out.update(target_uri=f"channel:{pb.target}", language=pb.language, state=pb.state)
        return out

    @staticmethod
    def recording_json(rec: FakeRecording) -> Json:
        return {
            "name": rec.name,
            "format": rec.fmt,
            "state": rec.state,
            "target_uri": rec.target_uri,
        }

    # ----------------------------------------------------------------- the outside world

    def incoming_call(
        self, to: str, from_: str = "0612345678", caller: Caller | None = None, local: bool = False
    ) -> str:
        """A call arrives from the operator trunk; the dialplan sends it to ``Stasis()``."""
        cid = self._new_id()
        name = (
            f"Local/{to}@from-operator-{next(self._ids):08x};2"
            if local
            else f"PJSIP/operator-{next(self._ids):08x}"
        )
        ch = FakeChannel(
            id=cid,
            name=name,
            state="Ring",
            caller_number=from_,
            caller_name="",
            exten=to,
            context="from-operator",
            created=self._timestamp(),
            caller=caller,
        )
        if not self.connected:
            # No controller: Stasis() fails at once (STASISSTATUS=FAILED) and the dialplan
            # routes the call itself.
            self.fallbacks.append((cid, to))
            return cid
        ch.in_stasis = True
        ch.app_name = "Stasis"
        ch.app_data = f"{self.app},inbound,{to}"
        self.channels[cid] = ch
        self.emit(
            "StasisStart", args=["inbound", to], channel=self.channel_json(ch), application=self.app
        )
        return cid

    def hang_up(self, channel_id: str, cause: int = 16) -> None:
        """The person on this channel hangs up."""
        ch = self.channels.get(channel_id)
        if ch is not None:
            self._destroy(ch, cause)

    def vanish(self, channel_id: str) -> None:
        """The channel is gone and its events are lost (the next request on it gets a 404)."""
        ch = self.channels.pop(channel_id, None)
        if ch is None:
            return
        for timer in ch.timers:
            timer.cancel()
        for pb in [p for p in self.playbacks.values() if p.target == channel_id]:
            if pb.timer:
                pb.timer.cancel()
            del self.playbacks[pb.id]
        if ch.bridge and ch.bridge in self.bridges:
            self.bridges[ch.bridge].channels.remove(channel_id)

    def press(self, channel_id: str, digits: str) -> None:
        """The person on this channel presses keys (one event per key)."""
        ch = self.channels.get(channel_id)
        if ch is None:
            return
        for digit in digits:
            self.emit(
                "ChannelDtmfReceived",
                digit=digit,
                duration_ms=100,
                channel=self.channel_json(ch),
                application=self.app,
            )
            # DTMF flows through a bridge to the other party too.
            if ch.bridge and ch.bridge in self.bridges:
                for other in self.bridges[ch.bridge].channels:
                    if other != ch.id and other in self.channels:
                        self.emit(
                            "ChannelDtmfReceived",
                            digit=digit,
                            duration_ms=100,
                            channel=self.channel_json(self.channels[other]),
                            application=self.app,
                        )

    def leaks(self) -> list[str]:
        """Channels and bridges still held, and recordings discarded (all should be none)."""
        out = [f"channel {c.id} ({c.name})" for c in self.channels.values()]
        out += [f"bridge {b.id}" for b in self.bridges.values()]
        out += [f"live recording {r}" for r in self.live_recordings]
        out += [f"discarded recording {r}" for r in self.discarded_recordings]
        return out

    def calls_to(self, nickname: str) -> list[Request]:
        return [r for r in self.requests if r.nickname == nickname]

    # ----------------------------------------------------------------- internals

    def _state(self, ch: FakeChannel, state: str) -> None:
        ch.state = state
        self.emit("ChannelStateChange", channel=self.channel_json(ch), application=self.app)

    def _destroy(self, ch: FakeChannel, cause: int, other_cause: int | None = None) -> None:
        if ch.id not in self.channels:
            return
        for timer in ch.timers:
            timer.cancel()
        txt = CAUSES.get(cause, "Unknown")
        self.emit("ChannelHangupRequest", cause=cause, soft=True, channel=self.channel_json(ch))
        for pb in [p for p in self.playbacks.values() if p.target == ch.id]:
            self._finish_playback(pb)
        if ch.bridge and ch.bridge in self.bridges:
            bridge = self.bridges[ch.bridge]
            bridge.channels.remove(ch.id)
            self.emit(
                "ChannelLeftBridge", bridge=self.bridge_json(bridge), channel=self.channel_json(ch)
            )
        for rec in [r for r in self.live_recordings.values() if r.target_uri == f"channel:{ch.id}"]:
            self._finish_recording(rec)
        if ch.in_stasis:
            self.emit("StasisEnd", channel=self.channel_json(ch))
        self.emit("ChannelDestroyed", cause=cause, cause_txt=txt, channel=self.channel_json(ch))
        del self.channels[ch.id]
        if ch.other_half and ch.other_half in self.channels:
            self._destroy(
                self.channels[ch.other_half], cause if other_cause is None else other_cause
            )

    def _finish_playback(self, pb: FakePlayback, state: str = "done") -> None:
        if self.playbacks.pop(pb.id, None) is None:
            return
        if pb.timer:
            pb.timer.cancel()
        pb.state = state  # stopped or finished: Asterisk says "done" either way
        self.emit("PlaybackFinished", playback=self.playback_json(pb))

    def _next_media(self, pb: FakePlayback) -> None:
        """One media item of a playback ended: the next one starts, as Asterisk tells it."""
        if pb.id not in self.playbacks:
            return
        if pb.index + 1 >= len(pb.media):
            self._finish_playback(pb)
            return
        pb.state = "continuing"
        self.emit("PlaybackContinuing", playback=self.playback_json(pb))
        pb.index += 1
        self._start_media(pb)

    def _start_media(self, pb: FakePlayback) -> None:
        pb.state = "playing"
        self.emit("PlaybackStarted", playback=self.playback_json(pb))
        if pb.media[pb.index] in self.missing_media:
            self._finish_playback(pb, "failed")
        elif self.instant_playbacks:
            self._finish_playback(pb)
        else:
            pb.timer = self.clock.call_later(self.media_seconds, lambda: self._next_media(pb))

    def _finish_recording(self, rec: FakeRecording) -> None:
        if self.live_recordings.pop(rec.name, None) is None:
            return
        rec.state = "done"
        self.stored_recordings.append(rec.name)
        self.emit("RecordingFinished", recording={**self.recording_json(rec), "duration": 1})

    def _channel(self, channel_id: str) -> FakeChannel | None:
        return self.channels.get(channel_id)

    def _schedule(self, ch: FakeChannel, delay: float, action: Callable[[], None]) -> None:
        ch.timers.append(self.clock.call_later(delay, action))

    def _caller_reacts_to_playback(self, ch: FakeChannel, media: list[str]) -> None:
        caller = ch.caller
        if caller is None or not caller.presses:
            return
        names = {m.split("/")[-1] for m in media}
        if not names & caller.gather_prompts:
            return
        if ch.answered_at is not None:
            # A caller who types at set times while the question plays answers with those.
            start = self.clock.t - ch.answered_at
            end = start + len(media) * self.media_seconds
            if any(start < at <= end for at, _ in caller.typed):
                return
        keys = caller.presses.pop(0)
        for index, digit in enumerate(keys):
            self._schedule(
                ch,
                caller.press_delay_s * (index + 1),
                lambda d=digit: self.press(ch.id, d),  # type: ignore[misc]
            )

    # ----------------------------------------------------------------- channels

    def _op_channels_list(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        return 200, [self.channel_json(c) for c in self.channels.values()]

    def _op_channels_get(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        ch = self._channel(p["channelId"])
        return (200, self.channel_json(ch)) if ch else (404, {"message": "Channel not found"})

    def _op_channels_answer(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        if not ch.in_stasis:
            return 409, {"message": "Channel not in a Stasis application"}
        if ch.state != "Up":
            self._state(ch, "Up")
            caller = ch.caller
            ch.answered_at = self.clock.t
            if caller is not None:
                for at, keys in caller.typed:
                    self._schedule(ch, at, lambda k=keys: self.press(ch.id, k))  # type: ignore[misc]
        return 204, None

    def _op_channels_hangup(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        cause = REASON_CAUSES.get(q.get("reason", "normal"), 16)
        dest = ch.destination
        if ch.outbound and ch.state != "Up":
            if dest is not None and dest.answers_while_hung_up:
                self._answer_outbound(ch)
            elif self.dial_events:
                self.emit("Dial", dialstatus="CANCEL", peer=self.channel_json(ch))
        self._destroy(ch, cause)
        return 204, None

    def _originate_formats(self, q: dict[str, str], local: bool) -> tuple[str, ...] | str:
        """The new channel's native formats, as Asterisk 22.10.1 chooses them
        (res/ari/resource_channels.c, main/dial.c), or its 400 message."""
        originator, formats = q.get("originator"), q.get("formats")
        if originator and formats:
            return "Originator and formats can't both be specified"
        if originator:
            other = self._channel(originator)
            if other is None:
                return "Provided originator channel was not found"
            requested = other.formats
        elif formats:
            requested = tuple(f.strip() for f in formats.split(","))
            unknown = [f for f in requested if f not in KNOWN_FORMATS]
            if unknown:
                return f"Provided format ({unknown[0]}) was not found"
        else:
            # Neither: every audio format is requested. A Local channel keeps them all and
            # runs in the "best", slin192 (seen with `core show channel`); a PJSIP one keeps
            # its endpoint's codecs.
            return ("slin192",) if local else TRUNK_CODECS
        if local:
            return requested
        return tuple(f for f in requested if f in TRUNK_CODECS) or TRUNK_CODECS

    def _op_channels_originateWithId(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:  # noqa: N802
        cid = p["channelId"]
        if cid in self.channels:
            return 409, {"message": "Channel with given unique ID already exists"}
        m = _ENDPOINT.match(q["endpoint"])
        if m is None:
            return 400, {"message": "Invalid endpoint"}
        local = m.group("tech") == "Local"
        formats = self._originate_formats(q, local)
        if isinstance(formats, str):
            return 400, {"message": formats}
        number = m.group("number")
        dest = self.destinations.get(number, self.default_destination)
        timeout = float(q.get("timeout", "30"))
        name = f"{m.group('tech')}/{number}-{next(self._ids):08x}" + (";1" if local else "")
        caller_id = q.get("callerId", "")
        ch = FakeChannel(
            id=cid,
            name=name,
            state="Down",
            caller_number=re.sub(r"[^\d+]", "", caller_id.split("<")[-1]) if caller_id else "",
            caller_name="",
            exten="s",
            context="default",
            created=self._timestamp(),
            app_name="AppDial2",
            app_data="(Outgoing Line)",
            outbound=True,
            destination=dest,
            app_args=q.get("appArgs", "").split(",") if q.get("appArgs") else [],
            formats=formats,
        )
        self.channels[cid] = ch
        self.originated_formats[q["endpoint"]] = formats
        if local:
            # The other half runs the dialplan; Asterisk names it "<channelId>;2" and sends
            # its channel events to the application too, but it never enters Stasis. The
            # originating half enters Stasis only once the other answers.
            other = FakeChannel(
                id=f"{cid};2",
                name=name[:-2] + ";2",
                state="Ring",
                caller_number=ch.caller_number,
                caller_name="",
                exten=number,
                context=m.group("context") or "default",
                created=self._timestamp(),
                app_name="Dial",
                app_data="PJSIP/operator",
                formats=formats,
            )
            ch.other_half = other.id
            other.other_half = cid
            self.channels[other.id] = other
            self.emit(
                "ChannelDialplan",
                dialplan_app="Dial",
                dialplan_app_data="PJSIP/operator",
                channel=self.channel_json(other),
            )
        if self.dial_events:
            self.emit(
                "Dial", dialstatus="", dialstring=number, forward="", peer=self.channel_json(ch)
            )
        if not local:
            self._state(ch, "Ringing")
        elif dest.outcome == "no_answer":
            # Ringing() in the dialplan: the first half rings, then Dial says RINGING.
            self._state(ch, "Ringing")
            if self.dial_events:
                self.emit(
                    "Dial",
                    dialstatus="RINGING",
                    dialstring=number,
                    forward="",
                    peer=self.channel_json(ch),
                )
        elif dest.outcome in ("busy", "fail"):
            self._state(self.channels[f"{cid};2"], "Busy")
        if dest.outcome == "answer":
            if dest.after_s <= timeout or dest.ignores_timeout:
                self._schedule(ch, dest.after_s, lambda: self._answer_outbound(ch))
            else:
                self._schedule(ch, timeout, lambda: self._fail_outbound(ch, "NOANSWER", 19))
        elif dest.outcome == "busy":
            self._schedule(
                ch, min(dest.after_s, timeout), lambda: self._fail_outbound(ch, "BUSY", 17)
            )
        elif dest.outcome == "fail":
            self._schedule(
                ch, min(dest.after_s, 0.5), lambda: self._fail_outbound(ch, "CHANUNAVAIL", 34)
            )
        else:
            self._schedule(ch, timeout, lambda: self._fail_outbound(ch, "NOANSWER", 19))
        return 200, self.channel_json(ch)

    def _answer_outbound(self, ch: FakeChannel) -> None:
        if ch.id not in self.channels or ch.state == "Up":
            return
        if ch.other_half and ch.other_half in self.channels:
            self._state(self.channels[ch.other_half], "Up")
        self._state(ch, "Up")
        if self.dial_events:
            self.emit(
                "Dial",
                dialstatus="ANSWER",
                dialstring=ch.name,
                forward="",
                peer=self.channel_json(ch),
            )
        ch.in_stasis = True
        ch.app_name = "Stasis"
        ch.app_data = ",".join([self.app, *ch.app_args])
        self.emit("StasisStart", args=list(ch.app_args), channel=self.channel_json(ch))
        dest = ch.destination
        if dest is not None and dest.talk_s is not None:
            self._schedule(ch, dest.talk_s, lambda: self._destroy(ch, 16))

    def _fail_outbound(self, ch: FakeChannel, status: str, cause: int) -> None:
        if ch.id not in self.channels:
            return
        if ch.other_half is not None:
            # A Local channel (Asterisk 22.10.1): the originate timeout sends no Dial
            # NOANSWER, the first half just ends with cause 19; busy and congestion come as
            # a Dial status, then the first half ends with cause 0 ("Unknown") and only the
            # second half carries the real cause (17, 34).
            if status == "CHANUNAVAIL":
                status = "CONGESTION"  # what Congestion() in the dialplan reports
            if status != "NOANSWER" and self.dial_events:
                self.emit(
                    "Dial",
                    dialstatus=status,
                    dialstring=ch.name,
                    forward="",
                    peer=self.channel_json(ch),
                )
            self._destroy(ch, cause if status == "NOANSWER" else 0, other_cause=cause)
            return
        if self.dial_events:
            self.emit(
                "Dial",
                dialstatus=status,
                dialstring=ch.name,
                forward="",
                peer=self.channel_json(ch),
            )
        self._destroy(ch, cause)

    def _play(self, ch: FakeChannel, playback_id: str, q: dict[str, str]) -> tuple[int, Any]:
        if playback_id in self.playbacks:
            return 409, {"message": "Playback id in use"}
        media = q["media"].split(",")
        pb = FakePlayback(playback_id, media, ch.id, q.get("lang", "en"))
        self.playbacks[playback_id] = pb
        self.played.setdefault(ch.id, []).extend(media)
        # A file playback stops music on hold, which does not come back by itself after it
        # (heard on Asterisk 22.10.1); the channel's generator is simply replaced.
        ch.moh = False
        reply = {**self.playback_json(pb), "state": "queued"}
        reply.pop("next_media_uri", None)
        self._caller_reacts_to_playback(ch, media)
        self._start_media(pb)
        return 201, reply

    def _op_channels_playWithId(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:  # noqa: N802
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        if not ch.in_stasis:
            return 409, {"message": "Channel not in a Stasis application"}
        return self._play(ch, p["playbackId"], q)

    def _op_channels_play(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        return self._play(ch, q.get("playbackId") or f"pb-{next(self._ids)}", q)

    def _op_channels_startMoh(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:  # noqa: N802
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        ch.moh = True
        caller = ch.caller
        if caller is not None and caller.presses:
            keys = caller.presses.pop(0)
            self._schedule(ch, caller.hold_press_after_s, lambda: self.press(ch.id, keys))
        return 204, None

    def _op_channels_stopMoh(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:  # noqa: N802
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        ch.moh = False
        return 204, None

    def _op_channels_ring(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        ch.ringing = True
        return 204, None

    def _op_channels_ringStop(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:  # noqa: N802
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        ch.ringing = False
        return 204, None

    def _op_channels_record(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        ch = self._channel(p["channelId"])
        if ch is None:
            return 404, {"message": "Channel not found"}
        return self._record(f"channel:{ch.id}", q)

    def _record(self, target: str, q: dict[str, str]) -> tuple[int, Any]:
        name = q["name"]
        if name in self.live_recordings or name in self.stored_recordings:
            return 409, {"message": "Recording already exists"}
        rec = FakeRecording(name, target, q["format"])
        self.live_recordings[name] = rec
        self.emit("RecordingStarted", recording=self.recording_json(rec))
        return 201, self.recording_json(rec)

    # ----------------------------------------------------------------- bridges

    def _op_bridges_list(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        return 200, [self.bridge_json(b) for b in self.bridges.values()]

    def _op_bridges_createWithId(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:  # noqa: N802
        bid = p["bridgeId"]
        if bid in self.bridges:
            return 409, {"message": "Bridge with this id already exists"}
        bridge = FakeBridge(bid, q.get("name", ""), self._timestamp())
        self.bridges[bid] = bridge
        return 200, self.bridge_json(bridge)

    def _op_bridges_destroy(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        bridge = self.bridges.get(p["bridgeId"])
        if bridge is None:
            return 404, {"message": "Bridge not found"}
        for rec in [
            r for r in self.live_recordings.values() if r.target_uri == f"bridge:{bridge.id}"
        ]:
            self._finish_recording(rec)
        for cid in list(bridge.channels):
            bridge.channels.remove(cid)
            ch = self.channels.get(cid)
            if ch is not None:
                ch.bridge = None
                self.emit(
                    "ChannelLeftBridge",
                    bridge=self.bridge_json(bridge),
                    channel=self.channel_json(ch),
                )
        del self.bridges[bridge.id]
        self.emit("BridgeDestroyed", bridge=self.bridge_json(bridge))
        return 204, None

    def _op_bridges_addChannel(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:  # noqa: N802
        bridge = self.bridges.get(p["bridgeId"])
        if bridge is None:
            return 404, {"message": "Bridge not found"}
        ids = q["channel"].split(",")
        chans = [self.channels.get(i) for i in ids]
        if any(c is None for c in chans):
            return 400, {"message": "Channel not found"}
        for ch in chans:
            assert ch is not None
            if not ch.in_stasis:
                return 422, {"message": "Channel not in Stasis application"}
            if ch.bridge is not None and ch.bridge != bridge.id:
                return 409, {"message": "Channel is already in another bridge"}
        for ch in chans:
            assert ch is not None
            if ch.bridge == bridge.id:
                continue
            ch.bridge = bridge.id
            ch.moh = False
            bridge.channels.append(ch.id)
            self.emit(
                "ChannelEnteredBridge",
                bridge=self.bridge_json(bridge),
                channel=self.channel_json(ch),
            )
        return 204, None

    def _op_bridges_record(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        bridge = self.bridges.get(p["bridgeId"])
        if bridge is None:
            return 404, {"message": "Bridge not found"}
        return self._record(f"bridge:{bridge.id}", q)

    # ----------------------------------------------------------------- playbacks, recordings

    def _op_playbacks_get(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        pb = self.playbacks.get(p["playbackId"])
        return (200, self.playback_json(pb)) if pb else (404, {"message": "Playback not found"})

    def _op_playbacks_stop(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        pb = self.playbacks.get(p["playbackId"])
        if pb is None:
            return 404, {"message": "Playback not found"}
        self._finish_playback(pb)
        return 204, None

    def _op_recordings_stop(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        rec = self.live_recordings.get(p["recordingName"])
        if rec is None:
            return 404, {"message": "Recording not found"}
        self._finish_recording(rec)
        return 204, None

    def _op_recordings_cancel(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        rec = self.live_recordings.pop(p["recordingName"], None)
        if rec is None:
            return 404, {"message": "Recording not found"}
        self.discarded_recordings.append(rec.name)
        return 204, None

    # ----------------------------------------------------------------- applications

    def _op_applications_get(self, p: dict[str, str], q: dict[str, str]) -> tuple[int, Any]:
        if p["applicationName"] != self.app:
            return 404, {"message": "Application not found"}
        return 200, {
            "name": self.app,
            "channel_ids": [c.id for c in self.channels.values() if c.in_stasis or c.outbound],
            "bridge_ids": list(self.bridges),
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }


class FakeAsteriskTransport(httpx.AsyncBaseTransport):
    """httpx transport that sends requests to a ``FakeAsterisk`` in the same process."""

    def __init__(self, fake: FakeAsterisk) -> None:
        self.fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self.fake.handle(request)
