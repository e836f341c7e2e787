"""Reports by email: the weekly report to each employer's admins, and surge alerts.

Both are computed with the same functions as the pages under /admin/reports/, for the same
filters, so an email and the page it links to show the same figures. Both are safe to run
again: each email's outbox key names the employer, the admin and the week (or the first day
of the surge), so a rerun queues nothing twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from leads.emails import in_user_language
from leads.models import Employer, Inquiry, Membership, OutboundEmail, OutboundKind, Role
from leads.reports.filters import EmployerRef, ReportFilters
from leads.reports.funnel import LABELS, funnel_counts
from leads.reports.response import response_rows
from leads.reports.surge import TRAILING_DAYS, daily_counts, surge_start, surge_summary, trailing_average
from leads.reports.tables import DASH, pct, ratio
from leads.services.outbox import email_queue

# Surge runs are looked for this far back; a run longer than this is reported from its start
# within the window (the key still holds it to one alert per run).
_SURGE_LOOKBACK_DAYS = 60


def _ref(employer: Employer) -> EmployerRef:
    return EmployerRef(employer.pk, employer.name, employer.time_zone, employer.surge_multiple,
                       employer.response_target_hours)


def _filters(employer: Employer, start: dt.date, end: dt.date) -> ReportFilters:
    params = (("employer", str(employer.pk)), ("from", start.isoformat()), ("to", end.isoformat()))
    return ReportFilters(employers=(_ref(employer),), all_employers=False, start_date=start, end_date=end,
                         zone=zoneinfo.ZoneInfo(employer.time_zone), params=params)


def _admins(employer: Employer) -> list:
    memberships = Membership.objects.filter(
        employer=employer, role=Role.ADMIN, user__is_active=True
    ).exclude(user__email="").select_related("user").order_by("user_id")
    return [membership.user for membership in memberships]


def report_url(name: str, filters: ReportFilters) -> str:
    return f"{settings.SITE_URL}{reverse('reports:report', args=[name])}?{urlencode(dict(filters.params))}"


def last_complete_week(now: dt.datetime, zone: zoneinfo.ZoneInfo) -> tuple[dt.date, dt.date]:
    """Monday to Sunday of the last week that has ended in the employer's time zone."""
    today = now.astimezone(zone).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    return this_monday - dt.timedelta(days=7), this_monday - dt.timedelta(days=1)


# --- the weekly report --------------------------------------------------------------------


@dataclass
class WeeklyFigures:
    employer: Employer
    filters: ReportFilters
    inquiries: int
    year_before: int
    trailing_expected: float
    funnel: list[tuple[str, int, str]]  # milestone, leads reaching it, share of the week's leads
    over_target: int
    response_hours: int

    @property
    def against_year(self) -> str:
        return ratio(self.inquiries, self.year_before)

    @property
    def against_trailing(self) -> str:
        return ratio(self.inquiries, self.trailing_expected)

    @property
    def urls(self) -> dict[str, str]:
        return {name: report_url(name, self.filters) for name in ("surge", "funnel", "response")}


def weekly_figures(employer: Employer, start: dt.date, *, now: dt.datetime) -> WeeklyFigures:
    """The week's figures, as the surge, funnel and response pages show them for that week."""
    filters = _filters(employer, start, start + dt.timedelta(days=6))
    summary = surge_summary(filters)
    reached = funnel_counts(filters.leads())
    return WeeklyFigures(
        employer=employer, filters=filters, inquiries=summary.total, year_before=summary.year_before,
        trailing_expected=summary.trailing_expected,
        funnel=[(LABELS[rank], n, pct(n, reached[0]) if reached[0] else DASH) for rank, n in enumerate(reached)],
        over_target=response_rows(filters, now=now).over, response_hours=employer.response_target_hours,
    )


def weekly_reports_queue(*, now: dt.datetime | None = None) -> int:
    """Queue last week's report for every admin of every employer; returns emails queued."""
    now = now or timezone.now()
    queued = 0
    for employer in Employer.objects.order_by("pk"):
        queued += weekly_report_queue_for(employer=employer, now=now)
    return queued


