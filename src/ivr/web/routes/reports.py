"""The weekly report, per département and line: as a page and as a CSV file (« ; »,
UTF-8 with a BOM, as spreadsheets in French expect)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ivr.web import queries
from ivr.web.formatting import LINE_LABELS
from ivr.web.routes.checks import AdminCtx
from ivr.web.routes.common import ConsoleRoute, Ctx, admin_deps
from ivr.web.routes.params import DayError, day

router = APIRouter(route_class=ConsoleRoute)

CSV_HEADER = [
    "Semaine du",
    "Département",
    "Ligne",
    "Appels reçus",
    "Appels répondus",
    "Appels abandonnés",
    "Dissuasion",
    "LRO",
    "Rappels demandés",
    "Taux de réponse",
]


def week_bounds(ctx: Ctx, semaine: str) -> tuple[datetime, datetime, date]:
    """The week of the Monday ``semaine`` (any day of it; default: last week), in the
    platform's zone: its start, its end, and that Monday."""
    tz = ZoneInfo(ctx.deps.timezone)
    today = ctx.deps.clock().astimezone(tz).date()
    try:
        monday = day(semaine) if semaine else today - timedelta(days=today.weekday() + 7)
    except DayError as exc:  # unreadable or out of range: a French 422, never a 500
        raise ctx.error(422, "Semaine invalide", str(exc)) from None
    monday -= timedelta(days=monday.weekday())
    start = datetime.combine(monday, time(0), tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tz)
    return start, end, monday


async def weekly(ctx: Ctx, semaine: str) -> tuple[queries.Report, date]:
    start, end, monday = week_bounds(ctx, semaine)
    report = await ctx.web.db(
        queries.weekly_report, ctx.deps.records, start, end, admin_deps(ctx.who)
    )
    return report, monday


@router.get("/admin/rapport", response_class=HTMLResponse)
async def report_page(ctx: AdminCtx, semaine: str = "") -> Response:
    report, monday = await weekly(ctx, semaine)
    return ctx.render(
        "report.html",
        report=report,
        monday=monday,
        sunday=monday + timedelta(days=6),
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
        line_labels=LINE_LABELS,
    )


@router.get("/admin/rapport.csv")
async def report_csv(ctx: AdminCtx, semaine: str = "") -> Response:
    report, monday = await weekly(ctx, semaine)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        writer.writerow(
            [
                monday.strftime("%d/%m/%Y"),
                row.departement or "non déterminé",
                LINE_LABELS.get(row.line, row.line or "inconnue"),
                row.received,
                row.answered,
                row.abandoned,
                row.deterrence,
                row.lro,
                row.callbacks,
                row.answer_rate,
            ]
        )
    filename = f"rapport-{monday.isoformat()}.csv"
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
