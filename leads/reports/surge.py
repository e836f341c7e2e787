"""Surge: inquiries per day against two baselines, overall and by country of origin.

Baselines, per day:
* the same day a year before, taken as 364 days earlier so that weekdays line up (a Monday
  against a Monday: inquiries have a strong weekly rhythm);
* the trailing 28-day average: the mean of the 28 days before the day (the day itself left
  out, so a spike does not raise its own bar).

A day is a surge day when it has at least ``MIN_SURGE_INQUIRIES`` and runs at or above the
employer's ``surge_multiple`` (1.5x by default) of its trailing average; the floor keeps a
quiet employer from "surging" on 2 inquiries after a week of 1. Days are calendar days in
the report's time zone (the employer's own).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import dateformat
from django.utils.translation import gettext, pgettext
from django_countries import countries

from leads.models import Inquiry, MarkedEvent
from leads.reports import charts
from leads.reports.filters import ReportFilters
from leads.reports.tables import DASH, Table, change, count, decimal1, pct, ratio

YEAR = 364
TRAILING_DAYS = 28
MIN_SURGE_INQUIRIES = 5


@dataclass
class SurgeDay:
    day: dt.date
    count: int
    year_before: int
    trailing: float | None  # None when no day of the trailing window has any inquiry
    above: bool = False
    events: list[str] = field(default_factory=list)


@dataclass
class SurgeSummary:
    total: int
    year_before: int
    trailing_expected: float  # the sum of the trailing averages: what a normal period brings
    peak: SurgeDay | None
    surge_days: int

    @property
    def against_year(self) -> str:
        return ratio(self.total, self.year_before)

    @property
    def against_trailing(self) -> str:
        return ratio(self.total, self.trailing_expected)


@dataclass
class SurgeReport:
    filters: ReportFilters
    days: list[SurgeDay]
    summary: SurgeSummary
    tables: dict[str, Table] = field(default_factory=dict)
    chart: str = ""  # SVG markup, already escaped (charts.py)


def inquiries(filters: ReportFilters) -> QuerySet[Inquiry]:
    """Inquiries within scope: source is the channel, country the country of origin."""
    q = filters.employer_q()
    if filters.opening_id:
        q &= Q(lead__opening_id=filters.opening_id)
    if filters.source:
        q &= Q(channel=filters.source)
    if filters.country:
        q &= Q(country=filters.country)
    return Inquiry.objects.filter(q).order_by()


def _window(filters: ReportFilters) -> Q:
    """The range itself with the 28 days before it, and the same days a year before."""
    year = filters.shifted(-YEAR)
    return (Q(received_at__gte=filters.start - dt.timedelta(days=TRAILING_DAYS), received_at__lt=filters.end)
            | Q(received_at__gte=year.start, received_at__lt=year.end))


def daily_counts(queryset: QuerySet[Inquiry], window: Q, zone: dt.tzinfo) -> dict[dt.date, int]:
    """Inquiries per local day: one GROUP BY, a row per day that had any."""
    rows = queryset.filter(window).annotate(day=TruncDate("received_at", tzinfo=zone)).values("day") \
        .annotate(n=Count("*"))
    return {row["day"]: row["n"] for row in rows}


def trailing_average(counts: dict[dt.date, int], day: dt.date) -> float | None:
    total = sum(counts.get(day - dt.timedelta(days=k), 0) for k in range(1, TRAILING_DAYS + 1))
    return total / TRAILING_DAYS if total else None


def is_surge(count: int, trailing: float | None, multiple: Decimal) -> bool:
    return count >= MIN_SURGE_INQUIRIES and trailing is not None and count >= float(multiple) * trailing


def surge_days(counts: dict[dt.date, int], start: dt.date, end: dt.date, multiple: Decimal) -> list[SurgeDay]:
    days = []
    day = start
    while day <= end:
        trailing = trailing_average(counts, day)
        n = counts.get(day, 0)
        days.append(SurgeDay(day, n, counts.get(day - dt.timedelta(days=YEAR), 0), trailing,
                             is_surge(n, trailing, multiple)))
        day += dt.timedelta(days=1)
    return days


def surge_start(counts: dict[dt.date, int], day: dt.date, multiple: Decimal) -> dt.date | None:
    """The first day of the run of consecutive surge days that includes ``day``; None if
    ``day`` is not a surge day. The alert's key: one alert per run."""
    if not is_surge(counts.get(day, 0), trailing_average(counts, day), multiple):
        return None
    start = day
    while is_surge(counts.get(start - dt.timedelta(days=1), 0),
                   trailing_average(counts, start - dt.timedelta(days=1)), multiple):
        start -= dt.timedelta(days=1)
    return start


