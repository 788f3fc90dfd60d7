"""The Asterisk ARI transport: REST client, event stream, per-call state machines."""

from ivr.transports.ari.client import AriClient, AriError, AriNotFoundError, websocket_events
from ivr.transports.ari.ports import (
    AlwaysLeader,
    CallSnapshot,
    CallSnapshots,
    Leadership,
    LoopScheduler,
    MemorySnapshots,
    Scheduler,
)
from ivr.transports.ari.transport import AriTransport
from resilience import Backoff

__all__ = [
    "AlwaysLeader",
    "AriClient",
    "AriError",
    "AriNotFoundError",
    "AriTransport",
    "Backoff",
    "CallSnapshot",
    "CallSnapshots",
    "Leadership",
    "LoopScheduler",
    "MemorySnapshots",
    "Scheduler",
    "websocket_events",
]
