"""The dashboard at /: counts against last year, my open leads, overdue first contacts,
follow-ups due today and a funnel; scoped, and a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Stage, Task
from tests.factories import InquiryFactory, LeadFactory, OutboundEmailFactory

DASHBOARD = reverse("leads:dashboard")
TIME_ZONE = reverse("leads:time_zone")
# The dashboard, however many leads: the session, the user, the user's employers
# (recruiter_view); the inquiry counts (one query, this year and last); my open leads and their
# count; the overdue first contacts and their count; the follow-ups due today and their count;
# the funnel, one query per milestone (8); my open tasks overdue and due today (one aggregate).
DASHBOARD_QUERIES = 19
# The time-zone preference page: the session, the user, the user's employers; the zone list
# costs no query. Saving it: those 3; the preference written with update_or_create (a savepoint,
# the row looked up, a nested savepoint around the INSERT: 6 statements); the session saved (a
# savepoint around its UPDATE: 3).
TIME_ZONE_PAGE_QUERIES = 3
TIME_ZONE_SAVE_QUERIES = 12
# A Wednesday noon in Auckland.
NOW = dt.datetime(2026, 11, 11, 0, 0, tzinfo=dt.UTC)


def test_anonymous_goes_to_login(client, cast):
    assert client.get(DASHBOARD)["Location"].startswith(reverse("login"))


@time_machine.travel(NOW, tick=False)
def test_dashboard_figures(client, cast):
    cast.employer.time_zone = "Pacific/Auckland"
    cast.employer.save()
    lead = LeadFactory(employer=cast.employer, owner=cast.teammate, name="Fresh", created_at=NOW)
    InquiryFactory(lead=lead, received_at=NOW - dt.timedelta(hours=1))  # today
    InquiryFactory(lead=lead, received_at=NOW - dt.timedelta(days=1))  # this week
    InquiryFactory(lead=lead, received_at=NOW - dt.timedelta(weeks=52, hours=1))  # today, a year ago
    InquiryFactory(lead=LeadFactory(employer=cast.other_employer), received_at=NOW)  # not ours
    LeadFactory(employer=cast.employer, name="Overdue", created_at=NOW - dt.timedelta(hours=30))
    LeadFactory(employer=cast.employer, name="Contacted", stage=Stage.CONTACTED, furthest_stage=Stage.CONTACTED,
                created_at=NOW - dt.timedelta(hours=30), first_contacted_at=NOW - dt.timedelta(hours=29))
    OutboundEmailFactory(lead=lead, kind="followup", scheduled_at=NOW + dt.timedelta(hours=2))
    OutboundEmailFactory(lead=lead, kind="followup", scheduled_at=NOW + dt.timedelta(days=2))
    client.force_login(cast.teammate)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    data = response.context["data"]
    assert data["inquiries"] == {"today": 1, "week": 2, "today_last_year": 1, "week_last_year": 1}
    assert [x.name for x in data["mine"]] == ["Fresh"] and data["mine_count"].count == 1
    assert [x.name for x in data["overdue"]] == ["Overdue"]
    assert data["due_count"].count == 1
    funnel = {step["stage"]: step["reached"] for step in data["funnel"]}
    assert funnel["new"] == 3 and funnel["contacted"] == 1 and funnel["applied"] == 0
    assert "Pacific/Auckland" in response.content.decode() or "NZDT" in response.content.decode()


def test_outsider_sees_nothing_of_ours(client, cast):
    LeadFactory(employer=cast.employer, owner=cast.outsider, name="Secret")
    client.force_login(cast.outsider)
    response = client.get(DASHBOARD)
    assert "Secret" not in response.content.decode()
    assert response.context["data"]["mine_count"].count == 0


def test_dashboard_query_count_does_not_grow(client, cast, django_assert_num_queries):
    client.force_login(cast.teammate)

    def count_after_adding(n: int) -> int:
        for _ in range(n):
            lead = LeadFactory(employer=cast.employer, owner=cast.teammate)
            InquiryFactory(lead=lead)
            OutboundEmailFactory(lead=lead, kind="followup")
            Task.objects.create(employer=cast.employer, lead=lead, owner=cast.teammate, title="Call",
                                due_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
            LeadFactory(employer=cast.employer, created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        with CaptureQueriesContext(connection) as ctx:
            client.get(DASHBOARD)
        return len(ctx.captured_queries)

    assert count_after_adding(3) == count_after_adding(15)  # no query per lead, inquiry, email or task
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get(DASHBOARD).status_code == 200


def test_time_zone_preference_page_query_count(client, cast, django_assert_num_queries):
    client.force_login(cast.teammate)
    with django_assert_num_queries(TIME_ZONE_PAGE_QUERIES):
        assert client.get(TIME_ZONE).status_code == 200
    with django_assert_num_queries(TIME_ZONE_SAVE_QUERIES):
        assert client.post(TIME_ZONE, {"time_zone": "Europe/Dublin"}).status_code == 302
