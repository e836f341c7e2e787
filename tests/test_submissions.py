"""Accept first, process after: a submission is one row (or a spooled copy) at once, and
exactly one inquiry once the worker has processed it, whatever fails in between."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leads import tasks
from leads.forms import started_token
from leads.models import Inquiry, Lead, OutboundEmail, OutboundKind, PossibleDuplicate, Submission
from leads.services import spool, submissions
from leads.services.submissions import submission_process, submissions_drain
from tests.factories import MembershipFactory, OpeningFactory, SubmissionFactory, UserFactory
from tests.helpers_intake import closed_port, database_unreachable, isolated_spool


@pytest.fixture(autouse=True)
def _intake_settings(settings, tmp_path):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0
    settings.MEDIA_ROOT = str(tmp_path / "media")
    key = isolated_spool(settings, tmp_path)
    cache.clear()
    yield
    cache.clear()
    if settings.REDIS_URL:
        spool._redis_client(settings.REDIS_URL).delete(key, key + ":set-aside")


def apply_url(employer) -> str:
    return reverse("leads:public_apply", args=[employer.slug])


def form(n: int = 0, **overrides) -> dict:
    data = {
        "name": "John Smith", "email": f"john.smith{n}@example.org", "phone": "+1 415 555 2671",
        "current_country": "US", "citizenships": ["US"], "move_timeline": "3m", "privacy_accepted": "on",
        "started": started_token(), "website": "", "motivation": "Thinking of moving after the election.",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def acknowledgements(employer) -> int:
    return OutboundEmail.objects.filter(employer=employer, kind=OutboundKind.ACKNOWLEDGEMENT).count()


# --- accepted now, processed after -----------------------------------------------------------


def test_the_post_stores_one_row_and_the_worker_makes_the_inquiry(client, cast):
    opening = OpeningFactory(employer=cast.employer)
    response = client.post(apply_url(cast.employer), form(opening=opening.pk, utm_campaign="election"))
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.status == Submission.Status.PENDING and submission.via == Submission.Via.DATABASE
    assert submission.data["email"] == "john.smith0@example.org" and submission.remote_addr == "127.0.0.1"
    assert submission.privacy_accepted and "csrfmiddlewaretoken" not in submission.raw_fields
    assert not Lead.objects.exists()

    assert submission_process(submission.pk) == "processed"
    submission.refresh_from_db()
    lead = Lead.objects.get()
    assert submission.status == Submission.Status.PROCESSED and submission.inquiry.lead == lead
    assert lead.opening == opening and lead.utm_campaign == "election" and lead.phone == "+14155552671"
    assert lead.privacy_accepted_at == submission.received_at
    assert submission.inquiry.received_at == submission.received_at
    assert submission.inquiry.remote_addr == "127.0.0.1"
    assert acknowledgements(cast.employer) == 1

    # Run again, or by a second worker: nothing more.
    assert submission_process(submission.pk) == "already processed"
    assert submissions_drain(every_pending=True)["processed"] == 0
    assert Inquiry.objects.count() == 1 and acknowledgements(cast.employer) == 1


def test_the_post_is_one_insert(client, cast, django_assert_num_queries):
    url = apply_url(cast.employer)
    client.get(url)  # the employer's snapshot is cached by the form page
    # The submission's INSERT and nothing else.
    with django_assert_num_queries(1):
        assert client.post(url, form()).status_code == 302


def test_the_commit_kicks_the_worker_and_a_down_broker_changes_nothing(client, cast, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.process_submission, "apply_async", lambda args, **kw: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(apply_url(cast.employer), form()).status_code == 302
    assert sent == [[str(Submission.objects.get().pk)]]

    def broker_down(*args, **kwargs):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.process_submission, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(apply_url(cast.employer), form(1)).status_code == 302
    assert Submission.objects.count() == 2


def test_a_worker_starting_drains_the_backlog(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.drain_submissions, "apply_async", lambda **kw: queued.append(kw))
    tasks._drain_at_start(sender=None)
    assert queued == [{"retry": False}]


def test_the_sweep_task_processes_what_is_due(cast):
    SubmissionFactory(employer=cast.employer, data={"email": "a@example.org", "name": "A"})
    SubmissionFactory(employer=cast.employer, data={"email": "b@example.org", "name": "B"},
                      next_attempt_at=timezone.now() + dt.timedelta(hours=1))
    assert tasks.drain_submissions()["processed"] == 1
    assert tasks.drain_submissions().get("processed", 0) == 0
    assert list(Lead.objects.values_list("email", flat=True)) == ["a@example.org"]


def test_intake_drain_processes_every_pending_submission_now(cast, capsys):
    for n in range(3):
        SubmissionFactory(employer=cast.employer, data={"email": f"p{n}@example.org", "name": f"P {n}"},
                          next_attempt_at=timezone.now() + dt.timedelta(hours=1))
    call_command("intake_drain")
    assert "processed: 3" in capsys.readouterr().out
    assert Lead.objects.count() == 3
    assert not Submission.objects.filter(status=Submission.Status.PENDING).exists()


def test_an_opening_deleted_in_between_still_gives_the_inquiry(client, cast):
    opening = OpeningFactory(employer=cast.employer, title="Backend Engineer")
    opening_id = opening.pk
    client.post(apply_url(cast.employer), form(opening=opening_id))
    opening.delete()
    assert submissions_drain(every_pending=True)["processed"] == 1
    inquiry = Inquiry.objects.get()
    assert inquiry.lead.opening is None
    assert inquiry.raw_fields["opening"] == str(opening_id)  # what the person chose is kept


def test_a_cv_travels_with_the_submission(client, cast):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("my cv.pdf", b"%PDF-1.7\n...", content_type="application/pdf")
    assert client.post(apply_url(cast.employer), {**form(), "cv": upload}).status_code == 302
    submission = Submission.objects.get()
    assert submission.cv.startswith("cvs/") and submission.cv.endswith(f"{submission.pk.hex}.pdf")
    submission_process(submission.pk)
    lead = Lead.objects.get()
    assert lead.cv.name == submission.cv
    assert lead.cv.read().startswith(b"%PDF-1.7")


# --- a submission that cannot be processed ---------------------------------------------------


def test_a_failing_submission_is_kept_with_its_error_and_retried(cast, client):
    # Accepted under rules that no longer hold when the worker gets to it.
    submission = SubmissionFactory(
        employer=cast.employer, data={"email": "ana@example.org", "name": "Ana", "fields": {"phone": "+999 1"}},
    )
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert submissions_drain()["failed"] == 1
        submission.refresh_from_db()
        assert submission.status == Submission.Status.PENDING and submission.attempts == 1
        assert "phone" in submission.last_error
        assert submission.next_attempt_at == timezone.now() + dt.timedelta(minutes=1)
        assert submissions_drain()["failed"] == 0  # not due yet: nothing is hammered
        traveller.shift(dt.timedelta(minutes=1, seconds=1))
        assert submissions_drain()["failed"] == 1
        submission.refresh_from_db()
        assert submission.attempts == 2
        assert submission.next_attempt_at == timezone.now() + dt.timedelta(minutes=2)
    assert not Lead.objects.exists()

    # Visible to the employer's admin, with the error; an action tries it again now.
    client.force_login(cast.owner)
    changelist = reverse("admin:leads_submission_changelist")
    page = client.get(changelist, {"processing": "errors"}).content.decode()
    assert "ana@example.org" in page and "phone" in page
    submission.data["fields"] = {"phone": "+64 21 123 4567"}  # the rule it broke, put right
    submission.save(update_fields=["data"])
    response = client.post(changelist, {"action": "process_now", "_selected_action": [str(submission.pk)]})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PROCESSED and Lead.objects.get().phone == "+64211234567"


def test_the_outsider_never_sees_another_employers_submissions(cast, client):
    submission = SubmissionFactory(employer=cast.employer)
    client.force_login(cast.outsider)
    assert client.get(reverse("admin:leads_submission_changelist")).context["cl"].result_count == 0
    assert client.get(reverse("admin:leads_submission_change", args=[submission.pk])).status_code == 404


def test_a_transient_database_error_keeps_it_pending_for_the_next_sweep(cast, monkeypatch):
    submission = SubmissionFactory(employer=cast.employer, data={"email": "a@example.org", "name": "A"})
    real = submissions.inquiry_receive

    def lost_connection(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(submissions, "inquiry_receive", lost_connection)
    assert submission_process(submission.pk) == "deferred"
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PENDING and "server closed" in submission.last_error
    monkeypatch.setattr(submissions, "inquiry_receive", real)
    assert submissions_drain(every_pending=True)["processed"] == 1
    assert Inquiry.objects.count() == 1


def test_a_spooled_copy_of_a_stored_submission_is_stored_once(cast):
    # The database committed the row but the answer never reached the web server, which spooled
    # the same submission too: ingestion keeps one, and one inquiry comes of it.
    submission = SubmissionFactory(employer=cast.employer, data={"email": "a@example.org", "name": "A"})
    row = {"id": str(submission.pk), "employer_id": cast.employer.pk, "received_at": submission.received_at.isoformat(),
           "data": submission.data, "raw_fields": {}, "remote_addr": None, "privacy_accepted": True, "cv": ""}
    spool.spool_write(row)
    assert submissions_drain(every_pending=True)["spool ingested"] == 1
    assert Submission.objects.count() == 1 and Inquiry.objects.count() == 1
    assert spool.spool_read() == []


# --- the database refuses the write ----------------------------------------------------------


def _submit_while_database_is_down(employer, count: int) -> list[int]:
    client = Client()
    url = apply_url(employer)
    assert client.get(url).status_code == 200  # the page (and the employer's snapshot) is cached
    statuses = []
    with database_unreachable():
        assert client.get(url).status_code == 200  # the form still renders
        for n in range(count):
            response = client.post(url, form(n, name="Maria Garcia"))
            statuses.append(response.status_code)
            assert response["Location"] == reverse("leads:public_thanks", args=[employer.slug])
        assert "Thank you" in client.get(reverse("leads:public_thanks", args=[employer.slug])).content.decode()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_database_down_every_person_is_thanked_and_stored_once_when_it_is_back(cast, postgres, settings):
    if not settings.RELOCATE_SPOOL_REDIS_URL:
        pytest.skip("needs Redis for the shared spool: set REDIS_URL (.ci/run does)")
    assert _submit_while_database_is_down(cast.employer, 5) == [302] * 5
    assert spool.spool_counts()["redis"] == 5
    assert not Submission.objects.exists()

    call_command("intake_drain")
    call_command("intake_drain")  # twice: nothing more
    assert Lead.objects.filter(employer=cast.employer).count() == 5
    assert Inquiry.objects.count() == 5
    assert set(Submission.objects.values_list("via", "status")) == {("redis", "processed")}
    assert spool.spool_counts()["redis"] == 0

    # The acknowledgements go out once each, however often the sweep runs.
    tasks.dispatch_due_emails()
    tasks.dispatch_due_emails()
    to = sorted(message.to[0] for message in mail.outbox if "acknowledg" in message.subject.lower()
                or message.to[0].startswith("john.smith"))
    assert to == [f"john.smith{n}@example.org" for n in range(5)]
    assert acknowledgements(cast.employer) == 5


@pytest.mark.django_db(transaction=True)
def test_database_and_redis_down_the_directory_spool_takes_over(cast, postgres, settings, tmp_path):
    settings.RELOCATE_SPOOL_REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    assert _submit_while_database_is_down(cast.employer, 3) == [302] * 3
    files = sorted((tmp_path / "spool").glob("*.json"))
    assert len(files) == 3
    counts = spool.spool_counts()
    assert counts["directory"] == 3 and counts["redis"] is None

    call_command("intake_drain")
    assert Lead.objects.filter(employer=cast.employer).count() == 3
    assert set(Submission.objects.values_list("via", flat=True)) == {"directory"}
    assert not list((tmp_path / "spool").glob("*.json"))
    call_command("intake_drain")
    assert Inquiry.objects.count() == 3 and acknowledgements(cast.employer) == 3


@pytest.mark.django_db(transaction=True)
def test_nowhere_to_keep_it_says_so_instead_of_thanking(cast, postgres, settings, tmp_path):
    settings.RELOCATE_SPOOL_REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.RELOCATE_SPOOL_DIR = str(blocker / "spool")
    client = Client()
    url = apply_url(cast.employer)
    client.get(url)
    with database_unreachable():
        response = client.post(url, form())
    assert response.status_code == 503
    page = response.content.decode()
    assert "could not store your inquiry" in page and "John Smith" in page  # what they typed is kept


def test_a_spooled_file_that_cannot_be_read_is_set_aside(settings, tmp_path, db):
    folder = tmp_path / "spool"
    folder.mkdir()
    (folder / "broken.json").write_text("{not json")
    assert submissions_drain(every_pending=True)["spool ingested"] == 0
    assert (folder / "bad" / "broken.json").exists()


def test_healthz_reports_the_backlog_and_the_spool(client, cast):
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=5)):
        SubmissionFactory(employer=cast.employer)
    SubmissionFactory(employer=cast.employer, last_error="phone: not valid")
    SubmissionFactory(employer=cast.employer, status=Submission.Status.PROCESSED)
    spool.spool_write({"id": str(uuid.uuid4()), "employer_id": cast.employer.pk, "received_at": "2026-11-09T03:00:00Z"})
    intake = client.get("/healthz").json()["intake"]
    assert intake["pending"] == 2 and intake["with_errors"] == 1
    assert 290 <= intake["oldest_pending_seconds"] <= 400
    assert sum(n for n in intake["spooled"].values() if n) == 1


# --- many people of one name at once ---------------------------------------------------------


def _run_together(count: int, target) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            target(i)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_sixteen_people_of_one_name_country_and_phone_at_once(cast, postgres):
    for n in range(3):
        MembershipFactory(employer=cast.employer, user=UserFactory(username=f"recruiter{n}"))
    url = apply_url(cast.employer)
    statuses: list[int] = []

    def submit(i: int) -> None:
        # Sixteen different people, each from an address of their own.
        statuses.append(Client(REMOTE_ADDR=f"198.51.100.{i + 1}").post(url, form(i)).status_code)

    assert _run_together(16, submit) == []
    assert statuses == [302] * 16
    assert Submission.objects.count() == 16
    # Four workers process them at the same moment: no deadlock, nothing twice.
    assert _run_together(4, lambda i: submissions_drain(every_pending=True)) == []
    assert Submission.objects.filter(status=Submission.Status.PROCESSED).count() == 16
    assert Inquiry.objects.count() == 16 and Lead.objects.filter(employer=cast.employer).count() == 16
    assert set(Submission.objects.values_list("last_error", flat=True)) == {""}
    assert acknowledgements(cast.employer) == 16
    # Everyone is flagged as a possible duplicate of the others (same name, country and phone).
    flagged = set(PossibleDuplicate.objects.values_list("lead_id", flat=True)) | set(
        PossibleDuplicate.objects.values_list("other_id", flat=True))
    assert len(flagged) == 16
    # Owners in strict turns among the four recruiters (the cast's teammate and three more).
    owners = list(Lead.objects.values_list("owner__username", flat=True))
    assert sorted({owners.count(name) for name in set(owners)}) == [4], owners


@pytest.mark.django_db(transaction=True)
def test_the_same_person_sending_eight_times_at_once_is_one_lead(cast, postgres, settings):
    url = apply_url(cast.employer)
    settings.RELOCATE_PUBLIC_FORM_RATE = 100
    assert _run_together(8, lambda i: Client().post(url, form(0, motivation=f"Try {i}"))) == []
    assert _run_together(4, lambda i: submissions_drain(every_pending=True)) == []
    assert Lead.objects.filter(employer=cast.employer).count() == 1
    assert Inquiry.objects.count() == 8


@pytest.mark.django_db(transaction=True)
def test_the_web_server_stores_its_own_disk_spool_once_the_database_is_back(cast, postgres, settings, tmp_path,
                                                                            monkeypatch):
    # A web server whose spool directory no worker can see (another machine) empties it itself.
    settings.RELOCATE_SPOOL_REDIS_URL = ""
    assert _submit_while_database_is_down(cast.employer, 3) == [302] * 3
    monkeypatch.setattr(spool, "_last_local_check", 0.0)
    assert Client(REMOTE_ADDR="198.51.100.7").post(apply_url(cast.employer), form(9)).status_code == 302
    assert Submission.objects.count() == 4
    assert not list((tmp_path / "spool").glob("*.json"))
    call_command("intake_drain")
    assert Inquiry.objects.count() == 4


def test_a_submission_held_by_a_worker_that_died_is_said_and_freed(cast, capsys):
    submission = SubmissionFactory(employer=cast.employer, data={"email": "a@example.org", "name": "A"},
                                   claimed_until=timezone.now() + dt.timedelta(seconds=150))
    call_command("intake_drain")
    captured = capsys.readouterr()
    assert "1 submission(s) are being processed by another worker" in captured.err
    assert not Lead.objects.exists()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=151)):
        call_command("intake_drain")
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PROCESSED and Lead.objects.count() == 1
