"""The leads API: GET /api/v1/leads, GET /api/v1/leads/{id}, POST …/stage and …/notes, the
stage-events feed, scopes, tenancy, the audit log, the error shape and the OpenAPI document."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import (
    ApiKey,
    AuditAction,
    AuditEvent,
    Lead,
    Note,
    Source,
    Stage,
    StageEvent,
    display_name,
)
from leads.services.api_keys import api_key_create
from leads.services.merge import lead_merge
from leads.services.pipeline import lead_move_stage
from leads.services.privacy import lead_erase
from tests.factories import (
    CitizenshipFactory,
    ClosedReasonFactory,
    InquiryFactory,
    LeadFactory,
    NoteFactory,
    OpeningFactory,
    PossibleDuplicateFactory,
    SkillFactory,
    UserFactory,
)

LEADS = "/api/v1/leads"
EVENTS = "/api/v1/stage-events"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings) -> None:
    settings.RELOCATE_API_RATE = 10**9
    settings.RELOCATE_API_AUTH_FAILURE_RATE = 10**9
    # Key ids are reused between tests; their rate counters must not be.
    cache.clear()


def make_key(employer, name: str, *, intake: bool = False, read: bool = False,
             write: bool = False) -> tuple[ApiKey, str]:
    key, raw = api_key_create(employer=employer, name=name)
    key.scope_intake, key.scope_read, key.scope_write = intake, read, write
    key.save(update_fields=["scope_intake", "scope_read", "scope_write"])
    return key, raw


@pytest.fixture
def hris(cast) -> tuple[ApiKey, str]:
    """A key that reads and writes (an HRIS): the one most tests use."""
    return make_key(cast.employer, "hris", read=True, write=True)


@pytest.fixture
def their_key(cast) -> tuple[ApiKey, str]:
    """The outsider's employer's own key, with every scope."""
    return make_key(cast.other_employer, "their hris", intake=True, read=True, write=True)


def get(client: Client, raw: str, path: str, params: dict[str, Any] | None = None) -> HttpResponse:
    return client.get(path, params or {}, headers={"Authorization": f"Bearer {raw}"})


def post(client: Client, raw: str, path: str, body: Any, *, content: bytes | None = None,
         content_type: str = "application/json") -> HttpResponse:
    data = content if content is not None else json.dumps(body)
    return client.post(path, data=data, content_type=content_type, headers={"Authorization": f"Bearer {raw}"})


def errors_of(response: HttpResponse, status: int) -> dict[str, list[str]]:
    """The body of a refusal, checked to be the API's one error shape."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["errors"], body
    errors = body["errors"]
    assert isinstance(errors, dict) and errors, body
    for field, messages in errors.items():
        assert isinstance(field, str) and field
        assert isinstance(messages, list) and messages, body
        assert all(isinstance(m, str) and m.strip() for m in messages), body
    return errors


def ids(response: HttpResponse) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [row["id"] for row in response.json()["results"]]


