"""``ivr db upgrade`` and ``ivr db rollup``, ``ivr purge`` and ``ivr calls list``; and the
simulator's call record."""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import NoReturn

import click
import sqlalchemy as sa

from ivr.records.db import (
    current_revision,
    database_url,
    display_url,
    head_revision,
    make_engine,
    sqlite_path,
    upgrade,
)
from ivr.records.models import Call
from ivr.records.purge import RetentionPolicy, purge
from ivr.records.rollups import RollupIndicatorService
from ivr.records.store import CallbackRequest, CallRecord, CallRow, RecordStore
from ivr.settings import Settings
from ivr.sim.simulator import SimulatedCall


def cli_actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:inconnu"


def _engine(settings: Settings, *, create_dir: bool = False) -> tuple[str, sa.Engine]:
    url = database_url(settings.database_url, settings.data_dir)
    return url, make_engine(url, create_dir=create_dir)


def _open_store(settings: Settings) -> RecordStore:
    """The store, or exit 1 with a French message when the schema is missing or behind."""
    url, engine = _engine(settings)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        _fail(f"la base {display_url(url)} n'existe pas : lancez « ivr db upgrade »")
    try:
        revision = current_revision(engine)
    except sa.exc.OperationalError as exc:
        _fail(f"base {display_url(url)} injoignable : {_reason(exc)}")
    if revision is None:
        _fail(f"la base {display_url(url)} n'a pas de schéma : lancez « ivr db upgrade »")
    if revision != head_revision():
        _fail(
            f"le schéma de {display_url(url)} est en révision {revision}, "
            f"le service attend {head_revision()} : lancez « ivr db upgrade »"
        )
    return RecordStore(engine, lambda: datetime.now(UTC))


def _reason(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


# --------------------------------------------------------------------------- db


@click.group("db")
def db_group() -> None:
    """Base des enregistrements d'appels (schéma et migrations)."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Crée ou met à jour le schéma (SQLite par défaut, IVR_DATABASE_URL sinon)."""
    url, engine = _engine(Settings(), create_dir=True)
    try:
        before = current_revision(engine)
        after = upgrade(engine)
    except sa.exc.OperationalError as exc:
        _fail(f"base {display_url(url)} injoignable : {_reason(exc)}")
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"{display_url(url)} : schéma déjà à jour (révision {after})")
    elif before is None:
        click.echo(f"{display_url(url)} : schéma créé (révision {after})")
    else:
        click.echo(f"{display_url(url)} : schéma mis à jour de la révision {before} à {after}")


@db_group.command("rollup")
@click.option(
    "--depuis", "first", default="", help="premier jour, AAAA-MM-JJ (défaut : le premier appel)"
)
@click.option("--jusqua", "last", default="", help="dernier jour, AAAA-MM-JJ (défaut : hier)")
def db_rollup(first: str, last: str) -> None:
    """Agrège pour les rapports les jours terminés (sinon fait au premier rapport qui les
    couvre) : à lancer une fois après « ivr db upgrade » sur une base qui a déjà des appels."""
    from routing.loader import load_config  # the routing file: each département's time zone

    settings = Settings()
    store = _open_store(settings)
    try:
        config = load_config(settings.config_path)

        def tz_of(code: str) -> str:
            dep = config.departements.get(code)
            return dep.timezone if dep is not None else "Europe/Paris"

        today = datetime.now(UTC).date()
        try:
            start = date.fromisoformat(first) if first else _first_call_day(store, today)
            end = date.fromisoformat(last) if last else today - timedelta(days=1)
        except ValueError:
            _fail("date invalide : AAAA-MM-JJ attendu")
        if end < start:
            _fail(f"rien à agréger : le {end:%d/%m/%Y} précède le {start:%d/%m/%Y}")
        service = RollupIndicatorService(store, tz_of)
        started = time.perf_counter()
        days = service.rollups.refresh(start, end)
        took = time.perf_counter() - started
    finally:
        store.engine.dispose()
    click.echo(
        f"{days} jour(s) agrégé(s) du {start:%d/%m/%Y} au {end:%d/%m/%Y} en {took:.1f} s "
        "(les jours pas encore terminés partout ou déjà agrégés sont laissés)"
    )


def _first_call_day(store: RecordStore, today: date) -> date:
    with store.engine.connect() as conn:
        first = conn.execute(sa.select(sa.func.min(Call.arrived_at))).scalar()
    return first.date() - timedelta(days=1) if first is not None else today


# --------------------------------------------------------------------------- purge


