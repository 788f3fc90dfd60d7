"""The ``ivr`` command: check the configuration, simulate calls, run the service."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ivr.flow import Phase, build_flow
from ivr.settings import Settings
from ivr.sim.render import render_text, step_json
from ivr.sim.simulator import CallScript, Simulator
from routing.config import RoutingConfig
from routing.loader import ConfigError, load_config
from routing.phone import InvalidPhoneNumberError, normalize_number

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ivr.composition import Services

DEFAULT_CONFIG = "config/departments.yaml"


@click.group()
def main() -> None:
    """Service d'appels du 115 et de la ligne d'assistance SI SIAO."""


# --------------------------------------------------------------------------- config


@main.group()
def config() -> None:
    """Fichier de routage (départements, numéros, horaires)."""


@config.command("check")
@click.argument("path", default=DEFAULT_CONFIG, type=click.Path(dir_okay=False))
def config_check(path: str) -> None:
    """Valide le fichier de routage et résume son contenu."""
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        count = len(exc.issues)
        click.echo(f"{path} : {count} erreur{'s' if count > 1 else ''}", err=True)
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        sys.exit(1)
    deps = cfg.departements.values()
    referents = sum(len(d.assistance.referents) for d in deps)
    listeners = sum(len(d.line_115.listeners) for d in deps)
    numbers = len({*_all_numbers(cfg)})
    click.echo(
        f"{path} : valide — {len(cfg.departements)} départements, {referents} référents, "
        f"{listeners} postes d'écoutants, {numbers} numéros"
    )


def _all_numbers(cfg: RoutingConfig) -> list[str]:
    nat = cfg.national
    out = [nat.assistance_number, nat.callback_number, *nat.entry_115_numbers]
    out += [c.number for c in nat.support.numbers]
    out += [e.number for e in nat.default_lro if e.number]
    for dep in cfg.departements.values():
        out += [c.number for c in dep.assistance.referents]
        out += [c.number for c in dep.line_115.listeners]
        out += list(dep.line_115.inbound_numbers)
        out += [e.number for e in dep.line_115.lro if e.number]
    return out


def _load_or_exit(path: str) -> RoutingConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(f"{path} : configuration invalide", err=True)
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        sys.exit(1)


# --------------------------------------------------------------------------- simulate


def _number_option(value: str, option: str) -> str:
    try:
        return normalize_number(value)
    except InvalidPhoneNumberError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"« {value} » n'est pas une date ISO 8601 (exemple : 2026-11-23T10:00:00+01:00)",
            param_hint="--at",
        ) from None
    if at.tzinfo is None:
        raise click.BadParameter(
            f"« {value} » n'indique pas de décalage horaire (ajoutez par exemple +01:00)",
            param_hint="--at",
        )
    return at


def _called_number(
    cfg: RoutingConfig, line: str | None, departement: str | None, to: str | None
) -> str:
    if to is not None:
        number = _number_option(to, "--to")
        routes = build_flow(cfg).routes
        if routes.route(number) is None:
            raise click.BadParameter(
                f"« {to} » n'est pas un numéro entrant de la configuration", param_hint="--to"
            )
        return number
    if line is None:
        raise click.UsageError("indiquez --line (assistance ou 115) ou --to NUMÉRO")
    if line == "assistance":
        if departement is not None:
            raise click.UsageError(
                "--departement ne s'utilise qu'avec --line 115 ; sur la ligne d'assistance, "
                "l'appelant tape son département (--press)"
            )
        return cfg.national.assistance_number
    if departement is None:
        if not cfg.national.entry_115_numbers:
            raise click.UsageError("aucune entrée nationale du 115 : indiquez --departement")
        return cfg.national.entry_115_numbers[0]
    dep = cfg.departement(departement.upper())
    if dep is None:
        raise click.BadParameter(
            f"« {departement} » n'est pas un département de la configuration",
            param_hint="--departement",
        )
    return dep.line_115.inbound_numbers[0]


def _presses(press: tuple[str, ...]) -> tuple[list[str], list[tuple[float, str]]]:
    """``--press`` values: answers to the menus in turn, and ``KEYS@SECONDS`` typed at a
    set time after the call is answered."""
    presses: list[str] = []
    typed: list[tuple[float, str]] = []
    for value in press:
        keys, at, when = value.partition("@")
        if not keys or any(k not in "0123456789*#" for k in keys):
            raise click.BadParameter(
                f"« {keys} » : seules les touches 0 à 9, * et # existent", param_hint="--press"
            )
        if not at:
            presses.append(keys)
            continue
        try:
            seconds = float(when.removesuffix("s").replace(",", "."))
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 3600:
            raise click.BadParameter(
                f"« {value} » : après @, le moment en secondes depuis le décroché (0 à 3600)",
                param_hint="--press",
            )
        typed.append((seconds, keys))
    return presses, typed


@main.command()
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True)
@click.option("--line", type=click.Choice(["assistance", "115"]))
@click.option("--departement", help="115 : le département où le réseau achemine l'appel")
@click.option("--to", "to", help="numéro composé (un numéro entrant de la configuration)")
@click.option("--from", "from_", help="numéro de l'appelant (masqué si absent)")
@click.option(
    "--press",
    multiple=True,
    help=(
        "touches tapées, une fois par menu ; TOUCHES@SECONDES les tape à ce moment après le "
        "décroché, quoi qu'il se joue (ex. 75@2.5 pendant l'accueil)"
    ),
)
@click.option("--at", "at", help="date et heure ISO 8601 avec décalage (défaut : maintenant)")
@click.option("--no-answer", multiple=True, help="ce numéro ne répond pas")
@click.option("--busy", multiple=True, help="ce numéro est occupé")
@click.option("--nobody-answers", is_flag=True, help="personne ne répond")
@click.option(
    "--support-paused",
    multiple=True,
    help="l'agent du support national sur ce poste est en pause : le palier 2 ne le sonne pas",
)
@click.option(
    "--support-offline",
    multiple=True,
    help="l'agent du support national sur ce poste est déconnecté : le palier 2 ne le sonne pas",
)
@click.option("--listeners", default=1, show_default=True, type=click.IntRange(0, 1000))
@click.option("--waiting", default=0, show_default=True, type=click.IntRange(0, 100_000))
@click.option(
    "--hang-up-at",
    type=click.Choice([p.value for p in Phase if p not in (Phase.START, Phase.ENDED)]),
    help="l'appelant raccroche en arrivant à cette étape",
)
@click.option("--json", "as_json", is_flag=True, help="un objet JSON par étape, puis le bilan")
def simulate(
    config_path: str,
    line: str | None,
    departement: str | None,
    to: str | None,
    from_: str | None,
    press: tuple[str, ...],
    at: str | None,
    no_answer: tuple[str, ...],
    busy: tuple[str, ...],
    nobody_answers: bool,
    support_paused: tuple[str, ...],
    support_offline: tuple[str, ...],
    listeners: int,
    waiting: int,
    hang_up_at: str | None,
    as_json: bool,
) -> None:
    """Simule un appel à travers les vrais flux et le vrai routage."""
    presses, typed = _presses(press)
    moment = _parse_at(at)
    cfg = _load_or_exit(config_path)
    script = CallScript(
        to_number=_called_number(cfg, line, departement, to),
        from_number=_number_option(from_, "--from") if from_ else None,
        presses=presses,
        typed=typed,
        no_answer=frozenset(_number_option(n, "--no-answer") for n in no_answer),
        busy=frozenset(_number_option(n, "--busy") for n in busy),
        nobody_answers=nobody_answers,
        support_paused=frozenset(_number_option(n, "--support-paused") for n in support_paused),
        support_offline=frozenset(_number_option(n, "--support-offline") for n in support_offline),
        listeners=listeners,
        waiting=waiting,
        hang_up_at=Phase(hang_up_at) if hang_up_at else None,
    )
    flow = build_flow(cfg)
    route = flow.routes.route(script.to_number)
    if script.from_number and route is not None and route.line == "115" and not route.departement:
        # A national 115 entry: geolocation may route the call, as in the service.
        from geoloc.index import GeoIndex
        from geoloc.locator import Locator
        from geoloc.store import RecentPositions
        from ivr.locating import CallLocator

        flow.locate = CallLocator(Locator(GeoIndex.load()), RecentPositions(), flow.routes).hint
    call = Simulator(flow).run(script, moment)
    from ivr.records_cli import record_simulation  # the records need SQLAlchemy: load late

    warning = record_simulation(call, moment, Settings())
    if warning is not None:
        click.echo(warning, err=True)
    if as_json:
        for step in call.steps:
            click.echo(json.dumps(step_json(step), ensure_ascii=False))
        click.echo(json.dumps(call.summary(), ensure_ascii=False))
    else:
        click.echo(render_text(call))


# --------------------------------------------------------------------------- flows


@main.group()
def flows() -> None:
    """Les flux d'appel."""


