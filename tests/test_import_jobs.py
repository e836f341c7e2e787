"""CSV imports at scale: one inquiry per row however often (and however concurrently) a file is
imported, and a large file imported by a Celery task with a progress page."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.db.models import Count, Q
from django.utils import timezone

from leads.import_tasks import import_job_run
from leads.models import ImportJob, Inquiry, Lead, LegalBasis, OutboundEmail, OutboundKind
from leads.services import imports
from leads.services.imports import IMPORT_INLINE_MAX_ROWS, leads_import_csv
from tests.factories import UserFactory

IMPORT_URL = "/admin/leads/lead/import/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def rows_text(count: int, *, start: int = 0) -> str:
    return "email,name\n" + "".join(f"p{i}@example.org,Person {i}\n" for i in range(start, start + count))


def csv_file(text: str) -> io.BytesIO:
    data = io.BytesIO(text.encode())
    data.name = "people.csv"
    return data


def acknowledgements_per_lead() -> set[int]:
    """How many acknowledgements the leads were sent: {1} when each lead got exactly one."""
    acks = Q(outbound_emails__kind=OutboundKind.ACKNOWLEDGEMENT)
    return set(Lead.objects.annotate(n=Count("outbound_emails", filter=acks)).values_list("n", flat=True))


def upload_job(client, cast, count: int = 250, *, legal_basis: str = LegalBasis.CONSENT):
    """Upload a file too large to import inline; the job it made, and the page it redirected to."""
    client.force_login(cast.owner)
    response = client.post(IMPORT_URL, {
        "employer": cast.employer.pk, "legal_basis": legal_basis,
        "file": SimpleUploadedFile("people.csv", rows_text(count).encode(), content_type="text/csv"),
    })
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/leads/lead/import/{job.pk}/"
    return job, response["Location"]


# --- two imports of one file at the same time ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_imports_of_one_file_store_each_row_once(postgres, cast):
    count = 60
    text = rows_text(count)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            reports.append(leads_import_csv(employer=cast.employer, file=csv_file(text), actor=None,
                                            legal_basis=LegalBasis.CONSENT))
        except Exception as exc:  # noqa: BLE001 - reported by the test in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(reports) == 2 and all(r.ok for r in reports), [r.errors for r in reports]
    assert Inquiry.objects.count() == count
    assert Lead.objects.count() == count
    assert set(Inquiry.objects.values("import_fingerprint").annotate(n=Count("pk")).values_list("n", flat=True)) \
        == {1}
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == count
    assert acknowledgements_per_lead() == {1}
    for report in reports:
        assert report.created + report.joined + report.skipped == count
    assert sum(r.created for r in reports) == count
    assert sum(r.joined for r in reports) == 0
    assert sum(r.skipped for r in reports) == count


# --- a large file goes to a job -----------------------------------------------------------


def test_a_large_file_is_checked_then_imported_by_a_job_with_a_progress_page(
    client, cast, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks() as callbacks:
        job, url = upload_job(client, cast)
    assert len(callbacks) == 1  # the task is queued once the job's row is committed
    assert (job.status, job.rows_total, job.rows_done, job.employer, job.created_by) == (
        ImportJob.Status.QUEUED, 250, 0, cast.employer, cast.owner)
    assert job.file_name == "people.csv" and job.file.read().decode() == rows_text(250)
    assert not Lead.objects.exists()
    page = client.get(url).content.decode()
    assert "Waiting for a worker" in page
    assert '<progress id="import-job-bar" max="250" value="0">' in page
    assert 'http-equiv="refresh"' in page and "js/import-progress.js" in page

    # Midway, the job's row and its page show how far it got.
    real = imports.inquiry_receive
    seen: dict[str, str] = {}

    def receive(**kwargs):
        if kwargs["email"] == "p125@example.org":
            seen["page"] = client.get(url).content.decode()
        return real(**kwargs)

    monkeypatch.setattr(imports, "inquiry_receive", receive)
    assert import_job_run(job.pk) == "done"
    assert "Importing." in seen["page"]
    assert '<progress id="import-job-bar" max="250" value="120">' in seen["page"]

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created, job.joined, job.skipped, job.errors) == (
        ImportJob.Status.DONE, 250, 250, 0, 0, [])
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at
    assert Lead.objects.filter(employer=cast.employer, legal_basis=LegalBasis.CONSENT).count() == 250
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 250
    assert set(Inquiry.objects.values_list("raw_fields__import_job", flat=True)) == {job.pk}
    page = " ".join(client.get(url).content.decode().split())
    assert "Done: 250 new lead(s), 0 joined an existing lead." in page
    assert '<progress id="import-job-bar" max="250" value="250">' in page
    assert 'http-equiv="refresh"' not in page and "import-progress.js" not in page
    # The import page lists it.
    assert url in client.get(IMPORT_URL).content.decode()


def test_at_most_the_inline_limit_is_imported_at_once_and_a_dry_run_stays_inline(client, cast):
    client.force_login(cast.owner)

    def post(count: int, **data):
        return client.post(IMPORT_URL, {
            "employer": cast.employer.pk, "legal_basis": LegalBasis.CONSENT, **data,
            "file": SimpleUploadedFile("people.csv", rows_text(count).encode(), content_type="text/csv"),
        })

    response = post(IMPORT_INLINE_MAX_ROWS + 1, dry_run="on")
    assert response.status_code == 200 and response.context["report"].created == IMPORT_INLINE_MAX_ROWS + 1
    assert not ImportJob.objects.exists() and not Lead.objects.exists()
    response = post(IMPORT_INLINE_MAX_ROWS)
    assert response.status_code == 200 and response.context["report"].created == IMPORT_INLINE_MAX_ROWS
    assert not ImportJob.objects.exists()


def test_a_large_file_with_a_bad_row_makes_no_job(client, cast):
    client.force_login(cast.owner)
    text = rows_text(300) + "not-an-email,Nobody\n"
    response = client.post(IMPORT_URL, {"employer": cast.employer.pk, "legal_basis": LegalBasis.CONSENT,
                                        "file": SimpleUploadedFile("people.csv", text.encode())})
    assert response.status_code == 200 and not response.context["report"].ok
    assert not ImportJob.objects.exists() and not Lead.objects.exists()


def test_the_command_imports_a_large_file_itself(cast, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "people.csv"
    path.write_text(rows_text(IMPORT_INLINE_MAX_ROWS + 5))
    out = io.StringIO()
    call_command("import_leads", cast.employer.slug, str(path), "--legal-basis", "consent_in_person", stdout=out)
    assert f"Imported {IMPORT_INLINE_MAX_ROWS + 5} row(s)" in out.getvalue()
    assert not ImportJob.objects.exists()
    assert Lead.objects.filter(legal_basis=LegalBasis.CONSENT_IN_PERSON).count() == IMPORT_INLINE_MAX_ROWS + 5


# --- the job page: who sees it --------------------------------------------------------------


def test_the_job_page_is_the_employers_admins_only(client, cast):
    job, url = upload_job(client, cast, count=IMPORT_INLINE_MAX_ROWS + 1)
    assert client.get(url).status_code == 200
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404
    assert url not in client.get(IMPORT_URL).content.decode()
    cast.teammate.is_staff = True
    cast.teammate.save()
    client.force_login(cast.teammate)  # a recruiter of the employer, not its admin
    assert client.get(url).status_code == 404
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url).status_code == 302
    assert client.get(f"/admin/leads/lead/import/{job.pk + 1}/").status_code in (302, 404)


def test_the_job_page_and_the_import_page_take_a_fixed_number_of_queries(client, cast, django_assert_num_queries):
    job, url = upload_job(client, cast, count=IMPORT_INLINE_MAX_ROWS + 1)
    client.get(url)  # warm the per-process caches (content types, the site's apps)
    with django_assert_num_queries(JOB_PAGE_QUERIES):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(IMPORT_PAGE_QUERIES):
        client.get(IMPORT_URL)
    for _ in range(3):
        ImportJob.objects.create(employer=cast.employer, file_name="more.csv", file=job.file.name,
                                 legal_basis=LegalBasis.CONSENT)
    with django_assert_num_queries(IMPORT_PAGE_QUERIES):
        assert client.get(IMPORT_URL).content.decode().count("more.csv") == 3


JOB_PAGE_QUERIES = 7
IMPORT_PAGE_QUERIES = 10


# --- the task: failures, twice, a worker that died --------------------------------------------


def test_a_job_that_raises_midway_is_marked_failed_with_the_reason(client, cast, monkeypatch):
    job, url = upload_job(client, cast)
    real = imports.inquiry_receive

    def receive(**kwargs):
        if kwargs["email"] == "p100@example.org":
            raise RuntimeError("the disk is full")
        return real(**kwargs)

    monkeypatch.setattr(imports, "inquiry_receive", receive)
    assert import_job_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
    assert "RuntimeError: the disk is full" in job.errors[-1]["message"]
    assert Lead.objects.count() == 100  # the rows before it stay imported
    page = client.get(url).content.decode()
    assert "The import failed" in page and "the disk is full" in page
    assert 'http-equiv="refresh"' not in page
    # A failed job is left alone by a second run; uploading the file again imports the rest.
    monkeypatch.setattr(imports, "inquiry_receive", real)
    assert import_job_run(job.pk) == "not queued"
    assert Lead.objects.count() == 100


def test_a_file_that_no_longer_passes_the_check_fails_the_job_and_imports_nothing(client, cast):
    job, _ = upload_job(client, cast)
    job.file.save("changed.csv", io.BytesIO(b"email\nnot-an-email\n"))
    assert import_job_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.errors[0]["field"] == "email"
    assert not Lead.objects.exists()


def test_running_a_done_job_again_changes_nothing(client, cast):
    job, _ = upload_job(client, cast)
    assert import_job_run(job.pk) == "done"
    job.refresh_from_db()
    before = (job.status, job.rows_done, job.created, job.joined, job.skipped, job.finished_at)
    counts = (Lead.objects.count(), Inquiry.objects.count(), OutboundEmail.objects.count())
    assert import_job_run(job.pk) == "not queued"
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created, job.joined, job.skipped, job.finished_at) == before
    assert (Lead.objects.count(), Inquiry.objects.count(), OutboundEmail.objects.count()) == counts


def test_a_job_whose_worker_died_continues_when_run_again(client, cast, monkeypatch):
    job, _ = upload_job(client, cast)
    real = imports.inquiry_receive

    class WorkerLost(BaseException):
        """Not an Exception: like a killed process, nothing gets to mark the job."""

    def receive(**kwargs):
        if kwargs["email"] == "p140@example.org":
            raise WorkerLost
        return real(**kwargs)

    monkeypatch.setattr(imports, "inquiry_receive", receive)
    with pytest.raises(WorkerLost):
        import_job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_done) == (ImportJob.Status.RUNNING, 140)
    monkeypatch.setattr(imports, "inquiry_receive", real)
    assert import_job_run(job.pk) == "done"  # the redelivered message
    job.refresh_from_db()
    # Counted from the rows: the first run's 140 are created by this job, not skipped.
    assert (job.status, job.rows_done, job.created, job.joined, job.skipped) == (
        ImportJob.Status.DONE, 250, 250, 0, 0)
    assert Inquiry.objects.count() == 250
    assert acknowledgements_per_lead() == {1}


def test_rows_imported_before_the_job_count_as_skipped(client, cast):
    leads_import_csv(employer=cast.employer, file=csv_file(rows_text(30)), legal_basis=LegalBasis.CONSENT)
    job, _ = upload_job(client, cast)
    assert import_job_run(job.pk) == "done"
    job.refresh_from_db()
    assert (job.rows_done, job.created, job.joined, job.skipped) == (250, 220, 0, 30)


# --- the broker is down ---------------------------------------------------------------------


def test_with_the_broker_down_the_job_stays_queued_and_its_page_says_so(
    client, cast, django_capture_on_commit_callbacks, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("Redis is down")

    monkeypatch.setattr(import_job_run, "apply_async", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        job, url = upload_job(client, cast)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    page = client.get(url).content.decode()
    assert "The task queue did not take this import" in page
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        page = client.get(url).content.decode()
    assert "No worker has started it for over a minute" in page
    # Safe to run whenever it does reach a worker.
    assert import_job_run(job.pk) == "done"
