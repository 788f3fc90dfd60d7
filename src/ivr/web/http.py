"""The web consoles (French pages): sign-in, listener console, national support, referents,
admin. Server-rendered Jinja2; a few lines of vanilla JS poll two small JSON endpoints.

Every endpoint checks the signed session and the person's role; every form carries the
session's CSRF token; every read of a caller's number or a household is audited.
Database work runs in worker threads (``RecordStore`` and ``Outbox`` are synchronous).
The routes live in ``ivr.web.routes``, one module per audience; this assembles them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends

from ivr.web.deps import ConsoleDeps
from ivr.web.routes import ROUTERS
from ivr.web.routes.common import Web

STATIC_DIR = Path(__file__).parent / "static"


def build_console_router(deps: ConsoleDeps) -> APIRouter:
    """The consoles' routes; mount the static files at ``deps.static_url`` beside it."""
    web = Web(deps)
    router = APIRouter()
    for routes in ROUTERS:
        router.include_router(routes, dependencies=[Depends(web.bind)])
    return router
