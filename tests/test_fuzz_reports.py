"""Fuzz the query strings of the admin reports under /admin/reports/ (leads/reports/filters.py):
from, to, employer, opening, source, country, by, period and export.

No 500 whatever the query; a report page is a GET and stores nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.reports.filters import BREAKDOWNS, PERIODS
from tests.factories import OpeningFactory, UserFactory
from tests.fuzz import (
    BAD_DATES,
    COUNTRIES,
    FUZZ,
    SOURCES,
    check,
    fresh_client,
    fuzzing,
    query_pairs,
    with_query,
)
from tests.test_reports_dataset import build_awkward

REPORTS = ["funnel", "cohorts", "surge", "response", "followups"]
TABLES = ["funnel", "breakdown", "cohorts", "visa", "closed", "days", "countries", "recruiters", "weeks", "steps"]
# Valid report dates first (the range may still be refused: too long, or backwards), then the edges.
RANGE_DATES = ["2026-03-01", "2026-03-07", "2025-03-01", "2024-01-01", "2026-12-31", "2023-03-01",
               "1999-12-31", "2101-01-01", "2100-12-32", "0001-01-01", "9999-12-31"]


@pytest.fixture(autouse=True)
def _quiet():
    with fuzzing():
        yield


def test_report_query_strings(cast):
    build_awkward(cast)
    opening = OpeningFactory(employer=cast.employer, title="Backend Engineer")
    other_opening = OpeningFactory(employer=cast.other_employer, title="Theirs")
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    clients = {}
    for name, user in (("owner", cast.owner), ("root", root), ("outsider", cast.outsider)):
        clients[name] = fresh_client()
        clients[name].force_login(user)
    values = st.sampled_from
    employer_ids = [str(cast.employer.pk), str(cast.other_employer.pk)]
    big = ["0", "-1", "abc", str(2**62), str(2**62 + 1), str(2**63), "1e3", "1.0", " 1", "٣", "9" * 40]
    # Field -> (good values, bad values); good ones include the edges that are still valid.
    fields = {
        "from": (values([*RANGE_DATES[:6], "2000-01-01", "2026-02-28", ""]), values(BAD_DATES + RANGE_DATES[6:])),
        "to": (values([*RANGE_DATES[:6], "2100-12-31", "2026-03-31", ""]), values(BAD_DATES + RANGE_DATES[6:])),
        "employer": (values([*employer_ids, ""]), values(big)),
        "opening": (values([str(opening.pk), str(other_opening.pk), ""]), values(big)),
        "source": (values([*SOURCES, ""]), values(["WEB_FORM", "x", "web_form "])),
        "country": (values([*COUNTRIES, "", "nz", " us "]), values(["xx", "usa", "u", "ü", "XXX"])),
        "by": (values([*BREAKDOWNS, ""]), values(["stage", "source ", "SOURCE"])),
        "period": (values([*PERIODS, ""]), values(["day", "year", "Week"])),
        "export": (values(TABLES), values(["", "nope", "../funnel", "funnel.csv"])),
    }

    @FUZZ
    @given(pairs=query_pairs(fields), name=st.sampled_from(REPORTS * 4 + ["", "nope", "FUNNEL", "funnel.csv"]),
           who=st.sampled_from(["owner", "owner", "root", "outsider"]))
    def run(pairs, name, who):
        path = with_query(f"/admin/reports/{name}/" if name else "/admin/reports/", pairs)
        client = clients[who]
        # A GET stores nothing, whatever it answers.
        check(lambda: client.get(path), what=f"GET {path[:300]} as {who}", refused=lambda r: True)

    run()
