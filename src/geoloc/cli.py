"""``ivr locate``: where is this position, postal code, number or AML message?

Registered under the ``ivr`` CLI by the integrator; also runs on its own with
``python -m geoloc.cli``. Exit status: 0 when a département is found, 1 when none is,
2 on a usage error. Messages for people are in French.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from geoloc.aml import AmlError
from geoloc.index import GeoDataError, GeoIndex
from geoloc.locator import Locator, distance_text
from geoloc.model import SOURCE_LABELS, LocationAnswer, LocationDecision


def _fail(message: str) -> NoReturn:
    click.echo(f"Erreur : {message}", err=True)
    raise SystemExit(2)


def _float(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        result = float(value.replace(",", "."))
    except ValueError:
        _fail(f"{name} « {value} » n'est pas un nombre.")
    if not math.isfinite(result):
        _fail(f"{name} « {value} » n'est pas un nombre fini.")
    return result


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--now « {value} » : date ISO 8601 attendue (ex. 2026-01-15T10:00:00Z).")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text_lines(index: GeoIndex, answer: LocationAnswer) -> list[str]:
    lines = []
    if answer.departement:
        dep = index.departement(answer.departement)
        lines.append(f"Département : {answer.departement} — {dep.name if dep else '?'}")
    else:
        lines.append("Département : aucun")
        if answer.candidates:
            lines.append(f"Candidats : {', '.join(answer.candidates)}")
    if answer.commune:
        lines.append(f"Commune : {answer.commune_name} ({answer.commune})")
    suffix = " (commune la plus proche)" if answer.nearest else ""
    lines.append(
        f"Source : {SOURCE_LABELS[answer.source]} — confiance {answer.confidence.label}{suffix}"
    )
    if answer.accuracy_m is not None:
        lines.append(f"Précision : {distance_text(answer.accuracy_m)}")
    lines.append(answer.detail)
    return lines


@click.command(name="locate")
@click.option("--lat", "lat_text", metavar="LAT", help="Latitude WGS84 (degrés décimaux).")
@click.option("--lon", "lon_text", metavar="LON", help="Longitude WGS84 (degrés décimaux).")
@click.option("--accuracy", "accuracy_text", metavar="MÈTRES", help="Rayon de précision.")
@click.option("--postcode", metavar="CODE", help="Code postal donné par l'appelant.")
@click.option("--departement", metavar="CODE", help="Département donné par l'appelant.")
@click.option("--number", metavar="NUMÉRO", help="Numéro de l'appelant (E.164 ou national).")
@click.option("--aml", "aml_text", metavar="TEXTE", help="Texte d'un SMS AML (A\"ML=1;…).")
@click.option("--now", "now_text", metavar="DATE", help="Heure de référence ISO 8601 (AML).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), hidden=True)
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@click.pass_context
def locate(
    ctx: click.Context,
    lat_text: str | None,
    lon_text: str | None,
    accuracy_text: str | None,
    postcode: str | None,
    departement: str | None,
    number: str | None,
    aml_text: str | None,
    now_text: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Trouver le département (et la commune) d'une position, d'un code postal, d'un
    numéro ou d'un message AML ; plusieurs sources sont combinées."""
    lat = _float(lat_text, "--lat")
    lon = _float(lon_text, "--lon")
    accuracy = _float(accuracy_text, "--accuracy")
    if (lat is None) != (lon is None):
        _fail("--lat et --lon vont ensemble.")
    if lat is None and not (postcode or departement or number or aml_text):
        _fail("indiquer au moins une source : --lat/--lon, --postcode, --number ou --aml.")
    index = ctx.find_object(GeoIndex)  # the composition root may pass its own
    if index is None or data_dir is not None:
        try:
            index = GeoIndex.load(data_dir)
        except GeoDataError as error:
            _fail(str(error))
    locator = Locator(index)

    answers: list[LocationAnswer] = []
    if lat is not None and lon is not None:
        answers.append(locator.from_position(lat, lon, accuracy))
    if postcode is not None:
        answers.append(locator.from_postcode(postcode))
    if departement is not None:
        answers.append(locator.from_departement_answer(departement))
    if number is not None:
        answers.append(locator.from_number(number))
    if aml_text is not None:
        try:
            answers.append(locator.from_aml_sms(aml_text, _now(now_text)))
        except AmlError as error:
            _fail(f"--aml : {error}")

    decision: LocationDecision = locator.combine(answers)
    main = decision.chosen or answers[0]
    if as_json:
        document = main.as_dict()
        document["departement_name"] = (
            dep.name if main.departement and (dep := index.departement(main.departement)) else None
        )
        document["decision"] = decision.as_dict()
        document["answers"] = [a.as_dict() for a in answers]
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        for i, answer in enumerate(answers):
            if i:
                click.echo("")
            click.echo("\n".join(_text_lines(index, answer)))
        if len(answers) > 1 or decision.ask_caller:
            click.echo("")
            click.echo(f"Décision : {decision.reason}")
    ctx.exit(0 if decision.departement else 1)


if __name__ == "__main__":
    locate(prog_name="ivr locate")
