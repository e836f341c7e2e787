"""CSV import: every row checked first, all or nothing, then each row through the intake service."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from leads import profile
from leads.models import Inquiry, Lead, LegalBasis, OutboundEmail, OutboundKind, Source
from leads.services import imports
from leads.services.imports import leads_import_csv
from tests.factories import LeadFactory, MembershipFactory, OpeningFactory

HEADER = "email,name,phone,current_country,citizenships,skills,opening,years_experience,needs_sponsorship,"\
         "move_timeline,received_at,motivation,utm_campaign\n"


def csv_file(text: str, *, bom: bool = False, name: str = "leads.csv") -> io.BytesIO:
    data = io.BytesIO((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    data.name = name
    return data


def run(cast, text: str, **kwargs):
    kwargs.setdefault("actor", cast.owner)
    kwargs.setdefault("legal_basis", LegalBasis.CONSENT)
    return leads_import_csv(employer=cast.employer, file=csv_file(text), **kwargs)


def nothing_written() -> bool:
    return not (Lead.objects.exists() or Inquiry.objects.exists() or OutboundEmail.objects.exists())


def acknowledgements(inquiry: Inquiry) -> int:
    rows = OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT, unique_key=f"inquiry:{inquiry.pk}:ack")
    return rows.count()


# --- a good file --------------------------------------------------------------------------


def test_a_good_file_creates_leads_through_intake(cast):
    opening = OpeningFactory(employer=cast.employer, title="Backend Engineer")
    text = HEADER + (
        " Ana@Example.org , Ana Silva ,(415) 555-2671,United States,US; ie,Python|Django,backend engineer,7,yes,"
        "3m,2026-11-09,Keen to move,election\n"
        f"ben@example.org,Ben,,GB,,,{opening.pk},,no,Within 6 months,2026-11-10 08:30,,\n"
    )
    report = leads_import_csv(employer=cast.employer, file=csv_file(text, bom=True), actor=cast.owner,
                              legal_basis=LegalBasis.CONSENT_IN_PERSON)
    assert report.ok, report.errors
    assert (report.rows, report.created, report.joined) == (2, 2, 0)
    ana = Lead.objects.get(email="ana@example.org")
    assert (ana.employer, ana.source, ana.name, ana.phone, ana.current_country.code) == (
        cast.employer, Source.IMPORT, "Ana Silva", "+14155552671", "US")
    assert (ana.opening, ana.years_experience, ana.needs_sponsorship, ana.move_timeline) == (opening, 7, True, "3m")
    assert (ana.motivation, ana.utm_campaign) == ("Keen to move", "election")
    assert sorted(ana.citizenships.values_list("country", flat=True)) == ["IE", "US"]
    assert sorted(ana.skills.values_list("name", flat=True)) == ["Django", "Python"]
    # A date alone is noon in the employer's zone (Kiwi Ledger: Pacific/Auckland).
    assert ana.created_at == dt.datetime(2026, 11, 8, 23, 0, tzinfo=dt.UTC)
    ben = Lead.objects.get(email="ben@example.org")
    assert (ben.opening, ben.needs_sponsorship, ben.move_timeline) == (opening, False, "6m")
    for inquiry in Inquiry.objects.all():
        assert inquiry.channel == Source.IMPORT
        assert acknowledgements(inquiry) == 1
        assert inquiry.raw_fields["import_file"] == "leads.csv"
    assert Inquiry.objects.get(lead=ana).raw_fields["import_row"] == 2


def test_a_repeat_email_joins_its_lead(cast):
    existing = LeadFactory(employer=cast.employer, email="ana@example.org")
    report = run(cast, "email,name\nana@example.org,Ana\nnew@example.org,New\nNEW@example.org,New again\n")
    assert (report.created, report.joined) == (1, 2)
    assert Lead.objects.count() == 2
    assert existing.inquiries.count() == 1
    assert Lead.objects.get(email="new@example.org").inquiries.count() == 2
    # One acknowledgement per lead: the repeat a moment later is inside the acknowledgement window.
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 2


def test_source_column_sets_the_channel(cast):
    report = run(cast, "email,channel\na@example.org,Referral\nb@example.org,\n")
    assert report.ok
    assert dict(Lead.objects.values_list("email", "source")) == {"a@example.org": "referral",
                                                                 "b@example.org": "import"}


def test_semicolon_separated_files_and_header_spelling_are_understood(cast):
    report = run(cast, "E-mail;Name;Current Country;Needs Sponsorship\na@example.org;Ann;New Zealand;TRUE\n")
    assert report.ok, report.errors
    lead = Lead.objects.get()
    assert (lead.name, lead.current_country.code, lead.needs_sponsorship) == ("Ann", "NZ", True)


def test_empty_padding_columns_and_cells_are_ignored(cast):
    report = run(cast, "email,name,,\na@example.org,Ann,,\nb@example.org,Bo\nc@example.org,Cy,,,,\n")
    assert report.ok, report.errors
    assert report.created == 3


def test_blank_rows_are_skipped_and_rows_are_numbered_as_a_spreadsheet_does(cast):
    report = run(cast, 'email,motivation\n,\na@example.org,"two\nlines"\nbad,x\n')
    assert [(e.row, e.field) for e in report.errors] == [(4, "email")]


# --- a bad row: nothing at all ------------------------------------------------------------


def test_a_bad_row_among_good_ones_imports_nothing_and_lists_every_problem(cast):
    OpeningFactory(employer=cast.other_employer, title="Their opening")
    text = HEADER + (
        "good@example.org,Good,,,,,,,,,,,\n"
        "not-an-email,Bad,,,,,,,,,,,\n"
        "also@example.org,Bad,,Narnia,US;XX,,Their opening,seven,maybe,someday,tomorrow-ish,,\n"
        "fine@example.org,Fine,,,,,,,,,,,\n"
    )
    report = run(cast, text)
    assert not report.ok
    assert nothing_written()
    problems = {(e.row, e.field) for e in report.errors}
    assert problems == {(3, "email"), (4, "current_country"), (4, "citizenships"), (4, "opening"),
                        (4, "years_experience"), (4, "needs_sponsorship"), (4, "move_timeline"), (4, "received_at")}
    assert report.rows == 4
    assert "Nothing was imported" in report.summary()


def test_intakes_own_rules_are_applied_in_the_check(cast):
    report = run(cast, "email,phone,years_experience,utm_source\na@example.org,12,71,x\nb@example.org,,,"
                 + "u" * 121 + "\n")
    assert {(e.row, e.field) for e in report.errors} == {(2, "phone"), (2, "years_experience"), (3, "utm_source")}
    assert nothing_written()
    report = run(cast, "email,motivation\na@example.org," + "m" * 10_001 + "\n")
    assert [(e.row, e.field) for e in report.errors] == [(2, "motivation")]
    assert nothing_written()


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("email,name\n", "no rows"),
    ("name,phone\nAnn,\n", "email column"),
    ("email,favourite_colour\na@example.org,blue\n", "Unknown column"),
    ("email,Email\na@example.org,a@example.org\n", "twice"),
    ("email\na@example.org,extra\n", "without a header"),
])
def test_a_malformed_file_is_refused_with_the_reason(cast, text, message):
    report = run(cast, text)
    assert not report.ok
    assert message in " ".join(str(e) for e in report.errors)
    assert nothing_written()


def test_a_file_that_is_not_utf8_is_refused(cast):
    data = io.BytesIO("email,name\nzoe@example.org,Zoë\n".encode("latin-1"))
    report = leads_import_csv(employer=cast.employer, file=data, actor=None, legal_basis=LegalBasis.CONSENT)
    assert not report.ok
    assert "not UTF-8" in str(report.errors[0]) and "line 2" in str(report.errors[0])
    assert nothing_written()


def test_a_binary_file_is_refused(cast):
    data = io.BytesIO(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")  # what an .xlsx starts with
    report = leads_import_csv(employer=cast.employer, file=data, actor=None, legal_basis=LegalBasis.CONSENT)
    assert "not a CSV text file" in str(report.errors[0])
    assert nothing_written()


def test_a_nul_anywhere_in_the_file_is_refused(cast):
    report = run(cast, "email,motivation\n" + "".join(f"p{i}@example.org,text\n" for i in range(500))
                 + "q@example.org,te\x00xt\n")
    assert "not a CSV text file" in str(report.errors[0])
    assert nothing_written()


def test_too_many_rows_are_refused(cast, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    report = run(cast, "email\n" + "".join(f"p{i}@example.org\n" for i in range(4)))
    assert "more than 3 rows" in str(report.errors[0])
    assert nothing_written()


def test_a_file_too_large_is_refused(cast, monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    report = run(cast, "email\n" + "".join(f"p{i}@example.org\n" for i in range(10)))
    assert "larger than" in str(report.errors[0])
    assert nothing_written()


# --- dry run and running again ------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_predicts_the_counts(cast):
    LeadFactory(employer=cast.employer, email="known@example.org")
    report = run(cast, "email,name\nknown@example.org,\nnew@example.org,\nnew@example.org,\nnew@example.org,N\n",
                 dry_run=True)
    assert report.ok and report.dry_run
    assert (report.created, report.joined, report.skipped) == (1, 2, 1)
    assert Inquiry.objects.count() == 0 and Lead.objects.count() == 1
    assert "Would import 3 row(s)" in report.summary()


def test_the_same_file_twice_imports_it_once(cast):
    text = "email\na@example.org\nb@example.org\n"
    assert run(cast, text).created == 2
    again = run(cast, text)
    assert (again.created, again.joined, again.skipped) == (0, 0, 2)
    assert Inquiry.objects.count() == 2
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 2
    # A re-exported sheet with a row added, its columns in another order, imports just that row.
    grown = run(cast, "name,email\n,a@example.org\n,b@example.org\nCy,c@example.org\n")
    assert (grown.created, grown.joined, grown.skipped) == (1, 0, 2)
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 3


def test_a_row_repeated_in_the_file_is_imported_once_but_new_details_join(cast):
    report = run(cast, "email,move_timeline\na@example.org,3m\na@example.org,3m\na@example.org,now\n")
    assert (report.created, report.joined, report.skipped) == (1, 1, 1)
    assert Lead.objects.get().move_timeline == "now"


def test_an_import_cut_short_finishes_when_run_again(cast, monkeypatch):
    text = "email\na@example.org\nb@example.org\nc@example.org\n"
    real = imports.inquiry_receive
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            from django.db import OperationalError

            raise OperationalError("connection lost")
        return real(**kwargs)

    monkeypatch.setattr(imports, "inquiry_receive", flaky)
    first = run(cast, text)
    assert (first.created, [e.row for e in first.errors]) == (2, [3])
    second = run(cast, text)
    assert (second.created, second.skipped) == (1, 2)
    assert sorted(Lead.objects.values_list("email", flat=True)) == ["a@example.org", "b@example.org",
                                                                    "c@example.org"]


def test_a_row_another_import_stored_after_the_check_is_skipped(cast, monkeypatch):
    """The constraint, not the pre-scan, is what holds: a concurrent upload of the same file
    stores a row between this import's scan and its insert, and the row counts as skipped."""
    text = "email\na@example.org\nb@example.org\n"
    assert run(cast, text).created == 2
    monkeypatch.setattr(imports, "_imported_before", lambda employer, fingerprints: set())
    again = run(cast, text)
    assert (again.created, again.joined, again.skipped, again.errors) == (0, 0, 2, [])
    assert Inquiry.objects.count() == 2


