"""The consoles' routes, one module per audience; ``common`` holds what they share."""

from fastapi import APIRouter

from ivr.web.routes import (
    accounts,
    admin_config,
    listener,
    metrics,
    recordings,
    referent,
    reports,
    routing_edit,
    routing_versions,
    sign_in,
    sisiao,
    supervision,
    support,
    support_agent,
)

ROUTERS: tuple[APIRouter, ...] = (
    sign_in.router,
    listener.router,
    sisiao.router,
    referent.router,
    support.router,
    support_agent.router,
    admin_config.router,
    reports.router,
    accounts.router,
    recordings.router,
    routing_edit.router,
    routing_versions.router,
    metrics.router,
    supervision.router,
)

__all__ = ["ROUTERS"]
