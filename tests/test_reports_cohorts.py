"""The cohort report against the awkward data set (tests/test_reports_dataset.py), by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from leads.reports.cohorts import cohort_report
from tests.test_reports_dataset import awkward_data, filters_for, frozen_clock

data = pytest.fixture(awkward_data, name="data")
frozen = pytest.fixture(frozen_clock, name="frozen")

TWO_WEEKS = {"from": "2026-02-23", "to": "2026-03-08"}


def kiwi(data, **params):
    return filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **{**TWO_WEEKS, **params})


def test_weekly_cohorts(data, frozen):
    report = cohort_report(kiwi(data))
    assert [c.start for c in report.cohorts] == [dt.date(2026, 2, 23), dt.date(2026, 3, 2)]
    # Week of 23 Feb: P1 (contacted) and P2 (Sunday 23:00 local: still that week). Week of 2 March:
    # L1 L2 L3 L4 L5 L7 L8 L9 L10 (L7 on Sunday 23:30 local, L6 on the next Monday 00:30).
    assert report.tables["cohorts"].rows == [
        ["2026-02-23 (week 09)", "2", "50.0%", "0.0%", "0.0%", "0.0%", "0.0%", "0.0%", "0.0%"],
        ["2026-03-02 (week 10)", "9", "77.8%", "66.7%", "66.7%", "55.6%", "44.4%", "44.4%", "22.2%"],
    ]


def test_time_in_visa(data, frozen):
    # Entered visa: L3 (13 days, to relocated), L9 (4 days, then "visa refused"), L10 (still
    # waiting). L8 relocated without a visa stage. Median of those who left: 8.5 days.
    rows = cohort_report(kiwi(data)).tables["visa"].rows
    assert rows == [
        ["2026-02-23 (week 09)", "0", "0", "—", "0"],
        ["2026-03-02 (week 10)", "3", "2", "8.5", "1"],
    ]


def test_closed_reasons(data, frozen):
    table = cohort_report(kiwi(data)).tables["closed"]
    # L1 withdrew after an offer, L5 was declined from new, L9's visa was refused.
    assert table.columns == ["Week", "Closed", "Not a fit", "Took another offer", "Visa refused"]
    assert table.rows == [
        ["2026-02-23 (week 09)", "0", "0", "0", "0"],
        ["2026-03-02 (week 10)", "3", "1", "1", "1"],
    ]


def test_monthly_cohorts(data, frozen):
    report = cohort_report(kiwi(data, period="month", **{"from": "2026-02-01", "to": "2026-03-31"}))
    # February: P1 only (P2 is 1 March local). March: the nine of the week, L6, and P2.
    assert report.tables["cohorts"].rows == [
        ["2026-02", "1", "100.0%", "0.0%", "0.0%", "0.0%", "0.0%", "0.0%", "0.0%"],
        ["2026-03", "11", "72.7%", "54.5%", "54.5%", "45.5%", "36.4%", "36.4%", "18.2%"],
    ]


def test_other_employer_and_empty_range(data, frozen):
    maple = cohort_report(filters_for(data.cast.outsider, **TWO_WEEKS))
    assert [c.leads for c in maple.cohorts] == [0, 2]
    assert maple.reasons == []
    empty = cohort_report(kiwi(data, **{"from": "2025-06-02", "to": "2025-06-08"}))
    assert empty.tables["cohorts"].rows == [["2025-06-02 (week 23)", "0", *["—"] * 7]]


def test_query_count_does_not_depend_on_the_number_of_leads(cast, django_assert_num_queries):
    from tests.test_reports_views import many_leads

    for count in (5, 45):
        many_leads(cast, count)
        filters = filters_for(cast.owner, **TWO_WEEKS)
        with django_assert_num_queries(3):
            cohort_report(filters)
