"""``python -m tests.support.node_serve``: ``ivr serve`` with the internal endpoints.

A test server, not shipped: an instance (``ivr serve``'s app, whose lifespan runs the node:
lease, takeovers, clean hand-over on SIGTERM) that also accepts simulated calls over HTTP
(``tests.support.node_http``); the multi-instance tests start two of them from the
repository's root.
"""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default=None, help="adresse d'écoute (défaut : IVR_HOST ou 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (défaut : IVR_PORT ou 8115)")
@click.option("--config", "config_path", default=None, help="fichier de routage")
def main(host: str | None, port: int | None, config_path: str | None) -> None:
    """Lance une instance du service avec ses points d'entrée internes."""
    from ivr.cli import run_service
    from tests.support.node_http import install

    run_service(host, port, config_path, extend=install)


if __name__ == "__main__":
    main()
