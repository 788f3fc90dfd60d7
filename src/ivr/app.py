"""The FastAPI application, built from the services of the composition root."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ivr.composition import Services


def create_app(services: Services) -> FastAPI:
    """The web application: health now; transports and pages join as they are built."""
    app = FastAPI(title="IVR 115 et assistance SI SIAO", version="0.1.0")
    app.state.services = services

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        config = services.config
        return {
            "status": "ok",
            "departements": len(config.departements),
            "assistance_number": config.national.assistance_number,
        }

    return app
