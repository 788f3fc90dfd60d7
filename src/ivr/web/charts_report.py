"""The report page's charts (SVG drawn on the server) from a ``ReportView``."""

from __future__ import annotations

from markupsafe import Markup

from ivr.web.charts import bar_chart, line_chart
from ivr.web.reporting import WEEKDAYS, ReportView


def report_charts(view: ReportView) -> dict[str, Markup]:
    unit = "12 derniers mois" if view.trend_unit == "mois" else "12 dernières semaines"
    labels = [view.trend_label(p) for p in view.trend]
    figures = [p.figures for p in view.trend]
    charts = {
        "trend": line_chart(
            "graphe-tendance",
            f"Appels reçus, répondus et abandonnés, {unit} ({view.scope.label})",
            labels,
            [
                ("reçus", [f.received for f in figures]),
                ("répondus", [f.answered for f in figures]),
                ("abandonnés", [f.abandoned for f in figures]),
            ],
        ),
        "rate": line_chart(
            "graphe-taux",
            f"Taux de réponse (%), {unit} ({view.scope.label})",
            labels,
            [("taux de réponse", [100 * (f.answer_rate or 0) for f in figures])],
        ),
        "reasons": bar_chart(
            "graphe-motifs",
            f"Typologie des appels par motif, {unit}",
            labels,
            [
                (view.reason_label(code), [p.reasons.get(code, 0) for p in view.trend])
                for code in view.reason_codes()
            ],
            stacked=True,
        ),
        "hours": bar_chart(
            "graphe-heures",
            f"Appels par heure de la journée ({view.period.label})",
            [f"{h}h" for h in range(24)],
            [
                ("reçus", [f.received for f in view.indicators.by_hour]),
                ("répondus", [f.answered for f in view.indicators.by_hour]),
            ],
        ),
        "weekdays": bar_chart(
            "graphe-jours",
            f"Appels par jour de la semaine ({view.period.label})",
            list(WEEKDAYS),
            [
                ("reçus", [f.received for f in view.indicators.by_weekday]),
                ("répondus", [f.answered for f in view.indicators.by_weekday]),
            ],
        ),
    }
    return charts