@flows.command("diagram")
def flows_diagram() -> None:
    """Écrit les diagrammes Mermaid des deux flux (docs/flows.md)."""
    from ivr.flow.diagram import document

    click.echo(document(), nl=False)


# --------------------------------------------------------------------------- serve


@main.command()
@click.option("--host", default=None, help="adresse d'écoute (défaut : IVR_HOST ou 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (défaut : IVR_PORT ou 8115)")
@click.option("--config", "config_path", default=None, help="fichier de routage")
def serve(host: str | None, port: int | None, config_path: str | None) -> None:
    """Lance le service web (santé, pages, transports)."""
    run_service(host, port, config_path)


def run_service(
    host: str | None,
    port: int | None,
    config_path: str | None,
    extend: Callable[[FastAPI, Services], object] | None = None,
) -> None:
    """Build the services, the application (``extend`` adds routes) and serve it; a broken
    routing file ends the process with every problem in French (exit 1)."""
    import uvicorn

    from ivr.app import create_app
    from ivr.composition import build_services

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
    if extend is not None:
        extend(app, services)
    # SIGTERM: the lifespan hands live calls over; slow connections get 30 s to finish.
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        timeout_graceful_shutdown=30,
        log_level="info",
    )


# --------------------------------------------------------------------------- accounts


