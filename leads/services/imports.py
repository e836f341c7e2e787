"""Importing leads from a CSV file: every row checked first, then each one through the intake service.

Policy: when any row is wrong, nothing is imported and the report lists every problem (row,
column, message), as a person expects from an import preview. A good file then goes row by
row through ``inquiry_receive`` (its own transaction per row, like every other path), so each
row gets the same acknowledgement and sequence as an inquiry from the web form.

Each imported inquiry remembers a fingerprint of its row (the SHA-256 of its values). A row
imported before, or repeated in the file, is skipped: uploading the same file twice, or a
re-exported sheet with rows added, sends nobody a second email, and an import cut short
(a lost database connection) finishes by running it again.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_countries import countries

from leads.models import Employer, Inquiry, Lead, MoveTimeline, Opening, RelocatingWith, Source, VisaPathway
from leads.normalise import normalise_phone

# Intake's own checks, so that a row the preview passes is a row intake accepts.
from leads.services.intake import clean_countries, clean_email, clean_profile, inquiry_receive
from leads.timezones import validate_time_zone

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
_SHOWN_ERRORS = 200
_MAX_CELL = 10_000

# Columns by their canonical name; headers are matched case-insensitively, spaces as underscores.
COLUMNS: tuple[str, ...] = (
    "email", "name", "phone", "current_country", "current_city", "citizenships", "skills", "opening",
    "role_of_interest", "years_experience", "needs_sponsorship", "move_timeline", "source", "received_at",
    "motivation", "profile_url", "time_zone", "visa_pathway", "earliest_move_date", "relocating_with",
    "dependants", "partner_needs_work_rights", "credentials_to_recognise",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)
_ALIASES = {"channel": "source", "country": "current_country", "city": "current_city",
            "citizenship": "citizenships", "skill": "skills", "e_mail": "email", "email_address": "email"}
# Columns handled here rather than handed to intake as lead fields.
_NOT_PROFILE = frozenset({"email", "name", "citizenships", "skills", "opening", "source", "received_at"})
_CHOICES = {"move_timeline": MoveTimeline, "visa_pathway": VisaPathway, "relocating_with": RelocatingWith,
            "source": Source}
_BOOLEANS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}
_INTEGERS = frozenset({"years_experience", "dependants"})
# Names people write that differ from the ISO names django-countries knows.
_COUNTRY_ALIASES = {"united states": "US", "usa": "US", "america": "US", "uk": "GB", "great britain": "GB",
                    "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
                    "holland": "NL", "czech republic": "CZ", "ivory coast": "CI", "turkey": "TR"}
_BOOLEAN_COLUMNS = frozenset({"needs_sponsorship", "partner_needs_work_rights"})


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1; 0 for the file as a whole
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class ImportReport:
    file_name: str = ""
    rows: int = 0
    created: int = 0
    joined: int = 0
    skipped: int = 0  # rows imported before, or repeating an earlier row of the file
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)

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
        if self.errors and not (self.created or self.joined):
            return f"Nothing was imported: {len(self.errors)} problem(s) to fix ({self.rows} row(s) checked)."
        verb = "Would import" if self.dry_run else "Imported"
        text = f"{verb} {self.created + self.joined} row(s): {self.created} new lead(s), " \
               f"{self.joined} joined an existing lead."
        if self.skipped:
            text += f" {self.skipped} row(s) were imported before (or repeat an earlier row) and are skipped."
        if self.errors:
            text += f" {len(self.errors)} row(s) failed while importing."
        return text


@dataclass
class _Row:
    number: int
    cells: dict[str, str]  # as in the file, for the inquiry's raw fields
    kwargs: dict[str, Any]
    fingerprint: str


class _FileRefused(Exception):
    pass


def leads_import_csv(*, employer: Employer, file: IO[bytes], actor=None, dry_run: bool = False,
                     file_name: str = "") -> ImportReport:
    """Check every row of the CSV; when all are good (and not a dry run), receive each as an inquiry."""
    report = ImportReport(file_name=file_name or getattr(file, "name", "") or "upload.csv", dry_run=dry_run)
    try:
        raw = _read_bytes(file)
        text = _decode(raw)
        rows = list(_parse(text, employer, report))
    except _FileRefused as exc:
        report.errors.append(RowError(0, "", str(exc)))
        return report
    if report.errors:
        return report
    if not rows:
        report.errors.append(RowError(0, "", "The file has a header but no rows."))
        return report
    seen = _fingerprints_imported_before(employer)
    todo = []
    for row in rows:
        if row.fingerprint not in seen:
            seen.add(row.fingerprint)
            todo.append(row)
    report.skipped = len(rows) - len(todo)
    if dry_run:
        report.created, report.joined = _predict(employer, todo)
        return report
    for row in todo:
        _receive(employer, row, actor, report)
    return report


# --- reading the file ---------------------------------------------------------------------


def _read_bytes(file: IO[bytes]) -> bytes:
    size = getattr(file, "size", None)
    if size is not None and size > MAX_BYTES:
        raise _FileRefused(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into smaller files.")
    if hasattr(file, "seek"):
        file.seek(0)
    raw = file.read(MAX_BYTES + 1)
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_BYTES:
        raise _FileRefused(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into smaller files.")
    return raw


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise _FileRefused("This is not a CSV text file (it looks like a spreadsheet or another binary file). "
                           "Save it as “CSV UTF-8” and upload that.")
    try:
        # utf-8-sig drops the byte-order mark Excel writes at the start of “CSV UTF-8”.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _FileRefused(f"The file is not UTF-8 text (first bad byte on line {line}). "
                           "Save it as “CSV UTF-8” and upload that.") from exc


def _parse(text: str, employer: Employer, report: ImportReport) -> Iterator[_Row]:
    """The rows, checked; problems go on the report as they are found."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else (
        "\t" if "\t" in first_line and "," not in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise _FileRefused("The file is empty.")
        columns = _columns(header, report)
        if report.errors:
            return
        checker = _RowChecker(employer)
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # spreadsheets leave blank rows behind
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise _FileRefused(f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.")
            # Spreadsheets pad rows with empty cells; only a value with no column is a problem.
            named = [(name, cell.strip()) for name, cell in itertools.zip_longest(columns, cells, fillvalue="")]
            if any(value and not name for name, value in named):
                report.errors.append(RowError(number, "", f"A value in a column without a header "
                                                          f"(the header has {len(header)} columns)."))
                continue
            values = {name: value for name, value in named if name}
            kwargs, errors = checker.check(number, values)
            report.errors.extend(errors)
            if not errors:
                yield _Row(number, dict(zip(header, cells, strict=False)), kwargs, _fingerprint(values))
    except csv.Error as exc:
        raise _FileRefused(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from exc


def _columns(header: list[str], report: ImportReport) -> list[str]:
    columns = []
    for cell in header:
        name = "_".join(cell.strip().lower().replace("-", " ").split())
        name = _ALIASES.get(name, name)
        if not name:
            pass  # an empty header cell: fine while its column stays empty
        elif name not in COLUMNS:
            report.errors.append(RowError(1, cell.strip()[:60], "Unknown column. Known columns: "
                                          + ", ".join(COLUMNS) + "."))
        elif name in columns:
            report.errors.append(RowError(1, name, "This column appears twice."))
        columns.append(name)
    if "email" not in columns:
        report.errors.append(RowError(1, "email", "The header needs an email column."))
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
                fail(column, f"At most {_MAX_CELL:,} characters.")
                values[column] = ""
        fields: dict[str, Any] = {}
        for column, value in values.items():
            if value and column not in _NOT_PROFILE:
                converted = self._convert(column, value, fail)
                if converted is not None:
                    fields[column] = converted
        kwargs: dict[str, Any] = {
            "email": values.get("email", ""),
            "name": values.get("name", ""),
            "channel": self._choice("source", values.get("source") or Source.IMPORT, fail) or Source.IMPORT,
            "citizenships": self._countries(values.get("citizenships", ""), fail),
            "skills": _split(values.get("skills", "")),
            "received_at": self._received_at(values.get("received_at", ""), fail),
        }
        if values.get("opening"):
            fields["opening"] = self._opening(values["opening"], fail)
        if fields.get("phone"):
            # Checked here too: intake stops at a bad phone, and the row's other problems should show.
            try:
                normalise_phone(fields["phone"], fields.get("current_country") or "")
            except ValidationError as exc:
                fail("phone", exc.messages[0])
                del fields["phone"]
        if not kwargs["email"]:
            fail("email", "The email is missing.")
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
        if column in _CHOICES:
            return self._choice(column, value, fail)
        if column in _BOOLEAN_COLUMNS:
            if value.lower() not in _BOOLEANS:
                fail(column, "Enter yes or no (or true/false, 1/0).")
            return _BOOLEANS.get(value.lower())
        if column in _INTEGERS:
            return _integer(column, value, fail)
        if column == "current_country":
            return _country(column, value, fail)
        if column == "earliest_move_date":
            return _date(column, value, fail)
        if column == "time_zone":
            try:
                validate_time_zone(value)
            except ValidationError:
                fail(column, "Enter a time zone such as Europe/London.")
                return None
        if column == "profile_url" and not _splits(value):
            fail(column, "Enter a valid URL.")
            return None
        return value

    def _choice(self, column: str, value: str, fail) -> str | None:
        choices = _CHOICES[column]
        wanted = value.strip().lower()
        for choice_value, label in choices.choices:
            if wanted in {str(choice_value).lower(), str(label).lower()}:
                return choice_value
        fail(column, f"Choose one of: {', '.join(str(v) for v in choices.values)}.")
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
            fail("opening", f"Several openings are called “{value}”; use the opening's id instead.")
        else:
            fail("opening", f"No opening “{value}” at {self.employer.name} (give its title or id).")
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
            fail("received_at", "Enter a date (2026-11-09) or a date and time (2026-11-09 14:30).")
            return None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=self.zone)
        if moment > timezone.now() + dt.timedelta(minutes=5):
            fail("received_at", "The date is in the future.")
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


def _country(column: str, value: str, fail) -> str | None:
    code = countries.alpha2(value) if len(value) <= 3 else ""
    code = code or _COUNTRY_ALIASES.get(value.lower(), "") or countries.by_name(value)
    if not code:
        fail(column, f"Unknown country “{value}”; use a country name or its two-letter code.")
        return None
    return code


def _integer(column: str, value: str, fail) -> int | None:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not (0 <= number <= 10_000 and number.is_integer()):
        fail(column, "Enter a whole number.")
        return None
    return int(number)


def _date(column: str, value: str, fail) -> dt.date | None:
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        fail(column, "Enter a date as YYYY-MM-DD.")
    return day


def _splits(url: str) -> bool:
    try:
        urlsplit(url if "://" in url else f"https://{url}")
    except ValueError:  # an unbalanced IPv6 bracket, for one
        return False
    return True


# --- importing ----------------------------------------------------------------------------


def _fingerprint(values: dict[str, str]) -> str:
    """The row's values by column, whatever the column order, spelling or blank columns."""
    given = sorted((column, value) for column, value in values.items() if value)
    return hashlib.sha256(json.dumps(given).encode()).hexdigest()


def _fingerprints_imported_before(employer: Employer) -> set[str]:
    # One pass over the employer's inquiries per import, rather than one per row.
    return set(Inquiry.objects.filter(employer=employer, raw_fields__has_key="import_row_sha256")
               .values_list("raw_fields__import_row_sha256", flat=True))


def _predict(employer: Employer, rows: list[_Row]) -> tuple[int, int]:
    """How many rows would make a new lead and how many would join one, without writing."""
    emails = {row.kwargs["email"] for row in rows}
    known: set[str] = set()
    batch = sorted(emails)
    for start in range(0, len(batch), 500):
        known.update(Lead.objects.filter(employer=employer, email__in=batch[start:start + 500])
                     .values_list("email", flat=True))
    created = 0
    for row in rows:
        if row.kwargs["email"] not in known:
            created += 1
            known.add(row.kwargs["email"])
    return created, len(rows) - created


def _receive(employer: Employer, row: _Row, actor, report: ImportReport) -> None:
    kwargs = row.kwargs
    raw = {**row.cells, "import_file": report.file_name[:200], "import_row": row.number,
           "import_row_sha256": row.fingerprint}
    try:
        result = inquiry_receive(employer=employer, actor=actor, subject=f"Imported from {report.file_name}",
                                 raw_fields=raw, **kwargs)
    except (ValidationError, OperationalError) as exc:
        # Checked a moment ago, so this is a change in between (an opening deleted) or a lost
        # database: the rows before are imported; running the file again imports the rest.
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else "The database did not answer."
        report.errors.append(RowError(row.number, "", f"Not imported: {message}"))
        return
    if result.created:
        report.created += 1
    else:
        report.joined += 1


__all__ = ["COLUMNS", "MAX_BYTES", "MAX_ROWS", "ImportReport", "RowError", "leads_import_csv"]
