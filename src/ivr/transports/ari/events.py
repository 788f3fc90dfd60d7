"""The ARI objects and events the transport acts on, typed after Asterisk's Swagger models.

Each class is a model of the API documents shipped in ``api_docs/`` (``events.json``,
``channels.json``, ``playbacks.json``, ``bridges.json``) cut down to the fields the
transport reads, under the same names; ``SWAGGER`` names the model. They are parsed once,
at the edge (``parse_event`` for the websocket, ``parse_channel`` and ``parse_bridge`` for
REST answers), so that nothing past the edge reads a raw ``dict``.
``tests/ari/test_event_types.py`` checks every field against the documents and parses
every event recorded from a real Asterisk 22.10.1.

Parsing is as lenient as Asterisk's documents allow: an identifier is required (nothing can
be routed without it); any other missing field takes an empty value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

Raw = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CallerId:
    SWAGGER: ClassVar[str] = "CallerID"

    number: str = ""


@dataclass(frozen=True, slots=True)
class DialplanCep:
    SWAGGER: ClassVar[str] = "DialplanCEP"

    exten: str = ""
    app_name: str = ""
    app_data: str = ""


@dataclass(frozen=True, slots=True)
class Channel:
    SWAGGER: ClassVar[str] = "Channel"

    id: str
    state: str = ""
    caller: CallerId = CallerId()
    dialplan: DialplanCep = DialplanCep()


@dataclass(frozen=True, slots=True)
class Playback:
    SWAGGER: ClassVar[str] = "Playback"

    id: str
    state: str = ""
    media_uri: str = ""


@dataclass(frozen=True, slots=True)
class Bridge:
    SWAGGER: ClassVar[str] = "Bridge"

    id: str
    name: str = ""


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """An event about one channel (``channel``): its base, not an event of its own."""

    timestamp: str
    channel: Channel

    @property
    def subject(self) -> Channel:
        return self.channel


@dataclass(frozen=True, slots=True)
class StasisStart(ChannelEvent):
    SWAGGER: ClassVar[str] = "StasisStart"

    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StasisEnd(ChannelEvent):
    SWAGGER: ClassVar[str] = "StasisEnd"


@dataclass(frozen=True, slots=True)
class ChannelDestroyed(ChannelEvent):
    SWAGGER: ClassVar[str] = "ChannelDestroyed"

    cause: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelDtmfReceived(ChannelEvent):
    SWAGGER: ClassVar[str] = "ChannelDtmfReceived"

    digit: str = ""


@dataclass(frozen=True, slots=True)
class Dial:
    SWAGGER: ClassVar[str] = "Dial"

    timestamp: str
    peer: Channel
    dialstatus: str = ""

    @property
    def subject(self) -> Channel:
        return self.peer


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    SWAGGER: ClassVar[str] = "PlaybackFinished"

    timestamp: str
    playback: Playback

    @property
    def subject(self) -> Playback:
        return self.playback


CallEvent = (
    StasisStart | StasisEnd | ChannelDestroyed | ChannelDtmfReceived | Dial | PlaybackFinished
)


# --------------------------------------------------------------------------- parsing


def _text(raw: Raw, name: str) -> str:
    value = raw.get(name)
    return "" if value is None else str(value)


def _object(raw: Raw, name: str) -> Raw:
    value = raw.get(name)
    return value if isinstance(value, Mapping) else {}


def parse_channel(raw: Raw) -> Channel:
    """A ``Channel`` (an event's or ``GET /channels``'s); ``KeyError`` without its id."""
    dialplan = _object(raw, "dialplan")
    return Channel(
        id=str(raw["id"]),
        state=_text(raw, "state"),
        caller=CallerId(_text(_object(raw, "caller"), "number")),
        dialplan=DialplanCep(
            exten=_text(dialplan, "exten"),
            app_name=_text(dialplan, "app_name"),
            app_data=_text(dialplan, "app_data"),
        ),
    )


def parse_bridge(raw: Raw) -> Bridge:
    """A ``Bridge`` of ``GET /bridges``; ``KeyError`` without its id."""
    return Bridge(id=str(raw["id"]), name=_text(raw, "name"))


def _stasis_start(raw: Raw) -> StasisStart:
    args = tuple(str(a) for a in raw.get("args") or ())
    return StasisStart(_text(raw, "timestamp"), parse_channel(raw["channel"]), args)


def _stasis_end(raw: Raw) -> StasisEnd:
    return StasisEnd(_text(raw, "timestamp"), parse_channel(raw["channel"]))


def _channel_destroyed(raw: Raw) -> ChannelDestroyed:
    cause = raw.get("cause")
    return ChannelDestroyed(
        _text(raw, "timestamp"),
        parse_channel(raw["channel"]),
        int(cause) if cause is not None else None,
    )


def _dtmf(raw: Raw) -> ChannelDtmfReceived:
    return ChannelDtmfReceived(
        _text(raw, "timestamp"), parse_channel(raw["channel"]), str(raw["digit"])
    )


def _dial(raw: Raw) -> Dial:
    return Dial(_text(raw, "timestamp"), parse_channel(raw["peer"]), _text(raw, "dialstatus"))


def _playback_finished(raw: Raw) -> PlaybackFinished:
    playback = raw["playback"]
    return PlaybackFinished(
        _text(raw, "timestamp"),
        Playback(str(playback["id"]), _text(playback, "state"), _text(playback, "media_uri")),
    )


PARSERS: dict[str, Callable[[Raw], CallEvent]] = {
    "StasisStart": _stasis_start,
    "StasisEnd": _stasis_end,
    "ChannelDestroyed": _channel_destroyed,
    "ChannelDtmfReceived": _dtmf,
    "Dial": _dial,
    "PlaybackFinished": _playback_finished,
}
"""The events a call acts on, by their ``type``; every other type is dropped unparsed."""


class MalformedEventError(ValueError):
    """An event of a type the transport acts on, without what it needs (an identifier)."""


def parse_event(raw: Raw) -> CallEvent | None:
    """The typed event, None for a type no call acts on, or ``MalformedEventError``."""
    parser = PARSERS.get(str(raw.get("type")))
    if parser is None:
        return None
    try:
        return parser(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEventError(f"{raw.get('type')}: {exc!r}") from exc


def dedup_key(event: CallEvent) -> tuple[object, ...]:
    """What tells a repeated event (the same event sent twice) from a new one."""
    subject = event.subject
    return (
        event.SWAGGER,
        event.timestamp,
        subject.id,
        subject.state,
        event.digit if isinstance(event, ChannelDtmfReceived) else None,
        event.dialstatus if isinstance(event, Dial) else None,
    )
