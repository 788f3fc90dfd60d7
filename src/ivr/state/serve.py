"""``python -m ivr.state.serve``: ``ivr serve`` with the internal endpoints and the node.

Until ``create_app`` mounts ``ivr.state.http.install`` itself, this is how an instance runs
with its cluster membership (lease, takeovers, clean hand-over on SIGTERM) and accepts
simulated calls; the multi-instance tests start two of them.
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
    from ivr.state.http import install

    run_service(host, port, config_path, extend=install)


if __name__ == "__main__":
    main()
