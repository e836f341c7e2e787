"""The recruiters' own things in the demo: a few tasks each (overdue, today, later) and a view
shared with the team, so that /tasks/, the dashboard's task card and the list's views show
what they do. Idempotent: an employer that has tasks already gets none more."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from leads.models import CLOSED_STAGES, Lead, Membership, Role, SavedView, Task

# (title, days from now, hour in the recruiter's employer's zone)
_TASKS = (
    ("Call about the visa sponsorship question", -2, 10),
    ("Send the relocation package overview", 0, 15),
    ("Check visa status", 3, 9),
    ("Follow up after the interview", 7, 11),
)


def demo_workspace(employer_ids: list[int]) -> int:
    created = 0
    now = timezone.now()
    for employer_id in employer_ids:
        recruiters = list(Membership.objects.filter(employer_id=employer_id, role=Role.RECRUITER)
                          .select_related("user", "employer").order_by("id"))
        if not recruiters or Task.objects.filter(employer_id=employer_id).exists():
            continue
        zone = zoneinfo.ZoneInfo(recruiters[0].employer.time_zone or "UTC")
        for membership in recruiters:
            leads = list(Lead.objects.filter(employer_id=employer_id, owner=membership.user, erased_at__isnull=True)
                         .exclude(stage__in=sorted(CLOSED_STAGES)).order_by("-last_activity_at")[:len(_TASKS)])
            rows = []
            for lead, (title, days, hour) in zip(leads, _TASKS, strict=False):
                day = (now.astimezone(zone) + dt.timedelta(days=days)).date()
                due = dt.datetime.combine(day, dt.time(hour), tzinfo=zone)
                rows.append(Task(employer_id=employer_id, lead=lead, title=title, due_at=due, owner=membership.user,
                                 created_by=membership.user, created_at=min(now, due - dt.timedelta(days=3))))
            Task.objects.bulk_create(rows)
            created += len(rows)
        SavedView.objects.get_or_create(
            employer_id=employer_id, owner=recruiters[0].user, name="Needs sponsorship, ready within 3 months",
            defaults={"query": "needs_sponsorship=yes&move_timeline=3m&open=on", "shared": True},
        )
    return created