# --- the legal basis and what a row stores ------------------------------------------------


def test_the_legal_basis_is_required_and_recorded_on_every_lead(cast):
    for missing in ("", "because"):
        report = run(cast, "email\na@example.org\n", legal_basis=missing)
        assert [(e.row, e.field) for e in report.errors] == [(0, "legal_basis")]
        assert nothing_written()
    report = run(cast, "email\na@example.org\nb@example.org\n", legal_basis=LegalBasis.CONSENT_IN_PERSON)
    assert report.created == 2
    assert set(Lead.objects.values_list("legal_basis", flat=True)) == {LegalBasis.CONSENT_IN_PERSON}
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 2


def test_each_inquiry_holds_its_rows_fingerprint(cast):
    run(cast, "email,name\na@example.org,Ann\n")
    inquiry = Inquiry.objects.get()
    assert len(inquiry.import_fingerprint) == 64
    assert (inquiry.raw_fields["import_file"], inquiry.raw_fields["import_row"]) == ("leads.csv", 2)
    assert "import_row_sha256" not in inquiry.raw_fields
    # The same values under other headers, in another order, are the same row.
    assert run(cast, "Name,E-mail\nAnn,a@example.org\n").skipped == 1


def test_the_columns_are_the_profile_declarations(cast):
    assert set(profile.IMPORT_FIELDS) <= set(imports.COLUMNS)
    assert not {"cv", "marketing_opt_in", "legal_basis"} & set(imports.COLUMNS)
    assert len(set(imports.COLUMNS)) == len(imports.COLUMNS)
    # Cells are read by the declaration's own parser, its messages included.
    report = run(cast, "email,visa_pathway,relocating_with,partner_needs_work_rights,earliest_move_date,"
                       "dependants,profile_url\na@example.org,Working holiday,With family,no,2027-01-31,2,"
                       "linkedin.com/in/ann\nb@example.org,space,,maybe,31/01/2027,two,https://[x\n")
    assert {(e.row, e.field): e.message for e in report.errors} == {
        (3, "visa_pathway"): profile_message("visa_pathway", "space"),
        (3, "partner_needs_work_rights"): profile_message("partner_needs_work_rights", "maybe"),
        (3, "earliest_move_date"): profile_message("earliest_move_date", "31/01/2027"),
        (3, "dependants"): profile_message("dependants", "two"),
        (3, "profile_url"): profile_message("profile_url", "https://[x"),
    }
    report = run(cast, "email,visa_pathway,relocating_with,partner_needs_work_rights,earliest_move_date,"
                       "dependants\na@example.org,Working holiday,With family,no,2027-01-31,2\n")
    assert report.ok, report.errors
    lead = Lead.objects.get()
    assert (lead.visa_pathway, lead.relocating_with, lead.partner_needs_work_rights, lead.earliest_move_date,
            lead.dependants) == ("working_holiday", "family", False, dt.date(2027, 1, 31), 2)


