"""The milestone times each lead keeps (reached_<milestone>_at, visa_entered_at, visa_left_at)
and each event's left_at equal what its StageEvent history says, after every kind of change:
the awkward data set's skips, backward moves and closings, a reopened lead, a merge of two
histories, an erasure, moves dated in the past, and the recomputation the migration ran.

The reference is worked out here in Python from the events, independently of the SQL in
leads/services/milestones.py and of the pipeline's incremental updates.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from leads.models import MILESTONES, Lead, Stage, StageEvent
from leads.reports import cohorts
from leads.reports.funnel import step_medians, step_medians_from_history
from leads.services import milestones
from leads.services.merge import lead_merge
from leads.services.pipeline import lead_move_stage
from leads.services.privacy import lead_erase
from tests.factories import PossibleDuplicateFactory
from tests.test_reports_dataset import NOW, WEEK, D, H, awkward_data, filters_for, make_lead, nz

data = pytest.fixture(awkward_data, name="data")
RANK = {stage: rank for rank, stage in enumerate(MILESTONES)}


def expected_times(lead_id: int) -> dict[str, dt.datetime | None]:
    events = list(StageEvent.objects.filter(lead_id=lead_id).values("from_stage", "to_stage", "at"))
    times: dict[str, dt.datetime | None] = {}
    for rank, stage in enumerate(MILESTONES[1:], start=1):
        reached = [e["at"] for e in events if RANK.get(e["to_stage"], -1) >= rank]
        times[f"reached_{stage}_at"] = min(reached, default=None)
    times["visa_entered_at"] = min((e["at"] for e in events if e["to_stage"] == Stage.VISA), default=None)
    times["visa_left_at"] = min((e["at"] for e in events if e["from_stage"] == Stage.VISA), default=None)
    return times


def expected_left(lead_id: int) -> dict[int, dt.datetime | None]:
    events = list(StageEvent.objects.filter(lead_id=lead_id).order_by("at", "id").values_list("id", "at"))
    return {pk: (events[k + 1][1] if k + 1 < len(events) else None) for k, (pk, _at) in enumerate(events)}


def stored_times(lead_id: int) -> dict[str, dt.datetime | None]:
    return Lead.objects.filter(pk=lead_id).values(*milestones.FIELDS).get()


def stored_left(lead_id: int) -> dict[int, dt.datetime | None]:
    return dict(StageEvent.objects.filter(lead_id=lead_id).values_list("id", "left_at"))


def assert_kept_from_history(lead_ids) -> None:
    for pk in lead_ids:
        assert stored_times(pk) == expected_times(pk), pk
        assert stored_left(pk) == expected_left(pk), pk


def test_the_pipeline_keeps_them_on_the_awkward_data_set(data):
    assert_kept_from_history(lead.pk for lead in data.leads.values())
    l1, l3, l9, l10 = (data.leads[name] for name in ("L1", "L3", "L9", "L10"))
    l1.refresh_from_db()
    # L1 skipped `applied`: it reached it when it reached interviewing, three days in.
    assert l1.reached_applied_at == l1.reached_interviewing_at == nz(3, 2, 9) + 3 * D
    assert l1.reached_hired_at is None
    l3.refresh_from_db()
    assert (l3.visa_entered_at, l3.visa_left_at) == (nz(3, 4, 8) + 7 * D, nz(3, 4, 8) + 20 * D)
    l9.refresh_from_db()
    assert l9.visa_left_at == nz(3, 7, 9) + 9 * D  # closed from visa ("Visa refused")
    l10.refresh_from_db()
    assert l10.visa_entered_at is not None and l10.visa_left_at is None  # still waiting


def test_a_backward_move_and_a_reopening_never_move_a_time_back_or_forward(data):
    l2 = data.leads["L2"]  # interviewing 5d, back to applied 6d, interviewing 8d
    l2.refresh_from_db()
    assert l2.reached_applied_at == nz(3, 3, 10) + 2 * D
    assert l2.reached_interviewing_at == nz(3, 3, 10) + 5 * D
    with time_machine.travel(NOW, tick=False):
        l1 = data.leads["L1"]  # withdrawn at 12 days
        lead_move_stage(lead=l1, to_stage=Stage.OFFER, at=nz(3, 2, 9) + 15 * D, reason="Came back to us")
        lead_move_stage(lead=l1, to_stage=Stage.HIRED, at=nz(3, 2, 9) + 16 * D)
    l1.refresh_from_db()
    assert l1.reached_offer_at == nz(3, 2, 9) + 10 * D  # the first time, not the reopening
    assert l1.reached_hired_at == nz(3, 2, 9) + 16 * D
    assert_kept_from_history([l1.pk, l2.pk])


def test_a_merge_keeps_the_earliest_of_both_histories(data, cast):
    kiwi = cast.employer
    with time_machine.travel(NOW, tick=False):
        # The same person twice: one reached offer early, the other was hired later.
        early = make_lead(kiwi, "Twin", nz(3, 2, 8), cast.teammate,
                          [("contacted", H), ("applied", D), ("interviewing", 2 * D), ("offer", 3 * D)])
        late = make_lead(kiwi, "Twin2", nz(3, 5, 8), cast.teammate,
                         [("contacted", 2 * H), ("hired", 4 * D), ("visa", 5 * D)])
        PossibleDuplicateFactory(employer=kiwi, lead=late, other=early)
        kept = lead_merge(lead=late, other=early, by=cast.owner)
    assert Lead.objects.filter(pk=kept.pk).exists()
    times = stored_times(kept.pk)
    assert times["reached_contacted_at"] == nz(3, 2, 8) + H
    assert times["reached_offer_at"] == nz(3, 2, 8) + 3 * D
    assert times["reached_hired_at"] == nz(3, 5, 8) + 4 * D
    assert_kept_from_history([kept.pk])


def test_an_erasure_keeps_the_times(data):
    l3 = data.leads["L3"]
    before = stored_times(l3.pk)
    with time_machine.travel(NOW, tick=False):
        assert lead_erase(lead=l3, how="test")
    assert stored_times(l3.pk) == before
    assert_kept_from_history([l3.pk])


def test_refresh_recomputes_what_the_pipeline_kept(data):
    """What the migration ran over existing data: every time wiped, then rebuilt from history."""
    ids = [lead.pk for lead in data.leads.values()]
    kept = {pk: (stored_times(pk), stored_left(pk)) for pk in ids}
    Lead.objects.update(**dict.fromkeys(milestones.FIELDS))
    StageEvent.objects.update(left_at=None)
    milestones.refresh(ids[:3])
    for pk in ids[:3]:
        assert (stored_times(pk), stored_left(pk)) == kept[pk]
    assert stored_times(ids[3]) == dict.fromkeys(milestones.FIELDS)  # not asked for: untouched
    milestones.refresh()
    for pk in ids:
        assert (stored_times(pk), stored_left(pk)) == kept[pk]
    milestones.refresh([])  # nothing to do, no query error


def test_apply_event_only_moves_times_earlier(cast):
    lead = Lead(employer=cast.employer)
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert milestones.apply_event(lead, from_stage=Stage.NEW, to_stage=Stage.INTERVIEWING, at=at) == [
        "reached_contacted_at", "reached_applied_at", "reached_interviewing_at"]
    assert milestones.apply_event(lead, from_stage=Stage.INTERVIEWING, to_stage=Stage.APPLIED, at=at + D) == []
    assert milestones.apply_event(lead, from_stage=Stage.APPLIED, to_stage=Stage.VISA, at=at + 2 * D) == [
        "reached_offer_at", "reached_hired_at", "reached_visa_at", "visa_entered_at"]
    assert milestones.apply_event(lead, from_stage=Stage.VISA, to_stage=Stage.WITHDRAWN, at=at + 3 * D) == [
        "visa_left_at"]
    assert lead.reached_relocated_at is None


@pytest.mark.parametrize("params", [WEEK, {**WEEK, "source": "referral"}, {"from": "2026-02-01", "to": "2026-03-31"},
                                    {**WEEK, "employer": "maple"}])
def test_report_figures_from_stored_times_equal_those_from_history(data, cast, params):
    """The funnel's step medians and the cohorts' time in visa, read off the lead rows, are the
    figures the StageEvent history gives, after the merge and erasure above as well."""
    with time_machine.travel(NOW, tick=False):
        twin = make_lead(cast.employer, "Twin", nz(3, 2, 8), cast.teammate,
                         [("contacted", H), ("hired", 2 * D), ("visa", 3 * D), ("relocated", 9 * D)])
        PossibleDuplicateFactory(employer=cast.employer, lead=data.leads["L4"], other=twin)
        lead_merge(lead=data.leads["L4"], other=twin, by=cast.owner)
        lead_erase(lead=data.leads["L8"], how="test")
        params = dict(params)
        if params.get("employer") == "maple":
            params["employer"] = str(cast.other_employer.pk)
        user = cast.outsider if "employer" in params else cast.owner
        filters = filters_for(user, **params)
        assert step_medians(filters) == step_medians_from_history(filters)
        assert cohorts._visa(filters) == cohorts.visa_from_history(filters)
    if params == WEEK:
        assert any(step_medians(filters))  # the week has figures to compare
        assert any(entered for entered, _left, _median in cohorts._visa(filters).values())
