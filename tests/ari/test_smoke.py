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
