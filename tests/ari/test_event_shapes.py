"""The fake Asterisk's events have the shape of events recorded from a real Asterisk 22.10.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ivr.flow.vocabulary import Outcome
from ivr.sim.simulator import CallScript
from tests.ari.harness import Harness
from tests.support.fake_asterisk import FakeAsterisk

SAMPLES = (
    Path(__file__).parent.parent.parent / "src/ivr/transports/ari/api_docs/event-samples.jsonl"
)


def recorded() -> dict[str, dict[str, Any]]:
    by_type: dict[str, dict[str, Any]] = {}
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        by_type.setdefault(event["type"], event)
    return by_type


# Nested objects whose keys must match the recorded ones exactly.
SHAPED = {"channel", "peer", "playback", "bridge", "recording", "caller", "dialplan"}
# Keys a real Asterisk sends only sometimes: a playback of several media names the next one
# (seen in tests/ari/data/real-calls.jsonl).
OPTIONAL = {"next_media_uri"}


async def test_given_both_lines_then_every_event_type_seen_in_real_samples_has_the_same_keys(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    emitted: list[dict[str, Any]] = []
    original = FakeAsterisk.emit

    def capture(self: FakeAsterisk, event_type: str, **fields: Any) -> None:
        emitted.append({"type": event_type, **fields})
        original(self, event_type, **fields)

    monkeypatch.setattr(FakeAsterisk, "emit", capture)
    instance = harness.instance()
    await instance.start()
    for script in (
        CallScript(to_number="+33806000156", from_number="+33612345678", presses=["75", "1"]),
        CallScript(to_number="+33353010750", from_number="+33612345678", listeners=0),
    ):
        summary = await harness.run_script(script, instance)
        assert summary.outcome is Outcome.CONNECTED
    samples = recorded()
    compared = 0
    for event in emitted:
        sample = samples.get(event["type"])
        if sample is None:
            continue
        expected = set(sample) - {"application", "timestamp", "asterisk_id"}
        assert set(event) >= expected, (event["type"], expected - set(event))
        for key in SHAPED & set(sample) & set(event):
            assert set(event[key]) - OPTIONAL == set(sample[key]) - OPTIONAL, (event["type"], key)
        compared += 1
    assert compared > 20
    assert {e["type"] for e in emitted} & set(samples) >= {
        "StasisStart",
        "ChannelDtmfReceived",
        "PlaybackStarted",
        "PlaybackFinished",
        "StasisEnd",
    }
