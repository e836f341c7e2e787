"""Keyset paging of GET /api/v1/leads: a walk over many leads, while leads are added, returns
each lead once; a page costs the same queries wherever it is, with no OFFSET and no COUNT."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leads.models import ApiKey, Citizenship, Lead, Skill
from leads.services.api_keys import api_key_create

LEADS = "/api/v1/leads"
BASE = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
ORIGINAL = 10_000
PAGE = 200


@pytest.fixture(autouse=True)
def _no_rate_limits(settings) -> None:
    settings.RELOCATE_API_RATE = 10**9
    settings.RELOCATE_API_AUTH_FAILURE_RATE = 10**9
    # Key ids are reused between tests; their rate counters must not be.
    cache.clear()


@pytest.fixture
def reader(cast) -> tuple[ApiKey, str]:
    key, raw = api_key_create(employer=cast.employer, name="warehouse")
    key.scope_intake, key.scope_read = False, True
    key.save(update_fields=["scope_intake", "scope_read"])
    return key, raw


def created_at_of(i: int) -> dt.datetime:
    """Distinct moments for most leads (some on whole seconds, some not), runs of 7 on one moment,
    and 500 leads on a single moment: more than two pages of one tie."""
    if i < 6_000:
        return BASE + dt.timedelta(seconds=i, milliseconds=(i % 4) * 250)
    if i < 9_500:
        return BASE + dt.timedelta(seconds=6_000 + (i - 6_000) // 7)
    return BASE + dt.timedelta(seconds=7_000)


def new_leads(employer, count: int, *, start: int, at: Any, prefix: str = "p") -> list[Lead]:
    rows = [Lead(employer=employer, name=f"Lead {n}", email=f"{prefix}{n}@example.org", created_at=at(n),
                 stage_changed_at=at(n), last_activity_at=at(n)) for n in range(start, start + count)]
    Lead.objects.bulk_create(rows, batch_size=1_000)
    return rows


def page(client: Client, raw: str, cursor: str | None, limit: int = PAGE) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    response = client.get(LEADS, params, headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200, response.content[:500]
    return response.json()


def test_a_walk_over_10000_leads_returns_each_once_while_leads_are_added(client, cast, reader):
    new_leads(cast.employer, ORIGINAL, start=0, at=created_at_of)
    original = set(Lead.objects.filter(employer=cast.employer).values_list("pk", flat=True))
    assert len(original) == ORIGINAL
    new_leads(cast.other_employer, 300, start=0, at=created_at_of, prefix="theirs")
    ahead, behind = set(), set()  # added where the walk has been, and where it has yet to go

    seen: list[int] = []
    cursor = None
    for number in range(1, 200):
        data = page(client, reader[1], cursor)
        seen += [row["id"] for row in data["results"]]
        cursor = data["next_cursor"]
        if cursor is None:
            break
        last = Lead.objects.get(pk=seen[-1]).created_at
        # Between pages: a lead on the cursor's own moment and one newer (both already passed
        # in the order of the walk), and one older (still to come).
        moments = [last, last + dt.timedelta(days=30), BASE - dt.timedelta(days=1, seconds=number)]
        added = new_leads(cast.employer, 3, start=0, prefix=f"added{number}-", at=moments.__getitem__)
        pks = dict(Lead.objects.filter(email__in=[lead.email for lead in added]).values_list("email", "pk"))
        ahead |= {pks[added[0].email], pks[added[1].email]}
        behind.add(pks[added[2].email])
    assert cursor is None, "the walk did not end"

    assert len(seen) == len(set(seen)), "a lead was returned twice"
    assert original <= set(seen), f"{len(original - set(seen))} leads were never returned"
    assert not ahead & set(seen), "a lead added behind the cursor shifted into the walk"
    assert behind <= set(seen)
    assert set(seen) <= original | behind
    # Newest first throughout, ties by id.
    order = dict(Lead.objects.filter(pk__in=seen).values_list("pk", "created_at"))
    keys = [(order[pk], pk) for pk in seen]
    assert keys == sorted(keys, reverse=True)


def test_a_tie_longer_than_a_page_is_walked_whole(client, cast, reader):
    moment = BASE + dt.timedelta(hours=1)
    new_leads(cast.employer, 450, start=0, at=lambda n: moment)
    new_leads(cast.employer, 5, start=450, at=lambda n: moment - dt.timedelta(seconds=n))
    seen, cursor = [], None
    for _ in range(10):
        data = page(client, reader[1], cursor)
        seen += [row["id"] for row in data["results"]]
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 455
    tied = list(Lead.objects.filter(created_at=moment).order_by("-pk").values_list("pk", flat=True))
    assert seen[:450] == tied


# --- the cost of a page ---------------------------------------------------------------------


@pytest.fixture
def many_with_lists(cast) -> None:
    """250 leads, each with an owner, two citizenships and two skills: lists a page must not
    fetch lead by lead."""
    leads = new_leads(cast.employer, 250, start=0, at=lambda n: BASE + dt.timedelta(minutes=n))
    leads = list(Lead.objects.filter(employer=cast.employer))
    Lead.objects.filter(employer=cast.employer).update(owner=cast.teammate)
    Citizenship.objects.bulk_create([Citizenship(lead=lead, country=country) for lead in leads
                                     for country in ("GB", "US")])
    python, django = (Skill.objects.create(employer=cast.employer, name=name) for name in ("Python", "Django"))
    through = Lead.skills.through
    through.objects.bulk_create([through(lead_id=lead.pk, skill_id=skill.pk) for lead in leads
                                 for skill in (python, django)])


def test_page_40_costs_the_same_queries_as_page_1_with_no_offset_or_count(client, cast, reader, many_with_lists):
    limit = 5
    page(client, reader[1], None, limit)  # the key's last_used_at is written once a minute: not here
    with CaptureQueriesContext(connection) as first:
        data = page(client, reader[1], None, limit)
    assert data["results"][0]["citizenships"] == ["GB", "US"]
    assert data["results"][0]["skills"] == ["Django", "Python"]
    assert data["results"][0]["owner"]["id"] == cast.teammate.pk
    cursor = data["next_cursor"]
    for _ in range(38):
        cursor = page(client, reader[1], cursor, limit)["next_cursor"]
    with CaptureQueriesContext(connection) as fortieth:
        data = page(client, reader[1], cursor, limit)
    assert [row["name"] for row in data["results"]] == [f"Lead {n}" for n in range(54, 49, -1)]

    assert len(fortieth.captured_queries) == len(first.captured_queries)
    # The key; the page with its owners; its citizenships; its skills; the audit row.
    assert len(fortieth.captured_queries) == 5, [q["sql"] for q in fortieth.captured_queries]
    for query in first.captured_queries + fortieth.captured_queries:
        sql = query["sql"].upper()
        assert " OFFSET " not in sql, sql
        assert "COUNT(" not in sql, sql


def test_a_page_is_one_bounded_query_of_the_leads(client, cast, reader, many_with_lists):
    page(client, reader[1], None, 200)
    with CaptureQueriesContext(connection) as queries:
        data = page(client, reader[1], None, 200)
    assert len(data["results"]) == 200
    (lead_query,) = [q["sql"] for q in queries.captured_queries if 'FROM "leads_lead"' in q["sql"]]
    assert "LIMIT 201" in lead_query.upper(), lead_query
