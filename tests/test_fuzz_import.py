"""Fuzz the CSV import (leads/services/imports.py): the service itself, the import_leads command
and the admin's import page, with hostile cells, headers, delimiters, encodings and shapes.

The import never raises and the page never answers 500; a file with any problem (or a dry run)
stores nothing: the policy is all or nothing.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from leads.models import LegalBasis
from leads.services.imports import COLUMNS, leads_import_csv
from tests.factories import LeadFactory, OpeningFactory
from tests.fuzz import (
    BAD_COUNTRIES,
    BAD_DATES,
    BAD_EMAILS,
    BAD_INTEGERS,
    BAD_PHONES,
    BAD_URLS,
    BAD_ZONES,
    CSRF_TOKEN,
    DATES,
    EMAILS,
    FUZZ,
    NAMES,
    PHONES,
    STORED,
    URLS,
    ZONES,
    assert_no_server_error,
    assert_unchanged,
    counts_after,
    example,
    fresh_client,
    fuzzing,
    nasty_text,
    tally,
)


@pytest.fixture(autouse=True)
def _quiet(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with fuzzing():
        yield


def cells(good: list[str], bad: list[str]) -> tuple[st.SearchStrategy[str], st.SearchStrategy[str]]:
    return st.sampled_from(good), st.sampled_from(bad)


# Column -> (good cells, bad cells).
CELLS = {
    "email": cells([*EMAILS, "known@example.org"], [*BAD_EMAILS, ""]),
    "name": cells(NAMES, ["", "x" * 201]),
    "phone": cells([*PHONES, ""], BAD_PHONES),
    "current_country": cells(["US", "New Zealand", "usa", "UK", "de", ""], [*BAD_COUNTRIES, "Atlantis", "ZZZ"]),
    "current_city": cells(["Wellington", "São Paulo", ""], ["x" * 10_001]),
    "citizenships": cells(["US; IE", "NZ|GB", "", "united states"], ["XX; US", ";;;", "US;" * 300]),
    "skills": cells(["Python|Go", "SQL", ""], ["|" * 50, "x" * 101]),
    "opening": cells(["Backend Engineer", "OPENING", ""], ["Nope", "OTHER", "Twin", "-1", "9" * 30]),
    "role_of_interest": cells(["Nurse", ""], ["x" * 201]),
    "years_experience": cells(["7", "7.0", "0", ""], [*BAD_INTEGERS, "1e308", "inf", "nan", "10001"]),
    "needs_sponsorship": cells(["yes", "no", "true", "1", "N", ""], ["maybe", "2", "oui"]),
    "move_timeline": cells(["3m", "Within 6 months", "now", ""], ["soon", "3M months"]),
    "source": cells(["referral", "Event", "", "Web form"], ["carrier pigeon", "api "]),
    "received_at": cells(["2026-01-05", "2025-11-09 08:30", "2026-01-05T03:00:00Z", ""],
                         [*BAD_DATES, "2026-01-05 25:00", "2026-01-05T03:00:00+99:00"]),
    "motivation": cells(["Mountains.", ""], ["x" * 10_001]),
    "profile_url": cells(URLS, BAD_URLS),
    "time_zone": cells(ZONES, BAD_ZONES),
    "visa_pathway": cells(["employer_sponsored", "Working holiday", ""], ["visa", "PARTNER VISA"]),
    "earliest_move_date": cells([*DATES, ""], BAD_DATES),
    "relocating_with": cells(["alone", "With family", ""], ["dog"]),
    "dependants": cells(["0", "2", ""], [*BAD_INTEGERS, "21"]),
    "partner_needs_work_rights": cells(["yes", "no", ""], ["perhaps"]),
    "credentials_to_recognise": cells(["RN", ""], ["x" * 2001]),
    "language": cells(["fr", "Français", "pt-br", "ar", ""], ["klingon", "zz", "fr-FR-x"]),
    **{name: cells(["linkedin", ""], ["x" * 121]) for name in ("utm_source", "utm_medium", "utm_campaign",
                                                                 "utm_term", "utm_content")},
}
HEADER_SPELLINGS = {"email": ["email", "Email", " EMAIL ", "e-mail", "E mail", "email_address"],
                    "current_country": ["current_country", "Country", "current country"],
                    "citizenships": ["citizenships", "Citizenship"], "skills": ["skills", "skill"],
                    "source": ["source", "channel"], "current_city": ["current_city", "city"]}
_USUALLY = st.sampled_from([True] * 9 + [False])
_RARELY = st.sampled_from([True] + [False] * 9)
UNKNOWN_HEADERS = ["salary", "", "Email2", "id", "\x00", "=1+1", "名前", "email ", "lead"]


@st.composite
def csv_texts(draw) -> str:
    """CSV text: a header of known (and sometimes unknown or repeated) columns, a few rows of
    mostly good cells, in any of the shapes spreadsheets and people produce."""
    others = [c for c in COLUMNS if c != "email"]
    extra = draw(st.lists(st.sampled_from(others), max_size=8, unique=True))
    columns: list[str | None] = draw(st.permutations(["email", *extra] if draw(_USUALLY) else extra))
    header = [draw(st.sampled_from(HEADER_SPELLINGS.get(c, [c]))) for c in columns]
    if header and header[0] == "email" and draw(_RARELY):
        header[0] = "\ufeffemail"  # a byte-order mark read as text
    if draw(_RARELY):
        at = draw(st.integers(0, len(header)))
        header.insert(at, draw(st.sampled_from(UNKNOWN_HEADERS + header[:1])))
        columns.insert(at, None)
    broken = draw(st.sampled_from(["none", "none", "one", "one", "chaos"]))
    count = draw(st.integers(1, 4)) if draw(_USUALLY) else 0
    # In "one" mode a single cell of the file is bad: the rest must still be checked and refused.
    target = (draw(st.integers(0, max(0, count - 1))), draw(st.integers(0, max(0, len(columns) - 1))))
    rows = []
    for number in range(count):
        row = []
        for index, column in enumerate(columns):
            good, bad = CELLS[column] if column else (st.just(""), nasty_text())
            if broken == "chaos":
                mode = draw(st.sampled_from(["good", "good", "good", "bad", "nasty"]))
            elif broken == "one" and (number, index) == target:
                mode = draw(st.sampled_from(["bad", "bad", "nasty"]))
            else:
                mode = "good"
            row.append(draw({"good": good, "bad": bad, "nasty": nasty_text(surrogates=True)}[mode]))
        shape = draw(st.sampled_from(["as is"] * 8 + ["short", "long", "blank"]))
        if shape == "short":
            row = row[:draw(st.integers(0, max(0, len(row) - 1)))]
        elif shape == "long":
            row = [*row, *draw(st.lists(st.sampled_from(["", "x", "extra"]), min_size=1, max_size=3))]
        elif shape == "blank":
            row = ["" for _ in row]
        rows.append(row)
    delimiter = draw(st.sampled_from([","] * 6 + [";", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL] * 3 + [csv.QUOTE_ALL, "none"]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\n", "\r"]))
    if quoting == "none":
        # Written by hand, as people do: a quote or a delimiter inside a cell breaks the row.
        text = newline.join(delimiter.join(row) for row in [header, *rows]) + newline
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=newline)
        writer.writerows([header, *rows])
        text = buffer.getvalue()
    if draw(_RARELY):
        text = draw(st.sampled_from(['email\n"unterminated, quote\n', "", "\n\n\n", "email", "email,name\n,\n",
                                     "email\r\n\"a@example.org\"x\r\n", "sep=;\nemail;name\na@example.org;A\n"]))
    return text


@st.composite
def csv_bytes(draw) -> bytes:
    text = draw(csv_texts())
    encoding = draw(st.sampled_from(["utf-8"] * 12 + ["utf-8-sig", "utf-8-sig", "latin-1", "cp1252", "utf-16",
                                                     "bytes", "nul"]))
    if encoding == "bytes":
        return draw(st.binary(max_size=200))
    if encoding == "nul":
        return text.encode("utf-8", "surrogatepass") + b"\x00"
    raw = text.encode(encoding, "replace") if encoding != "utf-8" else text.encode("utf-8", "surrogatepass")
    if draw(_RARELY):
        raw += draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x80abc"]))
    return raw


def _setup(cast):
    opening = OpeningFactory(employer=cast.employer, title="Backend Engineer")
    other = OpeningFactory(employer=cast.other_employer, title="Elsewhere")
    OpeningFactory(employer=cast.employer, title="Twin")
    OpeningFactory(employer=cast.employer, title="Twin")
    LeadFactory(employer=cast.employer, email="known@example.org")
    return {"OPENING": str(opening.pk), "OTHER": str(other.pk)}


def _real(raw: bytes, stand_ins: dict[str, str]) -> bytes:
    for marker, actual in stand_ins.items():
        raw = raw.replace(marker.encode(), actual.encode())
    return raw


def test_import_service_and_command(cast, tmp_path):
    stand_ins = _setup(cast)
    path = tmp_path / "leads.csv"

    @FUZZ
    @given(raw=csv_bytes(), dry_run=st.booleans(), via=st.sampled_from(["service"] * 3 + ["command"]),
           file_name=st.sampled_from(["leads.csv", "", "x" * 300 + ".csv", "../../etc/passwd", "läds 😀.csv"]),
           legal_basis=st.sampled_from([*LegalBasis.values] * 3 + ["", "nope"]))
    def run(raw, dry_run, via, file_name, legal_basis):
        raw = _real(raw, stand_ins)
        with example() as before:
            if via == "service":
                file = io.BytesIO(raw)
                file.name = file_name
                report = leads_import_csv(employer=cast.employer, file=file, actor=cast.owner, dry_run=dry_run,
                                          file_name=file_name, legal_basis=legal_basis)
                report.summary()
                [str(error) for error in report.shown_errors]
                refused = dry_run or (report.errors and not (report.created or report.joined))
                tally("import service", "refused" if refused else f"imported {report.created + report.joined}")
            else:
                path.write_bytes(raw)
                args = ["import_leads", cast.employer.slug, str(path), f"--legal-basis={legal_basis}"] + (
                    ["--dry-run"] if dry_run else [])
                try:
                    call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
                    refused = dry_run
                except CommandError:
                    refused = True  # a file with problems: nothing imported (or, rarely, the rest of it)
            if refused:
                assert_unchanged(before, counts_after(STORED), f"import ({via}, dry_run={dry_run}) refused the file")

    run()


def test_admin_import_page(cast):
    stand_ins = _setup(cast)
    client = fresh_client()
    client.force_login(cast.owner)

    @FUZZ
    @given(raw=csv_bytes(), dry_run=st.sampled_from(["", "on", "on", "yes", "0"]),
           employer=st.sampled_from([str(cast.employer.pk)] * 12 + [str(cast.other_employer.pk), "", "abc", "9" * 30]),
           file_name=st.sampled_from(["leads.csv", "leads.csv", "leads.xlsx", "x" * 300 + ".csv", "läds 😀.csv", ""]),
           no_file=st.sampled_from([False] * 9 + [True]),
           legal_basis=st.sampled_from([*LegalBasis.values] * 4 + ["", "nope"]))
    def run(raw, dry_run, employer, file_name, no_file, legal_basis):
        raw = _real(raw, stand_ins)
        data = {"csrfmiddlewaretoken": CSRF_TOKEN, "employer": employer, "dry_run": dry_run,
                "legal_basis": legal_basis}
        if not no_file:
            data["file"] = SimpleUploadedFile(file_name or "x", raw, content_type="text/csv")
        with example() as before:
            response = client.post("/admin/leads/lead/import/", data)
            assert_no_server_error(response, "POST /admin/leads/lead/import/")
            # The report's summary says what happened: "Imported …" (perhaps with rows that failed
            # while importing) is the only answer that may have stored anything.
            summary = re.search(r'<li class="(?:success|error)">([^<]*)</li>', response.content.decode())
            imported = bool(summary and summary.group(1).startswith("Imported "))
            tally("admin import page", summary.group(1).split(":")[0][:40] if summary else response.status_code)
            if not imported:
                assert_unchanged(before, counts_after(STORED),
                                 f"the admin import page refused the file ({response.status_code})")

    run()
