"""The response report against the awkward data set (tests/test_reports_dataset.py), by hand."""

from __future__ import annotations

import pytest

from leads.reports.response import response_report
from tests.test_reports_dataset import NOW, WEEK, awkward_data, filters_for, frozen_clock

data = pytest.fixture(awkward_data, name="data")
frozen = pytest.fixture(frozen_clock, name="frozen")

H = 3600


def kiwi(data, **params):
    return filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **{**WEEK, **params})


def test_overall(data, frozen):
    report = response_report(kiwi(data), now=NOW)
    o = report.overall
    # Contacted after 1 (L3), 1 (L10), 2 (L1), 4 (L5, declined: the first move out of new),
    # 5 (L9), 10 (L8), 20 (L7) and 30 hours (L2); L4 never. Median (4 + 5) / 2; the 90th
    # percentile at position 1 + 0.9 x 7 = 7.3: 20 + 0.3 x (30 - 20) = 23 h.
    assert (o.leads, o.contacted) == (9, 8)
    assert o.median == pytest.approx(4.5 * H) and o.p90 == pytest.approx(23 * H)
    assert (o.within, o.over) == (7, 2)  # late: L2 (30 h) and L4 (still waiting)
    assert report.tables["recruiters"].rows[0] == ["All leads", "9", "8", "4.5", "23.0", "7", "77.8%", "2", "1"]


def test_by_recruiter(data, frozen):
    rows = response_report(kiwi(data), now=NOW).tables["recruiters"].rows[1:]
    # Tama: L1 2h, L2 30h, L7 20h, L9 5h, L4 never: median 12.5, p90 20 + 0.7 x 10.
    # Olive: L3 1h, L5 4h, L8 10h, L10 1h: median 2.5, p90 4 + 0.7 x 6.
    assert rows == [
        ["Tama Mate", "5", "4", "12.5", "27.0", "3", "60.0%", "2", "1"],
        ["Olive Owner", "4", "4", "2.5", "8.2", "4", "100.0%", "0", "0"],
    ]


def test_by_week_and_empty_weeks(data, frozen):
    report = response_report(kiwi(data, **{"from": "2026-02-23"}), now=NOW)
    rows = report.tables["weeks"].rows
    assert rows[0] == ["2026-02-23", "2", "1", "3.0", "3.0", "1", "50.0%", "1", "1"]  # P1 3h; P2 still waiting
    assert rows[1] == ["2026-03-02", "9", "8", "4.5", "23.0", "7", "77.8%", "2", "1"]
    empty = response_report(kiwi(data, **{"from": "2025-06-02", "to": "2025-06-08"}), now=NOW)
    assert empty.tables["weeks"].rows == [["2025-06-02", "0", "0", "—", "—", "0", "—", "0", "0"]]
    assert empty.tables["recruiters"].rows == [["All leads", "0", "0", "—", "—", "0", "—", "0", "0"]]


def test_a_lead_still_inside_its_target_is_neither_in_time_nor_late(data):
    from tests.test_reports_dataset import nz

    # At 10:00 on Tuesday 10 March, L6 (Monday 00:30, contacted at 01:30) is in time; a lead
    # from an hour ago would be waiting. Nothing else of the week changes.
    report = response_report(kiwi(data, **{"from": "2026-03-09", "to": "2026-03-10"}), now=nz(3, 10, 10))
    assert (report.overall.within, report.overall.over, report.overall.leads) == (1, 0, 1)


def test_outsider(data, frozen):
    report = response_report(filters_for(data.cast.outsider, **WEEK), now=NOW)
    assert report.overall.leads == 2 and [row.label for row in report.by_owner] == [
        data.cast.outsider.get_full_name() or "outsider"]


def test_query_count_does_not_depend_on_the_number_of_leads(cast, django_assert_num_queries):
    from tests.test_reports_views import many_leads

    for count in (5, 45):
        many_leads(cast, count)
        filters = filters_for(cast.owner, **WEEK)
        with django_assert_num_queries(2):  # overall, by recruiter and by week in one; their names
            response_report(filters)
