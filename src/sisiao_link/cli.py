"""``ivr sisiao-sandbox``: runs the sandbox SI SIAO with uvicorn."""

from __future__ import annotations

import click
import uvicorn

from sisiao_link.sandbox import DEFAULT_CLIENTS, create_sandbox_app


@click.command(name="sisiao-sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
@click.option("--port", default=8115, show_default=True, type=int, help="Port d'écoute.")
@click.option(
    "--db",
    default="var/sisiao-sandbox.sqlite3",
    show_default=True,
    help="Fichier SQLite ou URL SQLAlchemy des données fictives.",
)
@click.option("--no-seed", is_flag=True, help="Ne pas créer les ménages fictifs.")
def sandbox_command(host: str, port: int, db: str, no_seed: bool) -> None:
    """Démarre le bac à sable SI SIAO (données fictives)."""
    if "://" not in db:
        import pathlib

        pathlib.Path(db).parent.mkdir(parents=True, exist_ok=True)
    app = create_sandbox_app(db, seed=not no_seed)
    clients = ", ".join(f"{cid} / {secret}" for cid, secret in DEFAULT_CLIENTS.items())
    click.echo(f"Bac à sable SI SIAO sur http://{host}:{port} (base : {db})")
    click.echo(f"Client OAuth2 (client_id / client_secret) : {clients}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    sandbox_command()
