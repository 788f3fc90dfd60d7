"""The FastAPI application: routers mounted and background work run from the services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from geoloc.http import build_router as build_aml_router
from ivr.composition import Services
from ivr.transports.laml import laml_router
from ivr.web import STATIC_DIR, build_console_router
from ivr.web.headers import SecurityHeaders
from ivr.web.limits import BodyLimits

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0


def _ari_health(services: Services) -> dict[str, Any] | None:
    """The websocket of the Stasis application: held here, or by another instance."""
    ari = services.ari
    if ari is None:
        return None
    leading = ari.leadership.leading
    return {
        "connected": ari.connected.is_set(),
        "role": "principale" if leading else "en attente",
        "calls": len(ari.calls),
        "connections": ari.connections,
    }


def _start_background(services: Services, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """The work that runs as long as the application does, each watching ``stop``."""
    tasks: list[asyncio.Task[None]] = []
    if services.sisiao.configured:
        tasks.append(asyncio.create_task(services.sisiao.outbox.run(stop), name="outbox"))
        tasks.append(asyncio.create_task(services.sisiao.monitor.run(stop), name="monitor"))
    if services.ari is not None:
        tasks.append(asyncio.create_task(services.ari.run(stop), name="ari"))
    if services.config_sync is not None:
        sync = services.config_sync.run(stop)
        tasks.append(asyncio.create_task(sync, name="routing-versions"))
    return tasks


async def _shut_down(services: Services, tasks: list[asyncio.Task[None]]) -> None:
    """After ``stop`` is set: hand live calls over, end the background work, release all."""
    await services.node.stop()  # hands live calls over, flushes the records
    if tasks:
        # Each task watches ``stop`` (a standby ARI instance too, in its wait for
        # the websocket lease); whatever has not ended after a grace period is
        # cancelled.
        _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()
    if services.ari is not None:
        await services.ari.close()
    for close in services.closers:
        try:
            await close()
        except Exception:  # shutting down: log and go on releasing the rest
            log.exception("shutdown step failed")
    if services.laml is not None:
        await services.laml.drain()
    await services.sisiao.lookups.aclose()
    await services.http.aclose()


async def _run_starters(services: Services) -> None:
    """What fills the live state at start; a failure is logged, the service starts."""
    for start in services.starters:
        try:
            await start()
        except Exception:
            log.exception("start step failed")


def _lifespan(services: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        stop.clear()
        await services.node.start()
        await _run_starters(services)
        tasks.extend(_start_background(services, stop))
        try:
            yield
        finally:
            stop.set()
            await _shut_down(services, tasks)

    return lifespan


def _health(services: Services) -> dict[str, Any]:
    config = services.config
    try:
        incident = services.sisiao.monitor.banner()
    except Exception:  # health must answer even when the database does not
        log.exception("SI SIAO incident state unreadable")
        incident = "état des incidents SI SIAO illisible"
    node = services.node.health()  # live state (Redis or degraded) and the records writer
    ari = _ari_health(services)
    # A standby instance without the websocket is as expected; the principal one
    # without it means Asterisk routes calls by its fallback dialplan meanwhile.
    ari_down = ari is not None and ari["role"] == "principale" and not ari["connected"]
    return {
        "status": "degraded" if node.get("degraded") or ari_down else "ok",
        **node,
        "departements": len(config.departements),
        "assistance_number": config.national.assistance_number,
        "sisiao": "configuré" if services.sisiao.configured else "non configuré",
        "sisiao_incident": incident,
        "ari": ari,
        "routing_version": (
            services.config_sync.current if services.config_sync is not None else None
        ),
        "laml": services.laml is not None,
    }


def create_app(services: Services) -> FastAPI:
    """The web application of one instance of the service."""
    # The interactive documentation (and the OpenAPI schema it reads) only in development:
    # in production it would map every endpoint for anyone who asks.
    development = services.settings.environment == "development"
    app = FastAPI(
        title="IVR 115 et assistance SI SIAO",
        version="0.1.0",
        lifespan=_lifespan(services),
        docs_url="/docs" if development else None,
        redoc_url="/redoc" if development else None,
        openapi_url="/openapi.json" if development else None,
    )
    docs_paths = [
        path
        for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
        if path and development
    ]
    # Added first, so inside the headers: its own 413s carry them too.
    app.add_middleware(BodyLimits)
    app.add_middleware(SecurityHeaders, docs_paths=docs_paths)
    app.state.services = services

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return _health(services)

    app.include_router(
        build_aml_router(
            services.locator,
            services.positions,
            (
                services.settings.aml_hmac_key.get_secret_value().encode()
                if services.settings.aml_hmac_key
                else None
            ),
            services.clock,
        )
    )
    if services.laml is not None:
        app.include_router(laml_router(services.laml))
    if services.console is not None:
        app.include_router(build_console_router(services.console))
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
