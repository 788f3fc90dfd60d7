from __future__ import annotations

from ivr.flow.vocabulary import Outcome
from ivr.sim.simulator import CallScript
from tests.ari.harness import Harness


async def test_given_assistance_call_when_caller_types_01_then_first_referent_is_bridged(
    harness: Harness,
) -> None:
    instance = harness.instance()
    await instance.start()
    script = CallScript(to_number="+33806000156", from_number="+33612345678", presses=["01", "1"])
    summary = await harness.run_script(script, instance)
    assert summary.outcome is Outcome.CONNECTED, summary
    assert harness.fake.leaks() == []


async def test_given_a_latency_observer_then_each_event_handled_is_timed(
    harness: Harness,
) -> None:
    instance = harness.instance()
    timed: list[float] = []
    instance.transport.on_event_handled = timed.append  # the metrics' histogram in service
    await instance.start()
    script = CallScript(to_number="+33806000156", from_number="+33612345678", presses=["01", "1"])
    summary = await harness.run_script(script, instance)
    assert summary.outcome is Outcome.CONNECTED, summary
    assert len(timed) >= 5  # StasisStart, DTMF, playbacks, the referent's leg…
    assert all(0 <= seconds < 5 for seconds in timed)
