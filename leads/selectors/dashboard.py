"""The recruiter's dashboard: a handful of aggregate queries, each bounded by an index."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from leads.models import MILESTONES, Employer, Inquiry, Lead, OutboundEmail, OutboundStatus, Stage
from leads.selectors.leads import waiting_q
from leads.selectors.next_steps import task_counts
from leads.services.outbox import FOLLOWUP_KINDS

# Counts stop here: "1,000+" is as useful as the exact figure and never scans a million rows.
COUNT_CAP = 1000
LIST_SIZE = 10
# The same weekday a year before: 52 weeks back, so Mondays are compared with Mondays.
YEAR = dt.timedelta(weeks=52)
FUNNEL_DAYS = 30


@dataclass
class Capped:
    count: int

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    def __str__(self) -> str:
        return f"{COUNT_CAP:,}+" if self.capped else f"{self.count:,}"


def _capped_count(qs) -> Capped:
    return Capped(qs.order_by()[: COUNT_CAP + 1].count())


def inquiry_counts(employer_ids: list[int], now: dt.datetime) -> dict[str, int]:
    """New inquiries today and this week, against the same days a year before, in one query."""
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - dt.timedelta(days=today.weekday())
    this_year = Q(received_at__gte=week, received_at__lte=now)
    last_year = Q(received_at__gte=week - YEAR, received_at__lte=now - YEAR)
    return Inquiry.objects.filter(employer_id__in=employer_ids).filter(this_year | last_year).aggregate(
        today=Count("pk", filter=Q(received_at__gte=today, received_at__lte=now)),
        week=Count("pk", filter=this_year),
        today_last_year=Count("pk", filter=Q(received_at__gte=today - YEAR, received_at__lte=now - YEAR)),
        week_last_year=Count("pk", filter=last_year),
    )


def dashboard_data(user, employers: list[Employer], now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    ids = [e.pk for e in employers]
    leads = Lead.objects.filter(employer_id__in=ids, erased_at__isnull=True)
    # The funnel counts erased leads too: erasure removes the person's data, not the fact
    # that a lead reached a milestone.
    everyone = Lead.objects.filter(employer_id__in=ids)
    mine = leads.filter(owner_id=user.pk, stage__in=MILESTONES)
    overdue = leads.filter(waiting_q(employers, now))
    local_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    due = OutboundEmail.objects.filter(
        employer_id__in=ids, kind__in=FOLLOWUP_KINDS, status=OutboundStatus.SCHEDULED,
        scheduled_at__gte=local_today, scheduled_at__lt=local_today + dt.timedelta(days=1),
    )
    return {
        "inquiries": inquiry_counts(ids, now),
        "mine_count": _capped_count(mine),
        "mine": list(mine.select_related("opening").order_by("-last_activity_at")[:LIST_SIZE]),
        "overdue_count": _capped_count(overdue),
        "overdue": list(overdue.select_related("owner").order_by("-created_at", "-pk")[:LIST_SIZE]),
        "due_count": _capped_count(due),
        "due": list(due.select_related("lead").order_by("scheduled_at")[:LIST_SIZE]),
        "funnel": funnel_snapshot(everyone, now),
        # The user's own open tasks, overdue and due by their local midnight (one query).
        "tasks": task_counts(ids, owner_id=user.pk, now=now),
    }


def funnel_snapshot(leads, now: dt.datetime) -> list[dict[str, Any]]:
    """Leads of the last 30 days by the furthest milestone they reached, as a cumulative funnel.

    One count per milestone: each is an index-only range scan of (employer, furthest_stage,
    created_at), where one GROUP BY would read every recent lead's row from the table.
    """
    since = now - dt.timedelta(days=FUNNEL_DAYS)
    at_stage = {stage: leads.filter(furthest_stage=stage, created_at__gte=since).count() for stage in MILESTONES}
    total = sum(at_stage.values())
    funnel, reached = [], total
    for stage in MILESTONES:
        funnel.append({"stage": stage, "label": Stage(stage).label, "reached": reached,
                       "percent": round(100 * reached / total) if total else 0})
        reached -= at_stage[stage]
    return funnel
