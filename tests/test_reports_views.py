"""The report pages under /admin/reports/: who may see them, bad input, CSV = table, query counts."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import ActivityKind, OutboundKind, OutboundStatus, Role, Stage, StageEvent
from leads.reports.csv import neutralise
from tests.factories import (
    ActivityFactory,
    CitizenshipFactory,
    InquiryFactory,
    LeadFactory,
    MarkedEventFactory,
    MembershipFactory,
    OutboundEmailFactory,
    SequenceFactory,
    SequenceStepFactory,
    UserFactory,
)
from tests.test_reports_dataset import WEEK, awkward_data, frozen_clock, nz

data = pytest.fixture(awkward_data, name="data")
frozen = pytest.fixture(frozen_clock, name="frozen")

REPORTS = ["funnel", "cohorts", "surge", "response", "followups"]
TABLES = {
    "funnel": ["funnel", "breakdown"], "cohorts": ["cohorts", "visa", "closed"], "surge": ["days", "countries"],
    "response": ["recruiters", "weeks"], "followups": ["steps"],
}


# Every report page starts with 7 queries: the session, the user, the employers the user is an
# admin of, the user's and the groups' permissions (the admin's has_permission), the user's
# memberships and admin memberships (the filter form's employers). Then the report's own, and
# the openings of the filter form:
REPORT_QUERIES = {
    "funnel": 12,  # reached per stage, the previous period's, the stage events, the breakdown
    "cohorts": 11,  # the cohorts, their stage events, the visa and closed breakdowns
    "surge": 11,  # inquiries per day (with the year before), marked events, per country
    "response": 10,  # first contact per recruiter and week in one query, the recruiters' names
    "followups": 9,  # the steps with their replies, in one query
}
# The index: those 7 only.
REPORTS_INDEX_QUERIES = 7


def url(name: str) -> str:
    return reverse("reports:report", args=[name])


def many_leads(cast, count: int) -> None:
    """``count`` leads in the week with histories, inquiries, citizenships and sent follow-ups."""
    step = SequenceStepFactory(sequence=SequenceFactory(employer=cast.employer), position=1)
    for i in range(count):
        created = nz(3, 2 + i % 7, 9)
        lead = LeadFactory(employer=cast.employer, created_at=created, owner=cast.teammate if i % 2 else cast.owner,
                           stage=Stage.APPLIED if i % 3 else Stage.VISA, furthest_stage=Stage.APPLIED if i % 3 else
                           Stage.VISA, first_contacted_at=created + dt.timedelta(hours=i % 30))
        StageEvent.objects.bulk_create([
            StageEvent(employer=cast.employer, lead=lead, from_stage="", to_stage=Stage.NEW, at=created),
            StageEvent(employer=cast.employer, lead=lead, from_stage=Stage.NEW, to_stage=Stage.CONTACTED,
                       at=lead.first_contacted_at),
            StageEvent(employer=cast.employer, lead=lead, from_stage=Stage.CONTACTED, to_stage=lead.stage,
                       at=created + dt.timedelta(days=1)),
        ])
        CitizenshipFactory(lead=lead, country="US")
        InquiryFactory(lead=lead, received_at=created, country="US" if i % 2 else "GB")
        OutboundEmailFactory(lead=lead, kind=OutboundKind.FOLLOWUP, step=step, status=OutboundStatus.SENT,
                             sent_at=created + dt.timedelta(days=2))
        ActivityFactory(lead=lead, kind=ActivityKind.REPLY, at=created + dt.timedelta(days=3))
    MarkedEventFactory(employer=cast.employer, date=dt.date(2026, 3, 4))


def table_cells(page: str, key: str) -> list[list[str]]:
    """The header and rows of the table of one section, as the person reads them."""
    section = re.search(rf'<section class="report-section" id="table-{key}">(.*?)</section>', page, re.S)
    assert section, f"no table {key}"
    rows = re.findall(r"<tr>(.*?)</tr>", section.group(1), re.S)
    return [[html.unescape(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in rows]


def csv_cells(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_anonymous_and_recruiters_go_to_the_admin_login(client, cast, name):
    response = client.get(url(name))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    client.force_login(cast.teammate)  # a recruiter, not staff
    response = client.get(url(name))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_staff_who_are_nobodys_admin_are_refused(client, cast):
    staff = UserFactory(username="staff-recruiter", is_staff=True)
    MembershipFactory(user=staff, employer=cast.employer, role=Role.RECRUITER)
    client.force_login(staff)
    assert client.get(url("funnel")).status_code == 403
    assert client.get(reverse("reports:index")).status_code == 403


@pytest.mark.parametrize("name", REPORTS)
def test_outsider_gets_404_for_another_employer(client, data, frozen, name):
    client.force_login(data.cast.outsider)
    assert client.get(url(name), {"employer": data.cast.employer.pk}).status_code == 404
    assert client.get(url(name), {"opening": data.leads["L1"].opening_id}).status_code == 404
    own = client.get(url(name), {**WEEK})
    assert own.status_code == 200
    page = own.content.decode()
    assert "Kiwi Ledger" not in page and "Olive" not in page and "Tama" not in page
    assert "US election" not in page


def test_outsider_counts_only_their_own_leads(client, data, frozen):
    client.force_login(data.cast.outsider)
    response = client.get(url("funnel"), WEEK)
    assert [s.reached for s in response.context["report"].steps] == [2, 2, 1, 1, 1, 1, 1, 1]
    surge = client.get(url("surge"), WEEK).context["report"]
    assert surge.summary.total == 20  # Maple's own 20 inquiries on 3 March, none of Kiwi's


def test_superuser_picks_any_employer_or_all(client, data, frozen):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    every = client.get(url("funnel"), WEEK).context["report"]
    assert every.filters.all_employers and every.total == 10  # the week in UTC, both employers
    maple = client.get(url("funnel"), {**WEEK, "employer": data.cast.other_employer.pk}).context["report"]
    assert maple.total == 2
    assert client.get(url("funnel"), {"employer": 987654}).status_code == 404


def test_admin_index_links_to_the_reports(client, cast):
    client.force_login(cast.owner)
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("reports:index") in page and url("funnel") in page and url("surge") in page
    index = client.get(reverse("reports:index"))
    assert index.status_code == 200 and "Kiwi Ledger" in index.content.decode()


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"from": "yesterday"}, {"to": "2026-02-30"}, {"from": "2026-03-09", "to": "2026-03-01"},
    {"from": "2020-01-01", "to": "2026-01-01"}, {"employer": "abc"}, {"employer": "-3"},
    {"employer": "99999999999999999999999"}, {"opening": "1.5"}, {"source": "carrier-pigeon"},
    {"country": "ZZ"}, {"country": "USA"}, {"by": "star-sign"}, {"period": "fortnight"},
    {"from": "0001-01-01"}, {"from": "9999-12-31"},
])
@pytest.mark.parametrize("name", REPORTS)
def test_bad_filters_are_explained_not_500(client, cast, name, params):
    client.force_login(cast.owner)
    response = client.get(url(name), params)
    assert response.status_code == 400
    page = response.content.decode()
    assert "correct the filters" in page and 'class="errorlist' in page
    assert client.get(url(name), {**params, "export": TABLES[name][0]}).status_code == 400


@pytest.mark.parametrize("name", REPORTS)
def test_a_nul_in_the_query_string_is_400_before_any_report_runs(client, cast, name):
    client.force_login(cast.owner)
    response = client.get(url(name), {"to": "\x00"})
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_an_unknown_report_or_table_is_404(client, cast):
    client.force_login(cast.owner)
    assert client.get(url("horoscope")).status_code == 404
    assert client.get(url("funnel"), {"export": "nope"}).status_code == 404


def test_post_is_refused(client, cast):
    client.force_login(cast.owner)
    assert client.post(url("funnel")).status_code == 405


# --- CSV matches the table -----------------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_csv_export_matches_the_table(client, data, frozen, name):
    client.force_login(data.cast.owner)
    params = {**WEEK, "by": "opening"} if name == "funnel" else WEEK
    page = client.get(url(name), params).content.decode()
    for key in TABLES[name]:
        response = client.get(url(name), {**params, "export": key})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert f"{name}-{key}.csv" in response["Content-Disposition"]
        shown = table_cells(page, key)
        assert csv_cells(response) == [[neutralise(cell) for cell in row] for row in shown]
        assert len(shown) > 1, f"{name}/{key} has no rows in the data set"


def test_csv_neutralises_formulas(client, data, frozen):
    client.force_login(data.cast.owner)
    response = client.get(url("funnel"), {**WEEK, "by": "opening", "export": "breakdown"})
    cells = [row[0] for row in csv_cells(response)]
    assert "'=HYPERLINK(\"x\") Engineer" in cells
    for cell in ("=1+1", "+1+1", "-1+A1", "+A1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    # A signed number alone runs nothing (a phone number, a change): it stays a number.
    for cell in ("+64211234567", "-3", "+1.5"):
        assert neutralise(cell) == cell
    assert neutralise("▲ 12.0%") == "▲ 12.0%" and neutralise("1.5") == "1.5"


# --- query counts ---------------------------------------------------------------------------


def _queries(client, name: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(name), WEEK).status_code == 200
    return len(queries)


@pytest.mark.parametrize("name", REPORTS)
def test_page_query_count_does_not_grow_with_leads(client, cast, name, django_assert_num_queries):
    client.force_login(cast.owner)
    many_leads(cast, 5)
    few = _queries(client, name)
    many_leads(cast, 45)
    assert _queries(client, name) == few
    with django_assert_num_queries(REPORT_QUERIES[name]):
        assert client.get(url(name), WEEK).status_code == 200


def test_index_query_count(client, cast, django_assert_num_queries):
    client.force_login(cast.owner)
    with django_assert_num_queries(REPORTS_INDEX_QUERIES):
        assert client.get(reverse("reports:index")).status_code == 200
