"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, readable when printed.

Each function takes the few aggregated figures a report computed and returns SVG markup.
Every label that comes from data is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import dateformat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

WIDTH = 900
PALETTE = ("#0f7b6c", "#c8102e", "#2b6cb0", "#b7791f", "#6b46c1", "#4a5568", "#2f855a", "#d53f8c")
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    colour: str = PALETTE[0]
    dash: str = ""  # an SVG stroke-dasharray, for baselines
    width: float = 2.0


def _svg(height: int, label: str, body: list[str]) -> SafeString:
    # No style attribute (the CSP refuses them): .report-chart in static/css/admin-relocate.css caps the width.
    return mark_safe(  # noqa: S308 - every piece of data in body was escaped when it was added
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" class="report-chart" {_FONT}>'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def nice_max(value: float) -> float:
    """A round axis maximum at or above ``value``: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")  # quarter ticks: 6.25, 12.5


def funnel_chart(labels: Sequence[str], values: Sequence[int], previous: Sequence[int]) -> SafeString:
    """Horizontal bars, one per milestone, each with its count and share of the first; the
    previous period as a thin outline behind."""
    left, right, row = 130, 170, 30
    height = 30 + row * len(labels)
    top = max([*values, *previous, 1])
    scale = (WIDTH - left - right) / top
    heading = gettext("Leads reaching each milestone (outline: previous period)")
    body = [f'<text x="{left}" y="14" fill="#555">{escape(heading)}</text>']
    for i, (label, value, before) in enumerate(zip(labels, values, previous, strict=True)):
        y = 24 + i * row
        share = f" ({100 * value / values[0]:.1f}%)" if values[0] else ""
        body += [
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{left}" y="{y + 2}" width="{value * scale:.1f}" height="{row - 8}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {value}</title></rect>",
            f'<rect x="{left}" y="{y + 2}" width="{before * scale:.1f}" height="{row - 8}" fill="none" '
            f'stroke="#222" stroke-dasharray="3 2"/>',
            f'<text x="{left + max(value, before) * scale + 6:.1f}" y="{y + 15}">{value:,}{share}</text>',
        ]
    return _svg(height, gettext("Funnel: leads reaching each milestone"), body)


def line_chart(
    x: Sequence[dt.date],
    series: Sequence[Series],
    *,
    title: str,
    markers: Sequence[tuple[dt.date, str]] = (),
    percent: bool = False,
    height: int = 280,
) -> SafeString:
    """Lines over days, weeks or months, with labelled vertical markers (marked events)."""
    left, right, top, bottom = 56, 34, 34, 44
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    y_max = 1.0 if percent else nice_max(max(values, default=0))
    step = plot_w / max(len(x) - 1, 1)

    def px(i: int) -> float:
        return left + i * step

    def py(v: float) -> float:
        return top + plot_h - (v / y_max) * plot_h

    body = [f'<text x="{left}" y="14" font-weight="bold">{escape(title)}</text>']
    body += _legend(series, left)
    body += _y_axis(y_max, left, plot_w, py, percent)
    body += _x_axis(x, px, top + plot_h)
    index = {day: i for i, day in enumerate(x)}
    for day, label in markers:
        if day in index:
            mx = px(index[day])
            body.append(
                f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#b7791f" '
                f'stroke-dasharray="2 3"/><text x="{mx + 3:.1f}" y="{top + 12}" fill="#8a5a00">'
                f"{escape(label)}</text>"
            )
    for s in series:
        body += _polyline(s, px, py)
    return _svg(height, title, body)


def _legend(series: Sequence[Series], left: int) -> list[str]:
    parts, x = [], left + 330
    for s in series:
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(
            f'<line x1="{x}" x2="{x + 22}" y1="10" y2="10" stroke="{s.colour}" stroke-width="{s.width}"{dash}/>'
            f'<text x="{x + 26}" y="14">{escape(s.name)}</text>'
        )
        x += 40 + 7 * len(s.name)
    return parts


def _y_axis(y_max: float, left: int, plot_w: int, py, percent: bool) -> list[str]:
    parts = []
    for k in range(5):
        value = y_max * k / 4
        y = py(value)
        text = f"{100 * value:.0f}%" if percent else _number(value)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e2e2"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{text}</text>'
        )
    return parts


def _x_axis(x: Sequence[dt.date], px, base: float) -> list[str]:
    if not x:
        return []
    every = max(1, math.ceil(len(x) / 10))
    return [
        f'<text x="{px(i):.1f}" y="{base + 18:.1f}" text-anchor="middle" fill="#555">'
        f'{escape(dateformat.format(day, "d M"))}</text>'
        for i, day in enumerate(x) if i % every == 0
    ] + [f'<text x="{px(0):.1f}" y="{base + 34:.1f}" fill="#888">{x[0]:%Y}</text>']


def _polyline(s: Series, px, py) -> list[str]:
    """One line per run of known values: a missing value breaks the line instead of faking 0."""
    parts, run = [], []
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    for i, value in enumerate([*s.values, None]):
        if value is not None:
            run.append(f"{px(i):.1f},{py(value):.1f}")
            continue
        if len(run) == 1:
            x, y = run[0].split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{s.colour}"/>')
        elif run:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{s.colour}" stroke-width="{s.width}"'
                f'{dash}><title>{escape(s.name)}</title></polyline>'
            )
        run = []
    return parts


def bar_groups(categories: Sequence[str], series: Sequence[Series], *, title: str) -> SafeString:
    """Grouped horizontal bars of shares (0 to 1), one group per category."""
    left, right, bar = 220, 90, 14
    group_h = bar * len(series) + 12
    height = 34 + group_h * max(len(categories), 1)
    plot_w = WIDTH - left - right
    body = [f'<text x="8" y="14" font-weight="bold">{escape(title)}</text>', *_legend(series, left)]
    for g, category in enumerate(categories):
        y0 = 28 + g * group_h
        body.append(f'<text x="{left - 8}" y="{y0 + group_h / 2:.1f}" text-anchor="end">{escape(category)}</text>')
        for k, s in enumerate(series):
            value = s.values[g] or 0.0
            y = y0 + k * bar
            body.append(
                f'<rect x="{left}" y="{y}" width="{value * plot_w:.1f}" height="{bar - 2}" fill="{s.colour}">'
                f"<title>{escape(s.name)}: {100 * value:.1f}%</title></rect>"
                f'<text x="{left + value * plot_w + 4:.1f}" y="{y + bar - 4}" font-size="10">{100 * value:.1f}%</text>'
            )
    return _svg(height, title, body)
