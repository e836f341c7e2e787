"""Pipeline rules: forward freely, backwards and reopening with a reason, closing with a closed reason."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
import time_machine
from django.db import connections

from leads.models import Activity, ActivityKind, Lead, Stage, StageEvent
from leads.services.intake import inquiry_receive
from leads.services.pipeline import StageMoveError, lead_move_stage, needs_reason
from leads.services.timeline import activity_log, note_add
from tests.factories import ClosedReasonFactory, EmployerFactory

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def lead(cast):
    with time_machine.travel(START, tick=False):
        return inquiry_receive(employer=cast.employer, channel="web_form", email="mo@example.org", name="Mo").lead


def move(lead, to, hours, **kwargs):
    with time_machine.travel(START + dt.timedelta(hours=hours), tick=False):
        return lead_move_stage(lead=lead, to_stage=to, **kwargs)


def test_first_move_out_of_new_stamps_first_contact(lead, cast):
    event = move(lead, Stage.CONTACTED, 5, by=cast.teammate)
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED == lead.furthest_stage
    assert lead.first_contacted_at == START + dt.timedelta(hours=5) == lead.stage_changed_at
    assert (event.from_stage, event.to_stage, event.by) == (Stage.NEW, Stage.CONTACTED, cast.teammate)
    move(lead, Stage.APPLIED, 30)
    lead.refresh_from_db()
    assert lead.first_contacted_at == START + dt.timedelta(hours=5)


def test_skipping_forward_needs_no_reason(lead):
    move(lead, Stage.INTERVIEWING, 1)
    move(lead, Stage.HIRED, 2)
    assert lead.stage == Stage.HIRED == lead.furthest_stage
    assert list(StageEvent.objects.filter(lead=lead).values_list("to_stage", flat=True)) == [
        Stage.NEW, Stage.INTERVIEWING, Stage.HIRED,
    ]


def test_backwards_needs_reason_and_keeps_furthest(lead):
    move(lead, Stage.OFFER, 1)
    with pytest.raises(StageMoveError, match="backwards needs a reason"):
        move(lead, Stage.INTERVIEWING, 2)
    lead.refresh_from_db()
    assert lead.stage == Stage.OFFER
    move(lead, Stage.INTERVIEWING, 2, reason="Second round with the CTO")
    lead.refresh_from_db()
    assert lead.stage == Stage.INTERVIEWING
    assert lead.furthest_stage == Stage.OFFER


def test_closing_needs_a_closed_reason_of_the_right_stage_and_employer(lead, cast):
    visa_refused = ClosedReasonFactory(employer=cast.employer, label="Visa refused", stage=Stage.WITHDRAWN)
    not_a_fit = ClosedReasonFactory(employer=cast.employer, label="Not a fit", stage=Stage.DECLINED)
    foreign = ClosedReasonFactory(employer=cast.other_employer, label="Visa refused", stage=Stage.WITHDRAWN)
    inactive = ClosedReasonFactory(employer=cast.employer, label="Old", active=False)
    move(lead, Stage.OFFER, 1)
    for bad in (None, not_a_fit, foreign, inactive):
        with pytest.raises(StageMoveError):
            move(lead, Stage.WITHDRAWN, 2, closed_reason=bad)
    assert StageEvent.objects.filter(lead=lead).count() == 2
    event = move(lead, Stage.WITHDRAWN, 2, closed_reason=visa_refused, reason="Refused in March")
    lead.refresh_from_db()
    assert lead.stage == Stage.WITHDRAWN
    assert lead.closed_reason == visa_refused == event.closed_reason
    assert lead.furthest_stage == Stage.OFFER  # the funnel still counts the offer


def test_reopening_needs_reason_and_clears_closed_reason(lead, cast):
    reason = ClosedReasonFactory(employer=cast.employer, label="No reply")
    move(lead, Stage.UNRESPONSIVE, 1, closed_reason=reason)
    with pytest.raises(StageMoveError, match="Reopening"):
        move(lead, Stage.CONTACTED, 2)
    move(lead, Stage.CONTACTED, 2, reason="Wrote back after all")
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED and lead.closed_reason is None


def test_closed_reason_without_closing_is_refused(lead, cast):
    reason = ClosedReasonFactory(employer=cast.employer)
    with pytest.raises(StageMoveError):
        move(lead, Stage.CONTACTED, 1, closed_reason=reason)


@pytest.mark.parametrize("to", [Stage.NEW, "launched", ""])
def test_same_or_unknown_stage_is_refused(lead, to):
    with pytest.raises(StageMoveError):
        move(lead, to, 1)
    assert StageEvent.objects.filter(lead=lead).count() == 1


def test_future_and_out_of_order_dates_are_refused(lead):
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        with pytest.raises(StageMoveError, match="future"):
            lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, at=START + dt.timedelta(days=1))
        with pytest.raises(StageMoveError, match="before"):
            lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, at=START - dt.timedelta(days=1))


def test_erased_lead_cannot_move(lead):
    Lead.objects.filter(pk=lead.pk).update(erased_at=START)
    lead.refresh_from_db()
    with pytest.raises(StageMoveError, match="erased"):
        move(lead, Stage.CONTACTED, 1)


def test_needs_reason_table():
    assert not needs_reason(Stage.NEW, Stage.RELOCATED)
    assert needs_reason(Stage.HIRED, Stage.OFFER)
    assert needs_reason(Stage.DECLINED, Stage.NEW)
    assert not needs_reason(Stage.OFFER, Stage.WITHDRAWN)


def test_logged_call_on_new_lead_moves_it_to_contacted(lead, cast):
    with time_machine.travel(START + dt.timedelta(hours=3), tick=False):
        activity_log(lead=lead, kind=ActivityKind.CALL, actor=cast.teammate, summary="Called, left voicemail")
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert lead.first_contacted_at == START + dt.timedelta(hours=3)
    assert StageEvent.objects.get(lead=lead, to_stage=Stage.CONTACTED).by == cast.teammate


def test_logged_reply_is_not_contact(lead, cast):
    with time_machine.travel(START + dt.timedelta(hours=3), tick=False):
        activity_log(lead=lead, kind=ActivityKind.REPLY, actor=cast.teammate, summary="They wrote back")
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW and lead.first_contacted_at is None
    assert lead.last_activity_at == START + dt.timedelta(hours=3)


@pytest.mark.parametrize(("kind", "summary"), [("system", "x"), ("fax", "x"), ("call", "   ")])
def test_bad_activity_is_refused(lead, cast, kind, summary):
    with pytest.raises(Exception):  # noqa: B017 - ValidationError of either field
        activity_log(lead=lead, kind=kind, actor=cast.teammate, summary=summary)
    assert not Activity.objects.filter(lead=lead).exclude(kind=ActivityKind.SYSTEM).exists()


def test_note_touches_last_activity(lead, cast):
    with time_machine.travel(START + dt.timedelta(days=2), tick=False):
        note_add(lead=lead, author=cast.teammate, body="  Strong Go background.  ")
    lead.refresh_from_db()
    assert lead.notes.get().body == "Strong Go background."
    assert lead.last_activity_at == START + dt.timedelta(days=2)
    with pytest.raises(Exception):  # noqa: B017
        note_add(lead=lead, author=cast.teammate, body="   ")


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_are_serialised(postgres):
    """Two recruiters close and advance the same lead at once: both moves are recorded in order."""
    employer = EmployerFactory()
    reason = ClosedReasonFactory(employer=employer, label="Not a fit")
    lead = inquiry_receive(employer=employer, channel="manual", email="x@example.org", name="X").lead
    barrier = threading.Barrier(2)
    errors = []

    def run(to: str, **kwargs) -> None:
        try:
            barrier.wait(timeout=10)
            lead_move_stage(lead=Lead.objects.get(pk=lead.pk), to_stage=to, **kwargs)
        except StageMoveError as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(Stage.CONTACTED,), kwargs={"reason": "Called back"}),
               threading.Thread(target=run, args=(Stage.DECLINED,), kwargs={"closed_reason": reason})]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    events = list(StageEvent.objects.filter(lead=lead).order_by("id").values_list("from_stage", "to_stage"))
    # Each move saw the stage the other left: the history is a chain.
    assert errors == []
    assert len(events) == 3
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(events))
    lead.refresh_from_db()
    assert lead.stage == events[-1][1]