def b64(text: str) -> str:
    """A cursor as the API spells one, around any text."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def stage_url(lead_id: int) -> str:
    return f"{LEADS}/{lead_id}/stage"


def notes_url(lead_id: int) -> str:
    return f"{LEADS}/{lead_id}/notes"


# --- the list -------------------------------------------------------------------------------


def test_the_list_is_newest_first_with_the_lead_fields(client, cast, hris):
    older = LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(days=2), name="Ana Silva")
    newer = LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(days=1), owner=cast.teammate)
    response = get(client, hris[1], LEADS)
    assert ids(response) == [newer.pk, older.pk]
    assert response.json()["next_cursor"] is None
    row = response.json()["results"][1]
    assert (row["name"], row["email"], row["stage"], row["source"], row["owner"]) == (
        "Ana Silva", older.email, "new", "web_form", None)
    assert response.json()["results"][0]["owner"]["id"] == cast.teammate.pk


def test_the_stage_filter_takes_one_or_more_stages(client, cast, hris):
    new = LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(hours=3))
    applied = LeadFactory(employer=cast.employer, stage=Stage.APPLIED, furthest_stage=Stage.APPLIED,
                          created_at=T0 - dt.timedelta(hours=2))
    offer = LeadFactory(employer=cast.employer, stage=Stage.OFFER, furthest_stage=Stage.OFFER,
                        created_at=T0 - dt.timedelta(hours=1))
    assert ids(get(client, hris[1], LEADS, {"stage": "applied"})) == [applied.pk]
    assert ids(get(client, hris[1], LEADS, {"stage": ["new", "offer"]})) == [offer.pk, new.pk]
    assert ids(get(client, hris[1], LEADS, {"stage": "hired"})) == []


def test_the_owner_filter_takes_a_user_id_or_none(client, cast, hris):
    mine = LeadFactory(employer=cast.employer, owner=cast.teammate, created_at=T0 - dt.timedelta(hours=2))
    owners = LeadFactory(employer=cast.employer, owner=cast.owner, created_at=T0 - dt.timedelta(hours=1))
    nobodys = LeadFactory(employer=cast.employer, created_at=T0)
    assert ids(get(client, hris[1], LEADS, {"owner": cast.teammate.pk})) == [mine.pk]
    assert ids(get(client, hris[1], LEADS, {"owner": cast.owner.pk})) == [owners.pk]
    assert ids(get(client, hris[1], LEADS, {"owner": "none"})) == [nobodys.pk]


def test_the_source_and_country_filters(client, cast, hris):
    api_nz = LeadFactory(employer=cast.employer, source=Source.API, current_country="NZ",
                         created_at=T0 - dt.timedelta(hours=2))
    form_nz = LeadFactory(employer=cast.employer, current_country="NZ", created_at=T0 - dt.timedelta(hours=1))
    api_us = LeadFactory(employer=cast.employer, source=Source.API, current_country="US", created_at=T0)
    assert ids(get(client, hris[1], LEADS, {"source": "api"})) == [api_us.pk, api_nz.pk]
    assert ids(get(client, hris[1], LEADS, {"country": "NZ"})) == [form_nz.pk, api_nz.pk]
    assert ids(get(client, hris[1], LEADS, {"country": "nz", "source": "api"})) == [api_nz.pk]


def test_created_from_is_inclusive_and_created_to_exclusive(client, cast, hris):
    leads = [LeadFactory(employer=cast.employer, created_at=T0 + dt.timedelta(days=d)) for d in range(4)]
    params = {"created_from": (T0 + dt.timedelta(days=1)).isoformat(),
              "created_to": (T0 + dt.timedelta(days=3)).isoformat()}
    assert ids(get(client, hris[1], LEADS, params)) == [leads[2].pk, leads[1].pk]
    # Another zone, the same moment.
    auckland = (T0 + dt.timedelta(days=3)).astimezone(dt.timezone(dt.timedelta(hours=13))).isoformat()
    assert ids(get(client, hris[1], LEADS, {"created_from": auckland})) == [leads[3].pk]
    assert ids(get(client, hris[1], LEADS, {"created_to": "2026-03-02T09:00:00Z"})) == []


def test_updated_since_finds_the_leads_changed_since(client, cast, hris):
    stale = LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(days=9))
    fresh = LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(days=8))
    # update() leaves auto_now alone: the stamps are as written here.
    Lead.objects.filter(pk=stale.pk).update(updated_at=T0 - dt.timedelta(days=2))
    Lead.objects.filter(pk=fresh.pk).update(updated_at=T0)
    assert ids(get(client, hris[1], LEADS, {"updated_since": "2026-03-01T00:00:00Z"})) == [fresh.pk]
    assert ids(get(client, hris[1], LEADS, {"updated_since": "2026-02-01T00:00:00Z"})) == [fresh.pk, stale.pk]


@pytest.mark.parametrize(("params", "field"), [
    ({"stage": "limbo"}, "stage"),
    ({"stage": ["new", "limbo"]}, "stage"),
    ({"owner": "abc"}, "owner"),
    ({"owner": "-3"}, "owner"),
    ({"owner": str(2**70)}, "owner"),
    ({"source": "carrier_pigeon"}, "source"),
    ({"country": "NZL"}, "country"),
    ({"created_from": "yesterday"}, "created_from"),
    ({"created_from": "2026-03-01T00:00:00"}, "created_from"),
    ({"created_to": "2026-13-45T00:00:00Z"}, "created_to"),
    ({"updated_since": "soon"}, "updated_since"),
    ({"updated_since": "2026-03-01"}, "updated_since"),
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"limit": -1}, "limit"),
    ({"limit": "ten"}, "limit"),
])
def test_a_bad_filter_answers_400_naming_it(client, cast, hris, params, field):
    LeadFactory(employer=cast.employer)
    errors = errors_of(get(client, hris[1], LEADS, params), 400)
    assert field in errors, errors


def test_two_bad_filters_are_both_named(client, cast, hris):
    errors = errors_of(get(client, hris[1], LEADS, {"owner": "x", "created_from": "y"}), 400)
    assert {"owner", "created_from"} <= set(errors)


@pytest.mark.parametrize("cursor", [
    "garbage", "!!!!", b64("L"), b64("E12"), b64("L2026-03-02T09:00:00+00:00_x"),
    b64("L2026-03-02T09:00:00_5"), b64("Lnot-a-date_5"), b64("L_5"), "x" * 200,
])
def test_a_bad_cursor_answers_400_cursor(client, cast, hris, cursor):
    LeadFactory(employer=cast.employer)
    assert "cursor" in errors_of(get(client, hris[1], LEADS, {"cursor": cursor}), 400)


def test_limit_bounds_and_the_cursor_walk(client, cast, hris):
    leads = [LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(minutes=i)) for i in range(5)]
    assert len(ids(get(client, hris[1], LEADS, {"limit": 1}))) == 1
    assert len(ids(get(client, hris[1], LEADS, {"limit": 200}))) == 5
    assert len(ids(get(client, hris[1], LEADS))) == 5  # the default (50) holds them all
    seen, cursor = [], None
    for _ in range(5):
        page = get(client, hris[1], LEADS, {"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += ids(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [lead.pk for lead in leads]


def test_the_default_limit_is_50(client, cast, hris):
    Lead.objects.bulk_create(
        LeadFactory.build(employer=cast.employer, created_at=T0 - dt.timedelta(seconds=i)) for i in range(51))
    page = get(client, hris[1], LEADS)
    assert len(ids(page)) == 50 and page.json()["next_cursor"]


def test_filters_hold_across_pages(client, cast, hris):
    applied = [LeadFactory(employer=cast.employer, stage=Stage.APPLIED, furthest_stage=Stage.APPLIED,
                           created_at=T0 - dt.timedelta(minutes=2 * i)) for i in range(3)]
    for i in range(3):
        LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(minutes=2 * i + 1))
    first = get(client, hris[1], LEADS, {"stage": "applied", "limit": 2})
    rest = get(client, hris[1], LEADS, {"stage": "applied", "limit": 2, "cursor": first.json()["next_cursor"]})
    assert ids(first) + ids(rest) == [lead.pk for lead in applied]
    assert rest.json()["next_cursor"] is None


# --- one lead -------------------------------------------------------------------------------


def test_reading_a_lead_gives_its_profile_lists_inquiries_and_history(client, cast, hris):
    opening = OpeningFactory(employer=cast.employer)
    lead = LeadFactory(employer=cast.employer, name="Ana Silva", email="ana@example.org", phone="+64211234567",
                       current_country="NZ", current_city="Wellington", opening=opening, years_experience=7,
                       needs_sponsorship=True, move_timeline="3m", earliest_move_date=dt.date(2027, 2, 1),
                       owner=cast.teammate, created_at=T0 - dt.timedelta(days=5))
    CitizenshipFactory(lead=lead, country="US")
    CitizenshipFactory(lead=lead, country="GB")
    lead.skills.add(SkillFactory(employer=cast.employer, name="python"),
                    SkillFactory(employer=cast.employer, name="Django"))
    second = InquiryFactory(lead=lead, received_at=T0 - dt.timedelta(days=1), subject="Second", body="Any news?")
    first = InquiryFactory(lead=lead, received_at=T0 - dt.timedelta(days=4), subject="First", is_repeat=False)
    by_recruiter = lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, by=cast.teammate)
    by_api = lead_move_stage(lead=lead, to_stage=Stage.APPLIED, api_key=hris[0])

    response = get(client, hris[1], f"{LEADS}/{lead.pk}")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["id"], data["name"], data["email"], data["phone"]) == (lead.pk, "Ana Silva", "ana@example.org",
                                                                        "+64211234567")
    assert (data["current_country"], data["current_city"], data["opening"]) == ("NZ", "Wellington", opening.pk)
    assert (data["years_experience"], data["needs_sponsorship"], data["move_timeline"]) == (7, True, "3m")
    assert data["earliest_move_date"] == "2027-02-01"
    assert (data["stage"], data["furthest_stage"], data["closed_reason"], data["cv"]) == (
        "applied", "applied", None, False)
    assert data["citizenships"] == ["GB", "US"]
    assert data["skills"] == ["Django", "python"]
    assert data["owner"] == {"id": cast.teammate.pk, "name": display_name(cast.teammate),
                             "email": cast.teammate.email}
    assert [i["id"] for i in data["inquiries"]] == [first.pk, second.pk]
    assert data["inquiries"][1] == {**data["inquiries"][1], "subject": "Second", "message": "Any news?",
                                    "source": "web_form", "is_repeat": False}
    history = data["stage_history"]
    assert [e["id"] for e in history] == [by_recruiter.pk, by_api.pk]
    assert [(e["from_stage"], e["to_stage"], e["by"]) for e in history] == [
        ("new", "contacted", "recruiter"), ("contacted", "applied", "api")]
    assert all(e["lead"] == lead.pk for e in history)


def test_a_merged_leads_old_id_says_which_lead_it_went_into(client, cast, hris):
    kept = LeadFactory(employer=cast.employer, email="ana@example.org")
    gone = LeadFactory(employer=cast.employer, email="ana.work@example.org")
    PossibleDuplicateFactory(lead=kept, other=gone)
    gone_id = gone.pk
    lead_merge(lead=kept, other=gone, by=cast.owner)
    for response in (get(client, hris[1], f"{LEADS}/{gone_id}"),
                     post(client, hris[1], stage_url(gone_id), {"stage": "contacted"}),
                     post(client, hris[1], notes_url(gone_id), {"body": "Called"})):
        message = " ".join(errors_of(response, 404)["lead"])
        assert f"merged into lead {kept.pk}" in message, message
    assert not Note.objects.exists() and not StageEvent.objects.exists()


@pytest.mark.parametrize("lead_id", ["999999", str(2**63 - 1), str(2**63), str(2**70)])
def test_an_unknown_lead_id_answers_404(client, cast, hris, lead_id):
    errors = errors_of(get(client, hris[1], f"{LEADS}/{lead_id}"), 404)
    assert errors


# --- moving a lead's stage ------------------------------------------------------------------


@pytest.fixture
def lead(cast) -> Lead:
    return LeadFactory(employer=cast.employer, name="Ana Silva", email="ana@example.org",
                       stage_changed_at=T0 - dt.timedelta(days=1))


def test_a_forward_move_answers_200_with_the_event_by_the_api(client, cast, hris, lead):
    response = post(client, hris[1], stage_url(lead.pk), {"stage": "interviewing"})
    assert response.status_code == 200, response.content
    event = StageEvent.objects.get()
    assert (event.lead, event.from_stage, event.to_stage, event.api_key, event.by) == (
        lead, "new", "interviewing", hris[0], None)
    data = response.json()
    assert (data["id"], data["lead"], data["from_stage"], data["to_stage"], data["by"]) == (
        event.pk, lead.pk, "new", "interviewing", "api")
    assert data["closed_reason"] is None and data["reason"] == ""
    lead.refresh_from_db()
    assert (lead.stage, lead.furthest_stage) == ("interviewing", "interviewing")
    assert lead.first_contacted_at is not None


def test_moving_backwards_needs_a_reason(client, cast, hris, lead):
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.OFFER, furthest_stage=Stage.OFFER)
    assert "reason" in errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "applied"}), 422)
    assert "reason" in errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "applied", "reason": "  "}),
                                 422)
    assert not StageEvent.objects.exists()
    moved = post(client, hris[1], stage_url(lead.pk), {"stage": "applied", "reason": "Offer withdrawn by us"})
    assert moved.status_code == 200, moved.content
    assert moved.json()["reason"] == "Offer withdrawn by us"
    lead.refresh_from_db()
    assert (lead.stage, lead.furthest_stage) == ("applied", "offer")


def test_closing_needs_a_closed_reason_given_by_its_label(client, cast, hris, lead):
    salary = ClosedReasonFactory(employer=cast.employer, label="Salary too low")
    errors = errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "declined"}), 422)
    assert "closed_reason" in errors
    assert not StageEvent.objects.exists()
    response = post(client, hris[1], stage_url(lead.pk), {"stage": "declined", "closed_reason": " salary TOO low "})
    assert response.status_code == 200, response.content
    assert response.json()["closed_reason"] == "Salary too low"
    lead.refresh_from_db()
    assert (lead.stage, lead.closed_reason) == ("declined", salary)
    assert StageEvent.objects.get().closed_reason == salary


def test_an_unknown_or_foreign_closed_reason_answers_422(client, cast, hris, lead):
    ClosedReasonFactory(employer=cast.employer, label="Salary too low")
    ClosedReasonFactory(employer=cast.other_employer, label="Their reason")
    for label in ("Visa refused", "Their reason"):
        errors = errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "declined", "closed_reason": label}),
                           422)
        assert "closed_reason" in errors
        assert "Salary too low" in " ".join(errors["closed_reason"])  # the caller learns the choices
    assert not StageEvent.objects.exists()


def test_a_closed_reason_for_another_closed_stage_answers_422(client, cast, hris, lead):
    ClosedReasonFactory(employer=cast.employer, label="Stopped answering", stage=Stage.UNRESPONSIVE)
    body = {"stage": "declined", "closed_reason": "Stopped answering"}
    assert "closed_reason" in errors_of(post(client, hris[1], stage_url(lead.pk), body), 422)
    assert not StageEvent.objects.exists()


def test_a_closed_reason_without_closing_answers_422(client, cast, hris, lead):
    ClosedReasonFactory(employer=cast.employer, label="Salary too low")
    body = {"stage": "contacted", "closed_reason": "Salary too low"}
    errors_of(post(client, hris[1], stage_url(lead.pk), body), 422)
    assert not StageEvent.objects.exists()


def test_reopening_a_closed_lead_needs_a_reason(client, cast, hris, lead):
    ClosedReasonFactory(employer=cast.employer, label="Salary too low")
    assert post(client, hris[1], stage_url(lead.pk), {"stage": "withdrawn", "closed_reason": "Salary too low"}
                ).status_code == 200
    assert "reason" in errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "contacted"}), 422)
    reopened = post(client, hris[1], stage_url(lead.pk), {"stage": "contacted", "reason": "Wrote back"})
    assert reopened.status_code == 200
    lead.refresh_from_db()
    assert (lead.stage, lead.closed_reason) == ("contacted", None)


def test_the_same_stage_answers_409(client, cast, hris, lead):
    assert "stage" in errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "new"}), 409)
    assert not StageEvent.objects.exists()


def test_an_erased_lead_cannot_move_409(client, cast, hris, lead):
    lead_erase(lead=lead, by=cast.owner, how="on request")
    errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "contacted"}), 409)
    assert not StageEvent.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"stage": 5}, "stage"),
    ({"stage": "limbo"}, "stage"),
    ({"stage": None}, "stage"),
    ({}, "stage"),
    ({"stage": "contacted", "reason": 3}, "reason"),
    ({"stage": "contacted", "reason": "x" * 2001}, "reason"),
    ({"stage": "contacted", "by": "someone"}, "by"),
    ({"stage": "declined", "closed_reason": ["a"]}, "closed_reason"),
])
def test_a_bad_stage_body_answers_400_naming_the_field(client, cast, hris, lead, body, field):
    assert field in errors_of(post(client, hris[1], stage_url(lead.pk), body), 400)
    assert not StageEvent.objects.exists()


# --- notes ----------------------------------------------------------------------------------


def test_a_note_is_added_and_attributed_to_the_key(client, cast, hris, lead):
    response = post(client, hris[1], notes_url(lead.pk), {"body": "  Called: starts in May.  "})
    assert response.status_code == 201, response.content
    note = Note.objects.get()
    assert (note.lead, note.author, note.api_key, note.body) == (lead, None, hris[0], "Called: starts in May.")
    data = response.json()
    assert (data["id"], data["lead"], data["body"]) == (note.pk, lead.pk, "Called: starts in May.")
    assert data["created_at"]


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   \n "}, {}, {"body": None}, {"body": 7},
                                  {"body": "x" * 20_001}, {"body": "nul \u0000 inside"}])
def test_a_bad_note_answers_400_body_and_writes_nothing(client, cast, hris, lead, body):
    assert "body" in errors_of(post(client, hris[1], notes_url(lead.pk), body), 400)
    assert not Note.objects.exists()


def test_a_note_on_an_erased_lead_answers_409(client, cast, hris, lead):
    lead_erase(lead=lead, by=cast.owner, how="on request")
    errors_of(post(client, hris[1], notes_url(lead.pk), {"body": "Called"}), 409)
    assert not Note.objects.exists()


# --- the stage-events feed ------------------------------------------------------------------


def feed(client: Client, raw: str, cursor: str | None = None, limit: int | None = None) -> HttpResponse:
    params: dict[str, Any] = {}
    if cursor is not None:
        params["cursor"] = cursor
    if limit is not None:
        params["limit"] = limit
    return get(client, raw, EVENTS, params)


@pytest.fixture
def settled(settings) -> None:
    settings.RELOCATE_API_EVENTS_SETTLE_SECONDS = 5


def test_the_feed_walk_returns_every_event_once(client, cast, hris, settled):
    with time_machine.travel(T0, tick=False):
        leads = [LeadFactory(employer=cast.employer) for _ in range(3)]
        events = [lead_move_stage(lead=lead, to_stage=stage, by=cast.teammate)
                  for lead in leads for stage in (Stage.CONTACTED, Stage.APPLIED)]
        theirs = LeadFactory(employer=cast.other_employer)
        lead_move_stage(lead=theirs, to_stage=Stage.CONTACTED)
        events.append(lead_move_stage(lead=leads[0], to_stage=Stage.OFFER, api_key=hris[0]))
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        seen, cursor = [], None
        for _ in range(10):
            page = feed(client, hris[1], cursor, limit=3)
            assert page.status_code == 200, page.content
            got = page.json()["results"]
            seen += [e["id"] for e in got]
            assert page.json()["next_cursor"]
            cursor = page.json()["next_cursor"]
            if not got:
                break
        assert seen == [e.pk for e in events]
        # Nothing new: the same cursor again, and no results.
        again = feed(client, hris[1], cursor, limit=3)
        assert again.json() == {"results": [], "next_cursor": cursor}
        last = feed(client, hris[1], limit=100).json()["results"][-1]
        assert (last["from_stage"], last["to_stage"], last["by"], last["lead"]) == (
            "applied", "offer", "api", leads[0].pk)


def test_the_feed_picks_up_new_events_from_the_cursor(client, cast, hris, settled):
    with time_machine.travel(T0, tick=False):
        lead = LeadFactory(employer=cast.employer)
        first = lead_move_stage(lead=lead, to_stage=Stage.CONTACTED)
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        page = feed(client, hris[1]).json()
        assert [e["id"] for e in page["results"]] == [first.pk]
        assert page["results"][0]["by"] == "system"
        second = lead_move_stage(lead=lead, to_stage=Stage.APPLIED)
    with time_machine.travel(T0 + dt.timedelta(minutes=2), tick=False):
        later = feed(client, hris[1], page["next_cursor"]).json()
        assert [e["id"] for e in later["results"]] == [second.pk]
        assert later["next_cursor"] != page["next_cursor"]


def test_events_newer_than_the_settle_time_are_held_back(client, cast, hris, settings):
    settings.RELOCATE_API_EVENTS_SETTLE_SECONDS = 30
    with time_machine.travel(T0, tick=False):
        lead = LeadFactory(employer=cast.employer)
        start = feed(client, hris[1]).json()
        event = lead_move_stage(lead=lead, to_stage=Stage.CONTACTED)
    with time_machine.travel(T0 + dt.timedelta(seconds=29), tick=False):
        held = feed(client, hris[1], start["next_cursor"]).json()
        assert held == {"results": [], "next_cursor": start["next_cursor"]}
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        ready = feed(client, hris[1], start["next_cursor"]).json()
        assert [e["id"] for e in ready["results"]] == [event.pk]


@pytest.mark.parametrize("cursor", ["garbage", b64("E"), b64("E-1"), b64("Eabc"), b64("L1"), b64(f"E{2**63}")])
def test_a_bad_feed_cursor_answers_400_cursor(client, cast, hris, cursor):
    assert "cursor" in errors_of(feed(client, hris[1], cursor), 400)


@pytest.mark.parametrize("limit", [0, 1001, "many"])
def test_the_feed_limit_is_bounded(client, cast, hris, limit):
    assert "limit" in errors_of(feed(client, hris[1], limit=limit), 400)


# --- scopes and keys ------------------------------------------------------------------------


def _every_call(lead_id: int) -> list[tuple[str, str]]:
    return [("get", LEADS), ("get", f"{LEADS}/{lead_id}"), ("post", stage_url(lead_id)),
            ("post", notes_url(lead_id)), ("get", EVENTS)]


def call(client: Client, raw: str, method: str, path: str) -> HttpResponse:
    if method == "get":
        return get(client, raw, path)
    body = {"stage": "contacted"} if path.endswith("/stage") else {"body": "Called"}
    return post(client, raw, path, body)


def test_an_intake_only_key_cannot_touch_leads(client, cast, lead):
    _, raw = api_key_create(employer=cast.employer, name="careers site")  # intake only, as created
    for method, path in _every_call(lead.pk):
        assert "scope" in errors_of(call(client, raw, method, path), 403), path
    assert not StageEvent.objects.exists() and not Note.objects.exists()


def test_a_read_key_cannot_write(client, cast, lead):
    _, raw = make_key(cast.employer, "warehouse", read=True)
    for method, path in _every_call(lead.pk):
        response = call(client, raw, method, path)
        if method == "get":
            assert response.status_code == 200, path
        else:
            assert "scope" in errors_of(response, 403), path
    assert not StageEvent.objects.exists() and not Note.objects.exists()


def test_a_write_key_without_read_cannot_read(client, cast, lead):
    _, raw = make_key(cast.employer, "bot", write=True)
    for method, path in _every_call(lead.pk):
        response = call(client, raw, method, path)
        if method == "get":
            assert "scope" in errors_of(response, 403), path
        else:
            assert response.status_code in (200, 201), (path, response.content)


def test_a_revoked_key_answers_401_everywhere(client, cast, hris, lead):
    ApiKey.objects.filter(pk=hris[0].pk).update(revoked_at=T0)
    for method, path in _every_call(lead.pk):
        response = call(client, hris[1], method, path)
        assert "authorization" in errors_of(response, 401), path
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert not StageEvent.objects.exists() and not Note.objects.exists()


def test_no_key_answers_401(client, cast, lead):
    for method, path in _every_call(lead.pk):
        response = getattr(client, method)(path)
        assert "authorization" in errors_of(response, 401), path


# --- tenancy --------------------------------------------------------------------------------


def test_another_employers_lead_is_404_on_every_endpoint(client, cast, hris, their_key):
    theirs = LeadFactory(employer=cast.other_employer, stage_changed_at=T0 - dt.timedelta(days=1))
    NoteFactory(lead=theirs, body="Their note")
    for method, path in _every_call(theirs.pk)[1:4]:
        message = " ".join(errors_of(call(client, hris[1], method, path), 404)["lead"])
        assert message == f"No lead {theirs.pk}.", message
    theirs.refresh_from_db()
    assert theirs.stage == Stage.NEW
    assert not StageEvent.objects.exists()
    assert list(Note.objects.values_list("body", flat=True)) == ["Their note"]
    # Their own key sees it: the 404 was the tenancy, not a missing row.
    assert get(client, their_key[1], f"{LEADS}/{theirs.pk}").status_code == 200


def test_another_employers_merged_id_does_not_say_where_it_went(client, cast, hris):
    kept = LeadFactory(employer=cast.other_employer, email="k@example.org")
    gone = LeadFactory(employer=cast.other_employer, email="g@example.org")
    PossibleDuplicateFactory(lead=kept, other=gone)
    gone_id = gone.pk
    lead_merge(lead=kept, other=gone, by=cast.outsider)
    errors = errors_of(get(client, hris[1], f"{LEADS}/{gone_id}"), 404)
    assert str(kept.pk) not in " ".join(errors["lead"])


def test_the_list_and_the_feed_show_only_the_keys_employer(client, cast, hris, their_key, settled):
    with time_machine.travel(T0, tick=False):
        mine = LeadFactory(employer=cast.employer, current_country="NZ", source=Source.API)
        theirs = LeadFactory(employer=cast.other_employer, current_country="NZ", source=Source.API,
                             owner=cast.outsider)
        my_event = lead_move_stage(lead=mine, to_stage=Stage.CONTACTED)
        their_event = lead_move_stage(lead=theirs, to_stage=Stage.CONTACTED)
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        for params in ({}, {"country": "NZ"}, {"source": "api"}, {"stage": "contacted"}):
            assert ids(get(client, hris[1], LEADS, params)) == [mine.pk], params
            assert ids(get(client, their_key[1], LEADS, params)) == [theirs.pk], params
        assert ids(get(client, hris[1], LEADS, {"owner": "none"})) == [mine.pk]
        assert ids(get(client, hris[1], LEADS, {"owner": cast.outsider.pk})) == []
        assert [e["id"] for e in feed(client, hris[1]).json()["results"]] == [my_event.pk]
        assert [e["id"] for e in feed(client, their_key[1]).json()["results"]] == [their_event.pk]


def test_a_cursor_from_another_employers_walk_shows_nothing_of_theirs(client, cast, hris, their_key):
    for i in range(3):
        LeadFactory(employer=cast.other_employer, created_at=T0 - dt.timedelta(minutes=i))
    mine = LeadFactory(employer=cast.employer, created_at=T0 - dt.timedelta(days=1))
    their_cursor = get(client, their_key[1], LEADS, {"limit": 1}).json()["next_cursor"]
    assert ids(get(client, hris[1], LEADS, {"cursor": their_cursor})) == [mine.pk]


# --- the audit log --------------------------------------------------------------------------


def test_reading_a_lead_is_audited_with_the_key_as_actor(client, cast, hris, lead):
    assert get(client, hris[1], f"{LEADS}/{lead.pk}").status_code == 200
    row = AuditEvent.objects.get()
    assert (row.employer, row.lead_id, row.action, row.user) == (cast.employer, lead.pk, AuditAction.VIEWED, None)
    assert row.username == f"API: hris ({hris[0].prefix}…)"


def test_listing_leads_is_audited_with_the_key_as_actor(client, cast, hris):
    LeadFactory(employer=cast.employer)
    LeadFactory(employer=cast.employer)
    assert len(ids(get(client, hris[1], LEADS))) == 2
    row = AuditEvent.objects.get()
    assert (row.employer, row.action, row.user) == (cast.employer, AuditAction.EXPORTED, None)
    assert row.username == f"API: hris ({hris[0].prefix}…)"
    assert "2" in row.detail


def test_a_refused_read_is_not_audited_as_a_view(client, cast, hris, their_key):
    theirs = LeadFactory(employer=cast.other_employer)
    get(client, hris[1], f"{LEADS}/{theirs.pk}")
    assert not AuditEvent.objects.filter(lead_id=theirs.pk).exists()


# --- the error shape ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/leads/1/nope", "/api/v1/", "/api/v2/leads"])
def test_an_unknown_api_path_answers_404_in_the_error_shape(client, cast, hris, path):
    assert "path" in errors_of(get(client, hris[1], path), 404)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("delete", LEADS, "GET"), ("post", LEADS, "GET"), ("put", f"{LEADS}/1", "GET"),
    ("get", f"{LEADS}/1/stage", "POST"), ("patch", f"{LEADS}/1/notes", "POST"), ("post", EVENTS, "GET"),
])
def test_a_method_the_path_does_not_take_answers_405_with_allow(client, cast, hris, method, path, allowed):
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {hris[1]}"})
    assert "method" in errors_of(response, 405)
    assert response["Allow"] == allowed


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_a_body_not_sent_as_json_answers_415(client, cast, hris, lead, content_type):
    response = post(client, hris[1], notes_url(lead.pk), {"body": "Called"}, content_type=content_type)
    errors_of(response, 415)
    assert not Note.objects.exists()


def test_a_body_over_256_kb_answers_413(client, cast, hris, lead):
    errors_of(post(client, hris[1], notes_url(lead.pk), {"body": "x" * (257 * 1024)}), 413)
    errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": "contacted", "reason": "x" * (257 * 1024)}), 413)
    assert not Note.objects.exists() and not StageEvent.objects.exists()


@pytest.mark.parametrize("content", [b"{not json", b"[]", b"null", b'"x"', b"\xff{}", b'{"stage": NaN}'])
def test_a_body_that_is_not_a_json_object_answers_400(client, cast, hris, lead, content):
    assert "body" in errors_of(post(client, hris[1], stage_url(lead.pk), None, content=content), 400)


def test_every_refusal_of_the_leads_api_is_the_error_shape(client, cast, hris, lead):
    # A sample across the gate, ninja's own checks and the views; errors_of checks each shape.
    refusals = [
        (client.get(LEADS), 401),
        (get(client, hris[1], LEADS, {"limit": "x"}), 400),
        (get(client, hris[1], f"{LEADS}/abc"), 400),
        (get(client, hris[1], LEADS, {"stage": "new\x00"}), 400),
        (post(client, hris[1], stage_url(lead.pk), {"stage": 5}), 400),
        (post(client, hris[1], stage_url(lead.pk), {"stage": "new"}), 409),
        (post(client, hris[1], stage_url(lead.pk), {"stage": "declined"}), 422),
        (post(client, hris[1], notes_url(lead.pk), None, content=b""), 415),
    ]
    for response, status in refusals:
        errors_of(response, status)


def test_a_type_error_names_the_field_in_the_apis_words(client, cast, hris, lead):
    errors = errors_of(post(client, hris[1], stage_url(lead.pk), {"stage": 5}), 400)
    assert list(errors) == ["stage"]
    assert errors["stage"][0].startswith("Choose one of: 'new', 'contacted'"), errors


# --- the OpenAPI document and the docs page -------------------------------------------------

ENDPOINTS = {
    ("post", "/api/v1/inquiries"), ("get", "/api/v1/openings"), ("get", "/api/v1/leads"),
    ("get", "/api/v1/leads/{lead_id}"), ("post", "/api/v1/leads/{lead_id}/stage"),
    ("post", "/api/v1/leads/{lead_id}/notes"), ("get", "/api/v1/stage-events"),
}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, ops in document["paths"].items() for method, op in ops.items()}


def test_the_openapi_document_lists_every_endpoint(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert set(operations(response.json())) == ENDPOINTS


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS), ids=" ".join)
def test_the_openapi_document_names_the_common_refusals(client, db, endpoint):
    op = operations(client.get("/api/v1/openapi.json").json())[endpoint]
    assert {"400", "401", "403", "429"} <= set(op["responses"]), (endpoint, sorted(op["responses"]))
    for status in ("401", "403", "429"):
        schema = json.dumps(op["responses"][status])
        assert "ErrorOut" in schema, (endpoint, status, schema)
    if endpoint[0] == "post":
        headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in headers, endpoint


def test_openings_can_answer_400_so_its_document_says_so(client, cast):
    # GET /openings takes no parameter, yet a query string it cannot read is a 400 like anywhere.
    _, raw = api_key_create(employer=cast.employer, name="careers site")
    assert "body" in errors_of(get(client, raw, "/api/v1/openings?x=%00"), 400)


def test_the_docs_page_uses_only_its_own_static_files(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.findall(r"(?:https?:)?//(?!testserver\b)[a-z0-9.-]+\.[a-z]{2,}", html, flags=re.IGNORECASE)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not among the static files"
    assert "/api/v1/openapi.json" in html


def test_the_docs_and_the_document_carry_no_data(client, cast, hris, lead):
    # Served without a key: they describe the API, never a lead.
    for path in ("/api/v1/docs", "/api/v1/openapi.json"):
        assert lead.email not in client.get(path).content.decode()


# --- the cast at the edges ------------------------------------------------------------------


def test_a_lead_owned_by_a_user_without_a_name_shows_the_username(client, cast, hris):
    nameless = UserFactory(username="ghost", first_name="", last_name="")
    lead = LeadFactory(employer=cast.employer, owner=nameless)
    owner = get(client, hris[1], f"{LEADS}/{lead.pk}").json()["owner"]
    assert owner == {"id": nameless.pk, "name": "ghost", "email": "ghost@example.com"}


# --- found by schemathesis and the bench ----------------------------------------------------------


@pytest.mark.parametrize("query", [
    "created_from=0826-03-08T06:52:30.39-19:15", "created_to=5427-07-25T04:34:56-23:30",
    "updated_since=2026-03-08T06:52:30+23:00", "created_from=0001-01-01T00:00:00+14:00",
])
def test_a_moment_no_database_can_store_is_a_400(client, cast, hris, query):
    response = client.get(f"{LEADS}?{query}", headers={"Authorization": f"Bearer {hris[1]}"})
    assert set(errors_of(response, 400)) == {query.split("=")[0]}


def test_a_forged_cursor_with_an_impossible_offset_is_a_400(client, cast, hris):
    response = get(client, hris[1], LEADS, {"cursor": b64("L0826-03-08T06:52:30-19:15_1")})
    assert "cursor" in errors_of(response, 400)


@pytest.mark.parametrize("body", [
    {"stage": "relocated", "reason": "\u00c7\u0000"}, {"stage": "declined", "closed_reason": "a\u0000"},
])
def test_a_nul_in_a_stage_move_is_a_400_and_moves_nothing(client, cast, hris, body):
    lead = LeadFactory(employer=cast.employer)
    errors_of(post(client, hris[1], f"{LEADS}/{lead.pk}/stage", body), 400)
    lead.refresh_from_db()
    assert lead.stage == "new"


def test_reading_a_lead_loads_that_lead_only(client, cast, hris):
    lead = LeadFactory(employer=cast.employer)
    LeadFactory.create_batch(5, employer=cast.employer)
    with CaptureQueriesContext(connection) as queries:
        assert get(client, hris[1], f"{LEADS}/{lead.pk}").status_code == 200
    lead_selects = [q["sql"] for q in queries.captured_queries if 'FROM "leads_lead"' in q["sql"]]
    assert lead_selects and all("WHERE" in sql and "LIMIT" in sql for sql in lead_selects), lead_selects


def test_several_stages_page_newest_first_across_stages(client, cast, hris):
    now = timezone.now()
    made = []
    for index in range(9):
        made.append(LeadFactory(employer=cast.employer, stage=("offer", "hired", "applied")[index % 3],
                                created_at=now - dt.timedelta(minutes=index)))
    seen, cursor = [], ""
    while True:
        response = client.get(f"{LEADS}?stage=offer&stage=hired&limit=2{cursor}",
                              headers={"Authorization": f"Bearer {hris[1]}"})
        assert response.status_code == 200
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == [lead.pk for lead in made if lead.stage in ("offer", "hired")]
