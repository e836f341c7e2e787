"""Reads of tasks: a lead's open ones, a recruiter's list grouped by when they are due, and the
dashboard's counts. Scoped to the employer ids a request may see; erased leads' tasks never
show. Each is one query, however many tasks there are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from leads.models import Membership, Task, display_name

# /tasks/ shows this many; the rest wait until some are done (a number says how many more).
LIST_CAP = 200
LEAD_CAP = 50


def open_tasks(employer_ids: list[int]) -> QuerySet[Task]:
    """Open tasks of these employers' leads, the erased ones' left out."""
    return Task.objects.filter(employer_id__in=employer_ids, done_at__isnull=True, lead__erased_at__isnull=True)


def task_for_action(employer_ids: list[int], pk) -> Task | None:
    """The task a recruiter acts on, with what the action and its timeline row need."""
    try:
        return (Task.objects.filter(employer_id__in=employer_ids, lead__erased_at__isnull=True)
                .select_related("lead", "owner").get(pk=pk))
    except (Task.DoesNotExist, ValueError, TypeError):
        return None


def lead_open_tasks(lead, *, now: dt.datetime | None = None, cap: int = LEAD_CAP) -> list[Task]:
    """The lead's open tasks, soonest due first, with their owners (one query); each knows
    whether it is overdue."""
    now = now or timezone.now()
    tasks = list(Task.objects.filter(lead=lead, done_at__isnull=True).select_related("owner")
                 .order_by("due_at", "pk")[:cap])
    for task in tasks:
        task.overdue = task.due_at < now
    return tasks


def owners_by_employer(employer_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """Who may own a task of each employer: its active members, as choices (one query)."""
    members = (Membership.objects.filter(employer_id__in=employer_ids, user__is_active=True)
               .select_related("user").only("employer_id", "user__username", "user__first_name", "user__last_name")
               .order_by("user__username", "pk"))
    result: dict[int, list[tuple[str, str]]] = {pk: [] for pk in employer_ids}
    for membership in members:
        result[membership.employer_id].append((str(membership.user_id), display_name(membership.user)))
    return result


@dataclass
class TaskGroups:
    overdue: list[Task] = field(default_factory=list)
    today: list[Task] = field(default_factory=list)
    later: list[Task] = field(default_factory=list)
    more: bool = False  # there are open tasks beyond LIST_CAP

    @property
    def groups(self) -> list[tuple[str, str, list[Task]]]:
        return [("overdue", gettext("Overdue"), self.overdue), ("today", gettext("Today"), self.today),
                ("later", gettext("Later"), self.later)]

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.later)


def local_day_end(now: dt.datetime) -> dt.datetime:
    """The next midnight in the current time zone (the recruiter's, in a request)."""
    local = timezone.localtime(now)
    tomorrow = local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(), local.tzinfo)


def tasks_grouped(employer_ids: list[int], *, owner_id: int | None, now: dt.datetime | None = None,
                  cap: int = LIST_CAP, owner_choices: dict[int, list[tuple[str, str]]] | None = None) -> TaskGroups:
    """Open tasks (of one owner, or everyone's) by due time: overdue, the rest of the
    recruiter's local day, later. With ``owner_choices`` (``owners_by_employer``) each task
    carries who it may be reassigned to."""
    now = now or timezone.now()
    tasks = open_tasks(employer_ids)
    if owner_id is not None:
        tasks = tasks.filter(owner_id=owner_id)
    rows = list(
        tasks.select_related("lead", "owner")
        .only("pk", "title", "due_at", "note", "snoozed", "done_at", "employer_id", "lead_id", "owner_id",
              "lead__name", "lead__employer_id", "owner__username", "owner__first_name", "owner__last_name")
        .order_by("due_at", "pk")[: cap + 1]
    )
    result = TaskGroups(more=len(rows) > cap)
    day_end = local_day_end(now)
    for task in rows[:cap]:
        task.overdue = task.due_at < now
        if owner_choices is not None:
            task.owner_choices = owner_choices.get(task.employer_id, [])
        group = result.overdue if task.due_at < now else result.today if task.due_at < day_end else result.later
        group.append(task)
    return result


def task_counts(employer_ids: list[int], *, owner_id: int, now: dt.datetime | None = None) -> dict[str, int]:
    """The owner's open tasks overdue and due in the rest of their local day, in one query."""
    now = now or timezone.now()
    return open_tasks(employer_ids).filter(owner_id=owner_id, due_at__lt=local_day_end(now)).aggregate(
        overdue=Count("pk", filter=Q(due_at__lt=now)),
        today=Count("pk", filter=Q(due_at__gte=now)),
    )
