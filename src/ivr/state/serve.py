"""``python -m ivr.state.serve``: ``ivr serve`` with the internal endpoints and the node.

Until ``create_app`` mounts ``ivr.state.http.install`` itself, this is how an instance runs
with its cluster membership (lease, takeovers, clean hand-over on SIGTERM) and accepts
simulated calls; the multi-instance tests start two of them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from ivr.settings import Settings
from routing.loader import ConfigError


@click.command()
@click.option("--host", default=None, help="adresse d'écoute (défaut : IVR_HOST ou 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (défaut : IVR_PORT ou 8115)")
@click.option("--config", "config_path", default=None, help="fichier de routage")
def main(host: str | None, port: int | None, config_path: str | None) -> None:
    """Lance une instance du service avec ses points d'entrée internes."""
    import uvicorn

    from ivr.app import create_app
    from ivr.composition import build_services
    from ivr.state.http import install

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    if config_path is not None:
        settings.config_path = Path(config_path)
    try:
        services = build_services(settings)
    except ConfigError as exc:
        click.echo(f"{settings.config_path} : configuration invalide", err=True)
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        sys.exit(1)
    app = create_app(services)
    install(app, services)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        timeout_graceful_shutdown=30,
        log_level="info",
    )


if __name__ == "__main__":
    main()