def summarise(days: list[SurgeDay]) -> SurgeSummary:
    return SurgeSummary(
        total=sum(d.count for d in days),
        year_before=sum(d.year_before for d in days),
        trailing_expected=sum(d.trailing or 0 for d in days),
        peak=max(days, key=lambda d: (d.count, d.day), default=None) if any(d.count for d in days) else None,
        surge_days=sum(d.above for d in days),
    )


def surge_summary(filters: ReportFilters) -> SurgeSummary:
    """The headline figures alone (the weekly email): one query."""
    counts = daily_counts(inquiries(filters), _window(filters), filters.zone)
    return summarise(surge_days(counts, filters.start_date, filters.end_date, filters.surge_multiple))


def marked_events(filters: ReportFilters) -> dict[dt.date, list[str]]:
    events: dict[dt.date, list[str]] = {}
    rows = MarkedEvent.objects.filter(
        filters.employer_q(), date__gte=filters.start_date, date__lte=filters.end_date
    ).select_related("employer").order_by("date", "label")
    for event in rows:
        label = event.label if len(filters.employers) == 1 else f"{event.label} ({event.employer.name})"
        events.setdefault(event.date, []).append(label)
    return events


def surge_report(filters: ReportFilters) -> SurgeReport:
    counts = daily_counts(inquiries(filters), _window(filters), filters.zone)
    days = surge_days(counts, filters.start_date, filters.end_date, filters.surge_multiple)
    events = marked_events(filters)
    for day in days:
        day.events = events.get(day.day, [])
    report = SurgeReport(filters=filters, days=days, summary=summarise(days))
    report.tables = {"days": days_table(report), "countries": country_table(filters)}
    report.chart = charts.line_chart(
        [d.day for d in days],
        [
            charts.Series(gettext("Inquiries"), [d.count for d in days], charts.PALETTE[0], width=2.5),
            charts.Series(gettext("Same day a year before"), [d.year_before for d in days], "#888888", dash="6 4"),
            charts.Series(gettext("Trailing 28-day average"), [d.trailing for d in days], charts.PALETTE[1],
                          dash="2 3"),
        ],
        title=gettext("Inquiries per day"), markers=[(day, " · ".join(labels)) for day, labels in events.items()],
    )
    return report


def days_table(report: SurgeReport) -> Table:
    multiple = report.filters.surge_multiple
    table = Table(
        key="days", title=gettext("Inquiries per day"),
        columns=[gettext("Day"), gettext("Inquiries"), gettext("Same day a year before"),
                 gettext("Trailing 28-day average"), gettext("Against a year before"),
                 gettext("Against trailing average"),
                 gettext("Surge (≥ ×%(multiple)s and ≥ %(minimum)s)") % {"multiple": multiple,
                                                                       "minimum": MIN_SURGE_INQUIRIES},
                 gettext("Marked events")],
    )
    yes = gettext("yes")
    for d in report.days:
        table.rows.append([
            dateformat.format(d.day, "Y-m-d D"), count(d.count), count(d.year_before), decimal1(d.trailing),
            ratio(d.count, d.year_before), ratio(d.count, d.trailing), yes if d.above else "",
            "; ".join(d.events),
        ])
    return table


def country_table(filters: ReportFilters) -> Table:
    """Per country of origin: inquiries in the range and the same days a year before. One query."""
    year = filters.shifted(-YEAR)
    in_range = Q(received_at__gte=filters.start, received_at__lt=filters.end)
    in_year = Q(received_at__gte=year.start, received_at__lt=year.end)
    rows = (
        inquiries(filters).filter(in_range | in_year).values("country")
        .annotate(now=Count("received_at", filter=in_range), before=Count("received_at", filter=in_year))
        .order_by("-now", "country")
    )
    rows = list(rows)
    total = sum(row["now"] for row in rows)
    table = Table(key="countries", title=gettext("By country of origin"),
                  columns=[gettext("Country"), gettext("Inquiries"), gettext("Share"),
                           gettext("Same days a year before"),
                           pgettext("report column: the change from the earlier period", "Change")])
    not_given = gettext("Not given")
    for row in rows:
        name = str(countries.name(row["country"])) if row["country"] else not_given
        table.rows.append([name, count(row["now"]), pct(row["now"], total), count(row["before"]),
                           change(row["now"], row["before"]) if row["before"] else DASH])
    return table
