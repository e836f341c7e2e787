"""Idempotency-Key on the API's POSTs (leads/api/idempotency.py): a retry gets the first answer,
never a second inquiry, stage move or note."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client

from leads.api import idempotency
from leads.api.idempotency import idempotency_purge
from leads.models import ApiKey, IdempotencyRecord, Inquiry, Lead, Note, Stage, StageEvent
from leads.services.api_keys import api_key_create
from leads.services.intake import inquiry_receive
from leads.services.pipeline import lead_move_stage
from tests.factories import LeadFactory

INQUIRIES = "/api/v1/inquiries"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ANA = {"email": "ana@example.org", "name": "Ana Silva", "message": "Is there a job for me?"}
REPLAYED = "Idempotent-Replayed"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings) -> None:
    settings.RELOCATE_API_RATE = 10**9
    settings.RELOCATE_API_AUTH_FAILURE_RATE = 10**9
    # Key ids are reused between tests; their rate counters must not be.
    cache.clear()


def make_key(employer, name: str) -> tuple[ApiKey, str]:
    key, raw = api_key_create(employer=employer, name=name)
    key.scope_intake = key.scope_read = key.scope_write = True
    key.save(update_fields=["scope_intake", "scope_read", "scope_write"])
    return key, raw


@pytest.fixture
def key(cast) -> tuple[ApiKey, str]:
    return make_key(cast.employer, "hris")


def post(client: Client, raw: str, path: str, body: Any, idempotency_key: str | None = None) -> HttpResponse:
    headers = {"Authorization": f"Bearer {raw}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def error_fields(response: HttpResponse, status: int) -> set[str]:
    assert response.status_code == status, (response.status_code, response.content[:500])
    errors = response.json()["errors"]
    assert errors and all(messages and all(isinstance(m, str) and m for m in messages)
                          for messages in errors.values())
    return set(errors)


def is_replay(response: HttpResponse) -> bool:
    return response.get(REPLAYED) == "true"


# --- a retry --------------------------------------------------------------------------------


def test_a_retry_gets_the_first_answer_and_writes_nothing_more(client, cast, key):
    first = post(client, key[1], INQUIRIES, ANA, "retry-1")
    assert first.status_code == 201, first.content
    assert REPLAYED not in first
    again = post(client, key[1], INQUIRIES, ANA, "retry-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert is_replay(again)
    assert again["Content-Type"].startswith("application/json")
    assert (Inquiry.objects.count(), Lead.objects.count()) == (1, 1)
    record = IdempotencyRecord.objects.get()
    assert (record.api_key, record.key, record.status_code, record.employer) == (key[0], "retry-1", 201,
                                                                                cast.employer)


def test_without_the_header_a_repeat_is_a_second_inquiry(client, cast, key):
    # The control for the test above: the header is what makes the retry safe.
    assert post(client, key[1], INQUIRIES, ANA).status_code == 201
    assert post(client, key[1], INQUIRIES, ANA).status_code == 201
    assert Inquiry.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_the_same_key_with_another_body_answers_422_and_writes_nothing(client, cast, key):
    first = post(client, key[1], INQUIRIES, ANA, "k-1")
    assert first.status_code == 201
    other = post(client, key[1], INQUIRIES, {**ANA, "email": "bo@example.org"}, "k-1")
    assert error_fields(other, 422) == {"idempotency_key"}
    assert not is_replay(other)
    assert (Inquiry.objects.count(), Lead.objects.count()) == (1, 1)
    assert not Lead.objects.filter(email="bo@example.org").exists()
    # The first answer is still the one a true retry gets.
    assert post(client, key[1], INQUIRIES, ANA, "k-1").json() == first.json()


def test_the_same_key_on_another_path_answers_422(client, cast, key):
    created = post(client, key[1], INQUIRIES, ANA, "k-2").json()
    note = post(client, key[1], f"/api/v1/leads/{created['lead']}/notes", {"body": "Called"}, "k-2")
    assert error_fields(note, 422) == {"idempotency_key"}
    assert not Note.objects.exists()


@pytest.mark.parametrize("bad", ["x" * 256, "", "tab\there", "bell\x07", "del\x7f", "clé", "日本"])
def test_a_bad_idempotency_key_answers_400_and_writes_nothing(client, cast, key, bad):
    assert error_fields(post(client, key[1], INQUIRIES, ANA, bad), 400) == {"idempotency_key"}
    assert not Inquiry.objects.exists() and not IdempotencyRecord.objects.exists()


def test_a_key_of_255_printable_characters_is_taken(client, cast, key):
    longest = ("~ !" * 85)
    assert len(longest) == 255
    assert post(client, key[1], INQUIRIES, ANA, longest).status_code == 201
    assert is_replay(post(client, key[1], INQUIRIES, ANA, longest))


def test_a_refusal_the_caller_must_fix_is_replayed_too(client, cast, key):
    lead = LeadFactory(employer=cast.employer)
    path = f"/api/v1/leads/{lead.pk}/notes"
    first = post(client, key[1], path, {"body": "  "}, "empty-note")
    assert error_fields(first, 400) == {"body"}
    again = post(client, key[1], path, {"body": "  "}, "empty-note")
    assert (again.status_code, again.json()) == (400, first.json())
    assert is_replay(again)


# --- answers that are not kept --------------------------------------------------------------


def test_a_503_is_not_kept_and_the_retry_runs(client, cast, key, monkeypatch):
    calls = []

    def locked_once(**kwargs):
        calls.append(kwargs["email"])
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return inquiry_receive(**kwargs)

    monkeypatch.setattr("leads.api.inquiries.inquiry_receive", locked_once)
    failed = post(client, key[1], INQUIRIES, ANA, "flaky")
    assert error_fields(failed, 503) == {"service"}
    assert failed["Retry-After"]
    assert not IdempotencyRecord.objects.exists()
    retried = post(client, key[1], INQUIRIES, ANA, "flaky")
    assert retried.status_code == 201, retried.content
    assert not is_replay(retried)
    assert len(calls) == 2 and Inquiry.objects.count() == 1
    assert is_replay(post(client, key[1], INQUIRIES, ANA, "flaky"))
    assert len(calls) == 2


def test_a_409_is_not_kept_and_the_retry_runs(client, cast, key):
    lead = LeadFactory(employer=cast.employer, stage_changed_at=T0)
    lead_move_stage(lead=lead, to_stage=Stage.CONTACTED)
    path = f"/api/v1/leads/{lead.pk}/stage"
    already = post(client, key[1], path, {"stage": "contacted"}, "move-1")
    assert error_fields(already, 409) == {"stage"}
    assert not IdempotencyRecord.objects.exists()
    # Meanwhile a recruiter moved it back; the retry is a move again.
    lead_move_stage(lead=lead, to_stage=Stage.NEW, reason="Logged by mistake")
    moved = post(client, key[1], path, {"stage": "contacted"}, "move-1")
    assert moved.status_code == 200, moved.content
    assert not is_replay(moved)
    assert StageEvent.objects.filter(api_key=key[0]).count() == 1


def test_a_429_is_not_kept_and_the_retry_runs(client, cast, key, settings):
    settings.RELOCATE_API_RATE = 1
    assert post(client, key[1], INQUIRIES, {"email": "first@example.org"}).status_code == 201
    slowed = post(client, key[1], INQUIRIES, ANA, "busy")
    assert error_fields(slowed, 429) == {"rate"}
    assert not IdempotencyRecord.objects.exists()
    cache.clear()  # the next minute
    retried = post(client, key[1], INQUIRIES, ANA, "busy")
    assert retried.status_code == 201 and not is_replay(retried)
    assert Lead.objects.filter(email="ana@example.org").count() == 1


def test_a_request_still_running_answers_409_then_is_taken_over_after_a_minute(client, cast, key, monkeypatch):
    # The first request dies before its answer is stored (a killed worker): its record stays "running".
    monkeypatch.setattr("leads.api.middleware.idempotency_finish", lambda request, response: None)
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    with time_machine.travel(T0, tick=False):
        assert post(client, key[1], INQUIRIES, ANA, "died").status_code == 201
    monkeypatch.undo()
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        running = post(client, key[1], INQUIRIES, ANA, "died")
        assert error_fields(running, 409) == {"idempotency_key"}
        assert running["Retry-After"]
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        taken_over = post(client, key[1], INQUIRIES, ANA, "died")
        assert taken_over.status_code == 201 and not is_replay(taken_over)
        assert is_replay(post(client, key[1], INQUIRIES, ANA, "died"))
    assert IdempotencyRecord.objects.get().status_code == 201


# --- a day, one API key ---------------------------------------------------------------------


def test_records_are_forgotten_after_a_day(client, cast, key):
    with time_machine.travel(T0, tick=False):
        first = post(client, key[1], INQUIRIES, ANA, "daily")
        assert first.status_code == 201
    with time_machine.travel(T0 + dt.timedelta(hours=23, minutes=59), tick=False):
        assert idempotency_purge() == 0
        assert is_replay(post(client, key[1], INQUIRIES, ANA, "daily"))
    with time_machine.travel(T0 + dt.timedelta(hours=24, seconds=1), tick=False):
        assert idempotency_purge() == 1
        assert not IdempotencyRecord.objects.exists()
        anew = post(client, key[1], INQUIRIES, ANA, "daily")
        assert anew.status_code == 201 and not is_replay(anew)
    assert Inquiry.objects.count() == 2
    assert anew.json()["inquiry"] != first.json()["inquiry"]


def test_an_expired_record_is_not_replayed_even_before_the_purge(client, cast, key):
    with time_machine.travel(T0, tick=False):
        assert post(client, key[1], INQUIRIES, ANA, "old").status_code == 201
    with time_machine.travel(T0 + dt.timedelta(hours=25), tick=False):
        # Not even a 422 for another body: the key is free again.
        other = post(client, key[1], INQUIRIES, {"email": "bo@example.org"}, "old")
        assert other.status_code == 201 and not is_replay(other), other.content
        assert is_replay(post(client, key[1], INQUIRIES, {"email": "bo@example.org"}, "old"))
    assert IdempotencyRecord.objects.count() == 1
    assert Lead.objects.filter(email="bo@example.org").exists()


def test_the_purge_keeps_the_records_of_the_last_day(cast, key, client):
    with time_machine.travel(T0, tick=False):
        post(client, key[1], INQUIRIES, ANA, "old")
    with time_machine.travel(T0 + dt.timedelta(hours=12), tick=False):
        post(client, key[1], INQUIRIES, {"email": "bo@example.org"}, "new")
    assert idempotency_purge(now=T0 + dt.timedelta(hours=25)) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_an_idempotency_key_belongs_to_one_api_key(client, cast, key):
    _, other_raw = make_key(cast.employer, "careers site")
    _, their_raw = make_key(cast.other_employer, "their site")
    mine = post(client, key[1], INQUIRIES, ANA, "shared")
    other = post(client, other_raw, INQUIRIES, ANA, "shared")
    theirs = post(client, their_raw, INQUIRIES, {"email": "zoe@example.org"}, "shared")
    for response in (mine, other, theirs):
        assert response.status_code == 201 and not is_replay(response), response.content
    assert other.json()["inquiry"] != mine.json()["inquiry"]
    assert Inquiry.objects.filter(employer=cast.employer).count() == 2
    assert Inquiry.objects.filter(employer=cast.other_employer).count() == 1
    # Each key replays its own answer.
    assert post(client, their_raw, INQUIRIES, {"email": "zoe@example.org"}, "shared").json() == theirs.json()
    assert post(client, other_raw, INQUIRIES, ANA, "shared").json() == other.json()


# --- stage moves and notes ------------------------------------------------------------------


def test_a_retried_stage_move_is_one_move(client, cast, key):
    lead = LeadFactory(employer=cast.employer)
    path = f"/api/v1/leads/{lead.pk}/stage"
    first = post(client, key[1], path, {"stage": "applied"}, "move")
    assert first.status_code == 200, first.content
    again = post(client, key[1], path, {"stage": "applied"}, "move")
    # Without the key this would be a 409 (already applied): the retry is the first answer.
    assert (again.status_code, again.json()) == (200, first.json())
    assert is_replay(again)
    assert StageEvent.objects.count() == 1


def test_a_retried_note_is_one_note(client, cast, key):
    lead = LeadFactory(employer=cast.employer)
    path = f"/api/v1/leads/{lead.pk}/notes"
    first = post(client, key[1], path, {"body": "Called: starts in May."}, "note")
    assert first.status_code == 201, first.content
    again = post(client, key[1], path, {"body": "Called: starts in May."}, "note")
    assert (again.status_code, again.json()) == (201, first.json())
    assert is_replay(again)
    assert Note.objects.count() == 1
    assert error_fields(post(client, key[1], path, {"body": "Another note"}, "note"), 422) == {"idempotency_key"}
    assert Note.objects.count() == 1


# --- at once, on PostgreSQL -----------------------------------------------------------------

THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_the_same_key_sent_at_once_makes_one_inquiry(cast, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks on the unique key; SQLite serialises every write): "
                    "set DATABASE_URL=postgres://...")
    _, raw = make_key(cast.employer, "careers site")

    def slow_receive(**kwargs):
        # The first request holds its claim a moment, so the others arrive while it runs.
        time.sleep(0.3)
        return inquiry_receive(**kwargs)

    monkeypatch.setattr("leads.api.inquiries.inquiry_receive", slow_receive)
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[int, dict[str, str], dict[str, Any]]] = []
    failures: list[BaseException] = []

    def send() -> None:
        try:
            client = Client()
            barrier.wait(timeout=10)
            response = post(client, raw, INQUIRIES, ANA, "at-once")
            answers.append((response.status_code, dict(response.headers), response.json()))
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert len(answers) == THREADS

    assert (Inquiry.objects.count(), Lead.objects.count(), IdempotencyRecord.objects.count()) == (1, 1, 1)
    created = [(headers, body) for status, headers, body in answers if status == 201]
    waiting = [(headers, body) for status, headers, body in answers if status == 409]
    assert len(created) + len(waiting) == THREADS, [status for status, _, _ in answers]
    for headers, body in waiting:
        assert set(body["errors"]) == {"idempotency_key"} and headers.get("Retry-After"), body
    originals = [body for headers, body in created if headers.get(REPLAYED) != "true"]
    replays = [body for headers, body in created if headers.get(REPLAYED) == "true"]
    inquiry = Inquiry.objects.get()
    assert originals == [{"lead": inquiry.lead_id, "inquiry": inquiry.pk, "created": True}]
    assert all(body == originals[0] for body in replays)
    assert replays or (not waiting and {body["inquiry"] for _, body in created} == {inquiry.pk})