def weekly_report_queue_for(*, employer: Employer, now: dt.datetime) -> int:
    admins = _admins(employer)
    start, _ = last_complete_week(now, zoneinfo.ZoneInfo(employer.time_zone))
    iso_year, iso_week, _ = start.isocalendar()
    keys = {user.pk: f"report:{employer.pk}:{user.pk}:{iso_year}-W{iso_week:02d}" for user in admins}
    done = set(OutboundEmail.objects.filter(unique_key__in=keys.values()).values_list("unique_key", flat=True))
    todo = [user for user in admins if keys[user.pk] not in done]
    if not todo:
        return 0  # a rerun: nothing to compute
    figures = weekly_figures(employer, start, now=now)
    queued = 0
    for user in todo:
        context = {"figures": figures, "user": user, "start": start, "end": start + dt.timedelta(days=6)}
        with in_user_language(user):
            values = {"employer": employer.name, "count": figures.inquiries, "start": date_format(start, "d M"),
                      "ratio": figures.against_year}
            subject = ngettext(
                "%(employer)s: %(count)s inquiry in the week of %(start)s (%(ratio)s a year before)",
                "%(employer)s: %(count)s inquiries in the week of %(start)s (%(ratio)s a year before)",
                figures.inquiries) % values
            text = render_to_string("emails/weekly_report.txt", context)
            html = render_to_string("emails/weekly_report.html", context)
            language = translation.get_language()
        _, created = email_queue(
            employer=employer, kind=OutboundKind.REPORT, unique_key=keys[user.pk], to_user=user, to_email=user.email,
            subject=subject, body_text=text, body_html=html, language=language,
        )
        queued += created
    return queued


# --- surge alerts -------------------------------------------------------------------------


def surge_alerts_queue(*, now: dt.datetime | None = None) -> int:
    """Alert each employer's admins once per surge: a run of days at or above the multiple of
    the trailing average. Looks at yesterday (complete) and today so far, in local days."""
    now = now or timezone.now()
    queued = 0
    for employer in Employer.objects.order_by("pk"):
        queued += surge_alert_queue_for(employer=employer, now=now)
    return queued


def surge_alert_queue_for(*, employer: Employer, now: dt.datetime) -> int:
    zone = zoneinfo.ZoneInfo(employer.time_zone)
    today = now.astimezone(zone).date()
    since = dt.datetime.combine(today - dt.timedelta(days=_SURGE_LOOKBACK_DAYS + TRAILING_DAYS), dt.time(), zone)
    counts = daily_counts(Inquiry.objects.filter(employer=employer).order_by(), Q(received_at__gte=since), zone)
    for day in (today - dt.timedelta(days=1), today):
        start = surge_start(counts, day, employer.surge_multiple)
        if start is not None and start >= today - dt.timedelta(days=_SURGE_LOOKBACK_DAYS):
            return _queue_alert(employer, counts, day, start, today)
    return 0


def _queue_alert(employer: Employer, counts: dict[dt.date, int], day: dt.date, start: dt.date, today: dt.date) -> int:
    trailing = trailing_average(counts, day) or 0.0
    filters = _filters(employer, start - dt.timedelta(days=TRAILING_DAYS), today)
    context = {
        "employer": employer, "day": day, "start": start, "count": counts.get(day, 0), "trailing": trailing,
        "multiple": ratio(counts.get(day, 0), trailing), "threshold": employer.surge_multiple,
        "so_far": day == today, "url": report_url("surge", filters),
    }
    queued = 0
    for user in _admins(employer):
        with in_user_language(user):
            subject = gettext("%(employer)s: inquiries surging since %(start)s (%(ratio)s the usual)") % {
                "employer": employer.name, "start": date_format(start, "D d M"), "ratio": context["multiple"]}
            body = render_to_string("emails/surge_alert.txt", {**context, "user": user})
            language = translation.get_language()
        _, created = email_queue(
            employer=employer, kind=OutboundKind.ALERT, unique_key=f"surge:{employer.pk}:{start.isoformat()}:{user.pk}",
            to_user=user, to_email=user.email, subject=subject, body_text=body, language=language,
        )
        queued += created
    return queued

