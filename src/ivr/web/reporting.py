"""The report the admin pages show and export: the period and scope a form asks for, the
indicators, the 12-period trend and the reasons' labels, with the columns shared by the
page, the CSV and the Excel workbook (one definition, the same figures everywhere).

No number or name is ever read into a report: only counts, rates and durations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from ivr.records.indicators import Figures, Indicators, TrendPoint
from ivr.records.periods import KINDS, Period, Scope, parse_period, parse_scope, scope_choices
from ivr.records.rollups import RollupIndicatorService
from ivr.records.store import RecordStore
from routing.config import RoutingConfig
from routing.departements import BY_CODE

COUNT, RATE, SECONDS = "count", "rate", "seconds"


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    kind: str
    value: Callable[[Figures], float | None]


COLUMNS: tuple[Column, ...] = (
    Column("Appels reçus", COUNT, lambda f: f.received),
    Column("Appels répondus", COUNT, lambda f: f.answered),
    Column("Taux de réponse", RATE, lambda f: f.answer_rate),
    Column("Abandons", COUNT, lambda f: f.abandoned),
    Column("Abandons dans le menu", COUNT, lambda f: f.abandoned_menu),
    Column("Abandons en file d'attente", COUNT, lambda f: f.abandoned_queue),
    Column("Abandons pendant la sonnerie", COUNT, lambda f: f.abandoned_ringing),
    Column("Dissuasion", COUNT, lambda f: f.deterred),
    Column("Orientés vers la LRO", COUNT, lambda f: f.lro),
    Column("Rappels demandés", COUNT, lambda f: f.callbacks_requested),
    Column("Rappels lancés", COUNT, lambda f: f.callbacks_placed),
    Column("Rappels aboutis", COUNT, lambda f: f.callbacks_reached),
    Column("Attente médiane (s)", SECONDS, lambda f: f.wait_median),
    Column("Attente 90e centile (s)", SECONDS, lambda f: f.wait_p90),
    Column("Attente maximale (s)", SECONDS, lambda f: f.wait_max),
    Column("Durée moyenne de communication (s)", SECONDS, lambda f: f.talk_mean),
    Column("Rappels du même numéro sous 24 h", COUNT, lambda f: f.repeat_24h),
    Column("Rappels du même numéro sous 7 jours", COUNT, lambda f: f.repeat_7d),
    Column("Escalades au support national", COUNT, lambda f: f.escalations),
    Column("Demandes d'urgence SI SIAO créées", COUNT, lambda f: f.sisiao_requests),
)
SHORT = {"Appels reçus", "Appels répondus", "Taux de réponse", "Abandons", "Dissuasion"}
LINE_LABELS = {"115": "115", "assistance": "assistance SI SIAO", "": "inconnue"}
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
NO_REASON_LABEL = "sans motif"


def cell(column: Column, figures: Figures) -> str:
    """A figure as the page shows it, in French."""
    value = column.value(figures)
    if value is None:
        return "—"
    if column.kind == RATE:
        return f"{100 * value:.0f} %".replace(".", ",")
    if column.kind == SECONDS:
        return f"{value:.0f}"
    return f"{value:.0f}"


@dataclass(frozen=True, slots=True)
class ReportForm:
    periode: str = "semaine"
    date: str = ""
    debut: str = ""
    fin: str = ""
    perimetre: str = ""


@dataclass(slots=True)
class ReportView:
    form: ReportForm
    period: Period
    scope: Scope
    indicators: Indicators
    trend: list[TrendPoint]
    reason_labels: dict[str, tuple[str, str]]  # code -> (motif, sous-motif)
    departement_names: dict[str, str] = field(default_factory=dict)

    @property
    def trend_unit(self) -> str:
        return "mois" if self.period.kind == "mois" else "semaine"

    def reason_label(self, code: str) -> str:
        if not code:
            return NO_REASON_LABEL
        theme, reason = self.reason_labels.get(code, ("motif inconnu", code))
        return f"{theme} — {reason}"

    def reason_codes(self) -> list[str]:
        """The reasons met in the period or the trend, in the nomenclature's order."""
        seen = set(self.indicators.by_reason)
        for point in self.trend:
            seen.update(point.reasons)
        order = list(self.reason_labels)
        return sorted(seen, key=lambda c: (c == "", order.index(c) if c in order else 99, c))

    def departement_label(self, code: str) -> str:
        return f"{code} — {self.departement_names.get(code, '?')}" if code else "non déterminé"

    def trend_label(self, point: TrendPoint) -> str:
        if self.trend_unit == "mois":
            return point.period.first.strftime("%m/%Y")
        return point.period.first.strftime("%d/%m")


