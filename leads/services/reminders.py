"""Reminders: the recruiters' daily digest, and interest that went stale.

Both run from hourly beat tasks and are safe to run again: every email has a unique key
(per recruiter and local day; per lead and quiet spell), so a rerun queues nothing twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from leads.emails import in_user_language, message_id
from leads.models import (
    MILESTONES,
    ClosedReason,
    EmailTemplate,
    Employer,
    Lead,
    Membership,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    Role,
    Stage,
    Task,
)
from leads.services.followups import lead_url
from leads.services.outbox import email_queue

DIGEST_HOUR = 8  # local time of the employer
DIGEST_LIST_LIMIT = 25
STALE_ANSWER_DAYS = 14
STALE_BATCH = 500
UNRESPONSIVE_REASON = "No answer to the still-interested check"
# Stages where silence means the interest went stale; later ones are handled by people.
STALE_STAGES = tuple(MILESTONES[: MILESTONES.index(Stage.OFFER) + 1])


def digests_queue(*, now: dt.datetime | None = None) -> int:
    """Queue today's digest for each recruiter of the employers where it is now 8 o'clock."""
    now = now or timezone.now()
    queued = 0
    for employer in Employer.objects.all():
        local = now.astimezone(zoneinfo.ZoneInfo(employer.time_zone))
        if local.hour != DIGEST_HOUR:
            continue
        for membership in Membership.objects.filter(
            employer=employer, role=Role.RECRUITER, user__is_active=True
        ).select_related("user"):
            queued += digest_queue_for(employer=employer, user=membership.user, now=now)
    return queued


def digest_queue_for(*, employer: Employer, user, now: dt.datetime) -> int:
    """One recruiter's digest: leads over the response target, follow-ups due today, and their
    own tasks overdue or due today."""
    if not user.email:
        return 0
    zone = zoneinfo.ZoneInfo(employer.time_zone)
    local_day = now.astimezone(zone).date()
    day_end = dt.datetime.combine(local_day + dt.timedelta(days=1), dt.time(), zone)
    target = now - dt.timedelta(hours=employer.response_target_hours)
    overdue = Lead.objects.filter(
        employer=employer, owner=user, stage=Stage.NEW, first_contacted_at__isnull=True,
        created_at__lt=target, erased_at__isnull=True,
    ).order_by("created_at")
    due = OutboundEmail.objects.filter(
        employer=employer, lead__owner=user, status=OutboundStatus.SCHEDULED,
        kind__in=[OutboundKind.FOLLOWUP, OutboundKind.STALE_CHECK], scheduled_at__lt=day_end,
    ).select_related("lead").order_by("scheduled_at")
    overdue_list = list(overdue[:DIGEST_LIST_LIMIT])
    due_list = list(due[:DIGEST_LIST_LIMIT])
    tasks, task_counts = _digest_tasks(employer=employer, user=user, now=now, day_end=day_end)
    if not overdue_list and not due_list and not tasks:
        return 0
    context = {
        "user": user, "employer": employer, "day": local_day,
        "overdue": [(lead, lead_url(lead)) for lead in overdue_list],
        "overdue_count": overdue.count() if len(overdue_list) == DIGEST_LIST_LIMIT else len(overdue_list),
        "due": [(row, lead_url(row.lead)) for row in due_list],
        "due_count": due.count() if len(due_list) == DIGEST_LIST_LIMIT else len(due_list),
        "task_counts": task_counts,
        "tasks_url": f"{settings.SITE_URL}/tasks/",
    }
    with in_user_language(user):
        # The task lines' times, written as the recruiter's language writes them.
        context["tasks_overdue"] = [_task_line(t, zone) for t in tasks if t.due_at < now]
        context["tasks_today"] = [_task_line(t, zone) for t in tasks if t.due_at >= now]
        numbers = {"employer": employer.name, "leads": context["overdue_count"], "followups": context["due_count"],
                   "tasks": task_counts["overdue"]}
        if task_counts["overdue"]:
            subject = gettext("%(employer)s: %(leads)s lead(s) waiting, %(followups)s follow-up(s) today, "
                              "%(tasks)s overdue task(s)") % numbers
        else:
            subject = gettext("%(employer)s: %(leads)s lead(s) waiting, %(followups)s follow-up(s) today") % numbers
        body = render_to_string("emails/digest.txt", context)
        language = translation.get_language()
    _, created = email_queue(
        employer=employer, kind=OutboundKind.DIGEST,
        unique_key=f"digest:{employer.pk}:{user.pk}:{local_day.isoformat()}",
        to_user=user, to_email=user.email, subject=subject, body_text=body, language=language,
    )
    return int(created)


def _digest_tasks(*, employer: Employer, user, now: dt.datetime, day_end: dt.datetime) -> tuple[list[Task], dict]:
    """The recruiter's open tasks due before the local midnight, soonest first (overdue ones
    first of all), and how many of each there are."""
    tasks = Task.objects.filter(employer=employer, owner=user, done_at__isnull=True, lead__erased_at__isnull=True,
                                due_at__lt=day_end)
    listed = list(tasks.select_related("lead").only("pk", "title", "due_at", "lead__name").order_by("due_at", "pk")
                  [:DIGEST_LIST_LIMIT])
    if len(listed) < DIGEST_LIST_LIMIT:
        overdue = sum(1 for task in listed if task.due_at < now)
        return listed, {"overdue": overdue, "today": len(listed) - overdue}
    return listed, tasks.aggregate(overdue=Count("pk", filter=Q(due_at__lt=now)),
                                   today=Count("pk", filter=Q(due_at__gte=now)))


def _task_line(task: Task, zone: zoneinfo.ZoneInfo) -> tuple[Task, str, str]:
    local = task.due_at.astimezone(zone)
    return task, f"{date_format(local, 'D d M H:i')} {local.tzname()}", lead_url(task.lead)


def stale_checks_queue(*, now: dt.datetime | None = None) -> int:
    """Ask leads that went quiet whether they are still interested (once per quiet spell)."""
    now = now or timezone.now()
    queued = 0
    for employer in Employer.objects.all():
        template = EmailTemplate.objects.filter(employer=employer, kind=EmailTemplate.Kind.STALE_CHECK).first()
        cutoff = now - dt.timedelta(days=employer.stale_after_days)
        candidates = (
            _reachable(Lead.objects.filter(employer=employer))
            .filter(stage__in=STALE_STAGES, last_activity_at__lt=cutoff)
            # Asked already in this quiet spell: not again (and not in the way of others).
            .exclude(Exists(OutboundEmail.objects.filter(
                lead=OuterRef("pk"), kind=OutboundKind.STALE_CHECK, created_at__gte=OuterRef("last_activity_at"),
            )))
            .only("pk", "email", "last_activity_at")[:STALE_BATCH]
        )
        rows = []
        for lead in candidates:
            key = f"lead:{lead.pk}:stale:{lead.last_activity_at:%Y%m%d%H%M%S}"
            rows.append(OutboundEmail(
                employer=employer, lead=lead, kind=OutboundKind.STALE_CHECK, to_email=lead.email,
                template=template, scheduled_at=now, unique_key=key, message_id=message_id(key),
            ))
        # Stale checks wait for the send window anyway: the sweep sends them, no kick needed.
        created = OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
        queued += len(created)
    return queued


def stale_leads_close(*, now: dt.datetime | None = None) -> int:
    """Close as unresponsive the leads that got a stale check two weeks ago and stayed silent."""
    from leads.services.pipeline import StageMoveError, lead_move_stage

    now = now or timezone.now()
    answered_by = now - dt.timedelta(days=STALE_ANSWER_DAYS)
    silent = (
        _reachable(Lead.objects.all(), require_email=False)
        .filter(
            stage__in=STALE_STAGES,
            outbound_emails__kind=OutboundKind.STALE_CHECK,
            outbound_emails__status=OutboundStatus.SENT,
            outbound_emails__sent_at__lt=answered_by,
            # Silence since the check went out: any activity after it is an answer.
            last_activity_at__lt=F("outbound_emails__sent_at"),
        )
        .select_related("employer")
        .distinct()[:STALE_BATCH]
    )
    closed = 0
    for lead in silent:
        reason, _ = ClosedReason.objects.get_or_create(
            employer=lead.employer, label=UNRESPONSIVE_REASON, defaults={"stage": Stage.UNRESPONSIVE}
        )
        try:
            lead_move_stage(lead=lead, to_stage=Stage.UNRESPONSIVE, closed_reason=reason,
                            reason=f"No answer within {STALE_ANSWER_DAYS} days of the still-interested email")
        except StageMoveError:
            continue  # moved by a person meanwhile, or the reason was made inactive
        closed += 1
    return closed


def _reachable(leads, *, require_email: bool = True):
    query = leads.filter(erased_at__isnull=True, followups_paused=False)
    if require_email:
        query = query.filter(Q(unsubscribed_at__isnull=True) & Q(email_bounced_at__isnull=True))
    return query

