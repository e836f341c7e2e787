"""The board: a column per milestone, capped, moves through the pipeline, fixed query count."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import MILESTONES, Stage
from leads.selectors import board as selectors
from tests.factories import LeadFactory

BOARD = reverse("leads:board")
# The board, however many cards: the session, the user, the user's employers (recruiter_view),
# the owners to filter by, one query per milestone column (8), the openings of the filter form.
BOARD_QUERIES = 13


def test_board_has_a_column_per_milestone_with_own_leads_only(client, cast):
    LeadFactory(employer=cast.employer, name="Ana", stage=Stage.CONTACTED)
    LeadFactory(employer=cast.employer, name="Closed", stage=Stage.DECLINED)
    LeadFactory(employer=cast.other_employer, name="Theirs", stage=Stage.CONTACTED)
    client.force_login(cast.teammate)
    response = client.get(BOARD)
    assert response.status_code == 200
    columns = response.context["columns"]
    assert [c.stage for c in columns] == list(MILESTONES)
    contacted = next(c for c in columns if c.stage == Stage.CONTACTED)
    assert [lead.name for lead in contacted.leads] == ["Ana"]
    html = response.content.decode()
    assert "Theirs" not in html and "Closed" not in html


def test_columns_are_capped_with_a_link_to_the_list(client, cast, monkeypatch):
    monkeypatch.setattr(selectors, "BOARD_COLUMN_CAP", 3)
    monkeypatch.setattr(selectors.board_columns, "__kwdefaults__", {"cap": 3})
    LeadFactory.create_batch(5, employer=cast.employer)
    client.force_login(cast.teammate)
    response = client.get(BOARD)
    new = response.context["columns"][0]
    assert len(new.leads) == 3 and new.more
    assert "stage=new" in response.content.decode()


def test_board_query_count_does_not_grow(client, cast, django_assert_num_queries):
    client.force_login(cast.teammate)

    def count_after_adding(n: int) -> int:
        for stage in MILESTONES:
            LeadFactory.create_batch(n, employer=cast.employer, stage=stage, owner=cast.owner)
        with CaptureQueriesContext(connection) as ctx:
            client.get(BOARD)
        return len(ctx.captured_queries)

    assert count_after_adding(2) == count_after_adding(10)  # no query per card or column
    with django_assert_num_queries(BOARD_QUERIES):
        assert client.get(BOARD).status_code == 200


def test_moving_a_card_with_htmx_returns_the_board(client, cast):
    lead = LeadFactory(employer=cast.employer, name="Ana")
    client.force_login(cast.teammate)
    response = client.post(reverse("leads:lead_move", args=[lead.pk]), {"to_stage": "contacted", "next": BOARD},
                           HTTP_HX_REQUEST="true", follow=True)
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    contacted = next(c for c in response.context["columns"] if c.stage == Stage.CONTACTED)
    assert [lead.name for lead in contacted.leads] == ["Ana"]


def test_board_filters_and_outsider(client, cast):
    LeadFactory(employer=cast.employer, name="Mine", owner=cast.teammate)
    LeadFactory(employer=cast.employer, name="Other")
    client.force_login(cast.teammate)
    new = client.get(f"{BOARD}?owner={cast.teammate.pk}&stage=bogus").context["columns"][0]
    assert [lead.name for lead in new.leads] == ["Mine"]
    client.force_login(cast.outsider)
    assert "Mine" not in client.get(BOARD).content.decode()
