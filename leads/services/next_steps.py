"""Tasks: the next step on a lead, with a title, a due time and an owner; done, snoozed or
handed to a teammate.

Each change is an entry point (its own durable transaction) that checks its input first and
writes a line on the lead's timeline. None of them counts as contact with the person: a task
"Call Ana" marked done says nothing about whether the call happened (log the call for that).
Timeline rows here do not move the lead's last activity either: bookkeeping by a recruiter is
not interest shown by the lead, and the stale-interest check must not be held off by it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from leads.models import ActivityKind, Lead, Membership, Task, display_name
from leads.services.activity import activity_record

# A due time may be a little in the past (a task written down after the fact, "call at 9"
# typed at 9:20), not a date nobody meant.
DUE_PAST_GRACE = dt.timedelta(days=1)
DUE_FUTURE_LIMIT = dt.timedelta(days=5 * 366)
QUICK_TASK_HOUR = 9
SNOOZES: dict[str, dt.timedelta] = {"day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}


@dataclass(frozen=True)
class QuickTask:
    key: str
    label: str  # the button
    title: str  # the task it makes
    days: int


QUICK_TASKS: tuple[QuickTask, ...] = (
    QuickTask("call", gettext_lazy("Call in 2 days"), gettext_lazy("Call"), 2),
    QuickTask("follow-up", gettext_lazy("Follow up in a week"), gettext_lazy("Follow up"), 7),
    QuickTask("visa", gettext_lazy("Check visa status in 2 weeks"), gettext_lazy("Check visa status"), 14),
)
QUICK_TASKS_BY_KEY = {quick.key: quick for quick in QUICK_TASKS}


def task_add(*, lead: Lead, title: str, due_at: dt.datetime, owner, by, note: str = "") -> Task:
    """A next step on the lead, owned by a member of its employer."""
    title = " ".join((title or "").split())
    note = (note or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("Say what the next step is.")
    elif len(title) > Task._meta.get_field("title").max_length:
        errors["title"] = _("A task title can be at most 200 characters.")
    if len(note) > Task._meta.get_field("note").max_length:
        errors["note"] = _("A note can be at most 5,000 characters.")
    due_error = _due_error(due_at)
    if due_error:
        errors["due_at"] = due_error
    owner_error = _owner_error(lead, owner)
    if owner_error:
        errors["owner"] = owner_error
    if lead.is_erased:
        errors["__all__"] = _("This lead's data was erased.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(durable=True):
        task = Task.objects.create(employer_id=lead.employer_id, lead=lead, title=title, due_at=due_at,
                                   owner=owner, note=note, created_by=by)
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by, touch=False,
                        summary=f"Task added: {title} (due {_when(due_at)}, {display_name(owner)})")
    return task


def quick_task_due(quick: QuickTask, *, now: dt.datetime | None = None, zone: dt.tzinfo | None = None) -> dt.datetime:
    """9:00 that many days ahead, in the zone (the current one: the recruiter's, in a request)."""
    zone = zone or timezone.get_current_timezone()
    day = timezone.localtime(now or timezone.now(), zone).date() + dt.timedelta(days=quick.days)
    return dt.datetime.combine(day, dt.time(QUICK_TASK_HOUR), zone)


def task_add_quick(*, lead: Lead, key: str, by, zone: dt.tzinfo | None = None) -> Task:
    """One of the QUICK_TASKS, owned by the recruiter who asked for it."""
    quick = QUICK_TASKS_BY_KEY.get(key)
    if quick is None:
        raise ValidationError({"template": _("Choose one of the quick tasks.")})
    # The title in the language of the recruiter who asked for it: it is theirs from now on.
    return task_add(lead=lead, title=str(quick.title), due_at=quick_task_due(quick, zone=zone), owner=by, by=by)


def task_done(*, task: Task, by) -> bool:
    """Close the task; False when it was done already (a second click changes nothing)."""
    with transaction.atomic(durable=True):
        now = timezone.now()
        if not Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=now, done_by=by):
            return False
        task.done_at, task.done_by = now, by
        activity_record(lead=task.lead, kind=ActivityKind.SYSTEM, actor=by, touch=False,
                        summary=f"Task done: {task.title} (by {display_name(by)})")
    return True


def task_snooze(*, task: Task, by, by_period: str = "", until: dt.datetime | None = None) -> Task:
    """Put the task off by a day or a week (from its due time, or from now when it is overdue),
    or until a chosen time."""
    now = timezone.now()
    if until is not None:
        error = _("Choose a time in the future to snooze to.") if until <= now else _due_error(until)
        if error:
            raise ValidationError({"until": error})
    elif by_period not in SNOOZES:
        raise ValidationError({"by": _("Snooze by a day or a week, or until a time you choose.")})
    with transaction.atomic(durable=True):
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.done_at is not None:
            raise ValidationError(_("This task is done already."))
        if until is None:
            # Wall-clock arithmetic in the recruiter's zone: "a day later" is the same time of
            # day across a change of daylight saving time.
            base = timezone.localtime(max(locked.due_at, now))
            until = (base + SNOOZES[by_period]).astimezone(dt.UTC)
        Task.objects.filter(pk=task.pk).update(due_at=until, snoozed=F("snoozed") + 1)
        task.due_at, task.snoozed = until, locked.snoozed + 1
        activity_record(lead=task.lead, kind=ActivityKind.SYSTEM, actor=by, touch=False,
                        summary=f"Task snoozed to {_when(until)}: {task.title}")
    return task


def task_reassign(*, task: Task, owner, by) -> bool:
    """Give the task to another member of the lead's employer; False when it is theirs already."""
    error = _owner_error(task.lead, owner)
    if error:
        raise ValidationError({"owner": error})
    with transaction.atomic(durable=True):
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.done_at is not None:
            raise ValidationError(_("This task is done already."))
        if locked.owner_id == owner.pk:
            return False
        Task.objects.filter(pk=task.pk).update(owner=owner)
        task.owner = owner
        activity_record(lead=task.lead, kind=ActivityKind.SYSTEM, actor=by, touch=False,
                        summary=f"Task reassigned to {display_name(owner)}: {task.title} (by {display_name(by)})")
    return True


def tasks_erase(*, lead: Lead, at: dt.datetime) -> int:
    """Part of erasing a lead (inside ``lead_erase``'s transaction): its open tasks close, and
    what the titles and notes said about the person goes."""
    Task.objects.filter(lead=lead, done_at__isnull=True).update(done_at=at)
    # Stored, so in one language whoever erases (a recruiter, or the nightly retention run),
    # like the other marks an erasure leaves.
    return Task.objects.filter(lead=lead).update(title=gettext_noop("(erased)"), note="")


def _due_error(due_at: dt.datetime | None) -> str | None:
    if due_at is None:
        return _("Enter the date and time the task is due.")
    if timezone.is_naive(due_at):
        raise TypeError("due_at must be an aware datetime")
    now = timezone.now()
    if due_at < now - DUE_PAST_GRACE:
        return _("That is more than a day ago: enter when the task is due.")
    if due_at > now + DUE_FUTURE_LIMIT:
        return _("A task can be due at most five years ahead.")
    return None


def _owner_error(lead: Lead, owner) -> str | None:
    if owner is None:
        return _("Choose who owns the task.")
    if not Membership.objects.filter(user_id=owner.pk, employer_id=lead.employer_id, user__is_active=True).exists():
        return _("The owner must be a member of this lead's employer.")
    return None


def _when(moment: dt.datetime) -> str:
    """A due time on the timeline, in the current zone (the recruiter's) and saying which."""
    local = timezone.localtime(moment)
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"
