"""At start, national support agents' presence given on the support page before the live
state kept it: a pause (or a sign-out) saved only in ``support_agents`` (SQL) is written to
the live state, so the tier-2 hunt honours it.

Only what the live state does not know is written (``LiveState.restore_support_agent``:
set if absent, atomic on Redis): an entry already there was written by the page, a
sign-in or a sign-out of this version, or by another instance, and is at least as recent
as the row. Starting again, or several instances starting together, changes nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

from ivr.records import tickets
from ivr.records.models import SupportAgent
from ivr.records.store import RecordStore
from ivr.runtime.live_state import LiveState, Presence, SupportAgentState

log = logging.getLogger(__name__)


def state_of(row: SupportAgent) -> SupportAgentState:
    """The live state's entry for an agent's row (its time in UTC: SQLite drops the zone)."""
    since = row.updated_at
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return SupportAgentState(row.login, row.phone, Presence(row.presence), since)


async def carry_over_support_presence(store: RecordStore, live: LiveState) -> int:
    """Write to the live state the paused or signed-out agents on a post it does not know
    yet; returns how many were written."""
    rows = await asyncio.to_thread(tickets.away_agents, store)
    written = 0
    for row in rows:
        if await live.restore_support_agent(state_of(row)):
            written += 1
    if written:
        log.info("support presence carried over from the records: %d agent(s)", written)
    return written
