"""Follow-up effectiveness against the awkward data set (tests/test_reports_dataset.py).

Sent follow-ups in 2 to 15 March, and what the lead did in the 7 days after each:
    step 1  L4 (Fri 6): replied the next day
            L7 (Sun 8, 23:45): contacted at 19:30 the next day: advanced
            L2 (Tue 3): contacted on the 4th (advanced), unsubscribed on the 5th
    step 2  L2 (Wed 4): applied on the 5th (advanced), unsubscribed on the 5th
            L9 (Sat 7): contacted two hours later (advanced); its reply came 13 days later: no
    step 3  L1 (Thu 12): withdrew on the 14th: a close is not an advance
Left out: P1's step 1 (26 Feb, before the range), L5's (cancelled, never sent), Maple's.
"""

from __future__ import annotations

import pytest

from leads.reports.followups import followup_report
from tests.test_reports_dataset import awkward_data, filters_for, frozen_clock

data = pytest.fixture(awkward_data, name="data")
frozen = pytest.fixture(frozen_clock, name="frozen")

RANGE = {"from": "2026-03-02", "to": "2026-03-15"}


def test_per_step(data, frozen):
    report = followup_report(filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **RANGE))
    assert report.tables["steps"].rows == [
        ["Kiwi Ledger", "Default follow-up", "1", "3", "1", "33.3%", "2", "66.7%", "1", "33.3%"],
        ["Kiwi Ledger", "Default follow-up", "2", "2", "0", "0.0%", "2", "100.0%", "1", "50.0%"],
        ["Kiwi Ledger", "Default follow-up", "3", "1", "0", "0.0%", "0", "0.0%", "0", "0.0%"],
    ]
    assert not report.outbox_empty and str(report.chart).startswith("<svg")


def test_outsider_sees_only_their_step(data, frozen):
    report = followup_report(filters_for(data.cast.outsider, **RANGE))
    assert [(s.sent, s.replied, s.advanced, s.unsubscribed) for s in report.steps] == [(1, 1, 1, 0)]


def test_two_employers_sequences_of_one_name_stay_apart(data, frozen):
    from leads.models import Sequence
    from tests.factories import UserFactory

    Sequence.objects.filter(employer=data.cast.other_employer).update(name="Default follow-up")
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
    both = followup_report(filters_for(boss, **RANGE))
    first_steps = [(s.employer, s.sequence, s.sent) for s in both.steps if s.position == 1]
    # Not one merged "Default follow-up · step 1" of 4 emails: one row per employer's sequence.
    assert first_steps == [("Kiwi Ledger", "Default follow-up", 3), ("Maple Games", "Default follow-up", 1)]


def test_empty_range_and_empty_outbox(client, data, cast, frozen):
    empty = followup_report(filters_for(data.cast.owner, **{"from": "2025-06-01", "to": "2025-06-30"}))
    assert empty.steps == [] and not empty.outbox_empty
    assert empty.tables["steps"].empty == "No follow-up email was sent in this range."


def test_page_says_when_the_outbox_has_no_followups(client, cast):
    client.force_login(cast.owner)
    page = client.get("/admin/reports/followups/").content.decode()
    assert "No follow-up email has been queued for these employers yet" in page
    assert "No follow-up email has been queued yet: the outbox has none for these employers." in page


def test_query_count_does_not_depend_on_the_number_of_emails(cast, django_assert_num_queries):
    from tests.test_reports_views import many_leads

    for count in (5, 45):
        many_leads(cast, count)
        filters = filters_for(cast.owner, **RANGE)
        with django_assert_num_queries(1):
            followup_report(filters)
