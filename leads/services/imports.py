"""Importing leads from a CSV file: every row checked first, then each one through the intake service.

Policy: when any row is wrong, nothing is imported and the report lists every problem (row,
column, message), as a person expects from an import preview. A good file then goes row by
row through ``inquiry_receive`` (its own transaction per row, like every other path), so each
row gets the same acknowledgement and sequence as an inquiry from the web form. Whoever
imports says why the employer may email these people (the legal basis); every row carries it.

The profile columns, and how a cell becomes a value, come from the profile's declaration
(``leads.profile``); the person's identity and how they reached us are declared here.

Each imported inquiry holds the fingerprint of its row (the SHA-256 of its values), and the
database holds one inquiry per fingerprint and employer. A row imported before, repeated in
the file, or imported by a concurrent upload of the same file is skipped: nobody gets a
second email, and an import cut short (a lost database connection, a worker that died)
finishes by running it again.

A file of more than ``IMPORT_INLINE_MAX_ROWS`` rows, uploaded in admin, is checked in the
request and imported by a Celery task (``leads.import_tasks.import_job_run``): its ImportJob
row is the progress bar.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import logging
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import OperationalError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import number_format
from django.utils.translation import gettext
from django_countries import countries

from leads import profile
from leads.models import Employer, ImportJob, Inquiry, Lead, LegalBasis, Opening, Source
from leads.normalise import normalise_phone
from leads.profile import Kind

# Intake's own checks, so that a row the preview passes is a row intake accepts.
from leads.services.intake import RowAlreadyImported, clean_countries, clean_email, clean_profile, inquiry_receive

logger = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
# Up to this many rows are imported while the admin waits; a larger file goes to a Celery task.
IMPORT_INLINE_MAX_ROWS = 200
_SHOWN_ERRORS = 200
_MAX_CELL = 10_000
# A job writes its counters every this many rows: a cheap UPDATE, a progress bar that moves.
_PROGRESS_EVERY = 10
_BATCH = 1000

# Who the person is and how they reached us; the profile's columns are its declaration's.
_IDENTITY = ("email", "name", "citizenships", "skills", "source", "received_at")
# Columns by their canonical name; headers are matched case-insensitively, spaces as underscores.
COLUMNS: tuple[str, ...] = (*_IDENTITY[:2], *profile.IMPORT_FIELDS, *_IDENTITY[2:])
_PROFILE_COLUMNS = frozenset(profile.IMPORT_FIELDS)
_ALIASES = {"channel": "source", "country": "current_country", "city": "current_city",
            "citizenship": "citizenships", "skill": "skills", "e_mail": "email", "email_address": "email"}
# Names people write that differ from the ISO names django-countries knows.
_COUNTRY_ALIASES = {"united states": "US", "usa": "US", "america": "US", "uk": "GB", "great britain": "GB",
                    "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
                    "holland": "NL", "czech republic": "CZ", "ivory coast": "CI", "turkey": "TR"}


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1; 0 for the file as a whole
    field: str
    message: str

    def __str__(self) -> str:
        values = {"row": self.row, "field": self.field, "message": self.message}
        if self.row:
            return (gettext("row %(row)s, %(field)s: %(message)s") if self.field
                    else gettext("row %(row)s: %(message)s")) % values
        return (gettext("file, %(field)s: %(message)s") if self.field else gettext("file: %(message)s")) % values


@dataclass
class ImportReport:
    file_name: str = ""
    rows: int = 0
    created: int = 0
    joined: int = 0
    skipped: int = 0  # rows imported before, or repeating an earlier row of the file
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)
    job: ImportJob | None = None  # the file is being imported in the background

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def shown_errors(self) -> list[RowError]:
        return self.errors[:_SHOWN_ERRORS]

    @property
    def hidden_errors(self) -> int:
        return max(0, len(self.errors) - _SHOWN_ERRORS)

    def summary(self) -> str:
        values = {"problems": len(self.errors), "rows": self.rows, "count": self.created + self.joined,
                  "created": self.created, "joined": self.joined, "skipped": self.skipped}
        if self.errors and not (self.created or self.joined):
            return gettext("Nothing was imported: %(problems)s problem(s) to fix (%(rows)s row(s) checked).") % values
        if self.job is not None:
            return gettext("The file is checked: its %(rows)s row(s) are being imported in the background.") % values
        if self.dry_run:
            text = gettext("Would import %(count)s row(s): %(created)s new lead(s), "
                           "%(joined)s joined an existing lead.") % values
        else:
            text = gettext("Imported %(count)s row(s): %(created)s new lead(s), "
                           "%(joined)s joined an existing lead.") % values
        if self.skipped:
            text += " " + gettext("%(skipped)s row(s) were imported before (or repeat an earlier row) "
                                  "and are skipped.") % values
        if self.errors:
            text += " " + gettext("%(problems)s row(s) failed while importing.") % values
        return text


@dataclass
class _Row:
    number: int
    cells: dict[str, str]  # as in the file, for the inquiry's raw fields
    kwargs: dict[str, Any]
    fingerprint: str


class _FileRefused(Exception):
    pass


def leads_import_csv(*, employer: Employer, file: IO[bytes], legal_basis: str, actor=None, dry_run: bool = False,
                     file_name: str = "", inline_max_rows: int | None = None) -> ImportReport:
    """Check every row of the CSV; when all are good (and not a dry run), receive each as an inquiry
    with the ``legal_basis`` (a LegalBasis value) the importer chose.

    With ``inline_max_rows``, a good file of more rows is stored in an ImportJob and imported by
    a Celery task once this transaction commits: the report's ``job``. Without it (the command)
    every file is imported here."""
    report = ImportReport(file_name=file_name or getattr(file, "name", "") or "upload.csv", dry_run=dry_run)
    if legal_basis not in LegalBasis.values:
        report.errors.append(RowError(0, "legal_basis", gettext(
            "Choose the legal basis for emailing these people: %(choices)s.") % {
                "choices": ", ".join(LegalBasis.values)}))
        return report
    rows = _checked_rows(employer, file, report)
    if rows is None:
        return report
    if not dry_run and inline_max_rows is not None and len(rows) > inline_max_rows:
        report.job = _job_create(employer=employer, file=file, file_name=report.file_name, actor=actor,
                                 legal_basis=legal_basis, rows=len(rows))
        return report
    todo = _not_imported_before(employer, rows, report)
    if dry_run:
        report.created, report.joined = _predict(employer, todo)
        return report
    for row in todo:
        _receive(employer, row, actor, legal_basis, report)
    return report


def _checked_rows(employer: Employer, file: IO[bytes], report: ImportReport) -> list[_Row] | None:
    """Every row, when the whole file is good; else None and the problems on the report."""
    try:
        rows = list(_parse(_decode(_read_bytes(file)), employer, report))
    except _FileRefused as exc:
        report.errors.append(RowError(0, "", str(exc)))
        return None
    if report.errors:
        return None
    if not rows:
        report.errors.append(RowError(0, "", gettext("The file has a header but no rows.")))
        return None
    return rows


# --- reading the file ---------------------------------------------------------------------


def _read_bytes(file: IO[bytes]) -> bytes:
    too_large = gettext("The file is larger than %(size)s MB; split it into smaller files.") % {
        "size": MAX_BYTES // (1024 * 1024)}
    size = getattr(file, "size", None)
    if size is not None and size > MAX_BYTES:
        raise _FileRefused(too_large)
    if hasattr(file, "seek"):
        file.seek(0)
    raw = file.read(MAX_BYTES + 1)
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_BYTES:
        raise _FileRefused(too_large)
    return raw


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise _FileRefused(gettext("This is not a CSV text file (it looks like a spreadsheet or another binary "
                                   "file). Save it as “CSV UTF-8” and upload that."))
    try:
        # utf-8-sig drops the byte-order mark Excel writes at the start of “CSV UTF-8”.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _FileRefused(gettext("The file is not UTF-8 text (first bad byte on line %(line)s). "
                                   "Save it as “CSV UTF-8” and upload that.") % {"line": line}) from exc


def _parse(text: str, employer: Employer, report: ImportReport) -> Iterator[_Row]:
    """The rows, checked; problems go on the report as they are found."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else (
        "\t" if "\t" in first_line and "," not in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise _FileRefused(gettext("The file is empty."))
        columns = _columns(header, report)
        if report.errors:
            return
        checker = _RowChecker(employer)
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # spreadsheets leave blank rows behind
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise _FileRefused(gettext("The file has more than %(count)s rows; split it into smaller files.")
                                   % {"count": number_format(MAX_ROWS, force_grouping=True)})
            # Spreadsheets pad rows with empty cells; only a value with no column is a problem.
            named = [(name, cell.strip()) for name, cell in itertools.zip_longest(columns, cells, fillvalue="")]
            if any(value and not name for name, value in named):
                report.errors.append(RowError(number, "", gettext(
                    "A value in a column without a header (the header has %(count)s columns).")
                    % {"count": len(header)}))
                continue
            values = {name: value for name, value in named if name}
            kwargs, errors = checker.check(number, values)
            report.errors.extend(errors)
            if not errors:
                yield _Row(number, dict(zip(header, cells, strict=False)), kwargs, _fingerprint(values))
    except csv.Error as exc:
        raise _FileRefused(gettext("The file is not valid CSV near line %(line)s: %(error)s.")
                           % {"line": reader.line_num, "error": exc}) from exc


