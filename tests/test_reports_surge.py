"""The surge report and surge alerts against the awkward data set (tests/test_reports_dataset.py).

Kiwi Ledger's inquiries, per local day: two a day from 2 to 28 February, three on 1 March
(one at 23:50), then the week: Mon 2 (one at 00:10, Sunday in UTC), Tue 3: 7 (US), Wed 4: 6
(5 US, 1 IN), Thu 5: 3, Fri 6: 0, Sat 7: 1, Sun 8: 2 (one at 23:59); Monday 9 at 00:05 is
outside. A year (52 weeks) before: Mon 3 March 2025: 2 (US), Wed 5 March 2025: 1 (GB).
Trailing 28-day sums: Mon 2: 27x2+3 = 57, Tue 3: 26x2+3+2 = 57, Wed 4: 62, Thu 5: 66,
Fri 6: 67, Sat 7: 65, Sun 8: 64 (divide by 28).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from leads.models import Inquiry, OutboundEmail, OutboundKind
from leads.reports.surge import surge_report
from leads.services.reporting import surge_alerts_queue
from leads.tasks import check_surges
from tests.test_reports_dataset import WEEK, awkward_data, filters_for, frozen_clock, nz

data = pytest.fixture(awkward_data, name="data")
frozen = pytest.fixture(frozen_clock, name="frozen")


def kiwi(data, **params):
    return filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **{**WEEK, **params})


def test_days_against_both_baselines(data, frozen):
    report = surge_report(kiwi(data))
    assert report.tables["days"].rows == [
        ["2026-03-02 Mon", "2", "2", "2.0", "×1.00", "×0.98", "", ""],
        ["2026-03-03 Tue", "7", "0", "2.0", "—", "×3.44", "yes", "US election"],
        ["2026-03-04 Wed", "6", "1", "2.2", "×6.00", "×2.71", "yes", ""],
        ["2026-03-05 Thu", "3", "0", "2.4", "—", "×1.27", "", ""],  # under 5 inquiries: no surge
        ["2026-03-06 Fri", "0", "0", "2.4", "—", "×0.00", "", ""],
        ["2026-03-07 Sat", "1", "0", "2.3", "—", "×0.43", "", ""],
        ["2026-03-08 Sun", "2", "0", "2.3", "—", "×0.88", "", ""],
    ]


def test_summary(data, frozen):
    s = surge_report(kiwi(data)).summary
    assert (s.total, s.year_before, s.surge_days) == (21, 3, 2)
    assert s.trailing_expected == pytest.approx(438 / 28)
    assert (s.against_year, s.against_trailing) == ("×7.00", "×1.34")
    assert s.peak.day == dt.date(2026, 3, 3) and s.peak.count == 7


def test_by_country(data, frozen):
    assert surge_report(kiwi(data)).tables["countries"].rows == [
        ["United States of America", "12", "57.1%", "2", "▲ 500.0%"],
        ["United Kingdom", "8", "38.1%", "1", "▲ 700.0%"],
        ["India", "1", "4.8%", "0", "—"],
    ]
    us = surge_report(kiwi(data, country="US"))
    assert [d.count for d in us.days] == [0, 7, 5, 0, 0, 0, 0]
    assert [d.year_before for d in us.days] == [2, 0, 0, 0, 0, 0, 0]


def test_the_chart_shows_the_marked_event_of_this_employer_only(data, frozen):
    chart = str(surge_report(kiwi(data)).chart)
    assert chart.startswith("<svg") and "US election" in chart and "Maple job fair" not in chart


def test_a_higher_multiple_means_no_surge(data, frozen):
    data.cast.employer.surge_multiple = Decimal("4")
    data.cast.employer.save()
    assert surge_report(kiwi(data)).summary.surge_days == 0


def test_empty_range(data, frozen):
    report = surge_report(kiwi(data, **{"from": "2024-06-03", "to": "2024-06-04"}))
    assert report.summary.total == 0 and report.summary.peak is None
    assert report.tables["days"].rows[0] == ["2024-06-03 Mon", "0", "0", "—", "—", "—", "", ""]
    assert report.tables["countries"].rows == []


# --- alerts -------------------------------------------------------------------------------


def alerts() -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(kind=OutboundKind.ALERT).order_by("pk"))


def run_at(at: dt.datetime) -> int:
    with time_machine.travel(at, tick=False):
        return surge_alerts_queue()


def test_one_alert_per_surge_to_the_employers_admins(data):
    owner = data.cast.owner
    assert run_at(nz(3, 2, 20)) == 0
    assert run_at(nz(3, 3, 20)) == 1  # Tuesday, 7 so far against 2.0 a day: the surge starts today
    assert run_at(nz(3, 3, 21)) == 0  # hourly runs: not again
    assert run_at(nz(3, 4, 20)) == 0  # the same surge, day two
    assert run_at(nz(3, 5, 9)) == 0  # yesterday still surging: the same run
    assert run_at(nz(3, 6, 20)) == 0
    [alert] = alerts()
    assert alert.to_user == owner and alert.employer == data.cast.employer
    assert alert.unique_key == f"surge:{data.cast.employer.pk}:2026-03-03:{owner.pk}"
    assert "7 on Tue 3 Mar so far today" in alert.body_text and "×3.44" in alert.body_text
    assert "began on Tue 3 Mar 2026" in alert.body_text


def test_a_new_surge_alerts_again(data):
    run_at(nz(3, 3, 20))
    holder = Inquiry.objects.filter(employer=data.cast.employer).first().lead
    for k in range(8):
        Inquiry.objects.create(employer=data.cast.employer, lead=holder, channel="web_form",
                               received_at=nz(3, 10, 9) + dt.timedelta(minutes=k))
    # Tuesday 10 March: 8 against (19x2 + 3 + 21 + 1) / 28 = 2.25 a day, after a calm Monday.
    assert run_at(nz(3, 10, 20)) == 1
    assert [a.unique_key.split(":")[2] for a in alerts()] == ["2026-03-03", "2026-03-10"]


def test_no_alert_below_the_multiple_nor_for_another_employers_surge(data):
    data.cast.employer.surge_multiple = Decimal("4")
    data.cast.employer.save()
    assert run_at(nz(3, 3, 20)) == 0
    # Maple's 20 inquiries on one day had no history to run above: and none went to Kiwi.
    assert not OutboundEmail.objects.filter(kind=OutboundKind.ALERT, to_user=data.cast.outsider).exists()


def test_the_task_is_safe_to_run_twice(data):
    with time_machine.travel(nz(3, 3, 20), tick=False):
        assert check_surges() == 1
        assert check_surges() == 0


def test_query_count_does_not_depend_on_the_number_of_inquiries(cast, django_assert_num_queries):
    from tests.test_reports_views import many_leads

    for count in (5, 45):
        many_leads(cast, count)
        filters = filters_for(cast.owner, **WEEK)
        with django_assert_num_queries(3):  # per day, marked events, per country
            surge_report(filters)
