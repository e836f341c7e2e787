"""The funnel: of the leads created in a range, how many reached each milestone, and how fast.

"Reached milestone m" counts a lead whose furthest milestone ranks at or beyond m, so a lead
that skipped `applied` on its way to `interviewing` counts as having applied, and one that
reached `offer` and then withdrew still counts for `offer`.

Two ways to count, both from the StageEvent history:

* ``funnel_counts_from_history`` takes each lead's highest milestone among its stage events.
* ``funnel_counts`` reads ``Lead.furthest_stage``, which the pipeline service keeps from that
  same history in the transaction that appends each event (it only ever moves forward).

They agree (tests/test_reports_dataset.py proves it on the awkward data set); the report uses
``furthest_stage`` because it is one GROUP BY over the cohort's lead rows, served by the
(employer, furthest_stage, created_at) index, while the history needs a join to about three
events per lead: see bench/reports.py for the figures.

Median time between milestones: each lead's first time at a milestone *or beyond* (so the
times never go backwards, even after a skip or a backwards move); the step from m to the
next is measured over the leads that reached the next one. A skipped milestone takes no time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from leads.models import MILESTONE_RANK, MILESTONES, Lead, MoveTimeline, Source, Stage, StageEvent
from leads.reports import charts
from leads.reports.filters import BREAKDOWNS, ReportFilters
from leads.reports.stats import EpochSeconds, percentiles
from leads.reports.tables import Table, change, count, days, pct
from leads.services.milestones import reached_field

LABELS = [Stage(stage).label for stage in MILESTONES]
# Per breakdown: the columns grouped by (the first is the key) and how a key reads.
_BREAKDOWN_FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("source",),
    "citizenship": ("citizenships__country",),
    "country": ("current_country",),
    "opening": ("opening_id", "opening__title"),
    "owner": ("owner_id", "owner__username", "owner__first_name", "owner__last_name"),
    "timeline": ("move_timeline",),
    "sponsorship": ("needs_sponsorship",),
}
# The breakdown table's title, per breakdown.
_BREAKDOWN_TITLES: dict[str, str] = {
    "source": _("By source"),
    "citizenship": _("By citizenship"),
    "country": _("By current country"),
    "opening": _("By opening"),
    "owner": _("By owner"),
    "timeline": _("By move timeline"),
    "sponsorship": _("By needs sponsorship"),
}


@dataclass
class FunnelStep:
    stage: str
    label: str
    reached: int
    previous: int  # reached in the previous period of the same length
    median_seconds: float | None = None  # from the milestone before (None for `new`)


@dataclass
class FunnelReport:
    filters: ReportFilters
    steps: list[FunnelStep]
    breakdown: Table
    tables: dict[str, Table] = field(default_factory=dict)
    chart: str = ""  # SVG markup, already escaped (charts.py)

    @property
    def total(self) -> int:
        return self.steps[0].reached

    @property
    def shares(self) -> dict[str, str]:
        """Share of the cohort reaching each milestone, by stage name (for the summary line)."""
        return {stage: pct(self.steps[rank].reached, self.total) for rank, stage in enumerate(MILESTONES)}

    def reached(self, stage: str) -> int:
        return self.steps[MILESTONE_RANK[stage]].reached


def cumulative(by_furthest: dict[str, int]) -> list[int]:
    """Leads reaching each milestone, from the count of leads per furthest milestone."""
    reached, running = [], 0
    for stage in reversed(MILESTONES):
        running += by_furthest.get(stage, 0)
        reached.append(running)
    return reached[::-1]


def funnel_counts(leads: QuerySet[Lead]) -> list[int]:
    """The fast path: one GROUP BY on furthest_stage (at most eight rows come back)."""
    # COUNT(*), not COUNT(id): the id is not in the (employer, furthest_stage, created_at) index,
    # and asking for it turns PostgreSQL's index-only scan into a scan of the table.
    rows = leads.order_by().values("furthest_stage").annotate(n=Count("*"))
    return cumulative({row["furthest_stage"]: row["n"] for row in rows})


def _rank() -> Case:
    whens = [When(to_stage=stage, then=Value(rank)) for stage, rank in MILESTONE_RANK.items()]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def funnel_counts_from_history(leads: QuerySet[Lead]) -> list[int]:
    """The same counts straight from StageEvent: each lead's highest milestone ever entered."""
    top = (
        StageEvent.objects.filter(lead_id=OuterRef("pk")).order_by().values("lead_id")
        .annotate(top=Max(_rank())).values("top")
    )
    rows = (
        leads.order_by().annotate(rank=Coalesce(Subquery(top, output_field=IntegerField()), 0))
        .values("rank").annotate(n=Count("id"))
    )
    return cumulative({MILESTONES[row["rank"]]: row["n"] for row in rows})


def step_medians(filters: ReportFilters) -> list[float | None]:
    """Median seconds from each milestone to the next, from the first reach times each lead
    keeps (leads/services/milestones.py): one pass over the cohort's rows, no join."""
    reached = ["created_at", *(reached_field(stage) for stage in MILESTONES[1:])]
    steps = {
        f"d{k}": EpochSeconds(F(reached[k])) - EpochSeconds(F(reached[k - 1])) for k in range(1, len(MILESTONES))
    }
    source = filters.leads().order_by().annotate(**steps).values(*steps)
    stats = percentiles(source, columns=list(steps), fractions=[0.5])
    overall = next(iter(stats.values()), None)
    return [None] + [overall.pct(name, 0.5) if overall else None for name in steps]


