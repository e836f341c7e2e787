"""What a report shows under each chart: a table of display strings, the same ones the CSV has.

Cells are formatted once, here, so the page and its CSV export can never disagree. Changes are
written with arrows rather than a leading + or -, which a spreadsheet would read as a formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

DASH = "—"


@dataclass
class Table:
    key: str  # the name of its CSV export: ?export=<key>
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    empty: str = _("Nothing in this range.")
    note: str = ""


def count(value: float | int | None) -> str:
    return DASH if value is None else str(int(value))


def pct(part: float | int | None, whole: float | int | None) -> str:
    if part is None or not whole:
        return DASH
    return f"{100 * part / whole:.1f}%"


def share(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def days(seconds: float | None) -> str:
    return DASH if seconds is None else f"{seconds / 86_400:.1f}"


def hours(seconds: float | None) -> str:
    return DASH if seconds is None else f"{seconds / 3_600:.1f}"


def ratio(value: float | int | None, baseline: float | int | None) -> str:
    """How many times the baseline, for example x1.8."""
    if value is None or not baseline:
        return DASH
    return f"×{value / baseline:.2f}"


def change(value: float | int | None, before: float | int | None) -> str:
    """The change from ``before``, as ▲ 12.0% or ▼ 3.1%."""
    if value is None or not before:
        return DASH
    delta = 100 * (value - before) / before
    if abs(delta) < 0.05:
        return "0.0%"
    return f"{'▲' if delta > 0 else '▼'} {abs(delta):.1f}%"


def decimal1(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"
