"""The small, deliberately awkward data set every report test computes its figures from by hand,
and the checks on the foundations under the reports: the funnel from history equals the
funnel from ``furthest_stage``, and the percentiles agree on every database.

Kiwi Ledger (the cast's employer, Pacific/Auckland, UTC+13 in March 2026). The week reported
on is Mon 2 March to Sun 8 March 2026, local time. Hours are after the lead's creation.

    lead  created (local)   owner     source    country  history
    L1    Mon 2, 09:00      teammate  web form  US       contacted 2h, interviewing 3d (skips applied),
                                                         offer 10d, withdrawn 12d ("Took another offer")
    L2    Tue 3, 10:00      teammate  referral  GB       contacted 30h, applied 2d, interviewing 5d,
                                                         back to applied 6d, interviewing 8d
    L3    Wed 4, 08:00      owner     web form  US       contacted 1h, applied 1d, interviewing 3d, offer 5d,
                                                         hired 6d, visa 7d, relocated 20d
    L4    Thu 5, 12:00      teammate  email     IN       never contacted
    L5    Mon 2, 00:30      owner     web form  US       declined 4h ("Not a fit"); Sunday 1 March in UTC
    L6    Mon 9, 00:30      teammate  web form  US       contacted 1h; Sunday 8 March in UTC: outside
    L7    Sun 8, 23:30      teammate  web form  US       contacted 20h
    L8    Fri 6, 09:00      owner     referral  GB       contacted 10h, applied 1d, interviewing 2d, offer 3d,
                                                         hired 4d, relocated 10d (has work rights: no visa)
    L9    Sat 7, 09:00      teammate  web form  US       contacted 5h, applied 1d, interviewing 2d, offer 3d,
                                                         hired 4d, visa 5d, withdrawn 9d ("Visa refused")
    L10   Tue 3, 15:00      owner     web form  US       contacted 1h, applied 1d, interviewing 2d, offer 3d,
                                                         hired 4d, visa 5d (still waiting)
    P1    Wed 25 Feb 09:00  teammate  web form  US       contacted 3h (previous week)
    P2    Sun 1, 23:00      teammate  web form  US       (previous week; Sunday 1 March in UTC too)

Maple Games (the outsider's employer, America/Toronto): M1 (Tue 3 March, relocated in 6 days)
and M2 (Thu 5 March, contacted): they must never count for Kiwi Ledger.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

import pytest
import time_machine
from django.db import connection
from django.db.models import F, Value
from django.http import QueryDict

from leads.models import ActivityKind, ClosedReason, Lead, OutboundKind, OutboundStatus, Stage, StageEvent
from leads.reports.filters import ReportFilterForm, ReportFilters, report_scope
from leads.reports.funnel import funnel_counts, funnel_counts_from_history
from leads.reports.stats import percentiles
from leads.services.pipeline import lead_move_stage
from tests.factories import (
    ActivityFactory,
    CitizenshipFactory,
    ClosedReasonFactory,
    InquiryFactory,
    LeadFactory,
    MarkedEventFactory,
    OpeningFactory,
    OutboundEmailFactory,
    SequenceFactory,
    SequenceStepFactory,
    UserFactory,
)

NZ = zoneinfo.ZoneInfo("Pacific/Auckland")
UTC = dt.UTC
NOW = dt.datetime(2026, 4, 1, tzinfo=UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
WEEK = {"from": "2026-03-02", "to": "2026-03-08"}


def nz(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NZ)


@dataclass
class Awkward:
    cast: object
    leads: dict[str, Lead] = field(default_factory=dict)
    reasons: dict[str, ClosedReason] = field(default_factory=dict)


def make_lead(employer, name: str, created: dt.datetime, owner, moves=(), *, source: str = "web_form",
              country: str = "US", citizenships: tuple[str, ...] = ("US",), **fields) -> Lead:
    """A lead as intake makes it (with its `new` event), moved through the pipeline service."""
    lead = LeadFactory(employer=employer, name=name, email=f"{name.lower()}@example.org", created_at=created,
                       stage_changed_at=created, last_activity_at=created, owner=owner, source=source,
                       current_country=country, **fields)
    StageEvent.objects.create(employer=employer, lead=lead, from_stage="", to_stage=Stage.NEW, at=created)
    for country_code in citizenships:
        CitizenshipFactory(lead=lead, country=country_code)
    for to_stage, after, *extra in moves:
        closed_reason = extra[0] if extra and isinstance(extra[0], ClosedReason) else None
        reason = "changed plans" if not closed_reason and to_stage not in ("contacted",) else ""
        lead_move_stage(lead=lead, to_stage=to_stage, at=created + after, closed_reason=closed_reason, reason=reason)
    return lead


def _funnel_leads(data: Awkward) -> None:
    cast, kiwi, r = data.cast, data.cast.employer, data.reasons
    opening_a = OpeningFactory(employer=kiwi, title="=HYPERLINK(\"x\") Engineer")  # a formula, for the CSV test
    opening_b = OpeningFactory(employer=kiwi, title="Designer")
    owner, mate = cast.owner, cast.teammate
    full = [("contacted", 1 * H), ("applied", D), ("interviewing", 2 * D), ("offer", 3 * D), ("hired", 4 * D)]
    specs = {
        "L1": (nz(3, 2, 9), mate, [("contacted", 2 * H), ("interviewing", 3 * D), ("offer", 10 * D),
                                   ("withdrawn", 12 * D, r["offer"])], {"opening": opening_a}),
        "L2": (nz(3, 3, 10), mate, [("contacted", 30 * H), ("applied", 2 * D), ("interviewing", 5 * D),
                                    ("applied", 6 * D), ("interviewing", 8 * D)],
               {"source": "referral", "country": "GB", "citizenships": ("GB",), "unsubscribed_at": nz(3, 5, 9)}),
        "L3": (nz(3, 4, 8), owner, [("contacted", H), ("applied", D), ("interviewing", 3 * D), ("offer", 5 * D),
                                    ("hired", 6 * D), ("visa", 7 * D), ("relocated", 20 * D)],
               {"opening": opening_a, "citizenships": ("US", "CA")}),
        "L4": (nz(3, 5, 12), mate, [], {"source": "email", "country": "IN", "citizenships": ()}),
        "L5": (nz(3, 2, 0, 30), owner, [("declined", 4 * H, r["fit"])], {}),
        "L6": (nz(3, 9, 0, 30), mate, [("contacted", H)], {}),
        "L7": (nz(3, 8, 23, 30), mate, [("contacted", 20 * H)], {}),
        "L8": (nz(3, 6, 9), owner, [("contacted", 10 * H), ("applied", D), ("interviewing", 2 * D),
                                    ("offer", 3 * D), ("hired", 4 * D), ("relocated", 10 * D)],
               {"source": "referral", "country": "GB", "citizenships": ("NZ",), "opening": opening_b}),
        "L9": (nz(3, 7, 9), mate, [("contacted", 5 * H), *full[1:], ("visa", 5 * D), ("withdrawn", 9 * D, r["visa"])],
               {"opening": opening_a}),
        "L10": (nz(3, 3, 15), owner, [*full, ("visa", 5 * D)], {}),
        "P1": (nz(2, 25, 9), mate, [("contacted", 3 * H)], {}),
        "P2": (nz(3, 1, 23), mate, [], {}),
    }
    for name, (created, who, moves, extra) in specs.items():
        data.leads[name] = make_lead(kiwi, name, created, who, moves, **extra)


def _maple_leads(data: Awkward) -> None:
    maple, outsider = data.cast.other_employer, data.cast.outsider
    at = dt.datetime(2026, 3, 3, 15, tzinfo=UTC)
    data.leads["M1"] = make_lead(maple, "M1", at, outsider, [
        ("contacted", H), ("applied", D), ("interviewing", 2 * D), ("offer", 3 * D), ("hired", 4 * D),
        ("visa", 5 * D), ("relocated", 6 * D)])
    data.leads["M2"] = make_lead(maple, "M2", at + 2 * D, outsider, [("contacted", H)])


def _inquiries(data: Awkward) -> None:
    """Two a day through February, then a surge on 3 and 4 March; see test_reports_surge.py."""
    kiwi, maple = data.cast.employer, data.cast.other_employer
    holder = LeadFactory(employer=kiwi, email="holder@example.org", created_at=dt.datetime(2024, 1, 1, tzinfo=UTC))
    other = LeadFactory(employer=maple, email="maple-holder@example.org",
                        created_at=dt.datetime(2024, 1, 1, tzinfo=UTC))
    times = [nz(2, 2) + k * D for k in range(27) for _ in range(2)]  # 2 Feb to 28 Feb: two a day
    times += [nz(3, 1), nz(3, 1, 13), nz(3, 1, 23, 50)]  # 1 March: three, one just before midnight
    countries = ["GB"] * len(times)
    in_week = [
        (nz(3, 2, 0, 10), "GB"), (nz(3, 2, 12), "GB"),  # just after midnight local: still Sunday in UTC
        *[(nz(3, 3, 10 + k), "US") for k in range(7)],
        *[(nz(3, 4, 10 + k), "US") for k in range(5)], (nz(3, 4, 16), "IN"),
        *[(nz(3, 5, 10 + k), "GB") for k in range(3)],
        (nz(3, 7, 12), "GB"), (nz(3, 8, 12), "GB"), (nz(3, 8, 23, 59), "GB"),
        (nz(3, 9, 0, 5), "GB"),  # Monday 9 March local: outside the week, though still 8 March in UTC
        (nz(3, 3, 10, year=2025), "US"), (nz(3, 3, 11, year=2025), "US"), (nz(3, 5, 10, year=2025), "GB"),
    ]
    times += [at for at, _ in in_week]
    countries += [country for _, country in in_week]
    for at, country in zip(times, countries, strict=True):
        InquiryFactory(lead=holder, received_at=at, country=country)
    for k in range(20):  # Maple's own surge on the same days: never Kiwi's
        InquiryFactory(lead=other, received_at=nz(3, 3, 10) + k * dt.timedelta(minutes=5), country="US")
    MarkedEventFactory(employer=kiwi, date=dt.date(2026, 3, 3), label="US election")
    MarkedEventFactory(employer=maple, date=dt.date(2026, 3, 3), label="Maple job fair")


def _followups(data: Awkward) -> None:
    """Sent follow-ups: see test_reports_followups.py for what each lead did after."""
    kiwi, maple, leads = data.cast.employer, data.cast.other_employer, data.leads
    sequence = SequenceFactory(employer=kiwi, name="Default follow-up")
    step1, step2, step3 = (SequenceStepFactory(sequence=sequence, position=n) for n in (1, 2, 3))
    sent = [
        ("L4", step1, nz(3, 6, 10), OutboundStatus.SENT),
        ("L7", step1, nz(3, 8, 23, 45), OutboundStatus.SENT),
        ("L2", step1, nz(3, 3, 12), OutboundStatus.SENT),
        ("L2", step2, nz(3, 4, 12), OutboundStatus.SENT),
        ("L9", step2, nz(3, 7, 12), OutboundStatus.SENT),
        ("L1", step3, nz(3, 12, 10), OutboundStatus.SENT),
        ("P1", step1, nz(2, 26, 12), OutboundStatus.SENT),  # before the range
        ("L5", step1, nz(3, 4, 12), OutboundStatus.CANCELLED),  # never sent
    ]
    for name, step, at, status in sent:
        OutboundEmailFactory(lead=leads[name], kind=OutboundKind.FOLLOWUP, step=step, status=status,
                             scheduled_at=at, sent_at=at if status == OutboundStatus.SENT else None)
    ActivityFactory(lead=leads["L4"], kind=ActivityKind.REPLY, at=nz(3, 7, 10))  # a day after its email
    ActivityFactory(lead=leads["L9"], kind=ActivityKind.REPLY, at=nz(3, 20, 10))  # weeks after: not counted
    maple_step = SequenceStepFactory(sequence=SequenceFactory(employer=maple), position=1)
    OutboundEmailFactory(lead=leads["M1"], kind=OutboundKind.FOLLOWUP, step=maple_step,
                         status=OutboundStatus.SENT, scheduled_at=nz(3, 3, 16), sent_at=nz(3, 3, 16))
    ActivityFactory(lead=leads["M1"], kind=ActivityKind.REPLY, at=nz(3, 3, 17))


def build_awkward(cast) -> Awkward:
    data = Awkward(cast=cast)
    kiwi = cast.employer
    cast.owner.first_name, cast.owner.last_name = "Olive", "Owner"
    cast.owner.save()
    cast.teammate.first_name, cast.teammate.last_name = "Tama", "Mate"
    cast.teammate.save()
    data.reasons = {
        "offer": ClosedReasonFactory(employer=kiwi, label="Took another offer", stage=Stage.WITHDRAWN),
        "visa": ClosedReasonFactory(employer=kiwi, label="Visa refused", stage=Stage.WITHDRAWN),
        "fit": ClosedReasonFactory(employer=kiwi, label="Not a fit", stage=Stage.DECLINED),
    }
    with time_machine.travel(NOW, tick=False):
        _funnel_leads(data)
        _maple_leads(data)
        _inquiries(data)
        _followups(data)
    return data


def filters_for(user, **params: str) -> ReportFilters:
    """The filters a request with this query string would get (raises Http404 like the view)."""
    query = QueryDict(mutable=True)
    query.update(params)
    form = ReportFilterForm(query, scope=report_scope(user), default_days=90)
    assert form.is_valid(), form.errors
    return form.filters()


def awkward_data(cast) -> Awkward:
    return build_awkward(cast)


def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


# The other report tests make fixtures of these the same way (importing a fixture into a
# module is what pytest allows, but linters read the argument as a redefinition).
data = pytest.fixture(awkward_data, name="data")
frozen = pytest.fixture(frozen_clock, name="frozen")


# --- the foundations ------------------------------------------------------------------


def test_funnel_from_history_equals_funnel_from_furthest_stage(data, frozen):
    kiwi = str(data.cast.employer.pk)
    for params in (WEEK, {"from": "2026-02-23", "to": "2026-03-08"}, {"from": "2025-06-01", "to": "2025-06-07"}):
        filters = filters_for(data.cast.owner, employer=kiwi, **params)
        assert funnel_counts(filters.leads()) == funnel_counts_from_history(filters.leads())
    # Every employer: the week in UTC. L1, L5 and P2 fall on 1 March there, L6 inside: Kiwi's
    # L2 L3 L4 L6 L7 L8 L9 L10 and Maple's M1 M2.
    everyone = filters_for(UserFactory(username="root", is_superuser=True, is_staff=True), **WEEK)
    assert funnel_counts(everyone.leads()) == funnel_counts_from_history(everyone.leads()) \
        == [10, 9, 6, 6, 5, 5, 5, 3]


def test_awkward_histories_are_what_the_docstring_says(data):
    leads = {name: Lead.objects.get(pk=lead.pk) for name, lead in data.leads.items()}
    assert leads["L1"].stage == Stage.WITHDRAWN and leads["L1"].furthest_stage == Stage.OFFER
    assert leads["L2"].stage == Stage.INTERVIEWING
    assert leads["L5"].first_contacted_at == nz(3, 2, 4, 30)  # closing out of `new` stamps it too
    assert leads["L8"].furthest_stage == Stage.RELOCATED
    assert not StageEvent.objects.filter(lead=leads["L8"], to_stage=Stage.VISA).exists()


@pytest.mark.parametrize("portable", [True, False])
def test_percentiles_interpolate_like_percentile_cont(cast, portable):
    if not portable and connection.vendor != "postgresql":
        pytest.skip("percentile_cont is PostgreSQL's; SQLite runs the portable version")
    for k, hours in enumerate([1, 1, 2, 4, 5, 10, 20, 30]):
        LeadFactory(employer=cast.employer, years_experience=hours, owner=cast.owner if k % 2 else None)
    LeadFactory(employer=cast.employer, years_experience=None)
    source = Lead.objects.filter(employer=cast.employer).values("owner_id", "years_experience", "dependants")
    stats = percentiles(source, columns=["years_experience"], fractions=[0.5, 0.9], group="owner_id",
                        sums=["dependants"], portable=portable)
    # Odd positions (owner): 1, 4, 10, 30. Even (none): 1, 2, 5, 20 and a NULL.
    owner, nobody = stats[cast.owner.pk], stats[None]
    assert (owner.rows, owner.counts["years_experience"]) == (4, 4)
    assert owner.pct("years_experience", 0.5) == pytest.approx(7.0)
    assert owner.pct("years_experience", 0.9) == pytest.approx(10 + 0.7 * 20)
    assert (nobody.rows, nobody.counts["years_experience"]) == (5, 4)
    assert nobody.pct("years_experience", 0.5) == pytest.approx(3.5)
    assert nobody.pct("years_experience", 0.9) == pytest.approx(5 + 0.7 * 15)
    assert owner.sums["dependants"] == 0


def test_percentiles_of_nothing_are_none(cast):
    source = Lead.objects.filter(employer=cast.employer).values("owner_id", "years_experience")
    assert percentiles(source, columns=["years_experience"], fractions=[0.5], group="owner_id") == {}


def test_portable_percentiles_match_percentile_cont_on_the_data_set(data, postgres, frozen):
    from leads.reports.response import _source

    filters = filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **WEEK)
    source = _source(filters, F("owner_id"), NOW)
    args = {"columns": ["seconds"], "fractions": [0.5, 0.9], "group": "g", "sums": ["within", "over"]}
    native, portable = percentiles(source, portable=False, **args), percentiles(source, portable=True, **args)
    assert native.keys() == portable.keys()
    for key in native:
        assert native[key].percentiles == pytest.approx(portable[key].percentiles)
        assert native[key].sums == portable[key].sums


@pytest.mark.parametrize("portable", [True, False])
def test_percentile_sets_match_one_query_per_grouping(data, frozen, portable):
    from django.db.models.functions import TruncWeek

    from leads.reports.response import _source
    from leads.reports.stats import percentile_sets

    if not portable and connection.vendor != "postgresql":
        pytest.skip("GROUPING SETS with percentile_cont is PostgreSQL's; SQLite runs the portable version")
    filters = filters_for(data.cast.owner, employer=str(data.cast.employer.pk), **{**WEEK, "from": "2026-02-23"})
    args = {"columns": ["seconds"], "fractions": [0.5, 0.9], "sums": ["within", "over"]}
    week = TruncWeek("created_at", tzinfo=filters.zone)
    sets = percentile_sets(_source(filters, None, NOW, g_owner=F("owner_id"), g_week=week),
                           groups=["g_owner", "g_week"], portable=portable, **args)
    expected = {
        None: percentiles(_source(filters, Value(0), NOW), group="g", portable=portable, **args),
        "g_owner": percentiles(_source(filters, F("owner_id"), NOW), group="g", portable=portable, **args),
        "g_week": percentiles(_source(filters, week, NOW), group="g", portable=portable, **args),
    }
    assert sets.keys() == expected.keys()
    assert len(sets["g_week"]) == 2 and sets[None][0].rows == 11  # 2 + 9 leads, as in test_reports_response
    for group, by_key in expected.items():
        assert sets[group].keys() == by_key.keys()
        for key, stats in by_key.items():
            got = sets[group][key]
            assert (got.rows, got.counts, got.sums) == (stats.rows, stats.counts, stats.sums)
            assert got.percentiles == pytest.approx(stats.percentiles)
