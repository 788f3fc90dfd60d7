"""LaML transport (Twilio TwiML, SignalWire cXML): webhooks in, XML verbs and REST calls out.

The integrator builds a ``ProviderClient`` over an ``httpx.AsyncClient``, then either calls
``build_laml_router(runtime, auth_token=..., public_base_url=..., provider=..., clock=...)``,
or builds a ``LamlTransport`` (to keep it for listeners' call-backs and shutdown) and
includes ``laml_router(transport)``. See ``docs/laml.md``.
"""

from __future__ import annotations

from ivr.transports.laml.client import (
    OutboundCall,
    ProviderCalls,
    ProviderClient,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from ivr.transports.laml.config import LamlConfig, LamlNotConfiguredError
from ivr.transports.laml.events import (
    CallbackUpdate,
    CallStatusUpdate,
    Leg,
    MemoryProviderEvents,
    ProviderEventSink,
    RecordingUpdate,
)
from ivr.transports.laml.http import build_laml_router, laml_router
from ivr.transports.laml.service import LamlTransport
from ivr.transports.laml.signature import SignatureChecker, compute_signature

__all__ = [
    "CallStatusUpdate",
    "CallbackUpdate",
    "LamlConfig",
    "LamlNotConfiguredError",
    "LamlTransport",
    "Leg",
    "MemoryProviderEvents",
    "OutboundCall",
    "ProviderCalls",
    "ProviderClient",
    "ProviderError",
    "ProviderEventSink",
    "ProviderRejectedError",
    "ProviderUnavailableError",
    "RecordingUpdate",
    "SignatureChecker",
    "build_laml_router",
    "compute_signature",
    "laml_router",
]