def step_medians_from_history(filters: ReportFilters) -> list[float | None]:
    """The same medians straight from StageEvent (the first reach times computed per lead in
    the query): what the stored times are proven against, and the figures before they existed."""
    events = StageEvent.objects.filter(
        filters.lead_q("lead__"), lead__created_at__gte=filters.start, lead__created_at__lt=filters.end
    ).order_by()
    last = len(MILESTONES) - 1
    if connection.vendor == "postgresql":
        # The first time at each milestone exactly (one equality per event and milestone, where
        # IN lists cost several), then "at it or beyond" as the LEAST of those, which skips NULLs.
        exact = {f"m{k}": Min("at", filter=Q(to_stage=MILESTONES[k])) for k in range(1, len(MILESTONES))}
        reach = {f"t{k}": Least(*(F(f"m{j}") for j in range(k, last + 1))) for k in range(1, last)}
        reach[f"t{last}"] = F(f"m{last}")
    else:  # SQLite's LEAST (min with several arguments) is NULL as soon as one argument is
        exact = {}
        reach = {f"t{k}": Min("at", filter=Q(to_stage__in=MILESTONES[k:])) for k in range(1, len(MILESTONES))}
    steps = {
        f"d{k}": EpochSeconds(F(f"t{k}")) - EpochSeconds(F(f"t{k - 1}")) for k in range(1, len(MILESTONES))
    }
    source = (
        events.values("lead_id").annotate(t0=Min("lead__created_at"), **exact).annotate(**reach).annotate(**steps)
        .values(*steps)
    )
    stats = percentiles(source, columns=list(steps), fractions=[0.5])
    overall = next(iter(stats.values()), None)
    return [None] + [overall.pct(name, 0.5) if overall else None for name in steps]


def funnel_report(filters: ReportFilters) -> FunnelReport:
    now = funnel_counts(filters.leads())
    before = funnel_counts(filters.previous().leads())
    medians = step_medians(filters)
    steps = [
        FunnelStep(stage, LABELS[rank], now[rank], before[rank], medians[rank])
        for rank, stage in enumerate(MILESTONES)
    ]
    report = FunnelReport(filters=filters, steps=steps, breakdown=breakdown_table(filters))
    report.tables = {"funnel": funnel_table(report), "breakdown": report.breakdown}
    report.chart = charts.funnel_chart(
        [step.label for step in steps], [step.reached for step in steps], [step.previous for step in steps]
    )
    return report


def funnel_table(report: FunnelReport) -> Table:
    table = Table(
        key="funnel", title=gettext("Funnel"),
        columns=[gettext("Milestone"), gettext("Reached"), gettext("Share of leads"),
                 gettext("From previous milestone"), gettext("Median days from previous milestone"),
                 gettext("Previous period"),
                 pgettext("report column: the change from the earlier period", "Change")],
        note=gettext("A lead counts for every milestone up to the furthest it reached, even if it closed later."),
    )
    for rank, step in enumerate(report.steps):
        prior = report.steps[rank - 1].reached if rank else None
        table.rows.append([
            step.label, count(step.reached), pct(step.reached, report.total),
            pct(step.reached, prior) if rank else "", days(step.median_seconds) if rank else "",
            count(step.previous), change(step.reached, step.previous),
        ])
    return table


def breakdown_table(filters: ReportFilters) -> Table:
    """Reached counts per milestone for each value of one dimension: one query."""
    fields = _BREAKDOWN_FIELDS[filters.breakdown]
    rows = filters.leads().order_by().values(*fields, "furthest_stage").annotate(n=Count("*"))
    groups: dict[object, dict[str, int]] = defaultdict(dict)
    names: dict[object, str] = {}
    for row in rows:
        key = row[fields[0]]
        groups[key][row["furthest_stage"]] = groups[key].get(row["furthest_stage"], 0) + row["n"]
        names[key] = _label(filters.breakdown, row)
    table = Table(
        key="breakdown", title=str(_BREAKDOWN_TITLES[filters.breakdown]),
        columns=[str(BREAKDOWNS[filters.breakdown]), *LABELS, gettext("Applied %"), gettext("Hired %"),
                 gettext("Relocated %")],
        note=gettext("A lead with two citizenships counts under each.") if filters.breakdown == "citizenship" else "",
    )
    ordered = sorted(groups.items(), key=lambda item: (-sum(item[1].values()), names[item[0]]))
    for key, by_furthest in ordered:
        reached = cumulative(by_furthest)
        table.rows.append([
            names[key], *(count(n) for n in reached),
            *(pct(reached[MILESTONE_RANK[stage]], reached[0]) for stage in (Stage.APPLIED, Stage.HIRED,
                                                                             Stage.RELOCATED)),
        ])
    return table


def _label(breakdown: str, row: dict) -> str:
    value = row[_BREAKDOWN_FIELDS[breakdown][0]]
    if breakdown == "source":
        return str(Source(value).label) if value in Source.values else value
    if breakdown in ("citizenship", "country"):
        return str(countries.name(value)) if value else gettext("Not given")
    if breakdown == "opening":
        return row["opening__title"] if value else gettext("No opening")
    if breakdown == "owner":
        full = f"{row['owner__first_name']} {row['owner__last_name']}".strip()
        return (full or row["owner__username"]) if value else gettext("Unassigned")
    if breakdown == "timeline":
        return str(MoveTimeline(value).label) if value in MoveTimeline.values else gettext("Not given")
    return {True: gettext("Yes"), False: gettext("No")}.get(value, gettext("Not given"))

