"""Cohorts: one row per inquiry week (or month), how far its leads have come so far.

A lead belongs to the week (Monday to Sunday, in the report's time zone) or month of its
first inquiry, which is when it was created. Three queries whatever the data size: milestone
counts per cohort, time in `visa` per cohort, closed reasons per cohort.

Time in visa: from the lead's first move into `visa` to its first move out of it (to
`relocated`, or closed, for example "visa refused"). Leads still waiting are counted apart,
not mixed into the median.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, Min, Q
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils.translation import gettext

from leads.models import CLOSED_STAGES, MILESTONE_RANK, MILESTONES, Stage, StageEvent
from leads.reports import charts
from leads.reports.filters import PERIODS, ReportFilters
from leads.reports.funnel import LABELS, cumulative
from leads.reports.stats import EpochSeconds, as_date, percentiles
from leads.reports.tables import Table, count, days, pct

_CHART_STAGES = (Stage.CONTACTED, Stage.APPLIED, Stage.INTERVIEWING, Stage.HIRED, Stage.RELOCATED)


@dataclass
class Cohort:
    start: dt.date
    reached: list[int]
    visa_entered: int = 0
    visa_left: int = 0
    visa_median_seconds: float | None = None
    closed: dict[str, int] = field(default_factory=dict)

    @property
    def leads(self) -> int:
        return self.reached[0]


@dataclass
class CohortReport:
    filters: ReportFilters
    cohorts: list[Cohort]
    reasons: list[str]
    tables: dict[str, Table] = field(default_factory=dict)
    chart: str = ""  # SVG markup, already escaped (charts.py)


def _trunc(filters: ReportFilters, field_name: str):
    kind = TruncMonth if filters.period == "month" else TruncWeek
    return kind(field_name, tzinfo=filters.zone)


def period_starts(filters: ReportFilters) -> list[dt.date]:
    """Every week or month touching the range, empty ones too, so gaps show as gaps."""
    if filters.period == "month":
        first = filters.start_date.replace(day=1)
        starts = []
        while first <= filters.end_date:
            starts.append(first)
            first = (first + dt.timedelta(days=32)).replace(day=1)
        return starts
    first = filters.start_date - dt.timedelta(days=filters.start_date.weekday())
    return [first + dt.timedelta(weeks=k) for k in range((filters.end_date - first).days // 7 + 1)]


def _milestones(filters: ReportFilters) -> dict[dt.date, list[int]]:
    rows = (
        filters.leads().order_by().annotate(period=_trunc(filters, "created_at"))
        .values("period", "furthest_stage").annotate(n=Count("*"))
    )
    by_period: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        by_period[as_date(row["period"])][row["furthest_stage"]] = row["n"]
    return {period: cumulative(counts) for period, counts in by_period.items()}


def _visa(filters: ReportFilters) -> dict[dt.date, tuple[int, int, float | None]]:
    """Per cohort: leads that entered visa, those that left it, and the median seconds in it,
    from the visa times each lead keeps (leads/services/milestones.py): no join."""
    source = (
        filters.leads().order_by().filter(visa_entered_at__isnull=False)
        .annotate(period=_trunc(filters, "created_at"),
                  seconds=EpochSeconds(F("visa_left_at")) - EpochSeconds(F("visa_entered_at")))
        .values("period", "seconds")
    )
    stats = percentiles(source, columns=["seconds"], fractions=[0.5], group="period")
    return {as_date(key): (s.rows, s.counts["seconds"], s.pct("seconds", 0.5)) for key, s in stats.items()}


def visa_from_history(filters: ReportFilters) -> dict[dt.date, tuple[int, int, float | None]]:
    """The same figures straight from StageEvent, for the proof that the stored times agree."""
    events = StageEvent.objects.filter(
        filters.lead_q("lead__"), lead__created_at__gte=filters.start, lead__created_at__lt=filters.end,
    ).filter(Q(to_stage=Stage.VISA) | Q(from_stage=Stage.VISA)).order_by()
    source = (
        events.values("lead_id").annotate(
            period=Min(_trunc(filters, "lead__created_at")),
            entered_at=Min("at", filter=Q(to_stage=Stage.VISA)),
            left_at=Min("at", filter=Q(from_stage=Stage.VISA)),
        ).annotate(seconds=EpochSeconds(F("left_at")) - EpochSeconds(F("entered_at")))
        .values("period", "seconds")
    )
    stats = percentiles(source, columns=["seconds"], fractions=[0.5], group="period")
    return {as_date(key): (s.rows, s.counts["seconds"], s.pct("seconds", 0.5)) for key, s in stats.items()}


def _closed(filters: ReportFilters) -> dict[dt.date, dict[str, int]]:
    rows = (
        filters.leads().order_by().filter(stage__in=sorted(CLOSED_STAGES))
        .annotate(period=_trunc(filters, "created_at"))
        .values("period", "closed_reason__label").annotate(n=Count("id"))
    )
    closed: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        label = row["closed_reason__label"] or gettext("No reason recorded")
        closed[as_date(row["period"])][label] = closed[as_date(row["period"])].get(label, 0) + row["n"]
    return closed


def cohort_report(filters: ReportFilters) -> CohortReport:
    milestones, visa, closed = _milestones(filters), _visa(filters), _closed(filters)
    empty = [0] * len(MILESTONES)
    cohorts = []
    for start in period_starts(filters):
        entered, left, median = visa.get(start, (0, 0, None))
        cohorts.append(Cohort(start, milestones.get(start, empty), entered, left, median, closed.get(start, {})))
    totals: dict[str, int] = defaultdict(int)
    for cohort in cohorts:
        for label, n in cohort.closed.items():
            totals[label] += n
    reasons = sorted(totals, key=lambda label: (-totals[label], label))
    report = CohortReport(filters=filters, cohorts=cohorts, reasons=reasons)
    report.tables = {"cohorts": cohort_table(report), "visa": visa_table(report), "closed": closed_table(report)}
    report.chart = charts.line_chart(
        [c.start for c in cohorts],
        [charts.Series(gettext("Reached %(stage)s") % {"stage": Stage(stage).label.lower()},
                       [c.reached[MILESTONE_RANK[stage]] / c.leads if c.leads else None for c in cohorts],
                       charts.PALETTE[i])
         for i, stage in enumerate(_CHART_STAGES)],
        title=(gettext("Share of each month's leads that reached a milestone so far") if filters.period == "month"
               else gettext("Share of each week's leads that reached a milestone so far")), percent=True,
    )
    return report


def _period_label(filters: ReportFilters, start: dt.date) -> str:
    if filters.period == "month":
        return f"{start:%Y-%m}"
    return gettext("%(start)s (week %(week)s)") % {"start": f"{start:%Y-%m-%d}", "week": f"{start:%V}"}


def _period_column(filters: ReportFilters) -> str:
    """The first column's header: Week or Month."""
    return str(PERIODS.get(filters.period, filters.period.capitalize()))


