"""The flow diagrams in docs/ are generated from the declared transitions and stay in sync."""

from __future__ import annotations

from pathlib import Path

from ivr.flow.assistance import ASSISTANCE
from ivr.flow.diagram import document, mermaid
from ivr.flow.emergency import EMERGENCY

DOC = Path(__file__).parent.parent.parent / "docs" / "flows.md"


def test_given_flows_then_docs_flows_md_is_exactly_the_generated_document() -> None:
    assert DOC.read_text(encoding="utf-8") == document(), "run: ivr flows diagram > docs/flows.md"


def test_given_assistance_flow_then_diagram_shows_tier1_to_tier2_escalation() -> None:
    text = mermaid(ASSISTANCE)
    assert text.startswith("stateDiagram-v2")
    assert "tier1_dialing --> tier2_dialing: résultat palier 1" in text
    assert "corse_menu --> dept_menu" not in text


def test_given_115_flow_then_diagram_shows_queue_to_lro_on_maximum_wait() -> None:
    text = mermaid(EMERGENCY)
    assert "queued --> lro_dialing: minuterie" in text
    assert "queue_status --> saturation_offer: état de la file" in text
