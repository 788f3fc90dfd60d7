"""A live call survives being written down: the state and the media it waits on round-trip."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.flow.engine import CallState
from ivr.flow.vocabulary import (
    Answer,
    CallStarted,
    Command,
    Dial,
    DialOutcome,
    DialResult,
    DialTarget,
    DigitsReceived,
    Event,
    Gather,
    Hangup,
    Hold,
    InputTimedOut,
    ListenerOffered,
    Outcome,
    PeerHungUp,
    Play,
    QueueStatus,
    QueueStatusFetched,
    Role,
    RotationFetched,
    StartRecording,
    StopRecording,
    TimerFired,
)
from ivr.runtime.commands import decode_media, encode_media
from ivr.runtime.runtime import MediaCommand
from tests.state.helpers import ASSISTANCE, CALLER, LINE_115_93, MONDAY_10, shipped_flow

EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(DigitsReceived, st.sampled_from(["93", "20", "1", "2", "97", "4", "99", "#"])),
    st.just(InputTimedOut()),
    st.builds(
        lambda outcome: DialResult((("+33199000930", outcome),)), st.sampled_from(DialOutcome)
    ),
    st.just(PeerHungUp()),
    st.builds(TimerFired, st.sampled_from(["announce", "max_wait"])),
    st.builds(RotationFetched, st.none() | st.just("+33199000931")),
    st.builds(
        lambda waiting: QueueStatusFetched(QueueStatus(waiting, 2, 0, 60 * waiting)),
        st.integers(0, 60),
    ),
    st.just(ListenerOffered("+33261910930", "Écoutant 1")),
)


def media_of(commands: list[Command]) -> list[MediaCommand]:
    kinds = (Answer, Play, Gather, Dial, Hold, StartRecording, StopRecording, Hangup)
    return [c for c in commands if isinstance(c, kinds)]


@settings(max_examples=150, deadline=None)
@given(
    to=st.sampled_from([ASSISTANCE, LINE_115_93]),
    caller=st.none() | st.just(CALLER),
    events=st.lists(EVENTS, max_size=12),
)
def test_given_any_point_of_a_call_then_its_state_round_trips_through_plain_json(
    to: str, caller: str | None, events: list[Event]
) -> None:
    flow = shipped_flow()
    state, commands = flow.start(CallStarted("c1", to, caller), MONDAY_10)
    for n, event in enumerate([None, *events]):
        if event is not None:
            commands = flow.step(state, event, MONDAY_10 + timedelta(seconds=n))
        restored = CallState.from_dict(json.loads(json.dumps(state.to_dict())))
        assert restored == state
        for media in media_of(commands):
            assert decode_media(json.loads(json.dumps(encode_media(media)))) == media


def test_given_a_restored_call_then_it_continues_exactly_like_the_original() -> None:
    flow = shipped_flow()
    original, _ = flow.start(CallStarted("c1", ASSISTANCE, CALLER), MONDAY_10)
    flow.step(original, DigitsReceived("93"), MONDAY_10)
    restored = CallState.from_dict(original.to_dict())
    for event in (DigitsReceived("1"), RotationFetched("+33199000930")):
        assert flow.step(restored, event, MONDAY_10) == flow.step(original, event, MONDAY_10)
    assert restored == original
    assert restored.hunt_targets  # the hunt order survived


def test_given_every_kind_of_media_command_then_each_round_trips() -> None:
    flow = shipped_flow()
    _, commands = flow.start(CallStarted("c1", ASSISTANCE, CALLER), MONDAY_10)
    prompt = next(c for c in commands if isinstance(c, Gather)).prompt
    all_kinds: list[MediaCommand] = [
        Answer(),
        Play(prompt),
        Gather(prompt, 2, 6, 3),
        Dial((DialTarget("+33199000930", "Référent", Role.TIER1),), 20, "+33612345678"),
        Hold(),
        StartRecording(),
        StopRecording(),
        Hangup(Outcome.CALLBACK),
    ]
    for media in all_kinds:
        assert decode_media(encode_media(media)) == media


def test_given_a_snapshot_from_before_the_listener_index_then_it_loads_with_no_phones() -> None:
    from ivr.runtime.live_state import CallSnapshot

    state = CallState(call_id="c1", called="+33353010000", caller="+33612345678")
    raw = json.loads(CallSnapshot("c1", "A", state.to_dict(), listener_phones=["L1"]).to_json())
    assert CallSnapshot.from_json(json.dumps(raw)).listener_phones == ["L1"]
    del raw["listener_phones"]
    assert CallSnapshot.from_json(json.dumps(raw)).listener_phones == []