def cohort_table(report: CohortReport) -> Table:
    title = (gettext("Cohorts by month of first inquiry") if report.filters.period == "month"
             else gettext("Cohorts by week of first inquiry"))
    table = Table(key="cohorts", title=title,
                  columns=[_period_column(report.filters), gettext("Leads"),
                           *(f"{label} %" for label in LABELS[1:])])
    for c in report.cohorts:
        table.rows.append([_period_label(report.filters, c.start), count(c.leads),
                           *(pct(n, c.leads) for n in c.reached[1:])])
    return table


def visa_table(report: CohortReport) -> Table:
    table = Table(key="visa", title=gettext("Time in visa (lodged, waiting)"),
                  columns=[_period_column(report.filters), gettext("Entered visa"), gettext("Left visa"),
                           gettext("Median days in visa (of those who left)"), gettext("Still waiting")],
                  note=gettext("Measured from the first move into visa to the first move out of it."))
    for c in report.cohorts:
        table.rows.append([_period_label(report.filters, c.start), count(c.visa_entered), count(c.visa_left),
                           days(c.visa_median_seconds), count(c.visa_entered - c.visa_left)])
    return table


def closed_table(report: CohortReport) -> Table:
    table = Table(key="closed", title=gettext("Why leads closed (declined, withdrawn, unresponsive), by cohort"),
                  columns=[_period_column(report.filters), gettext("Closed"), *report.reasons])
    for c in report.cohorts:
        table.rows.append([_period_label(report.filters, c.start), count(sum(c.closed.values())),
                           *(count(c.closed.get(label, 0)) for label in report.reasons)])
    return table
