"""A listener calls a 115 caller back, presenting 0 800 112 112."""

from __future__ import annotations

import pytest

from ivr.transports.ari.callback import CallbackResult
from tests.ari.harness import Harness, routing_config
from tests.support.fake_asterisk import Destination

LISTENER = "+33261910000"
PERSON = "+33612345678"


async def test_given_listener_and_person_answer_then_bridged_presenting_the_callback_number(
    harness: Harness,
) -> None:
    presented = routing_config().national.callback_number
    harness.fake.destinations[PERSON] = Destination("answer", after_s=4, talk_s=120)
    harness.fake.destinations[LISTENER] = Destination("answer", after_s=2, talk_s=None)
    instance = harness.instance()
    await instance.start()

    callback = await instance.transport.place_callback(LISTENER, PERSON, presented)
    await harness.clock.advance(3)
    # The listener has picked up, the person's phone rings: music, not silence.
    assert harness.fake.channels[callback.listener_leg].moh
    await harness.clock.advance(7)
    assert not harness.fake.channels[callback.listener_leg].moh, "stopped before the bridge"

    originated = harness.fake.calls_to("originateWithId")
    assert [r.params["endpoint"] for r in originated] == [
        f"PJSIP/{LISTENER}@operator",
        f"PJSIP/{PERSON}@operator",
    ]
    assert originated[1].params["callerId"] == presented == "+33800112112"
    assert len(harness.fake.calls_to("addChannel")) == 1
    await harness.clock.advance(200)
    assert callback.finished.is_set()
    assert callback.result is CallbackResult.CONNECTED
    assert harness.fake.leaks() == []


@pytest.mark.parametrize(
    ("template", "person", "expected"),
    [
        ("PJSIP/{number}@operator", "busy", CallbackResult.BUSY),
        # Seen on Asterisk 22.10.1 with Local legs: the person's busy line comes as a Dial
        # status BUSY, then the first half ends with cause 0 ("Unknown"); the cause alone
        # read as no answer.
        ("Local/{number}@ivr-outbound", "busy", CallbackResult.BUSY),
        ("Local/{number}@ivr-outbound", "fail", CallbackResult.FAILED),
    ],
    ids=["pjsip-busy", "local-busy", "local-congested"],
)
async def test_given_person_unreachable_then_listener_is_hung_up_and_result_says_why(
    harness: Harness, template: str, person: str, expected: CallbackResult
) -> None:
    harness.fake.destinations[PERSON] = Destination(person, after_s=2)
    harness.fake.destinations[LISTENER] = Destination("answer", after_s=1, talk_s=None)
    instance = harness.instance()
    instance.transport.dial_template = template
    await instance.start()

    callback = await instance.transport.place_callback(LISTENER, PERSON, "+33800112112")
    await harness.clock.advance(10)

    assert callback.result is expected
    assert harness.fake.leaks() == []


async def test_given_console_placer_over_ari_then_listener_then_person_are_rung(
    harness: Harness,
) -> None:
    from ivr.composition import TransportCallbacks

    harness.fake.destinations[PERSON] = Destination("answer", after_s=4, talk_s=60)
    harness.fake.destinations[LISTENER] = Destination("answer", after_s=2, talk_s=None)
    instance = harness.instance()
    await instance.start()
    placer = TransportCallbacks(instance.transport, None, lambda: "+33800112112")

    placed = await placer.place("01", LISTENER, PERSON)
    await harness.clock.advance(300)

    assert placed.startswith("cb")
    originated = harness.fake.calls_to("originateWithId")
    assert [r.params["endpoint"] for r in originated] == [
        f"PJSIP/{LISTENER}@operator",
        f"PJSIP/{PERSON}@operator",
    ]
    assert originated[1].params["callerId"] == "+33800112112"
    assert harness.fake.leaks() == []


async def test_given_console_placer_when_listener_phone_refused_then_french_error(
    harness: Harness,
) -> None:
    from ivr.composition import TransportCallbacks
    from ivr.web.callbacks import CallbackError

    instance = harness.instance()
    await instance.start()
    harness.fake.fail_next["originateWithId"] = 500
    placer = TransportCallbacks(instance.transport, None, lambda: "+33800112112")

    with pytest.raises(CallbackError, match="votre poste n'a pas pu être appelé"):
        await placer.place("01", LISTENER, PERSON)
    assert harness.fake.leaks() == []


async def test_given_console_placer_when_ari_not_connected_then_refused_in_french() -> None:
    from ivr.composition import TransportCallbacks
    from ivr.web.callbacks import CallbackError

    harness = Harness()
    try:
        instance = harness.instance()  # never started: no websocket on this instance
        placer = TransportCallbacks(instance.transport, None, lambda: "+33800112112")
        with pytest.raises(CallbackError, match="pas reliée à Asterisk"):
            await placer.place("01", LISTENER, PERSON)
        assert harness.fake.calls_to("originateWithId") == []
    finally:
        await harness.close()