@click.command("purge")
@click.option(
    "--recordings-days",
    type=click.IntRange(1),
    default=90,
    show_default=True,
    envvar="IVR_RETENTION_RECORDINGS_DAYS",
    help="durée de conservation des enregistrements (jours)",
)
@click.option(
    "--caller-months",
    type=click.IntRange(1),
    default=24,
    show_default=True,
    envvar="IVR_RETENTION_CALLER_MONTHS",
    help="durée sans activité après laquelle le numéro d'un appelant est effacé (mois)",
)
@click.option("--dry-run", is_flag=True, help="compte sans rien supprimer")
@click.option("--json", "as_json", is_flag=True, help="le bilan en JSON")
def purge_command(recordings_days: int, caller_months: int, dry_run: bool, as_json: bool) -> None:
    """Supprime les enregistrements et les données d'appelants échus (audit conservé)."""
    settings = Settings()
    store = _open_store(settings)
    try:
        report = purge(
            store.engine,
            RetentionPolicy(recordings_days, caller_months),
            datetime.now(UTC),
            cli_actor(),
            recordings_dir=settings.data_dir / "recordings",
            dry_run=dry_run,
        )
    finally:
        store.engine.dispose()
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        click.echo(report.describe())


# --------------------------------------------------------------------------- calls


@click.group("calls")
def calls_group() -> None:
    """Appels enregistrés."""


OUTCOMES = {
    "connected": "mis en relation",
    "callback": "rappel demandé",
    "message": "message",
    "caller-hung-up": "raccroché",
}
TIERS = {"tier1": "palier 1", "tier2": "palier 2", "listener": "écoutant", "lro": "LRO"}


def _line(row: CallRow) -> str:
    line = {"115": "115", "assistance": "assistance"}.get(row.line or "", "?")
    outcome = OUTCOMES.get(row.outcome or "", row.outcome or "en cours")
    tier = TIERS.get(row.tier_reached or "", "—")
    extra = []
    if row.deterrence:
        extra.append(f"dissuasion {row.deterrence}")
    if row.lro_used:
        extra.append("LRO")
    if row.takeovers:
        extra.append(f"repris {row.takeovers}×")
    local = row.arrived_at.astimezone()
    return (
        f"{local:%Y-%m-%d %H:%M:%S}  {line:<10}  {row.departement or '—':>3}  "
        f"{row.caller or 'masqué':<13}  {outcome:<16}  {tier:<9}  "
        f"{row.duration_s:>6.0f} s  {row.call_id}" + (f"  ({', '.join(extra)})" if extra else "")
    )


@calls_group.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="une liste JSON, le plus récent d'abord")
def calls_list(limit: int, as_json: bool) -> None:
    """Les derniers appels, le plus récent d'abord (lecture journalisée)."""
    store = _open_store(Settings())
    try:
        rows = store.latest_calls(limit)
        store.audit(cli_actor(), "read", "calls", None, {"count": len(rows), "limit": limit})
    finally:
        store.engine.dispose()
    if as_json:
        click.echo(json.dumps([row.as_json() for row in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("Aucun appel enregistré.")
        return
    for row in rows:
        click.echo(_line(row))


# --------------------------------------------------------------------------- simulator


def record_simulation(call: SimulatedCall, at: datetime, settings: Settings) -> str | None:
    """Write a simulated call's record; returns a French warning when it could not be.

    The embedded SQLite base gets its schema on first use; another database must have
    been prepared with ``ivr db upgrade``.
    """
    url = database_url(settings.database_url, settings.data_dir)
    path = sqlite_path(url)
    engine = make_engine(url, create_dir=path is not None)
    try:
        revision = current_revision(engine)
        if revision is None and path is not None:
            revision = upgrade(engine)
        if revision != head_revision():
            return (
                f"appel non enregistré : le schéma de {display_url(url)} n'est pas à jour "
                "(lancez « ivr db upgrade »)"
            )
        store = RecordStore(engine, lambda: datetime.now(UTC))
        store.write(simulation_items(call, at))
    except sa.exc.DBAPIError as exc:
        return f"appel non enregistré : base {display_url(url)} injoignable ({_reason(exc)})"
    finally:
        engine.dispose()
    return None


def simulation_items(call: SimulatedCall, at: datetime) -> list[CallRecord | CallbackRequest]:
    """The record (and call-backs) of a simulated call, under an id of its own."""
    answered = next(
        (
            at + timedelta(seconds=step.t)
            for step in call.steps
            if step.kind == "dial" and step.data.get("result") == "answered"
        ),
        None,
    )
    ended = at + timedelta(seconds=call.duration_s)
    record = CallRecord.from_summary(
        call.state.summary, at, ended, answered_at=answered, instance_id="simulateur"
    )
    call_id = f"sim-{uuid.uuid4().hex[:12]}"
    items: list[CallRecord | CallbackRequest] = [dataclasses.replace(record, call_id=call_id)]
    items += [
        CallbackRequest(call_id, departement, number, ended)
        for departement, number in call.callbacks
    ]
    return items
