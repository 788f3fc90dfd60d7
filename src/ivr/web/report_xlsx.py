"""The « Excel de reporting » as a real workbook (XlsxWriter): the indicators per
département and line, the reasons over time, the calls by hour and by day of the week and
the 12-period trend, each sheet with a native Excel chart. Headers are French, dates are
Excel dates, rates are percentages, durations are seconds; no number or name is written."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]  # no stubs, no py.typed

from ivr.records.indicators import Figures
from ivr.web.reporting import COLUMNS, RATE, SECONDS, WEEKDAYS, Column, ReportView, groups

INDICATORS = "Indicateurs"
REASONS = "Motifs"
HOURS = "Par heure"
DAYS = "Par jour"
TREND = "Tendance"
PROFILE = ("Appels reçus", "Appels répondus", "Abandons", "Taux de réponse")


class _Formats:
    def __init__(self, book: Any) -> None:
        self.header = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        self.date = book.add_format({"num_format": "dd/mm/yyyy"})
        self.rate = book.add_format({"num_format": "0%"})
        self.seconds = book.add_format({"num_format": "0"})
        self.count = book.add_format({"num_format": "0"})
        self.title = book.add_format({"bold": True, "font_size": 13})

    def of(self, column: Column) -> Any:
        return {RATE: self.rate, SECONDS: self.seconds}.get(column.kind, self.count)


def _figure(
    sheet: Any, row: int, col: int, column: Column, figures: Figures, fmt: _Formats
) -> None:
    value = column.value(figures)
    if value is None:
        sheet.write_blank(row, col, None, fmt.of(column))
    else:
        sheet.write_number(row, col, value, fmt.of(column))


def _indicators(book: Any, view: ReportView, fmt: _Formats) -> None:
    sheet = book.add_worksheet(INDICATORS)
    sheet.write(0, 0, f"Indicateurs — {view.scope.label}, {view.period.label}", fmt.title)
    headers = ["Du", "Au", "Département", "Ligne", *(c.header for c in COLUMNS)]
    sheet.write_row(2, 0, headers, fmt.header)
    rows = groups(view)
    for i, (dep, line, figures) in enumerate(rows, start=3):
        sheet.write_datetime(i, 0, _dt(view.period.first), fmt.date)
        sheet.write_datetime(i, 1, _dt(view.period.last), fmt.date)
        sheet.write_string(i, 2, dep)
        sheet.write_string(i, 3, line)
        for j, column in enumerate(COLUMNS, start=4):
            _figure(sheet, i, j, column, figures, fmt)
    sheet.set_column(0, 1, 11)
    sheet.set_column(2, 2, 28)
    sheet.set_column(3, 3, 18)
    sheet.set_column(4, 3 + len(COLUMNS), 13)
    sheet.freeze_panes(3, 4)
    last = 2 + len(rows)
    chart = book.add_chart({"type": "column"})
    for col in (4, 5):
        chart.add_series(
            {
                "name": [INDICATORS, 2, col],
                "categories": [INDICATORS, 3, 2, last, 2],
                "values": [INDICATORS, 3, col, last, col],
            }
        )
    chart.set_title({"name": "Appels reçus et répondus par département et ligne"})
    chart.set_y_axis({"name": "Appels"})
    sheet.insert_chart(last + 2, 2, chart, {"x_scale": 2, "y_scale": 1.3})


def _reasons(book: Any, view: ReportView, fmt: _Formats) -> None:
    sheet = book.add_worksheet(REASONS)
    codes = view.reason_codes()
    sheet.write_row(0, 0, ["Période du", *(view.reason_label(c) for c in codes)], fmt.header)
    for i, point in enumerate(view.trend, start=1):
        sheet.write_datetime(i, 0, _dt(point.period.first), fmt.date)
        for j, code in enumerate(codes, start=1):
            sheet.write_number(i, j, point.reasons.get(code, 0), fmt.count)
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, max(1, len(codes)), 22)
    if not codes:  # no call chose a reason: a chart without series is refused by Excel
        sheet.write_string(len(view.trend) + 2, 1, "Aucun motif choisi sur la période.")
        return
    chart = book.add_chart({"type": "column", "subtype": "stacked"})
    last = len(view.trend)
    for j in range(1, len(codes) + 1):
        chart.add_series(
            {
                "name": [REASONS, 0, j],
                "categories": [REASONS, 1, 0, last, 0],
                "values": [REASONS, 1, j, last, j],
            }
        )
    chart.set_title({"name": "Typologie des appels par motif"})
    sheet.insert_chart(last + 2, 1, chart, {"x_scale": 2, "y_scale": 1.3})


def _profile(book: Any, name: str, labels: list[str], rows: list[Figures], fmt: _Formats) -> None:
    sheet = book.add_worksheet(name)
    first = "Heure" if name == HOURS else "Jour"
    sheet.write_row(0, 0, [first, *PROFILE], fmt.header)
    chosen = [c for c in COLUMNS if c.header in PROFILE]
    for i, (label, figures) in enumerate(zip(labels, rows, strict=True), start=1):
        sheet.write_string(i, 0, label)
        for j, column in enumerate(chosen, start=1):
            _figure(sheet, i, j, column, figures, fmt)
    sheet.set_column(0, 4, 16)
    chart = book.add_chart({"type": "column"})
    for j in (1, 2):
        chart.add_series(
            {
                "name": [name, 0, j],
                "categories": [name, 1, 0, len(rows), 0],
                "values": [name, 1, j, len(rows), j],
            }
        )
    chart.set_title({"name": f"Appels {'par heure' if name == HOURS else 'par jour'}"})
    sheet.insert_chart(len(rows) + 2, 1, chart, {"x_scale": 1.8})


def _trend(book: Any, view: ReportView, fmt: _Formats) -> None:
    sheet = book.add_worksheet(TREND)
    chosen = [c for c in COLUMNS if c.header in PROFILE]
    sheet.write_row(0, 0, ["Période du", *(c.header for c in chosen)], fmt.header)
    for i, point in enumerate(view.trend, start=1):
        sheet.write_datetime(i, 0, _dt(point.period.first), fmt.date)
        for j, column in enumerate(chosen, start=1):
            _figure(sheet, i, j, column, point.figures, fmt)
    sheet.set_column(0, 4, 16)
    chart = book.add_chart({"type": "line"})
    last = len(view.trend)
    for j in (1, 2, 3):
        chart.add_series(
            {
                "name": [TREND, 0, j],
                "categories": [TREND, 1, 0, last, 0],
                "values": [TREND, 1, j, last, j],
            }
        )
    chart.set_title({"name": "Évolution des appels"})
    sheet.insert_chart(last + 2, 1, chart, {"x_scale": 1.8})


def workbook(view: ReportView) -> bytes:
    """The workbook of ``view``, as the bytes of an .xlsx file."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties({"title": "Excel de reporting", "comments": view.period.label})
    fmt = _Formats(book)
    _indicators(book, view, fmt)
    _reasons(book, view, fmt)
    _profile(book, HOURS, [f"{h}h" for h in range(24)], view.indicators.by_hour, fmt)
    _profile(book, DAYS, list(WEEKDAYS), view.indicators.by_weekday, fmt)
    _trend(book, view, fmt)
    book.close()
    return out.getvalue()


def _dt(day: date) -> datetime:
    return datetime.combine(day, time(0))