def profile_message(name: str, text: str) -> str:
    with pytest.raises(ValueError) as raised:
        profile.parse_text(name, text)
    return str(raised.value)


# --- the command --------------------------------------------------------------------------


def test_the_command_imports_and_reports(cast, tmp_path: Path):
    path = tmp_path / "leads.csv"
    path.write_text("email,name\na@example.org,Ann\n")
    out = io.StringIO()
    call_command("import_leads", "kiwi-ledger", str(path), "--dry-run", "--legal-basis=consent",
                 stdout=out)
    assert "Would import 1 row(s): 1 new lead(s)" in out.getvalue()
    assert not Lead.objects.exists()
    call_command("import_leads", "kiwi-ledger", str(path), "--legal-basis", "legitimate_interest", stdout=out)
    assert "Imported 1 row(s): 1 new lead(s)" in out.getvalue()
    assert Lead.objects.get().employer == cast.employer


def test_the_command_lists_problems_and_fails(cast, tmp_path: Path):
    path = tmp_path / "leads.csv"
    path.write_text("email\na@example.org\nbroken\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_leads", "kiwi-ledger", str(path), "--legal-basis=consent", stderr=err)
    assert "row 3, email" in err.getvalue()
    assert nothing_written()
    with pytest.raises(CommandError, match="No employer"):
        call_command("import_leads", "nobody", str(path), "--legal-basis=consent")
    with pytest.raises(CommandError, match="legal-basis"):
        call_command("import_leads", "kiwi-ledger", str(path))
    with pytest.raises(CommandError, match="Cannot open"):
        call_command("import_leads", "kiwi-ledger", str(tmp_path / "missing.csv"), "--legal-basis=consent")