def _columns(header: list[str], report: ImportReport) -> list[str]:
    columns = []
    for cell in header:
        name = "_".join(cell.strip().lower().replace("-", " ").split())
        name = _ALIASES.get(name, name)
        if not name:
            pass  # an empty header cell: fine while its column stays empty
        elif name not in COLUMNS:
            report.errors.append(RowError(1, cell.strip()[:60], gettext("Unknown column. Known columns: %(columns)s.")
                                          % {"columns": ", ".join(COLUMNS)}))
        elif name in columns:
            report.errors.append(RowError(1, name, gettext("This column appears twice.")))
        columns.append(name)
    if "email" not in columns:
        report.errors.append(RowError(1, "email", gettext("The header needs an email column.")))
    return columns


# --- checking a row -----------------------------------------------------------------------


class _RowChecker:
    """Turns one row's cells into inquiry_receive arguments, with intake's own rules."""

    def __init__(self, employer: Employer) -> None:
        self.employer = employer
        self.zone = zoneinfo.ZoneInfo(employer.time_zone or "UTC")
        openings = list(Opening.objects.filter(employer=employer))
        self.openings_by_id = {str(o.pk): o for o in openings}
        self.openings_by_title: dict[str, list[Opening]] = {}
        for opening in openings:
            self.openings_by_title.setdefault(opening.title.strip().lower(), []).append(opening)

    def check(self, number: int, values: dict[str, str]) -> tuple[dict[str, Any], list[RowError]]:
        errors: list[RowError] = []

        def fail(column: str, message: str) -> None:
            errors.append(RowError(number, column, message))

        for column, value in list(values.items()):
            if len(value) > _MAX_CELL:
                fail(column, gettext("At most %(count)s characters.")
                     % {"count": number_format(_MAX_CELL, force_grouping=True)})
                values[column] = ""
        fields: dict[str, Any] = {}
        for column, value in values.items():
            if value and column in _PROFILE_COLUMNS:
                converted = self._convert(column, value, fail)
                if converted is not None:
                    fields[column] = converted
        kwargs: dict[str, Any] = {
            "email": values.get("email", ""),
            "name": values.get("name", ""),
            "channel": _source(values.get("source", ""), fail),
            "citizenships": self._countries(values.get("citizenships", ""), fail),
            "skills": _split(values.get("skills", "")),
            "received_at": self._received_at(values.get("received_at", ""), fail),
        }
        if fields.get("phone"):
            # Checked here too: intake stops at a bad phone, and the row's other problems should show.
            try:
                normalise_phone(fields["phone"], fields.get("current_country") or "")
            except ValidationError as exc:
                fail("phone", exc.messages[0])
                del fields["phone"]
        if not kwargs["email"]:
            fail("email", gettext("The email is missing."))
        else:
            kwargs["email"] = _intake_check(errors, number, clean_email, kwargs["email"])
        kwargs["citizenships"] = _intake_check(errors, number, clean_countries, kwargs["citizenships"])
        # Intake's own check, with the same model rules it applies when it stores the row.
        _intake_check(errors, number, clean_profile, self.employer, fields)
        if errors:
            return {}, errors
        kwargs["fields"] = fields
        kwargs["body"] = fields.get("motivation", "")
        return kwargs, []

    def _convert(self, column: str, value: str, fail) -> Any:
        """A profile cell as its value: the declaration's own parsing, except countries (names
        and aliases people write) and openings (this employer's, by title or id)."""
        kind = profile.BY_NAME[column].kind
        if kind is Kind.COUNTRY:
            return _country(column, value, fail)
        if kind is Kind.OPENING:
            return self._opening(value, fail)
        try:
            return profile.parse_text(column, value)
        except ValueError as exc:
            fail(column, str(exc))
            return None

    def _countries(self, value: str, fail) -> list[str]:
        codes = []
        for name in _split(value):
            code = _country("citizenships", name, fail)
            if code:
                codes.append(code)
        return codes

    def _opening(self, value: str, fail) -> Opening | None:
        if value in self.openings_by_id:
            return self.openings_by_id[value]
        found = self.openings_by_title.get(value.lower(), [])
        if len(found) == 1:
            return found[0]
        if found:
            fail("opening", gettext("Several openings are called “%(title)s”; use the opening's id instead.")
                 % {"title": value})
        else:
            fail("opening", gettext("No opening “%(title)s” at %(employer)s (give its title or id).")
                 % {"title": value, "employer": self.employer.name})
        return None

    def _received_at(self, value: str, fail) -> dt.datetime | None:
        if not value:
            return None
        try:
            # The date first: parse_datetime would read a date alone as midnight.
            day = parse_date(value)
            moment = None if day else parse_datetime(value)
        except ValueError:
            moment = day = None
        if day is not None:
            # Noon in the employer's zone lands on the same calendar day in UTC for every
            # offset up to ±12 h, so the day-by-day reports count it on the day written.
            moment = dt.datetime.combine(day, dt.time(12), tzinfo=self.zone)
        if moment is None:
            fail("received_at", gettext("Enter a date (2026-11-09) or a date and time (2026-11-09 14:30)."))
            return None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=self.zone)
        if moment > timezone.now() + dt.timedelta(minutes=5):
            fail("received_at", gettext("The date is in the future."))
            return None
        return moment


