"""The typed ARI events match Asterisk's Swagger models and parse every recorded real event."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from ivr.flow.vocabulary import Outcome
from ivr.sim.simulator import CallScript
from ivr.transports.ari import events
from ivr.transports.ari.call import AriCall
from ivr.transports.ari.callback import CallbackCall
from ivr.transports.ari.events import (
    PARSERS,
    CallEvent,
    MalformedEventError,
    parse_bridge,
    parse_channel,
    parse_event,
)
from ivr.transports.ari.swagger import AriSpec, default_docs_dir
from tests.ari.harness import Harness
from tests.support.fake_asterisk import settle

SAMPLES = default_docs_dir().parent / "event-samples.jsonl"
REAL_CALLS = Path(__file__).parent / "data" / "real-calls.jsonl"

# Every model of the module; ``ChannelEvent`` is only the base of the channel events.
TYPED = [
    cls
    for name, cls in vars(events).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and name != "ChannelEvent"
]
SWAGGER_TYPES: dict[Any, set[str]] = {
    str: {"string", "Date"},
    int: {"int", "long"},
    tuple[str, ...]: {"List[string]"},
}


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return AriSpec.load().models


def properties(models: dict[str, Any], name: str) -> dict[str, Any]:
    """A model's properties, those of the models it derives from included (Event, Message)."""
    found = dict(models[name].get("properties", {}))
    for parent, model in models.items():
        if name in model.get("subTypes", []):
            found.update(properties(models, parent))
    return found


def swagger_types(hint: Any) -> set[str]:
    if isinstance(hint, types.UnionType):  # ``int | None``: an optional field
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
    if dataclasses.is_dataclass(hint):
        return {hint.__name__}  # type: ignore[union-attr]
    return SWAGGER_TYPES[hint]


@pytest.mark.parametrize("cls", TYPED, ids=lambda cls: cls.__name__)
def test_given_a_typed_model_then_every_field_is_declared_by_swagger_with_a_compatible_type(
    cls: type, models: dict[str, Any]
) -> None:
    declared = properties(models, cls.__name__)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        assert field.name in declared, f"{cls.__name__}.{field.name} not declared"
        assert declared[field.name]["type"] in swagger_types(hints[field.name]), (
            cls.__name__,
            field.name,
            declared[field.name]["type"],
        )


def test_given_the_parsers_then_each_parses_the_event_of_its_type(models: dict[str, Any]) -> None:
    for kind, parser in PARSERS.items():
        returned = typing.get_type_hints(parser)["return"]
        assert kind == returned.__name__
        assert kind in models["Event"]["subTypes"]


def recorded_events() -> list[dict[str, Any]]:
    found = [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines()]
    for line in REAL_CALLS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["dir"] == "in":
            found.append(row["event"])
    return found


def same(value: Any, raw: Any) -> bool:
    """A parsed value holds what the raw JSON said (fields left out of the model aside)."""
    if dataclasses.is_dataclass(value):
        return all(same(getattr(value, f.name), raw.get(f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple):
        return bool(list(value) == raw)
    return bool(value == raw)


def test_given_every_event_recorded_from_a_real_asterisk_then_each_parses_to_its_model() -> None:
    parsed: set[str] = set()
    all_events = recorded_events()
    for raw in all_events:
        event = parse_event(raw)
        if raw["type"] not in PARSERS:
            assert event is None
            continue
        assert event is not None, raw
        assert raw["type"] == type(event).__name__
        assert same(event, raw), (event, raw)
        parsed.add(raw["type"])
    assert parsed == set(PARSERS)
    assert len(all_events) > 400


def test_given_channels_in_recorded_events_then_they_parse_as_rest_channels_too() -> None:
    for raw in recorded_events():
        for key in ("channel", "peer"):
            if key in raw:
                channel = parse_channel(raw[key])
                assert same(channel, raw[key])
        if "bridge" in raw:
            assert same(parse_bridge(raw["bridge"]), raw["bridge"])


def test_given_an_event_without_its_identifier_then_it_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedEventError):
        parse_event({"type": "StasisStart", "args": []})
    with pytest.raises(MalformedEventError):
        parse_event({"type": "ChannelDtmfReceived", "channel": {"id": "1.1"}})
    assert parse_event({"type": "ChannelVarset"}) is None


async def test_given_a_malformed_event_on_the_stream_then_it_is_dropped_and_calls_go_on(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    instance = harness.instance()
    await instance.start()
    assert harness.fake.socket is not None
    for broken in (
        {"type": "StasisStart", "args": ["inbound"]},  # no channel
        {"type": "ChannelDtmfReceived", "channel": {"id": "1.1"}},  # no digit
    ):
        message = {**broken, "application": harness.fake.app, "timestamp": "x"}
        harness.fake.socket.queue.put_nowait(json.dumps(message))
    await settle()
    assert "malformed event dropped" in caplog.text
    script = CallScript(to_number="+33806000156", from_number="+33612345678", presses=["01", "1"])
    summary = await harness.run_script(script, instance)
    assert summary.outcome is Outcome.CONNECTED, summary
    assert harness.fake.leaks() == []


@pytest.mark.parametrize("actor", [AriCall, CallbackCall], ids=lambda cls: cls.__name__)
def test_given_a_dispatch_table_then_each_handler_takes_the_message_type_it_is_listed_for(
    actor: type[AriCall | CallbackCall],
) -> None:
    for message_type, handler in actor.HANDLERS.items():
        hints = typing.get_type_hints(handler)
        (taken,) = (hint for name, hint in hints.items() if name not in ("self", "return"))
        assert message_type in (typing.get_args(taken) or (taken,)), (handler, message_type)


def test_given_a_call_then_every_event_type_parsed_has_a_handler() -> None:
    parsed = set(typing.get_args(CallEvent))
    assert {t.__name__ for t in parsed} == set(PARSERS)
    assert parsed <= set(AriCall.HANDLERS)
