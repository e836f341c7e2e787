"""The board: a column per stage with its count for the whole filter, cards a page at a time
(keyset), moves through the pipeline answered in JSON, fixed query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, Stage, StageEvent
from leads.selectors import board as selectors
from leads.selectors.board import BOARD_STAGES
from tests.factories import ClosedReasonFactory, LeadFactory

BOARD = reverse("leads:board")
# The board, however many cards: the session, the user, the user's employers (recruiter_view),
# the owners to filter by, per column (8 milestones and 3 closed stages) a count capped at
# BOARD_COUNT_CAP and its first page of cards, the openings of the filter form.
BOARD_QUERIES = 27
# One column's next page: the session, the user, the employers, the owners (the filter form),
# the page of cards.
COLUMN_QUERIES = 5
# A move: the session, the user, the employers, the lead; in the service's transaction the
# locked row, the stage event, the webhook endpoints to tell, the end of the stay the move closes
# (StageEvent.left_at), the lead's update, the follow-ups
# it may stop (two reads), and the savepoint and its release that stand in for BEGIN/COMMIT
# inside a test's transaction.
MOVE_QUERIES = 13

pytestmark = pytest.mark.django_db


def column_url(stage: str) -> str:
    return reverse("leads:board_column", args=[stage])


def move_url(lead: Lead) -> str:
    return reverse("leads:board_move", args=[lead.pk])


def column(response, stage: str):
    return next(c for c in response.context["columns"] if c.stage == stage)


def make_leads(n: int, employer, stage: str = Stage.NEW, **kwargs) -> list[Lead]:
    """``n`` leads created a minute apart, newest last."""
    start = timezone.now() - dt.timedelta(days=1)
    leads = LeadFactory.create_batch(n, employer=employer, stage=stage, **kwargs)
    for i, lead in enumerate(leads):
        Lead.objects.filter(pk=lead.pk).update(created_at=start + dt.timedelta(minutes=i))
    return leads


# --- The page -----------------------------------------------------------------------------------

def test_board_has_every_column_with_own_leads_only(client, cast):
    LeadFactory(employer=cast.employer, name="Ana", stage=Stage.CONTACTED)
    LeadFactory(employer=cast.employer, name="Closed Carl", stage=Stage.DECLINED)
    LeadFactory(employer=cast.other_employer, name="Theirs", stage=Stage.CONTACTED)
    client.force_login(cast.teammate)
    response = client.get(BOARD)
    assert response.status_code == 200
    columns = response.context["columns"]
    assert [c.stage for c in columns] == [
        "new", "contacted", "applied", "interviewing", "offer", "hired", "visa", "relocated",
        "declined", "withdrawn", "unresponsive",
    ]
    assert [c.closed for c in columns] == [False] * 8 + [True] * 3
    assert [lead.name for lead in column(response, Stage.CONTACTED).leads] == ["Ana"]
    assert [lead.name for lead in column(response, Stage.DECLINED).leads] == ["Closed Carl"]
    html = response.content.decode()
    assert "Theirs" not in html
    assert 'src="/static/vendor/sortablejs/Sortable.min.js"' in html and "/static/js/board.js" in html
    assert "/static/css/board.css" in html
    assert 'id="board-move-modal"' in html


def test_counts_are_for_the_whole_filter_and_columns_are_paged(client, cast, monkeypatch):
    monkeypatch.setattr(selectors, "BOARD_COLUMN_CAP", 3)
    make_leads(5, cast.employer, owner=cast.teammate)
    make_leads(2, cast.employer, stage=Stage.OFFER, owner=cast.teammate)
    make_leads(4, cast.employer, stage=Stage.OFFER)  # another owner: filtered out
    make_leads(1, cast.employer, stage=Stage.WITHDRAWN, owner=cast.teammate)
    LeadFactory(employer=cast.employer, owner=cast.teammate, erased_at=timezone.now())
    LeadFactory(employer=cast.other_employer)
    client.force_login(cast.teammate)
    response = client.get(f"{BOARD}?owner={cast.teammate.pk}")
    counts = {c.stage: c.count for c in response.context["columns"]}
    mine = Lead.objects.filter(employer=cast.employer, owner=cast.teammate, erased_at__isnull=True)
    assert counts == {stage: mine.filter(stage=stage).count() for stage in BOARD_STAGES}
    assert counts["new"] == 5 and counts["offer"] == 2 and counts["withdrawn"] == 1
    new = column(response, Stage.NEW)
    assert len(new.leads) == 3 and new.more
    assert not column(response, Stage.OFFER).more
    html = response.content.decode()
    assert 'data-count="5"' in html
    # "More" loads the column in place; without JavaScript its link opens the list at that stage.
    assert f"{column_url('new')}?owner={cast.teammate.pk}&amp;after=" in html
    assert f"/leads/?owner={cast.teammate.pk}&amp;stage=new" in html


def test_a_search_filter_counts_too(client, cast):
    LeadFactory(employer=cast.employer, name="Wiremu Tane", stage=Stage.APPLIED)
    LeadFactory(employer=cast.employer, name="Wiremu Rua", stage=Stage.APPLIED)
    LeadFactory(employer=cast.employer, name="Ana", stage=Stage.APPLIED)
    client.force_login(cast.teammate)
    response = client.get(f"{BOARD}?q=wiremu")
    assert column(response, Stage.APPLIED).count == 2


def test_more_pages_a_column_without_duplicates(client, cast, monkeypatch):
    monkeypatch.setattr(selectors, "BOARD_COLUMN_CAP", 3)
    leads = make_leads(8, cast.employer)
    newest_first = [lead.pk for lead in reversed(leads)]
    make_leads(2, cast.employer, stage=Stage.CONTACTED)
    client.force_login(cast.teammate)
    first = column(client.get(BOARD), Stage.NEW)
    seen = [lead.pk for lead in first.leads]
    cursor = first.next_cursor
    while cursor:
        response = client.get(column_url("new"), {"after": cursor})
        assert response.status_code == 200
        page = [lead.pk for lead in response.context["leads"]]
        assert page and not set(page) & set(seen)
        assert all(f'data-lead="{pk}"' in response.content.decode() for pk in page)
        seen += page
        cursor = response.context["next_cursor"]
        assert ("after=" in response.content.decode()) == bool(cursor)
    assert seen == newest_first


def test_more_keeps_the_filters_and_refuses_unknown_columns(client, cast, monkeypatch):
    monkeypatch.setattr(selectors, "BOARD_COLUMN_CAP", 1)
    mine = make_leads(3, cast.employer, owner=cast.teammate)
    make_leads(3, cast.employer)
    client.force_login(cast.teammate)
    first = column(client.get(f"{BOARD}?owner={cast.teammate.pk}"), Stage.NEW)
    response = client.get(column_url("new"), {"owner": cast.teammate.pk, "after": first.next_cursor})
    assert [lead.pk for lead in response.context["leads"]] == [mine[1].pk]
    assert client.get(column_url("nope")).status_code == 404
    assert client.get(column_url("new"), {"after": "garbage"}).status_code == 200  # page one


def test_outsider_sees_only_their_own_columns(client, cast):
    LeadFactory(employer=cast.employer, name="Secret Sam")
    client.force_login(cast.outsider)
    assert "Secret Sam" not in client.get(BOARD).content.decode()
    assert "Secret Sam" not in client.get(column_url("new")).content.decode()


def test_board_query_count_does_not_grow(client, cast, django_assert_num_queries):
    client.force_login(cast.teammate)

    def count_after_adding(n: int) -> int:
        for stage in BOARD_STAGES:
            LeadFactory.create_batch(n, employer=cast.employer, stage=stage, owner=cast.owner)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(BOARD).status_code == 200
        return len(ctx.captured_queries)

    assert count_after_adding(3) == count_after_adding(27) == BOARD_QUERIES  # 3 vs 30 per column
    with django_assert_num_queries(BOARD_QUERIES):
        client.get(f"{BOARD}?owner={cast.owner.pk}&source=web_form")


def test_column_page_query_count(client, cast, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(selectors, "BOARD_COLUMN_CAP", 10)
    make_leads(25, cast.employer, owner=cast.owner)
    client.force_login(cast.teammate)
    cursor = column(client.get(BOARD), Stage.NEW).next_cursor
    with django_assert_num_queries(COLUMN_QUERIES):
        response = client.get(column_url("new"), {"after": cursor})
    assert len(response.context["leads"]) == 10


# --- Moves --------------------------------------------------------------------------------------

def test_move_forward(client, cast, django_assert_num_queries):
    lead = LeadFactory(employer=cast.employer, name="Ana")
    client.force_login(cast.teammate)
    with django_assert_num_queries(MOVE_QUERIES):
        response = client.post(move_url(lead), {"to_stage": "applied"})
    assert response.status_code == 200
    body = response.json()
    assert body["stage"] == "applied" and body["from_stage"] == "new" and body["lead"] == lead.pk
    assert body["message"] == "Ana moved to Applied."
    # The card's choices for its new stage: the next milestone first, the current one left out.
    assert '<option value="interviewing" selected>' in body["options"]
    assert 'value="applied"' not in body["options"]
    lead.refresh_from_db()
    assert lead.stage == Stage.APPLIED and lead.first_contacted_at is not None
    event = StageEvent.objects.get(lead=lead)
    assert (event.from_stage, event.to_stage, event.by) == ("new", "applied", cast.teammate)


def test_backwards_needs_a_reason_then_moves(client, cast):
    lead = LeadFactory(employer=cast.employer, stage=Stage.OFFER)
    client.force_login(cast.teammate)
    response = client.post(move_url(lead), {"to_stage": "contacted", "reason": "  "})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "reason_required" and "needs a reason" in body["error"]
    assert body["to_stage"] == "contacted" and body["to_stage_label"] == "Contacted" and body["stage"] == "offer"
    lead.refresh_from_db()
    assert lead.stage == Stage.OFFER and not StageEvent.objects.filter(lead=lead).exists()

    response = client.post(move_url(lead), {"to_stage": "contacted", "reason": "Offer withdrawn by us"})
    assert response.status_code == 200 and response.json()["stage"] == "contacted"
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert StageEvent.objects.get(lead=lead).reason == "Offer withdrawn by us"


def test_reopening_needs_a_reason(client, cast):
    lead = LeadFactory(employer=cast.employer, stage=Stage.WITHDRAWN)
    client.force_login(cast.teammate)
    response = client.post(move_url(lead), {"to_stage": "new"})
    assert response.status_code == 409 and response.json()["code"] == "reason_required"
    assert client.post(move_url(lead), {"to_stage": "new", "reason": "Wrote again"}).status_code == 200


def test_closing_needs_a_closed_reason_of_the_leads_employer(client, cast, django_assert_num_queries):
    salary = ClosedReasonFactory(employer=cast.employer, label="Salary")
    ClosedReasonFactory(employer=cast.employer, label="Not a fit", stage=Stage.DECLINED)
    ClosedReasonFactory(employer=cast.employer, label="Retired", active=False)
    theirs = ClosedReasonFactory(employer=cast.other_employer, label="Theirs")
    lead = LeadFactory(employer=cast.employer)
    client.force_login(cast.teammate)
    response = client.post(move_url(lead), {"to_stage": "withdrawn"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "closed_reason_required" and body["to_stage_label"] == "Withdrawn"
    # Only the reasons that fit: active, this employer's, for any closed stage or this one.
    assert body["closed_reasons"] == [{"id": salary.pk, "label": "Salary"}]

    for bad in (theirs.pk, "abc", "99999999999999"):
        response = client.post(move_url(lead), {"to_stage": "withdrawn", "closed_reason": bad})
        assert response.status_code == 400 and response.json()["code"] == "closed_reason_invalid"
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW and not StageEvent.objects.filter(lead=lead).exists()

    response = client.post(move_url(lead), {"to_stage": "withdrawn", "closed_reason": salary.pk, "reason": "Later"})
    assert response.status_code == 200 and response.json()["stage"] == "withdrawn"
    lead.refresh_from_db()
    assert lead.stage == Stage.WITHDRAWN and lead.closed_reason == salary


@pytest.mark.parametrize("to_stage", ["", "bogus", "NEW", "x" * 500])
def test_bad_stage_is_400_and_changes_nothing(client, cast, to_stage):
    lead = LeadFactory(employer=cast.employer)
    client.force_login(cast.teammate)
    response = client.post(move_url(lead), {"to_stage": to_stage})
    assert response.status_code == 400 and response.json()["code"] == "unknown_stage"
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


def test_other_refusals_say_why(client, cast):
    lead = LeadFactory(employer=cast.employer, stage=Stage.APPLIED)
    client.force_login(cast.teammate)
    response = client.post(move_url(lead), {"to_stage": "applied"})
    assert response.status_code == 409 and response.json()["code"] == "same_stage"
    response = client.post(move_url(lead), {"to_stage": "new", "reason": "x" * 2001})
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    response = client.post(move_url(lead), {"to_stage": "new", "reason": "a\x00b"})
    assert response.status_code == 400
    lead.refresh_from_db()
    assert lead.stage == Stage.APPLIED


def test_move_of_another_employers_lead_is_404(client, cast):
    theirs = LeadFactory(employer=cast.other_employer)
    client.force_login(cast.teammate)
    assert client.post(move_url(theirs), {"to_stage": "contacted"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.stage == Stage.NEW


def test_move_needs_post_login_and_csrf(client, cast):
    lead = LeadFactory(employer=cast.employer)
    assert client.post(move_url(lead), {"to_stage": "contacted"}).status_code == 302  # to the login page
    client.force_login(cast.teammate)
    assert client.get(move_url(lead)).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cast.teammate)
    assert strict.post(move_url(lead), {"to_stage": "contacted"}).status_code == 403
    strict.get(BOARD)  # sets the CSRF cookie, as the page does
    token = strict.cookies["csrftoken"].value
    assert strict.post(move_url(lead), {"to_stage": "contacted"}, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_cards_fall_back_to_the_move_page_without_javascript(client, cast):
    lead = LeadFactory(employer=cast.employer, name="Ana", stage=Stage.CONTACTED)
    client.force_login(cast.teammate)
    html = client.get(BOARD).content.decode()
    assert f'action="/leads/{lead.pk}/move/"' in html and f'data-url="/leads/board/move/{lead.pk}/"' in html
    response = client.post(reverse("leads:lead_move", args=[lead.pk]), {"to_stage": "applied", "next": BOARD})
    assert response.status_code == 302 and response["Location"] == BOARD
    lead.refresh_from_db()
    assert lead.stage == Stage.APPLIED


def test_board_filters_ignore_a_bad_value(client, cast):
    LeadFactory(employer=cast.employer, name="Mine", owner=cast.teammate)
    LeadFactory(employer=cast.employer, name="Other")
    client.force_login(cast.teammate)
    new = column(client.get(f"{BOARD}?owner={cast.teammate.pk}&stage=bogus"), Stage.NEW)
    assert [lead.name for lead in new.leads] == ["Mine"] and new.count == 1


def test_a_column_beyond_the_count_cap_says_so(client, cast, monkeypatch):
    from leads.selectors import board as selectors_board

    monkeypatch.setattr(selectors_board, "BOARD_COUNT_CAP", 2)
    monkeypatch.setattr(selectors_board.board_counts, "__kwdefaults__", {"cap": 2})
    from leads.views import board as board_view

    monkeypatch.setattr(board_view, "BOARD_COUNT_CAP", 2)
    LeadFactory.create_batch(3, employer=cast.employer)
    client.force_login(cast.teammate)
    response = client.get(BOARD)
    new = response.context["columns"][0]
    assert new.capped and len(new.leads) == 3
    assert 'data-capped="true">2+</span>' in response.content.decode()
