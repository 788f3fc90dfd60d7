"""The ARI transport's call snapshots in a local key-value file (the embedded default).

Without Redis, the snapshots that let a restarted process adopt the calls Asterisk still
holds live in the same local SQLite file as the live state (``ivr.state.local``).
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

from ivr.transports.ari.ports import CallSnapshot
from ivr.transports.ari.redis_shared import snapshot_from_dict, snapshot_to_dict

log = logging.getLogger(__name__)


class KeyValueStore(Protocol):
    def put(self, space: str, key: str, value: str) -> None: ...

    def get(self, space: str, key: str) -> str | None: ...

    def delete(self, space: str, key: str) -> None: ...


class LocalCallSnapshots:
    """``CallSnapshots`` in a ``KeyValueStore``, written after every event of a call."""

    SPACE = "ari-call"

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store

    async def save(self, call_id: str, snapshot: CallSnapshot) -> None:
        self.store.put(self.SPACE, call_id, json.dumps(snapshot_to_dict(snapshot)))

    async def load(self, call_id: str) -> CallSnapshot | None:
        raw = self.store.get(self.SPACE, call_id)
        if raw is None:
            return None
        try:
            return snapshot_from_dict(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            log.error("call %s: unreadable ARI snapshot, its flow starts again", call_id)
            return None

    async def delete(self, call_id: str) -> None:
        self.store.delete(self.SPACE, call_id)
