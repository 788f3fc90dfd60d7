"""The consoles' routes, one module per audience; ``common`` holds what they share."""

from fastapi import APIRouter

from ivr.web.routes import (
    accounts,
    admin_config,
    listener,
    recordings,
    referent,
    reports,
    routing_edit,
    routing_versions,
    sign_in,
    sisiao,
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
)

__all__ = ["ROUTERS"]
