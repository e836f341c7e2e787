"""The funnel report against the awkward data set (tests/test_reports_dataset.py), by hand."""

from __future__ import annotations

import pytest
from django.http import Http404

from leads.reports.funnel import breakdown_table, funnel_report, step_medians
from tests.test_reports_dataset import WEEK, awkward_data, filters_for, frozen_clock

data = pytest.fixture(awkward_data, name="data")
frozen = pytest.fixture(frozen_clock, name="frozen")

H = 3600


def kiwi(data, **params):
    return filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **{**WEEK, **params})


def test_counts_every_milestone_up_to_the_furthest_reached(data, frozen):
    report = funnel_report(kiwi(data))
    # L1 L2 L3 L4 L5 L7 L8 L9 L10: L5 is in (00:30 local, Sunday in UTC), L6 out (Monday local).
    # Contacted: all but L4 (never) and L5 (declined from new). L1 skipped applied: counts.
    # Offer: L1 (then withdrew), L3, L8, L9 (then withdrew), L10. Visa: L8 skipped it (work rights).
    assert [s.reached for s in report.steps] == [9, 7, 6, 6, 5, 4, 4, 2]
    assert [s.previous for s in report.steps] == [2, 1, 0, 0, 0, 0, 0, 0]  # P1 contacted, P2 not


def test_median_time_between_milestones_from_first_reach_times(data, frozen):
    # new→contacted over L1 2h, L2 30h, L3 1h, L7 20h, L8 10h, L9 5h, L10 1h: 5 h.
    # contacted→applied: L1 70h (applied reached with interviewing at 3 d), L2 18h, L3 23h, L8 14h,
    #   L9 19h, L10 23h: (19 + 23) / 2 = 21 h.
    # applied→interviewing: L1 0 (skipped), L2 72h, L3 48h, L8/L9/L10 24h: 24 h. The later
    #   backwards move of L2 changes nothing: first reach times only.
    # interviewing→offer: L1 168h, L3 48h, L8/L9/L10 24h: 24 h. offer→hired, hired→visa: 24 h
    #   (L8 reaches visa when it relocates at 10 d: 144 h, the odd one out).
    # visa→relocated: L3 312 h, L8 0 (skipped visa): 156 h.
    assert step_medians(kiwi(data)) == pytest.approx(
        [None, 5 * H, 21 * H, 24 * H, 24 * H, 24 * H, 24 * H, 156 * H]
    )


def test_funnel_table(data, frozen):
    table = funnel_report(kiwi(data)).tables["funnel"]
    assert table.rows == [
        ["New", "9", "100.0%", "", "", "2", "▲ 350.0%"],
        ["Contacted", "7", "77.8%", "77.8%", "0.2", "1", "▲ 600.0%"],
        ["Applied", "6", "66.7%", "85.7%", "0.9", "0", "—"],
        ["Interviewing", "6", "66.7%", "100.0%", "1.0", "0", "—"],
        ["Offer", "5", "55.6%", "83.3%", "1.0", "0", "—"],
        ["Hired", "4", "44.4%", "80.0%", "1.0", "0", "—"],
        ["Visa lodged", "4", "44.4%", "100.0%", "1.0", "0", "—"],
        ["Relocated", "2", "22.2%", "50.0%", "6.5", "0", "—"],
    ]


@pytest.mark.parametrize(("by", "expected"), [
    ("source", [
        ["Web form", "6", "5", "4", "4", "4", "3", "3", "1", "66.7%", "50.0%", "16.7%"],
        ["Referral", "2", "2", "2", "2", "1", "1", "1", "1", "100.0%", "50.0%", "50.0%"],
        ["Email", "1", "0", "0", "0", "0", "0", "0", "0", "0.0%", "0.0%", "0.0%"],
    ]),
    ("citizenship", [  # L3 holds two citizenships and counts under both; L4 gave none
        ["United States of America", "6", "5", "4", "4", "4", "3", "3", "1", "66.7%", "50.0%", "16.7%"],
        ["Canada", "1", "1", "1", "1", "1", "1", "1", "1", "100.0%", "100.0%", "100.0%"],
        ["New Zealand", "1", "1", "1", "1", "1", "1", "1", "1", "100.0%", "100.0%", "100.0%"],
        ["Not given", "1", "0", "0", "0", "0", "0", "0", "0", "0.0%", "0.0%", "0.0%"],
        ["United Kingdom", "1", "1", "1", "1", "0", "0", "0", "0", "100.0%", "0.0%", "0.0%"],
    ]),
    ("owner", [
        ["Tama Mate", "5", "4", "3", "3", "2", "1", "1", "0", "60.0%", "20.0%", "0.0%"],
        ["Olive Owner", "4", "3", "3", "3", "3", "3", "3", "2", "75.0%", "75.0%", "50.0%"],
    ]),
    ("opening", [
        ["No opening", "5", "3", "2", "2", "1", "1", "1", "0", "40.0%", "20.0%", "0.0%"],
        ['=HYPERLINK("x") Engineer', "3", "3", "3", "3", "3", "2", "2", "1", "100.0%", "66.7%", "33.3%"],
        ["Designer", "1", "1", "1", "1", "1", "1", "1", "1", "100.0%", "100.0%", "100.0%"],
    ]),
    ("sponsorship", [["Not given", "9", "7", "6", "6", "5", "4", "4", "2", "66.7%", "44.4%", "22.2%"]]),
])
def test_breakdowns(data, frozen, by, expected):
    assert breakdown_table(kiwi(data, by=by)).rows == expected


def test_filters_narrow_the_cohort(data, frozen):
    referral = [s.reached for s in funnel_report(kiwi(data, source="referral")).steps]
    assert referral == [2, 2, 2, 2, 1, 1, 1, 1]  # L2, L8
    assert [s.reached for s in funnel_report(kiwi(data, country="gb")).steps] == referral
    opening = data.leads["L1"].opening_id
    assert [s.reached for s in funnel_report(kiwi(data, opening=str(opening))).steps] == [3, 3, 3, 3, 3, 2, 2, 1]


def test_outsider_sees_only_their_employer(data, frozen):
    report = funnel_report(filters_for(data.cast.outsider, **WEEK))
    assert [s.reached for s in report.steps] == [2, 2, 1, 1, 1, 1, 1, 1]  # M1 and M2, in Toronto time
    with pytest.raises(Http404):
        filters_for(data.cast.outsider, employer=str(data.cast.employer.pk), **WEEK)
    with pytest.raises(Http404):  # an opening of another employer
        filters_for(data.cast.outsider, opening=str(data.leads["L1"].opening_id), **WEEK)


def test_an_empty_range(data, frozen):
    report = funnel_report(kiwi(data, **{"from": "2025-06-01", "to": "2025-06-07"}))
    assert [s.reached for s in report.steps] == [0] * 8
    assert report.tables["funnel"].rows[1] == ["Contacted", "0", "—", "—", "—", "0", "—"]
    assert report.breakdown.rows == []


@pytest.mark.parametrize("count", [5, 50])
def test_query_count_does_not_depend_on_the_number_of_leads(cast, django_assert_num_queries, count):
    from tests.test_reports_views import many_leads

    many_leads(cast, count)
    filters = filters_for(cast.owner, employer=str(cast.employer.pk), **WEEK)
    # counts, previous period, medians, breakdown
    with django_assert_num_queries(4):
        funnel_report(filters)
