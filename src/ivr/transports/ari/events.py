"""The ARI objects and events the transport acts on, typed after Asterisk's Swagger models.

Each class is a model of the API documents shipped in ``api_docs/`` (``events.json``,
``channels.json``, ``playbacks.json``, ``bridges.json``), under the model's name, cut
down to the fields the transport reads, under the same names and types. They are parsed once,
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
from typing import Any

Raw = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CallerID:
    """A channel's caller: only the number is read (withheld when empty)."""

    number: str = ""


@dataclass(frozen=True, slots=True)
class DialplanCEP:
    """Where a channel is in the dialplan: the number dialled, and the Stasis application
    with its arguments (``app_data`` is ``<application>,<arg>,...``)."""

    exten: str = ""
    app_name: str = ""
    app_data: str = ""


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel, as an event tells it or ``GET /channels`` lists it."""

    id: str
    state: str = ""
    caller: CallerID = CallerID()
    dialplan: DialplanCEP = DialplanCEP()


@dataclass(frozen=True, slots=True)
class Bridge:
    """A bridge of ``GET /bridges``: ours are named ``<application>:<call id>``."""

    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Playback:
    """A playback; ``state`` is ``failed`` for a sound file Asterisk does not have."""

    id: str
    media_uri: str = ""
    state: str = ""


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """An event about one channel (``channel``): its base, not an event of its own."""

    timestamp: str
    channel: Channel


@dataclass(frozen=True, slots=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StasisEnd(ChannelEvent):
    """The channel left our application (hung up, or sent back to the dialplan)."""


@dataclass(frozen=True, slots=True)
class ChannelDestroyed(ChannelEvent):
    cause: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str = ""


@dataclass(frozen=True, slots=True)
class Dial:
    timestamp: str
    peer: Channel
    dialstatus: str = ""


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    timestamp: str
    playback: Playback


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
        caller=CallerID(_text(_object(raw, "caller"), "number")),
        dialplan=DialplanCEP(
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
        Playback(str(playback["id"]), _text(playback, "media_uri"), _text(playback, "state")),
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


def subject(event: CallEvent) -> Channel | Playback:
    """What the event is about: a channel (the peer, for a Dial), or a playback."""
    if isinstance(event, Dial):
        return event.peer
    if isinstance(event, PlaybackFinished):
        return event.playback
    return event.channel


def dedup_key(event: CallEvent) -> tuple[object, ...]:
    """What tells a repeated event (the same event sent twice) from a new one."""
    about = subject(event)
    return (
        type(event).__name__,
        event.timestamp,
        about.id,
        about.state,
        event.digit if isinstance(event, ChannelDtmfReceived) else None,
        event.dialstatus if isinstance(event, Dial) else None,
    )
