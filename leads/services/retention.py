"""Retention: each employer's leads are anonymised when the time it keeps them is up.

Three rules, each in months and 0 for never (``Employer.retain_*_months``): a closed lead is kept
so long after it closed (``stage_changed_at``), any lead so long after its last activity
(``last_activity_at``), an unsubscribed lead so long after it unsubscribed (``unsubscribed_at``).
A daily beat task (``leads.tasks.apply_retention``) erases what is due through ``lead_erase``,
a batch per employer and run, each lead in its own transaction; the stage history and the
countries stay, so reports still count the inquiry. A week before, the employer's admins hear
how many leads will go.

Safe to run twice: an erased lead no longer matches, and the warning has a unique key per admin
and day.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
import zoneinfo
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads.emails import in_user_language
from leads.models import CLOSED_STAGES, Employer, Lead, Membership, OutboundKind, Role
from leads.services.outbox import email_queue
from leads.services.privacy import lead_erase

RETENTION_BATCH = 500  # leads per employer and daily run; the rest follow on the next days
WARNING_DAYS = 7
SAMPLE_SIZE = 20
# Where the dry run is mounted (relocate/urls.py); the email links to it.
PREVIEW_PATH = "/admin/retention/"


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    setting: str  # the Employer field holding the months
    date_field: str  # the Lead field the months count from
    condition: Q


RULES: tuple[Rule, ...] = (
    Rule("closed", _("Closed"), "retain_closed_months", "stage_changed_at", Q(stage__in=sorted(CLOSED_STAGES))),
    Rule("inactive", _("No activity"), "retain_inactive_months", "last_activity_at", Q()),
    Rule("unsubscribed", _("Unsubscribed"), "retain_unsubscribed_months", "unsubscribed_at",
         Q(unsubscribed_at__isnull=False)),
)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same moment ``months`` calendar months earlier; the 31st becomes the month's last day."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def rule_due(rule: Rule, employer: Employer, at: dt.datetime) -> Q | None:
    """The leads this rule anonymises at ``at``; None when the employer keeps them for ever."""
    months = getattr(employer, rule.setting)
    if not months:
        return None
    return rule.condition & Q(**{f"{rule.date_field}__lt": months_before(at, months)})


def any_due(employer: Employer, at: dt.datetime) -> Q | None:
    conditions = [q for rule in RULES if (q := rule_due(rule, employer, at)) is not None]
    return reduce(or_, conditions) if conditions else None


def _kept(employer: Employer) -> QuerySet[Lead]:
    return Lead.objects.filter(employer=employer, erased_at__isnull=True)


# --- the dry run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionPreview:
    employer: Employer
    at: dt.datetime
    rules: list[tuple[Rule, int, int]]  # rule, its months (0: never), leads it anonymises today
    total: int  # distinct leads due today (one lead may match several rules)
    in_a_week: int  # leads that become due within the next WARNING_DAYS days
    sample: list[Lead]  # only pk, stage and the dates are loaded
    batch: int = RETENTION_BATCH


def retention_preview(*, employer: Employer, now: dt.datetime | None = None) -> RetentionPreview:
    """What the daily task would anonymise today, without changing anything: two queries."""
    now = now or timezone.now()
    due_now, due_in_a_week = any_due(employer, now), any_due(employer, now + dt.timedelta(days=WARNING_DAYS))
    if due_now is None or due_in_a_week is None:
        return RetentionPreview(employer, now, [(rule, 0, 0) for rule in RULES], 0, 0, [])
    counts = _kept(employer).aggregate(
        total=Count("pk", filter=due_now), later=Count("pk", filter=due_in_a_week),
        **{rule.name: Count("pk", filter=q) for rule in RULES if (q := rule_due(rule, employer, now)) is not None},
    )
    sample = list(
        _kept(employer).filter(due_now)
        .only("pk", "stage", "created_at", "stage_changed_at", "last_activity_at", "unsubscribed_at")
        .order_by("pk")[:SAMPLE_SIZE]
    )
    return RetentionPreview(
        employer=employer, at=now,
        rules=[(rule, getattr(employer, rule.setting), counts.get(rule.name, 0)) for rule in RULES],
        total=counts["total"], in_a_week=counts["later"] - counts["total"], sample=sample,
    )


# --- the daily run -------------------------------------------------------------------------


def retention_apply(*, employer: Employer, now: dt.datetime | None = None, limit: int = RETENTION_BATCH,
                    deadline: float | None = None) -> int:
    """Anonymise up to ``limit`` due leads of the employer, each in its own transaction (so a
    failure or a time limit loses at most one). Returns how many were erased now."""
    now = now or timezone.now()
    erased = 0
    for rule in RULES:
        due = rule_due(rule, employer, now)
        if due is None or erased >= limit:
            continue
        how = f"retention: {rule.name} {getattr(employer, rule.setting)} months"
        # Oldest first: a backlog larger than the batch is worked off in the order it fell due.
        for lead in _kept(employer).filter(due).only("pk").order_by(rule.date_field, "pk")[: limit - erased]:
            if deadline is not None and time.monotonic() > deadline:
                return erased
            # Checked again under the row lock: a lead that came back to life since is kept.
            erased += lead_erase(lead=lead, by=None, how=how, only_if=due)
    return erased


def retention_warnings_queue(*, employer: Employer, now: dt.datetime | None = None) -> int:
    """Tell the employer's admins how many leads become due in a week: those due by then but
    not a day earlier, so each lead is announced on one day only. One email per admin per local
    day (a unique key); nothing when there are none."""
    now = now or timezone.now()
    week, day_before = now + dt.timedelta(days=WARNING_DAYS), now + dt.timedelta(days=WARNING_DAYS - 1)
    due_then = any_due(employer, week)
    if due_then is None:
        return 0
    leads = _kept(employer).filter(due_then)
    if (due_earlier := any_due(employer, day_before)) is not None:
        leads = leads.exclude(due_earlier)
    counts = leads.aggregate(
        total=Count("pk"),
        **{rule.name: Count("pk", filter=q) for rule in RULES if (q := rule_due(rule, employer, week)) is not None},
    )
    if not counts["total"]:
        return 0
    local_day = now.astimezone(zoneinfo.ZoneInfo(employer.time_zone)).date()
    context = {
        "employer": employer, "count": counts["total"], "on": (week.astimezone(zoneinfo.ZoneInfo(employer.time_zone))
                                                               .date()),
        "rules": [(rule, getattr(employer, rule.setting), counts[rule.name]) for rule in RULES
                  if counts.get(rule.name)],
        "preview_url": f"{settings.SITE_URL}{PREVIEW_PATH}{employer.pk}/",
        "settings_url": f"{settings.SITE_URL}/admin/leads/employer/{employer.pk}/change/",
    }
    queued = 0
    for membership in (Membership.objects.filter(employer=employer, role=Role.ADMIN, user__is_active=True)
                       .exclude(user__email="").select_related("user")):
        with in_user_language(membership.user):
            subject = gettext("%(employer)s: %(count)s lead(s) will be anonymised on %(on)s") % {
                "employer": employer.name, "count": counts["total"], "on": date_format(context["on"], "d M Y")}
            body = render_to_string("emails/retention_warning.txt", context)
            language = translation.get_language()
        _, created = email_queue(
            employer=employer, kind=OutboundKind.NOTIFICATION,
            unique_key=f"retention:{employer.pk}:{membership.user_id}:{local_day.isoformat()}",
            to_user=membership.user, to_email=membership.user.email, subject=subject, body_text=body,
            language=language,
        )
        queued += created
    return queued


def retention_run(*, now: dt.datetime | None = None, budget_seconds: float | None = None) -> dict[str, int]:
    """Every employer that keeps leads for a limited time: this week's warning, today's batch."""
    now = now or timezone.now()
    deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
    totals = {"warned": 0, "anonymised": 0}
    limited = Q(retain_closed_months__gt=0) | Q(retain_inactive_months__gt=0) | Q(retain_unsubscribed_months__gt=0)
    for employer in Employer.objects.filter(limited).order_by("pk"):
        if deadline is not None and time.monotonic() > deadline:
            break  # the rest are done tomorrow; nothing is lost but a day
        totals["warned"] += retention_warnings_queue(employer=employer, now=now)
        totals["anonymised"] += retention_apply(employer=employer, now=now, deadline=deadline)
    return totals
