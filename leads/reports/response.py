"""Response: how long leads waited for a first contact, by recruiter and by week.

Time to first contact is ``first_contacted_at - created_at``: the pipeline stamps
``first_contacted_at`` on the first move out of `new` (a logged call or message makes that
move too). Median and 90th percentile are over the contacted leads. The share within the
target counts the leads whose target time has passed or who were contacted: a lead that came
in an hour ago and is not contacted yet is neither in time nor late. "Over target" is a lead
contacted late or still waiting past the target.

Two queries: the figures overall, by recruiter and by week in one pass over the cohort
(GROUPING SETS on PostgreSQL), and the recruiters' names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.contrib.auth import get_user_model
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from leads.models import Lead, display_name
from leads.reports import charts
from leads.reports.cohorts import period_starts
from leads.reports.filters import ReportFilters
from leads.reports.stats import EpochSeconds, GroupStats, as_date, percentile_sets, percentiles
from leads.reports.tables import Table, count, hours, pct


@dataclass
class ResponseRow:
    label: str
    stats: GroupStats

    @property
    def leads(self) -> int:
        return self.stats.rows

    @property
    def contacted(self) -> int:
        return self.stats.counts.get("seconds", 0)

    @property
    def within(self) -> int:
        return int(self.stats.sums.get("within", 0))

    @property
    def over(self) -> int:
        return int(self.stats.sums.get("over", 0))

    @property
    def median(self) -> float | None:
        return self.stats.pct("seconds", 0.5)

    @property
    def p90(self) -> float | None:
        return self.stats.pct("seconds", 0.9)

    @property
    def share_within(self) -> str:
        return pct(self.within, self.within + self.over)

    @property
    def median_hours(self) -> str:
        return hours(self.median)

    @property
    def p90_hours(self) -> str:
        return hours(self.p90)


@dataclass
class ResponseReport:
    filters: ReportFilters
    overall: ResponseRow
    by_owner: list[ResponseRow]
    by_week: list[tuple[dt.date, ResponseRow]]
    tables: dict[str, Table] = field(default_factory=dict)
    chart: str = ""  # SVG markup, already escaped (charts.py)
    owner_chart: str = ""  # SVG markup, already escaped (charts.py)


def _source(filters: ReportFilters, group, now: dt.datetime, **groups) -> QuerySet[Lead]:
    """The cohort's figures per lead, grouped by ``group`` as ``g`` (or by the named ``groups``)."""
    if group is not None:
        groups = {"g": group, **groups}
    target = dt.timedelta(hours=filters.response_hours)
    flag = {"default": Value(0), "output_field": IntegerField()}
    return filters.leads().order_by().annotate(
        **groups,
        seconds=EpochSeconds(F("first_contacted_at")) - EpochSeconds(F("created_at")),
        within=Case(When(first_contacted_at__lte=F("created_at") + target, then=Value(1)), **flag),
        over=Case(When(Q(first_contacted_at__gt=F("created_at") + target)
                       | Q(first_contacted_at__isnull=True, created_at__lt=now - target), then=Value(1)), **flag),
    ).values(*groups, "seconds", "within", "over")


_FIGURES = {"columns": ["seconds"], "fractions": [0.5, 0.9], "sums": ["within", "over"]}


def response_rows(filters: ReportFilters, *, now: dt.datetime | None = None) -> ResponseRow:
    """The figures over the whole range (the weekly email uses these): one query."""
    now = now or timezone.now()
    stats = percentiles(_source(filters, Value(0), now), group="g", **_FIGURES)
    return ResponseRow(gettext("All leads"), next(iter(stats.values()), GroupStats()))


def owner_names(user_ids: list[int]) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=[pk for pk in user_ids if pk is not None])
    return {user.pk: display_name(user) for user in users}


def response_report(filters: ReportFilters, *, now: dt.datetime | None = None) -> ResponseReport:
    now = now or timezone.now()
    # Overall, by recruiter and by week in one pass over the cohort (GROUPING SETS).
    source = _source(filters, None, now, g_owner=F("owner_id"), g_week=TruncWeek("created_at", tzinfo=filters.zone))
    sets = percentile_sets(source, groups=["g_owner", "g_week"], **_FIGURES)
    overall = ResponseRow(gettext("All leads"), sets[None].get(0, GroupStats()))
    owners = sets["g_owner"]
    names = owner_names(list(owners))
    unassigned = gettext("Unassigned")
    by_owner = sorted(
        (ResponseRow(names.get(pk, unassigned) if pk else unassigned, stats) for pk, stats in owners.items()),
        key=lambda row: (-row.leads, row.label),
    )
    weeks = {as_date(key): stats for key, stats in sets["g_week"].items()}
    by_week = [(start, ResponseRow(f"{start:%Y-%m-%d}", weeks.get(start, GroupStats())))
               for start in period_starts(replace(filters, period="week"))]
    report = ResponseReport(filters=filters, overall=overall, by_owner=by_owner, by_week=by_week)
    report.tables = {"recruiters": _table(report, "recruiters", gettext("By recruiter"), gettext("Recruiter"),
                                          [overall, *by_owner]),
                     "weeks": _table(report, "weeks", gettext("By week of inquiry"), gettext("Week"),
                                     [row for _, row in by_week])}
    report.chart = charts.line_chart(
        [start for start, _ in by_week],
        [charts.Series(gettext("Median hours"), [_h(row.median) for _, row in by_week], charts.PALETTE[0]),
         charts.Series(gettext("90th percentile hours"), [_h(row.p90) for _, row in by_week], charts.PALETTE[1],
                       dash="6 4")],
        title=gettext("Hours to first contact, by week of inquiry"),
    )
    report.owner_chart = charts.bar_groups(
        [row.label for row in by_owner],
        [charts.Series(gettext("Within %(hours)s h") % {"hours": filters.response_hours},
                       [row.within / (row.within + row.over) if row.within + row.over else None for row in by_owner],
                       charts.PALETTE[0])],
        title=ngettext("Share contacted within %(hours)s hour, by recruiter",
                       "Share contacted within %(hours)s hours, by recruiter",
                       filters.response_hours) % {"hours": filters.response_hours},
    )
    return report


def _h(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def _table(report: ResponseReport, key: str, title: str, first: str, rows: list[ResponseRow]) -> Table:
    target = report.filters.response_hours
    in_hours = {"hours": target}
    table = Table(key=key, title=title, columns=[
        first, gettext("Leads"), gettext("Contacted"), gettext("Median hours to first contact"),
        gettext("90th percentile hours"), gettext("Within %(hours)s h") % in_hours,
        gettext("Share within %(hours)s h") % in_hours, gettext("Over %(hours)s h (late or still waiting)") % in_hours,
        gettext("Not contacted yet"),
    ])
    for row in rows:
        table.rows.append([
            row.label, count(row.leads), count(row.contacted), hours(row.median), hours(row.p90),
            count(row.within), pct(row.within, row.within + row.over), count(row.over),
            count(row.leads - row.contacted),
        ])
    return table