# --- the admin page -----------------------------------------------------------------------

IMPORT_URL = "/admin/leads/lead/import/"


def upload(text: str, name: str = "leads.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def post(client, employer, text: str, **data):
    data.setdefault("legal_basis", LegalBasis.CONSENT)
    return client.post(IMPORT_URL, {"employer": employer.pk, "file": upload(text), **data})


def test_the_lead_changelist_links_to_the_import_page(client, cast):
    client.force_login(cast.owner)
    assert IMPORT_URL in client.get("/admin/leads/lead/").content.decode()


def test_an_employer_admin_imports_from_the_admin(client, cast):
    LeadFactory(employer=cast.employer, email="known@example.org")
    client.force_login(cast.owner)
    assert client.get(IMPORT_URL).status_code == 200
    response = post(client, cast.employer, "email\nknown@example.org\nnew@example.org\n",
                    legal_basis=LegalBasis.LEGITIMATE_INTEREST)
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.created, report.joined) == (1, 1)
    assert "1 new lead(s), 1 joined an existing lead" in response.content.decode()
    assert Inquiry.objects.filter(channel=Source.IMPORT, lead__employer=cast.employer).count() == 2
    assert Lead.objects.get(email="new@example.org").legal_basis == LegalBasis.LEGITIMATE_INTEREST


