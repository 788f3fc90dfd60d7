"""The report (« Excel de reporting »): a page with the period and scope chosen in it, its
figures, trends and charts; the same figures as a CSV file (« ; », UTF-8 with a BOM, as
spreadsheets in French expect) and as an Excel workbook with native charts.

The handlers only read the form and render: the figures come from ``ivr.web.reporting``
(over ``ivr.records.indicators``). A bad period or scope is a French 400, never a 500.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from ivr.records.periods import KINDS, ReportInputError
from ivr.web import reporting
from ivr.web.charts_report import report_charts
from ivr.web.report_xlsx import workbook
from ivr.web.routes.checks import AdminCtx
from ivr.web.routes.common import ConsoleRoute, Ctx, admin_deps

router = APIRouter(route_class=ConsoleRoute)

CSV_HEADER = ["Du", "Au", "Périmètre", "Département", "Ligne"] + [
    c.header for c in reporting.COLUMNS
]
FORM_FIELDS = frozenset({"periode", "date", "debut", "fin", "perimetre"})  # report.html's
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _form(
    periode: str = "",
    date: str = "",
    debut: str = "",
    fin: str = "",
    perimetre: str = "",
    semaine: str = "",
) -> reporting.ReportForm:
    """The report's period and scope, from the query string of the page and its exports."""
    if semaine and not date and not periode:  # the links of the former weekly report
        periode, date = "semaine", semaine
    return reporting.ReportForm(periode or "semaine", date, debut, fin, perimetre)


ReportFormDep = Annotated[reporting.ReportForm, Depends(_form)]


async def _build(ctx: Ctx, form: reporting.ReportForm) -> reporting.ReportView:
    today = ctx.deps.clock().astimezone(reporting.zone(ctx.deps.timezone)).date()
    return await ctx.web.db(
        reporting.build_report,
        ctx.deps.records,
        ctx.deps.config(),
        form,
        admin_deps(ctx.who),
        today,
        ctx.deps.timezone,
    )


@router.get("/admin/rapport", response_class=HTMLResponse)
async def report_page(ctx: AdminCtx, form: ReportFormDep) -> Response:
    allowed = admin_deps(ctx.who)
    common: dict[str, Any] = {
        "form": form,
        "kinds": KINDS,
        "scopes": reporting.choices(allowed),
        "columns": reporting.COLUMNS,
        "cell": reporting.cell,
    }
    try:
        view = await _build(ctx, form)
    except ReportInputError as exc:
        # By field, as the shared macros of _fields.html take them; a field the form does
        # not show (the server's time zone) is a general error.
        field = exc.field if exc.field in FORM_FIELDS else "general"
        errors = {field: [exc.message]}
        return ctx.render("report.html", 400, view=None, errors=errors, **common)
    return ctx.render(
        "report.html",
        view=view,
        errors={},
        charts=report_charts(view),
        line_labels=reporting.LINE_LABELS,
        weekdays=reporting.WEEKDAYS,
        query=reporting.query_string(form),
        previous=reporting.query_string(reporting.moved(view, -1)),
        following=reporting.query_string(reporting.moved(view, 1)),
        **common,
    )


async def _export(ctx: Ctx, form: reporting.ReportForm) -> reporting.ReportView:
    try:
        return await _build(ctx, form)
    except ReportInputError as exc:
        raise ctx.error(400, "Rapport impossible", exc.message) from None


@router.get("/admin/rapport.csv")
async def report_csv(ctx: AdminCtx, form: ReportFormDep) -> Response:
    view = await _export(ctx, form)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in reporting.csv_rows(view):
        writer.writerow(row)
    return _download(
        ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", view, "csv"
    )


@router.get("/admin/rapport.xlsx")
async def report_xlsx(ctx: AdminCtx, form: ReportFormDep) -> Response:
    view = await _export(ctx, form)
    content = await ctx.web.db(workbook, view)
    return _download(content, XLSX, view, "xlsx")


def _download(content: bytes, media_type: str, view: reporting.ReportView, ext: str) -> Response:
    period = view.period
    name = f"rapport-{period.first.isoformat()}-{period.last.isoformat()}.{ext}"
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
