"""Charts drawn on the server as SVG: no script, no CDN, no inline style (colours are
presentation attributes, which the Content-Security-Policy allows). Each chart has a
``<title>`` and a ``<desc>`` that says its figures in words, for screen readers, and its
title as a visible caption. The lines of a line chart differ by colour, dashes and marker
shape (nested sizes), so that a line hidden under another one still shows."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#1f4e9c", "#c0392b", "#2e8b57", "#d68910", "#7d3c98", "#5d6d7e", "#17a589")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 56
DASHES = ("", "8 4", "2 3")  # solid, dashed, dotted: one per line, in turn
MARKERS = ("circle", "square", "triangle")  # drawn in this order, each smaller


def _marker(series: int, x: float, y: float, colour: str) -> str:
    """The point of a line: a circle, then a square, then a triangle, each smaller than
    the one before, so that equal values still show every line's point."""
    shape = MARKERS[series % len(MARKERS)]
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{colour}"/>'
    return (
        f'<polygon points="{x:.1f},{y - 3.5:.1f} {x + 3.5:.1f},{y + 2.5:.1f} '
        f'{x - 3.5:.1f},{y + 2.5:.1f}" fill="#fff" stroke="{colour}" stroke-width="1.5"/>'
    )


def _dash(series: int) -> str:
    dash = DASHES[series % len(DASHES)]
    return f' stroke-dasharray="{dash}"' if dash else ""


def _frame(
    chart_id: str,
    title: str,
    desc: str,
    body: list[str],
    legend: list[str],
    *,
    lines: bool = False,
) -> Markup:
    """The figure: its visible caption (the title), the SVG and its legend."""
    height = HEIGHT + 8 + 20 * len(legend)
    parts = [
        f'<figure class="chart-figure" id="{chart_id}">',
        f'<figcaption id="{chart_id}-legende">{escape(title)}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}"'
        f' role="img" aria-labelledby="{chart_id}-t {chart_id}-d" class="chart">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        *body,
    ]
    for i, name in enumerate(legend):
        y = HEIGHT + 6 + 20 * i
        colour = PALETTE[i % len(PALETTE)]
        if lines:
            parts.append(
                f'<line x1="{LEFT - 4}" y1="{y + 6}" x2="{LEFT + 28}" y2="{y + 6}"'
                f' stroke="{colour}" stroke-width="2"{_dash(i)}/>'
                + _marker(i, LEFT + 12, y + 6, colour)
                + f'<text x="{LEFT + 36}" y="{y + 11}" font-size="12">{escape(name)}</text>'
            )
        else:
            parts.append(
                f'<rect x="{LEFT}" y="{y}" width="12" height="12" fill="{colour}"/>'
                f'<text x="{LEFT + 18}" y="{y + 11}" font-size="12">{escape(name)}</text>'
            )
    parts.append("</svg></figure>")
    return Markup("".join(parts))


def _axes(top: float, labels: Sequence[str]) -> tuple[list[str], float]:
    """The value axis (0 and ``top``), the baseline and the category labels."""
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(1, len(labels))
    body = [
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"'
        ' stroke="#333"/>',
        f'<text x="{LEFT - 6}" y="{HEIGHT - BOTTOM}" font-size="11" text-anchor="end">0</text>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" font-size="11" text-anchor="end">'
        f"{escape(_number(top))}</text>",
    ]
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        if i % every == 0:
            x = LEFT + step * (i + 0.5)
            body.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11"'
                f' text-anchor="middle">{escape(label)}</text>'
            )
    return body, step


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return HEIGHT - BOTTOM - (value / top * plot_h if top else 0)


def _describe(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> str:
    parts = []
    for i, label in enumerate(labels):
        values = ", ".join(f"{name} {_number(values[i])}" for name, values in series)
        parts.append(f"{label} : {values}")
    return " ; ".join(parts) + "."


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    stacked: bool = False,
) -> Markup:
    """Bars per category, side by side or stacked, one colour per series."""
    if stacked:
        top = max((sum(v[i] for _, v in series) for i in range(len(labels))), default=0)
    else:
        top = max((max(v, default=0) for _, v in series), default=0)
    top = max(top, 1)
    body, step = _axes(top, labels)
    count = 1 if stacked else max(1, len(series))
    width = step * 0.8 / count
    for i in range(len(labels)):
        base = 0.0
        for s, (_name, values) in enumerate(series):
            value = values[i]
            colour = PALETTE[s % len(PALETTE)]
            x = LEFT + step * i + step * 0.1 + (0 if stacked else width * s)
            y_top, y_base = _y(base + value, top), _y(base, top)
            if value > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{width:.1f}"'
                    f' height="{y_base - y_top:.1f}" fill="{colour}"/>'
                )
            if stacked:
                base += value
    return _frame(chart_id, title, _describe(labels, series), body, [n for n, _ in series])


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
) -> Markup:
    """One line (with its points) per series, each with its dashes and marker shape."""
    top = max(max((max(v, default=0) for _, v in series), default=0), 1)
    body, step = _axes(top, labels)
    for s, (_name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        points = [(LEFT + step * (i + 0.5), _y(v, top)) for i, v in enumerate(values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{_dash(s)}/>'
        )
        body.extend(_marker(s, x, y, colour) for x, y in points)
    legend = [n for n, _ in series]
    return _frame(chart_id, title, _describe(labels, series), body, legend, lines=True)
