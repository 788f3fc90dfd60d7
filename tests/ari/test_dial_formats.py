"""Every leg the service dials runs in G.711, never in slin192.

Seen on Asterisk 22.10.1 with chan_pjsip (docs/asterisk.md, "SIP and RTP"): a Local leg
originated with neither ``originator`` nor ``formats`` gets every audio format and runs in
slin192, so the caller's A-law is resampled 8 kHz -> 192 kHz -> 8 kHz on each side and both
parties hear each other 6 dB lower. A leg dialled for a caller takes the caller's codecs
(``originator``); a call-back's first leg, dialled for nobody, names G.711.
"""

from __future__ import annotations

import httpx
import pytest

from ivr.flow.vocabulary import Outcome
from ivr.sim.simulator import CallScript
from ivr.transports.ari.callback import CallbackResult
from tests.ari.harness import Harness
from tests.support.fake_asterisk import Destination

LOCAL = "Local/{number}@ivr-outbound"
LISTENER = "+33261910000"
PERSON = "+33612345678"


@pytest.mark.parametrize("template", [LOCAL, "PJSIP/{number}@operator"])
async def test_given_assistance_call_then_referent_leg_takes_the_callers_alaw(
    harness: Harness, template: str
) -> None:
    instance = harness.instance()
    instance.transport.dial_template = template
    await instance.start()
    script = CallScript(to_number="+33806000156", from_number=PERSON, presses=["01", "1"])

    summary = await harness.run_script(script, instance)

    assert summary.outcome is Outcome.CONNECTED
    [request] = harness.fake.calls_to("originateWithId")
    caller = request.params.get("originator")
    assert caller, "the leg names the caller it is dialled for"
    assert caller not in harness.fake.channels, "the caller's channel, gone after the call"
    assert "formats" not in request.params
    assert harness.fake.originated_formats[request.params["endpoint"]] == ("alaw",)
    assert harness.fake.leaks() == []


async def test_given_callback_over_local_legs_then_no_leg_runs_in_slin192(
    harness: Harness,
) -> None:
    harness.fake.destinations[PERSON] = Destination("answer", after_s=4, talk_s=30)
    harness.fake.destinations[LISTENER] = Destination("answer", after_s=2, talk_s=None)
    instance = harness.instance()
    instance.transport.dial_template = LOCAL
    await instance.start()

    callback = await instance.transport.place_callback(LISTENER, PERSON, "+33800112112")
    await harness.clock.advance(60)

    assert callback.result is CallbackResult.CONNECTED
    listener, person = harness.fake.calls_to("originateWithId")
    assert listener.params["formats"] == "alaw,ulaw"
    assert person.params["originator"] == callback.listener_leg
    assert harness.fake.originated_formats == {
        f"Local/{LISTENER}@ivr-outbound": ("alaw", "ulaw"),
        f"Local/{PERSON}@ivr-outbound": ("alaw", "ulaw"),
    }
    assert harness.fake.leaks() == []


async def test_fake_refuses_originator_and_formats_together_as_asterisk_does(
    harness: Harness,
) -> None:
    params = {"endpoint": "Local/+33100000000@ivr-outbound", "app": "ivr"}
    cases = [
        ({"originator": "x", "formats": "alaw"}, "Originator and formats can't both be specified"),
        ({"originator": "gone"}, "Provided originator channel was not found"),
        ({"formats": "alaw,speex99"}, "Provided format (speex99) was not found"),
    ]
    async with httpx.AsyncClient(
        transport=harness.fake.http_transport(),
        auth=(harness.fake.user, harness.fake.password),
    ) as http:
        for extra, message in cases:
            response = await http.post(
                "http://asterisk/ari/channels/leg-1", params={**params, **extra}
            )
            assert (response.status_code, response.json()["message"]) == (400, message)
    assert harness.fake.channels == {}