ROLE_CHOICES = {
    "ecoutant": "listener",
    "referent": "referent",
    "support": "support",
    "admin-departement": "admin_departement",
    "admin-national": "admin_national",
}


@main.group()
def accounts() -> None:
    """Comptes des consoles (écoutants, référents, support national, admins)."""


@accounts.command("add")
@click.argument("login")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="ROLE ou ROLE:DEPARTEMENT, ROLE parmi " + ", ".join(ROLE_CHOICES),
)
@click.option("--name", "display_name", help="nom affiché")
@click.option("--phone", help="numéro du poste (obligatoire pour un écoutant)")
@click.option("--email")
@click.password_option("--password", help="mot de passe (12 caractères au moins)")
def accounts_add(
    login: str,
    roles: tuple[str, ...],
    display_name: str | None,
    phone: str | None,
    email: str | None,
    password: str,
) -> None:
    """Crée un compte ; LOGIN est l'identifiant SI SIAO de la personne."""
    from ivr.records.models import AccountRole
    from ivr.records_cli import _open_store, cli_actor
    from ivr.web import AccountError, create_account

    grants: list[tuple[AccountRole, str | None]] = []
    for spec in roles:
        name, _, departement = spec.partition(":")
        if name not in ROLE_CHOICES:
            raise click.BadParameter(f"« {name} » n'est pas un rôle connu", param_hint="--role")
        grants.append((AccountRole(ROLE_CHOICES[name]), departement.upper() or None))
    store = _open_store(Settings())
    try:
        create_account(
            store,
            login,
            password,
            grants,
            display_name=display_name,
            phone=phone,
            email=email,
            by=cli_actor(),
        )
    except AccountError as exc:
        click.echo(f"compte non créé : {exc}", err=True)
        sys.exit(1)
    click.echo(f"compte « {login} » créé")


# --------------------------------------------------------------------------- other packages


def _register_commands() -> None:
    """Commands that live beside the packages they drive."""
    from geoloc.cli import locate
    from ivr.prompts_audio import prompts_group
    from ivr.records_cli import calls_group, db_group, purge_command
    from sisiao_link.cli import sandbox_command

    main.add_command(locate)
    main.add_command(sandbox_command)
    main.add_command(db_group)
    main.add_command(purge_command)
    main.add_command(calls_group)
    main.add_command(prompts_group, name="prompts")


_register_commands()


if __name__ == "__main__":
    main()
