"""What the consoles need from the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from geoloc.locator import Locator
from geoloc.store import RecentPositions
from ivr.records.store import RecordStore
from ivr.runtime.queries import CallQueries
from ivr.web.callbacks import CallbackPlacer
from ivr.web.metrics import ServiceMetrics
from ivr.web.recordings import RecordingSource
from ivr.web.throttle import ThrottlePolicy
from routing.config import RoutingConfig
from sisiao_link.lookup import LookupService
from sisiao_link.outbox import Outbox

ConfigAccepted = Callable[[RoutingConfig, str], Awaitable[None] | None]
CallPreview = Callable[[RoutingConfig, str, str, datetime, bool], dict[str, Any]]
"""(routing, line ``assistance``/``115``, département, moment, nobody answers) → the
simulated call: ``{"summary": <ivr simulate --json's summary>, "text": <its dialogue>}``."""


@dataclass(slots=True)
class ConsoleDeps:
    """The collaborators of the web consoles, built once in the composition root.

    ``banner`` is ``VitalFunctionsMonitor.banner`` (or any callable giving the French text
    of the open SI SIAO incident, None when there is none). ``config`` returns the routing
    configuration in force (it changes on reload). ``on_config_accepted`` is called with a
    validated routing file once it is recorded as a new version: applying it is the
    caller's business. ``secure_cookies`` is False only for plain-HTTP development.
    ``recordings`` reads recording files (None: playback not configured); a recording older
    than ``recording_retention`` is not played even before ``ivr purge`` removes it.
    ``throttle`` sets the failed sign-in limits (counted in the records database).
    ``callbacks`` places a call-back from the console (None: no telephony to place it).
    ``calls`` answers what the consoles ask of the calls in progress (``CallQueries`` over
    the ``CallRuntime``). ``config_check_timeout`` bounds the check of a routing file
    submitted on the admin page (run in a worker thread): a longer check refuses the file.
    ``metrics`` serves ``/metrics`` (``ivr.web.metrics``).
    """

    records: RecordStore
    calls: CallQueries
    lookups: LookupService
    outbox: Outbox
    banner: Callable[[], str | None]
    positions: RecentPositions
    locator: Locator
    config: Callable[[], RoutingConfig]
    clock: Callable[[], datetime]
    session_secret: str
    on_config_accepted: ConfigAccepted | None = None
    secure_cookies: bool = True
    session_lifetime: timedelta = timedelta(hours=12)
    static_url: str = "/static"
    timezone: str = "Europe/Paris"
    recordings: RecordingSource | None = None
    recording_retention: timedelta = timedelta(days=90)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    callbacks: CallbackPlacer | None = None
    config_check_timeout: timedelta = timedelta(seconds=15)
    preview: CallPreview | None = None
    metrics: ServiceMetrics | None = None  # /metrics (None: 404)
