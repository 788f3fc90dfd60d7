"""What the records derive from a finished call when it is written (pure)."""

from __future__ import annotations

from datetime import datetime

from ivr.flow.vocabulary import SKIPPED_OUTCOMES, CallSummary

# French words for a dial's result and a call's outcome, as a simulated call tells them (the
# command line's ``ivr simulate`` and the routing edit's preview).
DIAL_RESULT_TEXT = {
    "answered": "répond",
    "busy": "occupé",
    "no-answer": "ne répond pas",
    "failed": "échec de l'appel",
    # Not rung: the national support agent(s) of that post said so on the support page.
    "paused": "en pause, non sonné",
    "offline": "hors ligne, non sonné",
}
OUTCOME_TEXT = {
    "connected": "mis en relation",
    "callback": "rappel enregistré",
    "message": "fin sur un message",
    "caller-hung-up": "l'appelant a raccroché",
}


def abandon_phase(
    summary: CallSummary, answered_at: datetime | None, dials: int, queued: bool
) -> str | None:
    """Where a caller who hung up before anyone answered was: ``ringing`` (a destination
    was ringing: more dials started than results came back), ``queue`` (the call had
    been queued), else ``menu`` (welcome, menus, messages). None when not abandoned."""
    if summary.outcome is None or summary.outcome.value != "caller-hung-up":
        return None
    if answered_at is not None or summary.connected_to is not None:
        return None
    rung = sum(1 for a in summary.attempts if a.result not in SKIPPED_OUTCOMES)
    if dials > rung:
        return "ringing"
    return "queue" if queued else "menu"
