"""The JSON API: keys, POST /api/v1/inquiries, GET /api/v1/openings, and the API key admin."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client

from leads.models import ApiKey, Inquiry, Lead, OutboundEmail, OutboundKind, Source
from leads.services.api_keys import api_key_authenticate, api_key_create
from tests.factories import LeadFactory, OpeningFactory

URL = "/api/v1/inquiries"
OPENINGS_URL = "/api/v1/openings"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # Key ids are reused between tests; their rate counters must not be.
    cache.clear()


@pytest.fixture
def key(cast) -> tuple[ApiKey, str]:
    return api_key_create(employer=cast.employer, name="careers site")


def post(client: Client, raw: str | None, body: Any = None, *, content: bytes | None = None,
         content_type: str = "application/json", **headers: str):
    if raw is not None:
        headers.setdefault("Authorization", f"Bearer {raw}")
    data = content if content is not None else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type, headers=headers)


def nothing_written() -> bool:
    return not (Lead.objects.exists() or Inquiry.objects.exists() or OutboundEmail.objects.exists())


def acknowledgements(inquiry_id: int) -> int:
    rows = OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT, unique_key=f"inquiry:{inquiry_id}:ack")
    return rows.count()


# --- keys ---------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_only_its_hash_is_stored(cast, key):
    api_key, raw = key
    assert re.fullmatch(r"rk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", raw)
    assert raw.split("_")[1] == api_key.prefix
    stored = ApiKey.objects.get()
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {stored.name, stored.prefix, stored.key_hash}


def test_authenticate_accepts_the_key_and_nothing_like_it(cast, key):
    api_key, raw = key
    assert api_key_authenticate(raw) == api_key
    assert api_key_authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    other_prefix = "rk_" + ("a" * 8 if api_key.prefix != "a" * 8 else "b" * 8) + raw[11:]
    for wrong in ("", None, "rk_", raw + "x", other_prefix, "Bearer " + raw, "x" * 10_000):
        assert api_key_authenticate(wrong) is None


def test_last_used_is_written_at_most_once_a_minute(cast, key):
    api_key, raw = key
    start = dt.datetime(2026, 11, 9, 3, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        api_key_authenticate(raw)
    with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
        api_key_authenticate(raw)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        api_key_authenticate(raw)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start + dt.timedelta(seconds=61)


# --- POST /api/v1/inquiries ---------------------------------------------------------------


def test_an_inquiry_creates_a_lead_with_the_api_as_source(client, cast, key):
    opening = OpeningFactory(employer=cast.employer)
    body = {
        "email": "Ana.Silva@Example.org", "name": "Ana Silva", "opening": opening.pk, "current_country": "us",
        "phone": "(415) 555-2671", "citizenships": ["US", "ie"], "skills": ["Python", "Django"],
        "needs_sponsorship": True, "years_experience": 7, "move_timeline": "3m", "earliest_move_date": "2027-02-01",
        "message": "Is there a job for me in Wellington?", "subject": "Hello", "utm_campaign": "election",
        "privacy_accepted": True, "received_at": "2026-11-09T03:00:00Z",
    }
    response = post(client, key[1], body)
    assert response.status_code == 201, response.content
    data = response.json()
    lead = Lead.objects.get()
    inquiry = Inquiry.objects.get()
    assert data == {"lead": lead.pk, "inquiry": inquiry.pk, "created": True}
    assert (lead.employer, lead.source, lead.email, lead.phone) == (cast.employer, Source.API,
                                                                    "ana.silva@example.org", "+14155552671")
    assert (lead.opening, lead.years_experience, lead.needs_sponsorship, lead.utm_campaign) == (opening, 7, True,
                                                                                              "election")
    assert lead.earliest_move_date == dt.date(2027, 2, 1)
    assert lead.privacy_accepted_at == dt.datetime(2026, 11, 9, 3, 0, tzinfo=dt.UTC)
    assert sorted(lead.citizenships.values_list("country", flat=True)) == ["IE", "US"]
    assert sorted(lead.skills.values_list("name", flat=True)) == ["Django", "Python"]
    assert (inquiry.channel, inquiry.subject, inquiry.body) == (Source.API, "Hello",
                                                                "Is there a job for me in Wellington?")
    assert inquiry.raw_fields["api_key"] == key[0].prefix
    assert acknowledgements(inquiry.pk) == 1


def test_a_repeat_email_joins_the_lead(client, cast, key):
    first = post(client, key[1], {"email": "ana@example.org", "name": "Ana"}).json()
    second = post(client, key[1], {"email": " ANA@example.org ", "move_timeline": "now"})
    assert second.status_code == 201
    assert second.json()["created"] is False and second.json()["lead"] == first["lead"]
    assert Lead.objects.count() == 1
    assert Lead.objects.get().move_timeline == "now"
    # Neither body gave a legal basis (no privacy_accepted, no legal_basis): nothing is sent.
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 0


def test_a_legal_basis_in_the_body_lets_the_acknowledgement_go_once_a_day(client, cast, key):
    first = post(client, key[1], {"email": "ana@example.org", "name": "Ana", "legal_basis": "legitimate_interest"})
    assert first.status_code == 201
    assert Lead.objects.get().legal_basis == "legitimate_interest"
    assert acknowledgements(first.json()["inquiry"]) == 1
    post(client, key[1], {"email": "ana@example.org", "legal_basis": "legitimate_interest"})
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 1
    refused = post(client, key[1], {"email": "bo@example.org", "legal_basis": "because"})
    assert refused.status_code == 400 and "legal_basis" in refused.json()["errors"]


def test_only_email_is_needed_and_a_default_subject_names_the_key(client, cast, key):
    response = post(client, key[1], {"email": "min@example.org"})
    assert response.status_code == 201
    assert Inquiry.objects.get().subject == "Inquiry via the API (careers site)"


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "No Email"}, "email"),
    ({"email": ""}, "email"),
    ({"email": "not-an-email"}, "email"),
    ({"email": 5}, "email"),
    ({"email": "a@example.org", "years_experience": "5"}, "years_experience"),
    ({"email": "a@example.org", "years_experience": 5.5}, "years_experience"),
    ({"email": "a@example.org", "years_experience": 200}, "years_experience"),
    ({"email": "a@example.org", "needs_sponsorship": "yes"}, "needs_sponsorship"),
    ({"email": "a@example.org", "opening": True}, "opening"),
    ({"email": "a@example.org", "opening": 2**80}, "opening"),
    ({"email": "a@example.org", "opening": 999_999}, "opening"),
    ({"email": "a@example.org", "citizenships": "NZ"}, "citizenships"),
    ({"email": "a@example.org", "citizenships": ["XX"]}, "citizenships"),
    ({"email": "a@example.org", "skills": [1, 2]}, "skills"),
    ({"email": "a@example.org", "move_timeline": "someday"}, "move_timeline"),
    ({"email": "a@example.org", "current_country": "Narnia"}, "current_country"),
    ({"email": "a@example.org", "phone": "12"}, "phone"),
    ({"email": "a@example.org", "profile_url": "https://[broken"}, "profile_url"),
    ({"email": "a@example.org", "earliest_move_date": "next spring"}, "earliest_move_date"),
    ({"email": "a@example.org", "received_at": "yesterday"}, "received_at"),
    ({"email": "a@example.org", "received_at": "2026-11-09T03:00:00"}, "received_at"),
    ({"email": "a@example.org", "received_at": "2999-01-01T00:00:00Z"}, "received_at"),
    ({"email": "a@example.org", "privacy_accepted": "true"}, "privacy_accepted"),
    ({"email": "a@example.org", "name": "x" * 201}, "name"),
    ({"email": "a@example.org", "cv": "cv.pdf"}, "cv"),
    ({"email": "a@example.org", "message": "nul \u0000 inside"}, "message"),
    ({"email": "a@example.org", "skills": ["ok", "nul\u0000"]}, "skills"),
    ({"email": "a@example.org", "employer": "maple-games"}, "employer"),
    ({"email": "a@example.org", "source": "web_form"}, "source"),
])
def test_bad_fields_answer_400_with_the_field_and_write_nothing(client, cast, key, body, field):
    response = post(client, key[1], body)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors and all(isinstance(m, str) and m for m in errors[field])
    assert nothing_written()


@pytest.mark.parametrize("content", [
    b"{not json", b" ", b"[1, 2]", b'"a string"', b"null", b'{"email": NaN}', b"\xff\xfe{}",
    b"[" * 100_000 + b"]" * 100_000,
])
def test_a_body_that_is_not_a_json_object_answers_400(client, cast, key, content):
    response = post(client, key[1], content=content)
    assert response.status_code == 400
    assert "body" in response.json()["errors"]
    assert nothing_written()


def test_an_empty_body_without_a_type_answers_415(client, cast, key):
    # An empty POST carries no Content-Type at all.
    assert post(client, key[1], content=b"").status_code == 415
    assert nothing_written()


def test_a_body_over_256_kb_answers_413(client, cast, key):
    response = post(client, key[1], {"email": "a@example.org", "message": "x" * (257 * 1024)})
    assert response.status_code == 413
    assert "body" in response.json()["errors"]
    assert nothing_written()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_a_body_that_is_not_json_by_its_type_answers_415(client, cast, key, content_type):
    response = post(client, key[1], {"email": "a@example.org"}, content_type=content_type)
    assert response.status_code == 415
    assert nothing_written()


def test_utf8_charset_is_accepted(client, cast, key):
    response = post(client, key[1], {"email": "zoe@example.org", "name": "Zoë"},
                    content_type="application/json; charset=UTF-8")
    assert response.status_code == 201


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_answer_405(client, cast, key, method):
    response = getattr(client, method)(URL, headers={"Authorization": f"Bearer {key[1]}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "method" in response.json()["errors"]


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer rk_nothing_here", "Token {raw}", "{raw}",
                                           "Basic dXNlcjpwYXNz"])
def test_a_missing_or_bad_key_answers_401(client, cast, key, authorization):
    headers = {} if authorization is None else {"Authorization": authorization.format(raw=key[1])}
    response = post(client, None, {"email": "a@example.org"}, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "authorization" in response.json()["errors"]
    assert nothing_written()


def test_a_revoked_key_answers_401(client, cast, key):
    api_key, raw = key
    api_key.revoked_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    api_key.save()
    assert post(client, raw, {"email": "a@example.org"}).status_code == 401
    assert client.get(OPENINGS_URL, headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert nothing_written()


def test_calls_over_the_rate_answer_429(client, cast, key, settings):
    settings.RELOCATE_API_RATE = 2
    statuses = [post(client, key[1], {"email": f"p{i}@example.org"}).status_code for i in range(3)]
    assert statuses == [201, 201, 429]
    assert Lead.objects.count() == 2
    # Another key has its own allowance.
    other = api_key_create(employer=cast.employer, name="ats")[1]
    assert post(client, other, {"email": "p9@example.org"}).status_code == 201


def test_csrf_is_not_asked_of_token_calls(cast, key):
    client = Client(enforce_csrf_checks=True)
    assert post(client, key[1], {"email": "a@example.org"}).status_code == 201


def test_a_locked_database_answers_503_not_500(client, cast, key, monkeypatch):
    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("leads.api.inquiries.inquiry_receive", locked)
    response = post(client, key[1], {"email": "a@example.org"})
    assert response.status_code == 503
    assert response["Retry-After"]


# --- tenancy ------------------------------------------------------------------------------


def test_another_employers_opening_is_refused(client, cast, key):
    foreign = OpeningFactory(employer=cast.other_employer)
    response = post(client, key[1], {"email": "a@example.org", "opening": foreign.pk})
    assert response.status_code == 400
    assert "opening" in response.json()["errors"]
    assert nothing_written()


def test_a_key_writes_to_its_own_employer_only(client, cast, key):
    theirs = LeadFactory(employer=cast.other_employer, email="shared@example.org", name="Theirs")
    response = post(client, key[1], {"email": "shared@example.org", "name": "Mine", "move_timeline": "now"})
    assert response.status_code == 201 and response.json()["created"] is True
    assert Lead.objects.get(pk=response.json()["lead"]).employer == cast.employer
    theirs.refresh_from_db()
    assert (theirs.name, theirs.move_timeline, theirs.inquiries.count()) == ("Theirs", "", 0)


def test_openings_lists_the_keys_employers_open_openings_only(client, cast, key):
    mine = OpeningFactory(employer=cast.employer, title="Backend engineer", team="Platform", location="Wellington",
                          visa_sponsorship=True)
    OpeningFactory(employer=cast.employer, title="Closed role", status="closed")
    OpeningFactory(employer=cast.other_employer, title="Their role")
    response = client.get(OPENINGS_URL, headers={"Authorization": f"Bearer {key[1]}"})
    assert response.status_code == 200
    assert response.json() == {"openings": [{"id": mine.pk, "title": "Backend engineer", "team": "Platform",
                                             "location": "Wellington", "visa_sponsorship": True}]}
    assert client.post(OPENINGS_URL, headers={"Authorization": f"Bearer {key[1]}"}).status_code == 405
    assert client.get(OPENINGS_URL).status_code == 401


def test_the_openings_list_pins_its_queries(client, cast, key, django_assert_num_queries):
    for _ in range(3):
        OpeningFactory(employer=cast.employer)
    client.get(OPENINGS_URL, headers={"Authorization": f"Bearer {key[1]}"})  # last_used_at written once
    # The key (with its employer), then the openings.
    with django_assert_num_queries(2):
        assert len(client.get(OPENINGS_URL, headers={"Authorization": f"Bearer {key[1]}"}).json()["openings"]) == 3


# --- the API key admin --------------------------------------------------------------------

ADMIN = "/admin/leads/apikey/"


def test_an_employer_admin_creates_a_key_and_sees_it_once(client, cast):
    client.force_login(cast.owner)
    response = client.post(f"{ADMIN}add/", {"employer": cast.employer.pk, "name": "careers site",
                                             "scope_intake": "on", "scope_read": "on"})
    # Shown on the response page itself, never in a cookie (the messages cookie is signed, not
    # encrypted), and the page is not kept by the browser.
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r"rk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", response.content.decode()).group(0)
    assert all(raw not in morsel.value for morsel in response.cookies.values())
    key = api_key_authenticate(raw)
    assert key is not None and key.employer == cast.employer and key.name == "careers site"
    assert key.scopes == ["intake", "read"]
    # Never again: the list and the key's page show the prefix only.
    for url in (ADMIN, f"{ADMIN}{key.pk}/change/"):
        page = client.get(url).content.decode()
        assert key.prefix in page and raw not in page


def test_the_outsider_cannot_make_or_see_a_key_of_another_employer(client, cast, key):
    client.force_login(cast.outsider)
    response = client.post(f"{ADMIN}add/", {"employer": cast.employer.pk, "name": "sneaky"})
    assert response.status_code == 200
    assert "employer" in response.context["adminform"].form.errors
    assert ApiKey.objects.count() == 1
    assert client.get(f"{ADMIN}{key[0].pk}/change/").status_code == 404
    assert key[0].prefix not in client.get(ADMIN).content.decode()


def test_a_key_needs_a_scope_and_its_scopes_can_be_changed(client, cast, key):
    client.force_login(cast.owner)
    response = client.post(f"{ADMIN}add/", {"employer": cast.employer.pk, "name": "no scope"})
    assert response.status_code == 200 and "Choose at least one scope" in response.content.decode()
    assert ApiKey.objects.count() == 1
    response = client.post(f"{ADMIN}{key[0].pk}/change/", {"name": key[0].name, "scope_read": "on",
                                                           "scope_write": "on"})
    assert response.status_code == 302
    key[0].refresh_from_db()
    assert key[0].scopes == ["read", "write"]
    # Without intake the key no longer sends inquiries.
    assert post(client, key[1], {"email": "a@example.org"}).status_code == 403


def test_a_recruiter_cannot_make_keys(client, cast):
    client.force_login(cast.teammate)
    cast.teammate.is_staff = True
    cast.teammate.save()
    assert client.post(f"{ADMIN}add/", {"employer": cast.employer.pk, "name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_the_revoke_action_stops_a_key_at_once(client, cast, key):
    theirs, their_raw = api_key_create(employer=cast.other_employer, name="their site")
    client.force_login(cast.owner)
    response = client.post(ADMIN, {"action": "revoke", "_selected_action": [key[0].pk, theirs.pk]}, follow=True)
    assert "Revoked 1 API key(s)" in response.content.decode()
    assert api_key_authenticate(key[1]) is None
    assert api_key_authenticate(their_raw) == theirs
    assert post(client, key[1], {"email": "a@example.org"}).status_code == 401


def test_a_keys_employer_cannot_be_changed(client, admin_user, cast, key):
    client.force_login(admin_user)
    response = client.post(f"{ADMIN}{key[0].pk}/change/", {"employer": cast.other_employer.pk, "name": "renamed",
                                                           "scope_intake": "on"})
    assert response.status_code == 302
    key[0].refresh_from_db()
    assert (key[0].employer, key[0].name) == (cast.employer, "renamed")


def test_key_guessing_is_limited_per_client_address_behind_the_proxy(client, cast, key, settings):
    settings.RELOCATE_API_AUTH_FAILURE_RATE = 2
    settings.RELOCATE_TRUSTED_PROXIES = "127.0.0.1"
    guesser = {"X-Forwarded-For": "198.51.100.20"}
    statuses = [post(client, "rk_wrong_guess", {"email": "a@example.org"}, **guesser).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    # Another person behind the same proxy, and the real key, are not held up by the guesser.
    other = {"X-Forwarded-For": "198.51.100.21"}
    assert post(client, "rk_wrong_guess", {"email": "a@example.org"}, **other).status_code == 401
    assert post(client, key[1], {"email": "a@example.org"}, **guesser).status_code == 201
    assert Inquiry.objects.get().remote_addr == "198.51.100.20"