def test_the_admin_form_requires_a_legal_basis_and_says_why(client, cast):
    client.force_login(cast.owner)
    page = client.get(IMPORT_URL).content.decode()
    assert '<select name="legal_basis"' in page and "required" in page.split('<select name="legal_basis"')[1][:80]
    assert "nothing sent to them" in page
    response = post(client, cast.employer, "email\na@example.org\n", legal_basis="")
    assert "legal_basis" in response.context["form"].errors
    assert response.context["report"] is None
    response = post(client, cast.employer, "email\na@example.org\n", legal_basis="because")
    assert "legal_basis" in response.context["form"].errors
    assert nothing_written()


def test_the_admin_page_shows_the_problems_and_imports_nothing(client, cast):
    client.force_login(cast.owner)
    body = post(client, cast.employer, "email\nok@example.org\nnope\n").content.decode()
    assert "Problems to fix" in body and "Enter a valid email address." in body
    assert nothing_written()


def test_the_admin_dry_run_writes_nothing(client, cast):
    client.force_login(cast.owner)
    response = post(client, cast.employer, "email\na@example.org\n", dry_run="on")
    assert response.context["report"].created == 1
    assert nothing_written()


def test_the_outsider_cannot_import_into_another_employer(client, cast):
    client.force_login(cast.outsider)
    page = client.get(IMPORT_URL)
    assert list(page.context["form"].fields["employer"].queryset) == [cast.other_employer]
    response = post(client, cast.employer, "email\na@example.org\n")
    assert response.status_code == 200
    assert "employer" in response.context["form"].errors
    assert response.context["report"] is None
    assert nothing_written()


def test_recruiters_and_staff_without_an_employer_cannot_import(client, cast):
    cast.teammate.is_staff = True
    cast.teammate.save()
    client.force_login(cast.teammate)
    assert client.get(IMPORT_URL).status_code == 403
    assert post(client, cast.employer, "email\na@example.org\n").status_code == 403
    assert IMPORT_URL not in client.get("/admin/leads/lead/").content.decode()
    assert nothing_written()


def test_an_admin_of_two_employers_chooses_between_them(client, cast):
    MembershipFactory(user=cast.outsider, employer=cast.employer, role="admin")
    client.force_login(cast.outsider)
    choices = set(client.get(IMPORT_URL).context["form"].fields["employer"].queryset)
    assert choices == {cast.employer, cast.other_employer}
    post(client, cast.employer, "email\na@example.org\n")
    assert Lead.objects.get().employer == cast.employer


def test_anonymous_users_are_sent_to_the_login(client, cast):
    response = client.get(IMPORT_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