def _intake_check(errors: list[RowError], number: int, check: Callable[..., Any], *args: Any) -> Any:
    try:
        return check(*args)
    except ValidationError as exc:
        for column, messages in exc.message_dict.items():
            errors.extend(RowError(number, column, message) for message in messages)
        return None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("|", ";").split(";") if part.strip()]


def _source(value: str, fail) -> str:
    wanted = value.strip().lower()
    if not wanted:
        return Source.IMPORT
    for choice, label in Source.choices:
        if wanted in {choice, str(label).lower()}:
            return choice
    fail("source", gettext("Choose one of: %(choices)s.") % {"choices": ", ".join(Source.values)})
    return Source.IMPORT


def _country(column: str, value: str, fail) -> str | None:
    code = countries.alpha2(value) if len(value) <= 3 else ""
    code = code or _COUNTRY_ALIASES.get(value.lower(), "") or countries.by_name(value)
    if not code:
        fail(column, gettext("Unknown country “%(name)s”; use a country name or its two-letter code.")
             % {"name": value})
        return None
    return code


# --- importing ----------------------------------------------------------------------------


def _fingerprint(values: dict[str, str]) -> str:
    """The row's values by column, whatever the column order, spelling or blank columns."""
    given = sorted((column, value) for column, value in values.items() if value)
    return hashlib.sha256(json.dumps(given).encode()).hexdigest()


