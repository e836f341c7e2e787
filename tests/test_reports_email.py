"""The weekly report email: the same figures as the pages, to each employer's admins, once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.apps import apps as django_apps
from django_celery_beat.models import PeriodicTask

from leads.models import OutboundEmail, OutboundKind
from leads.reports.funnel import funnel_report
from leads.reports.response import response_report
from leads.reports.surge import surge_report
from leads.schedules import install
from leads.services.reporting import last_complete_week, weekly_reports_queue
from leads.tasks import queue_weekly_reports
from tests.test_reports_dataset import NZ, WEEK, awkward_data, filters_for

data = pytest.fixture(awkward_data, name="data")

MONDAY_7_UTC = dt.datetime(2026, 3, 9, 7, tzinfo=dt.UTC)  # 20:00 in Auckland, 03:00 in Toronto


def reports() -> dict[str, OutboundEmail]:
    return {row.to_user.username: row for row in OutboundEmail.objects.filter(kind=OutboundKind.REPORT)}


def test_weekly_report_has_the_figures_of_the_pages(data):
    with time_machine.travel(MONDAY_7_UTC, tick=False):
        assert weekly_reports_queue() == 2  # Kiwi's admin (owner) and Maple's (outsider)
        filters = filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **WEEK)
        funnel, surge = funnel_report(filters), surge_report(filters)
        response = response_report(filters)
    email = reports()["owner"]
    assert email.unique_key == f"report:{data.cast.employer.pk}:{data.cast.owner.pk}:2026-W10"
    assert email.subject == "Kiwi Ledger: 21 inquiries in the week of 02 Mar (×7.00 a year before)"
    text, html = email.body_text, email.body_html
    assert f"Inquiries: {surge.summary.total}" in text and "same days a year before: 3 (×7.00)" in text
    assert "would expect: 15.6 (×1.34)" in text
    for step in funnel.steps:  # 9 7 6 6 5 4 4 2, with shares of the 9
        assert f"{step.label:<14} {step.reached:>7}  {funnel.tables['funnel'].rows[funnel.steps.index(step)][2]}" \
            in text
        assert f"<td>{step.label}</td><td align=\"right\">{step.reached}</td>" in html
    over = response.overall.over
    assert over == 2 and f"still waiting): {over}" in text and f"(24 h): {over}</h3>" in html
    assert "/admin/reports/funnel/?employer=" in text and "from=2026-03-02&to=2026-03-08" in text
    assert "Maple" not in text and "Maple" not in html


def test_each_admin_gets_their_own_employers_report_once(data):
    with time_machine.travel(MONDAY_7_UTC, tick=False):
        weekly_reports_queue()
        assert queue_weekly_reports() == 0  # the task, run again: nothing twice
    maple = reports()["outsider"]
    assert maple.subject.startswith("Maple Games: 20 inquiries") and "Kiwi" not in maple.body_text
    assert "teammate" not in reports()  # recruiters get digests, not the report


def test_last_complete_week_is_local():
    assert last_complete_week(MONDAY_7_UTC, NZ) == (dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    sunday_night_in_honolulu = dt.datetime(2026, 3, 9, 7, tzinfo=dt.UTC)  # Sunday 21:00 there
    from zoneinfo import ZoneInfo

    assert last_complete_week(sunday_night_in_honolulu, ZoneInfo("Pacific/Honolulu")) == (
        dt.date(2026, 2, 23), dt.date(2026, 3, 1))


def test_schedules_are_installed_with_a_weekly_crontab(db):
    install(django_apps)
    install(django_apps)  # idempotent, as every migration calls it
    weekly = PeriodicTask.objects.get(name="Weekly reports")
    assert weekly.task == "leads.tasks.queue_weekly_reports" and weekly.interval is None
    crontab = weekly.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == ("0", "7", "1", "UTC")
    surge = PeriodicTask.objects.get(name="Surge alerts")
    assert surge.task == "leads.tasks.check_surges" and surge.interval.every == 3600
    assert PeriodicTask.objects.filter(name="Worker heartbeat", interval__every=60).exists()
