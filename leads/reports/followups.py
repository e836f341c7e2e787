"""Follow-up effectiveness: per sequence step, the emails sent and what the leads did within a
week of each: replied (a logged reply), advanced (a forward move to a later milestone), or
unsubscribed. One query: the three outcomes are EXISTS subqueries on indexed lead columns.

An email sent less than a week ago has not had its full week yet; the table says so.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.utils.translation import gettext

from leads.models import MILESTONES, Activity, ActivityKind, OutboundEmail, OutboundKind, OutboundStatus, StageEvent
from leads.reports import charts
from leads.reports.filters import ReportFilters
from leads.reports.tables import Table, count, pct

WINDOW = dt.timedelta(days=7)


@dataclass
class StepRow:
    employer: str
    sequence_id: int
    sequence: str
    position: int
    sent: int
    replied: int
    advanced: int
    unsubscribed: int

    @property
    def label(self) -> str:
        return gettext("%(employer)s · %(sequence)s · step %(position)s") % {
            "employer": self.employer, "sequence": self.sequence, "position": self.position}


@dataclass
class FollowupReport:
    filters: ReportFilters
    steps: list[StepRow]
    outbox_empty: bool  # no follow-up email was ever queued in scope: the feature is not in use yet
    tables: dict[str, Table] = field(default_factory=dict)
    chart: str = ""  # SVG markup, already escaped (charts.py)


def _forward() -> Q:
    """A move to a milestone from an earlier one: the lead advanced."""
    moves = [Q(to_stage=MILESTONES[rank], from_stage__in=MILESTONES[:rank]) for rank in range(1, len(MILESTONES))]
    return functools.reduce(operator.or_, moves)


def _within_week(model, condition: Q) -> Exists:
    """A row of ``model`` (timestamped ``at``) on the email's lead within a week after it was sent."""
    window_end = ExpressionWrapper(OuterRef("sent_at") + WINDOW, output_field=DateTimeField())
    return Exists(model.objects.filter(
        condition, lead_id=OuterRef("lead_id"), at__gte=OuterRef("sent_at"), at__lt=window_end,
    ))


def _flag(condition) -> Sum:
    return Sum(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))


def step_rows(filters: ReportFilters) -> list[StepRow]:
    sent = OutboundEmail.objects.filter(
        filters.employer_q(), filters.lead_q("lead__"), kind=OutboundKind.FOLLOWUP, status=OutboundStatus.SENT,
        step__isnull=False, sent_at__gte=filters.start, sent_at__lt=filters.end,
    ).order_by()
    unsubscribed = Q(lead__unsubscribed_at__gte=F("sent_at"),
                     lead__unsubscribed_at__lt=ExpressionWrapper(F("sent_at") + WINDOW, output_field=DateTimeField()))
    # Grouped by the sequence itself: two employers' "Default follow-up" are two sequences.
    rows = sent.values("step__sequence_id", "step__sequence__name", "step__sequence__employer__name",
                       "step__position").annotate(
        sent_count=Count("id"),
        replied=_flag(_within_week(Activity, Q(kind=ActivityKind.REPLY))),
        advanced=_flag(_within_week(StageEvent, _forward())),
        unsubscribed=_flag(unsubscribed),
    ).order_by("step__sequence__employer__name", "step__sequence__name", "step__sequence_id", "step__position")
    return [StepRow(row["step__sequence__employer__name"], row["step__sequence_id"], row["step__sequence__name"],
                    row["step__position"], row["sent_count"], row["replied"] or 0, row["advanced"] or 0,
                    row["unsubscribed"] or 0) for row in rows]


def followup_report(filters: ReportFilters) -> FollowupReport:
    steps = step_rows(filters)
    empty = not steps and not OutboundEmail.objects.filter(filters.employer_q(), kind=OutboundKind.FOLLOWUP).exists()
    report = FollowupReport(filters=filters, steps=steps, outbox_empty=empty)
    table = Table(
        key="steps", title=gettext("Per sequence step"),
        columns=[gettext("Employer"), gettext("Sequence"), gettext("Step"), gettext("Sent"),
                 gettext("Replied within 7 days"), gettext("Replied %"), gettext("Advanced within 7 days"),
                 gettext("Advanced %"), gettext("Unsubscribed within 7 days"), gettext("Unsubscribed %")],
        empty=(gettext("No follow-up email has been queued yet: the outbox has none for these employers.")
               if empty else gettext("No follow-up email was sent in this range.")),
        note=gettext("Emails sent in the last 7 days have not had their full week yet."),
    )
    for s in steps:
        table.rows.append([s.employer, s.sequence, str(s.position), count(s.sent), count(s.replied),
                           pct(s.replied, s.sent), count(s.advanced), pct(s.advanced, s.sent), count(s.unsubscribed),
                           pct(s.unsubscribed, s.sent)])
    report.tables = {"steps": table}
    if steps:
        report.chart = charts.bar_groups(
            [s.label for s in steps],
            [charts.Series(gettext("Replied"), [s.replied / s.sent for s in steps], charts.PALETTE[0]),
             charts.Series(gettext("Advanced"), [s.advanced / s.sent for s in steps], charts.PALETTE[2]),
             charts.Series(gettext("Unsubscribed"), [s.unsubscribed / s.sent for s in steps], charts.PALETTE[1])],
            title=gettext("What leads did within a week of each step"),
        )
    return report