def _not_imported_before(employer: Employer, rows: list[_Row], report: ImportReport) -> list[_Row]:
    """The rows no inquiry holds yet, each once; the others count as skipped."""
    seen = _imported_before(employer, (row.fingerprint for row in rows))
    todo = []
    for row in rows:
        if row.fingerprint not in seen:
            seen.add(row.fingerprint)
            todo.append(row)
    report.skipped = len(rows) - len(todo)
    return todo


def _imported_before(employer: Employer, fingerprints: Iterable[str]) -> set[str]:
    # This file's fingerprints only, a batch per query, through the constraint's index.
    wanted = sorted(set(fingerprints))
    found: set[str] = set()
    for start in range(0, len(wanted), _BATCH):
        found.update(Inquiry.objects.filter(employer=employer, import_fingerprint__in=wanted[start:start + _BATCH])
                     .values_list("import_fingerprint", flat=True))
    return found


def _predict(employer: Employer, rows: list[_Row]) -> tuple[int, int]:
    """How many rows would make a new lead and how many would join one, without writing."""
    emails = {row.kwargs["email"] for row in rows}
    known: set[str] = set()
    batch = sorted(emails)
    for start in range(0, len(batch), _BATCH):
        known.update(Lead.objects.filter(employer=employer, email__in=batch[start:start + _BATCH])
                     .values_list("email", flat=True))
    created = 0
    for row in rows:
        if row.kwargs["email"] not in known:
            created += 1
            known.add(row.kwargs["email"])
    return created, len(rows) - created


