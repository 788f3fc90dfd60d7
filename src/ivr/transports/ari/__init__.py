"""The Asterisk ARI transport: REST client, event stream, per-call state machines."""

from ivr.transports.ari.client import AriClient, AriError, AriNotFoundError, websocket_events
from ivr.transports.ari.transport import (
    AlwaysLeader,
    AriTransport,
    CallSnapshot,
    CallSnapshots,
    Leadership,
    LoopScheduler,
    MemorySnapshots,
    Scheduler,
)
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
