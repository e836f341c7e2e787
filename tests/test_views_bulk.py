"""Bulk actions on ticked leads and the CSV export: limited to the user's employer."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Activity, Lead, OutboundStatus, Stage
from tests.factories import ClosedReasonFactory, LeadFactory, OutboundEmailFactory

BULK = reverse("leads:bulk_action")
EXPORT = reverse("leads:export_csv")
# A bulk assign, however many leads are ticked: the session, the user, the user's employers
# (recruiter_view); the owners to choose from; the new owner; the ticked leads (one query); the
# new owner's memberships (the service's check); in a savepoint one UPDATE of the leads and one
# INSERT of their activities.
BULK_ASSIGN_QUERIES = 11
# The CSV export, however many rows: the session, the user, the user's employers, the owners of
# the filter form, the leads read through one server-side cursor, and once the last row is sent
# the audit row (one INSERT per employer exported from: one here).
EXPORT_QUERIES = 6


@pytest.fixture
def leads(cast):
    return LeadFactory.create_batch(3, employer=cast.employer)


def ids(rows) -> list[int]:
    return [row.pk for row in rows]


def test_bulk_assign_only_touches_own_employers_leads(client, cast, leads):
    theirs = LeadFactory(employer=cast.other_employer)
    client.force_login(cast.teammate)
    response = client.post(BULK, {"action": "assign", "owner": cast.owner.pk, "ids": [*ids(leads), theirs.pk]})
    assert response.status_code == 302
    assert set(Lead.objects.filter(owner=cast.owner).values_list("pk", flat=True)) == set(ids(leads))
    theirs.refresh_from_db()
    assert theirs.owner is None
    assert Activity.objects.filter(lead__in=leads, summary__contains="(bulk)").count() == 3


def test_bulk_assign_query_count_does_not_grow(client, cast, django_assert_num_queries):
    client.force_login(cast.teammate)

    def count_for(n: int) -> int:
        rows = LeadFactory.create_batch(n, employer=cast.employer)
        with CaptureQueriesContext(connection) as ctx:
            client.post(BULK, {"action": "assign", "owner": cast.owner.pk, "ids": ids(rows)})
        return len(ctx.captured_queries)

    assert count_for(3) == count_for(30)  # no query per lead
    rows = LeadFactory.create_batch(5, employer=cast.employer)
    with django_assert_num_queries(BULK_ASSIGN_QUERIES):
        assert client.post(BULK, {"action": "assign", "owner": cast.teammate.pk, "ids": ids(rows)}).status_code == 302


def test_export_query_count_does_not_grow(client, cast, django_assert_num_queries):
    client.force_login(cast.teammate)

    def count_for(n: int) -> int:
        LeadFactory.create_batch(n, employer=cast.employer, owner=cast.owner)
        with CaptureQueriesContext(connection) as ctx:
            rows = list(csv.reader(io.StringIO(b"".join(client.get(EXPORT).streaming_content).decode())))
        assert len(rows) > n
        return len(ctx.captured_queries)

    assert count_for(3) == count_for(30)  # no query per row
    with django_assert_num_queries(EXPORT_QUERIES):
        b"".join(client.get(EXPORT).streaming_content)


def test_bulk_assign_to_an_outsider_is_refused(client, cast, leads):
    client.force_login(cast.teammate)
    response = client.post(BULK, {"action": "assign", "owner": cast.outsider.pk, "ids": ids(leads)}, follow=True)
    assert not Lead.objects.filter(owner__isnull=False).exists()
    assert any("valid choice" in str(m) or "member" in str(m) for m in response.context["messages"])


def test_bulk_move_reports_refusals(client, cast, leads):
    Lead.objects.filter(pk=leads[0].pk).update(stage=Stage.APPLIED, furthest_stage=Stage.APPLIED)
    client.force_login(cast.teammate)
    response = client.post(BULK, {"action": "move", "to_stage": "contacted", "ids": ids(leads)}, follow=True)
    stages = dict(Lead.objects.values_list("pk", "stage"))
    assert stages[leads[0].pk] == Stage.APPLIED  # moving back needs a reason
    assert stages[leads[1].pk] == stages[leads[2].pk] == Stage.CONTACTED
    assert any("needs a reason" in str(m) for m in response.context["messages"])


def test_bulk_close_with_reason(client, cast, leads):
    reason = ClosedReasonFactory(employer=cast.employer)
    client.force_login(cast.teammate)
    client.post(BULK, {"action": "move", "to_stage": "declined", "closed_reason": reason.pk, "ids": ids(leads)})
    assert set(Lead.objects.values_list("stage", flat=True)) == {Stage.DECLINED}


def test_bulk_pause(client, cast, leads):
    email = OutboundEmailFactory(lead=leads[0], kind="followup")
    client.force_login(cast.teammate)
    client.post(BULK, {"action": "pause", "ids": ids(leads)})
    assert Lead.objects.filter(followups_paused=True).count() == 3
    email.refresh_from_db()
    assert email.status == OutboundStatus.CANCELLED


@pytest.mark.parametrize("data", [{}, {"action": "assign"}, {"action": "explode", "ids": [1]},
                                  {"action": "move", "ids": [1]}, {"action": "assign", "ids": ["x", "y"]},
                                  {"action": "assign", "ids": [str(n) for n in range(600)]},
                                  {"action": "move", "to_stage": "nowhere", "ids": [1]}])
def test_bulk_bad_input_changes_nothing(client, cast, leads, data):
    client.force_login(cast.teammate)
    response = client.post(BULK, data, follow=True)
    assert response.status_code == 200
    assert list(response.context["messages"])
    assert set(Lead.objects.values_list("stage", flat=True)) == {Stage.NEW}
    assert not Lead.objects.filter(owner__isnull=False).exists()


def test_bulk_export_selection_and_csv_injection(client, cast, leads):
    Lead.objects.filter(pk=leads[0].pk).update(name="=HYPERLINK(\"http://evil\")")
    theirs = LeadFactory(employer=cast.other_employer, name="Theirs")
    client.force_login(cast.teammate)
    response = client.post(BULK, {"action": "export", "ids": [leads[0].pk, theirs.pk]})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    assert rows[1][1].startswith("'=HYPERLINK")


def test_export_of_filtered_list(client, cast, leads):
    LeadFactory(employer=cast.employer, name="Zed Contacted", stage=Stage.CONTACTED)
    LeadFactory(employer=cast.other_employer, name="Theirs")
    client.force_login(cast.teammate)
    response = client.get(f"{EXPORT}?stage=contacted")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[1] for row in rows[1:]] == ["Zed Contacted"]
    client.force_login(cast.outsider)
    body = b"".join(client.get(EXPORT).streaming_content).decode()
    assert "Zed" not in body and "Theirs" in body


def test_bulk_requires_post_and_login(client, cast):
    assert client.get(BULK).status_code in (302, 405)
    client.force_login(cast.teammate)
    assert client.get(BULK).status_code == 405