def _receive(employer: Employer, row: _Row, actor, legal_basis: str, report: ImportReport,
             job_id: int | None = None) -> None:
    raw = {**row.cells, "import_file": report.file_name[:200], "import_row": row.number}
    if job_id is not None:
        raw["import_job"] = job_id
    try:
        result = inquiry_receive(employer=employer, actor=actor, subject=f"Imported from {report.file_name}",
                                 raw_fields=raw, legal_basis=legal_basis, import_fingerprint=row.fingerprint,
                                 **row.kwargs)
    except RowAlreadyImported:
        # Another import of the same row (a concurrent upload, a second worker) was first.
        report.skipped += 1
        return
    except (ValidationError, OperationalError) as exc:
        # Checked a moment ago, so this is a change in between (an opening deleted) or a lost
        # database: the rows before are imported; running the file again imports the rest.
        message = ("; ".join(exc.messages) if isinstance(exc, ValidationError)
                   else gettext("The database did not answer."))
        report.errors.append(RowError(row.number, "", gettext("Not imported: %(reason)s") % {"reason": message}))
        return
    if result.created:
        report.created += 1
    else:
        report.joined += 1


# --- in the background --------------------------------------------------------------------


def _job_create(*, employer: Employer, file: IO[bytes], file_name: str, actor, legal_basis: str,
                rows: int) -> ImportJob:
    job = ImportJob(employer=employer, created_by=actor if getattr(actor, "pk", None) else None,
                    file_name=file_name[:200], rows_total=rows, legal_basis=legal_basis)
    file.seek(0)
    # A name of our own: the person's file name is kept in file_name, and may be anything.
    job.file.save(f"employer-{employer.pk}.csv", File(file), save=False)
    with transaction.atomic():
        job.save()
        transaction.on_commit(partial(import_job_kick, job.pk))
    return job


def import_job_kick(job_id: int) -> None:
    """Best effort, after commit: hand the job to a worker. With the broker down the job stays
    queued and its page says so; the upload never fails for that."""
    from leads.import_tasks import import_job_run

    try:
        import_job_run.apply_async(args=[job_id], retry=False)
    except Exception:
        logger.warning("broker unavailable: import job %s stays queued", job_id, exc_info=True)
        ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(errors=[
            {"row": 0, "field": "", "message": gettext(
                "The task queue did not take this import: no worker will start it. Upload the file again once "
                "the queue is back (rows imported already are skipped).")}])