def reason_labels(config: RoutingConfig) -> dict[str, tuple[str, str]]:
    """Every sub-reason (reason of the nomenclature) with its motif (theme)."""
    return {
        reason.code: (theme.label, reason.label)
        for theme in config.national.nomenclature
        for reason in theme.reasons
    }


def choices(allowed: list[str] | None) -> list[tuple[str, str]]:
    return scope_choices(allowed, {code: d.name for code, d in BY_CODE.items()})


def build_report(
    store: RecordStore,
    config: RoutingConfig,
    form: ReportForm,
    allowed: list[str] | None,
    today: date,
    timezone: str,
) -> ReportView:
    """The report a form asks for; raises ``ReportInputError`` on a bad period or scope."""
    period = parse_period(form.periode, form.date, form.debut, form.fin, today, timezone)
    scope = parse_scope(form.perimetre, allowed)

    def tz_of(code: str) -> str:
        dep = config.departements.get(code)
        return dep.timezone if dep is not None else timezone

    service = RollupIndicatorService(store, tz_of)  # roll-ups for the days that are over
    unit = "mois" if period.kind == "mois" else "semaine"
    anchor = parse_period(unit, period.last.isoformat(), "", "", today, timezone)
    return ReportView(
        form=form,
        period=period,
        scope=scope,
        indicators=service.indicators(period, scope),
        trend=service.trend(anchor, scope),
        reason_labels=reason_labels(config),
        departement_names={code: d.name for code, d in BY_CODE.items()},
    )


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def query_string(form: ReportForm) -> str:
    """The query string that asks for ``form`` again (links, downloads)."""
    pairs = {
        "periode": form.periode,
        "date": form.date,
        "debut": form.debut,
        "fin": form.fin,
        "perimetre": form.perimetre,
    }
    return urlencode({k: v for k, v in pairs.items() if v})


def moved(view: ReportView, steps: int) -> ReportForm:
    """The form of the period ``steps`` away, same kind and scope."""
    period = view.period.shifted(steps)
    if period.kind == "plage":
        return replace(view.form, debut=period.first.isoformat(), fin=period.last.isoformat())
    return replace(view.form, date=period.first.isoformat())


def groups(view: ReportView) -> list[tuple[str, str, Figures]]:
    """(département, line, figures) rows, then one per line for the scope, then the total."""
    rows = [
        (view.departement_label(dep), LINE_LABELS.get(line, line), figures)
        for (dep, line), figures in sorted(view.indicators.rows.items())
    ]
    for line, figures in sorted(view.indicators.by_line.items()):
        rows.append((f"Total {view.scope.label}", LINE_LABELS.get(line, line), figures))
    rows.append((f"Total {view.scope.label}", "toutes lignes", view.indicators.total))
    return rows


def csv_rows(view: ReportView) -> list[list[str | int]]:
    """The CSV's rows: the figures per département and line, then the scope's totals."""
    first = view.period.first.strftime("%d/%m/%Y")
    last = view.period.last.strftime("%d/%m/%Y")
    return [
        [first, last, view.scope.label, dep, line, *(cell(c, figures) for c in COLUMNS)]
        for dep, line, figures in groups(view)
    ]


__all__ = ["KINDS", "WEEKDAYS", "build_report", "cell", "choices"]