def import_job_process(*, job_id: int) -> str:
    """The worker's side of an ImportJob; safe to run twice. A done or failed job is left alone;
    a queued one is claimed; a running one (its worker died, the message came back) continues,
    its imported rows skipped by their fingerprint. Any exception marks the job failed with
    the reason: a job is never left running."""
    now = timezone.now()
    jobs = ImportJob.objects.filter(pk=job_id)
    if not jobs.filter(status=ImportJob.Status.QUEUED).update(status=ImportJob.Status.RUNNING, started_at=now):
        if not jobs.filter(status=ImportJob.Status.RUNNING).exists():
            return "not queued"
        logger.info("import job %s: continuing a run that stopped", job_id)
    job = ImportJob.objects.select_related("employer", "created_by").filter(pk=job_id).first()
    if job is None:  # its employer was deleted a moment ago
        return "not queued"
    report = ImportReport(file_name=job.file_name)
    try:
        return _job_import(job, report)
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        detail = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        reason = gettext("The import stopped after %(count)s row(s): %(error)s. Upload the file again to import "
                         "the rest (rows imported already are skipped).") % {
            "count": report.created + report.joined + report.skipped, "error": detail}
        jobs.filter(status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.FAILED, finished_at=timezone.now(),
            errors=[*_as_json(report.errors), {"row": 0, "field": "", "message": reason}])
        return "failed"


def _job_import(job: ImportJob, report: ImportReport) -> str:
    legal_basis = job.legal_basis
    jobs = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING)
    with job.file.open("rb") as file:
        rows = _checked_rows(job.employer, file, report)
    if rows is None or legal_basis not in LegalBasis.values:
        # Checked at the upload: an opening deleted since, say. Nothing is imported.
        report.errors = report.errors or [RowError(0, "legal_basis", gettext("No legal basis was given."))]
        jobs.update(status=ImportJob.Status.FAILED, finished_at=timezone.now(), rows_total=report.rows,
                    errors=_as_json(report.errors))
        return "failed"
    todo = _not_imported_before(job.employer, rows, report)
    jobs.update(rows_total=len(rows), rows_done=report.skipped, created=0, joined=0, skipped=report.skipped,
                errors=[])
    for done, row in enumerate(todo, start=1):
        errors = len(report.errors)
        _receive(job.employer, row, job.created_by, legal_basis, report, job_id=job.pk)
        if done % _PROGRESS_EVERY == 0 or len(report.errors) != errors:
            jobs.update(rows_done=report.skipped + report.created + report.joined + len(report.errors),
                        created=report.created, joined=report.joined, skipped=report.skipped,
                        errors=_as_json(report.errors))
    # The counts of every run of this job (one that died first, too), from the rows themselves.
    report.created, report.joined = _job_counts(job, rows)
    report.skipped = len(rows) - report.created - report.joined - len(report.errors)
    jobs.update(status=ImportJob.Status.DONE, finished_at=timezone.now(), rows_done=len(rows),
                created=report.created, joined=report.joined, skipped=report.skipped,
                errors=_as_json(report.errors))
    return "done"


def _job_counts(job: ImportJob, rows: list[_Row]) -> tuple[int, int]:
    fingerprints = sorted({row.fingerprint for row in rows})
    created = joined = 0
    for start in range(0, len(fingerprints), _BATCH):
        counts = Inquiry.objects.filter(
            employer=job.employer_id, import_fingerprint__in=fingerprints[start:start + _BATCH],
            raw_fields__import_job=job.pk,
        ).aggregate(created=Count("pk", filter=Q(is_repeat=False)), joined=Count("pk", filter=Q(is_repeat=True)))
        created += counts["created"]
        joined += counts["joined"]
    return created, joined


def _as_json(errors: list[RowError]) -> list[dict[str, Any]]:
    return [{"row": e.row, "field": e.field, "message": e.message} for e in errors[:_SHOWN_ERRORS]]


__all__ = ["COLUMNS", "IMPORT_INLINE_MAX_ROWS", "MAX_BYTES", "MAX_ROWS", "ImportReport", "RowError",
           "import_job_kick", "import_job_process", "leads_import_csv"]
