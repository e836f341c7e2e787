"""The person's download of their data: every personal field the profile declares, their
messages, emails, consents, stage history and files; notes only when the employer chooses;
nothing of anyone else; from a link that expires, or by an employer admin for them."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.utils import timezone

from leads import profile
from leads.models import (
    Activity,
    ActivityKind,
    AuditEvent,
    Consent,
    ConsentPurpose,
    OutboundKind,
    OutboundStatus,
    ProfileChange,
    Stage,
)
from leads.services.data_export import lead_data_export
from leads.services.privacy import lead_erase, my_data_token
from tests.browser.conftest import page  # noqa: F401  (the browser fixture, for the last test)
from tests.factories import (
    CitizenshipFactory,
    InquiryFactory,
    LeadFactory,
    NoteFactory,
    OutboundEmailFactory,
    SkillFactory,
    StageEventFactory,
)

CV_BYTES = b"%PDF-1.4\n\x00\xff\xfe binary CV of Zoe \x89PNG\r\n" * 50

# Every personal field of the declaration, with a value (a new personal field needs one here).
ZOE = {
    "phone": "+14155552671", "current_country": "US", "current_city": "Portland",
    "time_zone": "America/Los_Angeles", "language": "es", "profile_url": "https://www.linkedin.com/in/zoe-park",
    "role_of_interest": "Backend engineer", "years_experience": 7, "needs_sponsorship": True,
    "visa_pathway": "skilled_residence", "move_timeline": "6m", "earliest_move_date": dt.date(2027, 3, 1),
    "relocating_with": "family", "dependants": 2, "partner_needs_work_rights": True,
    "credentials_to_recognise": "Registered nurse (Oregon)", "motivation": "My partner and I want to move.",
    "marketing_opt_in": True,
}
# Distinctive values of other people: none of them may appear anywhere in Zoë's ZIP.
STRANGER_VALUES = ("Quentin Strangeway", "quentin@stranger.example", "+447700900123", "Reykjavik-Strange",
                   "Strange motivation 7Q", "Strange inquiry body 7Q", "Strange email body 7Q",
                   "Strange note 7Q", "Strange call 7Q", "STRANGE-CV-BYTES-7Q", "strange-skill-7q",
                   "Strange subject 7Q")


def person(employer, *, name: str, email: str, cv: bytes, **fields):
    lead = LeadFactory(employer=employer, name=name, email=email, **fields)
    lead.cv.save("cv.pdf", ContentFile(cv), save=True)
    return lead


def history(lead, *, words: str, recruiter) -> None:
    """Messages, emails (and a recruiter's notification about the lead), a note, consents,
    stage events, skills and a citizenship."""
    InquiryFactory(lead=lead, subject=f"Subject {words}", body=f"Inquiry body {words}", remote_addr="203.0.113.7")
    OutboundEmailFactory(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT, subject=f"Thanks {words}",
                         body_text=f"Email body {words}", status=OutboundStatus.SENT, sent_at=timezone.now())
    OutboundEmailFactory(lead=lead, kind=OutboundKind.FOLLOWUP, subject="Not sent yet", body_text="Scheduled body",
                         status=OutboundStatus.SCHEDULED)
    OutboundEmailFactory(lead=lead, kind=OutboundKind.NOTIFICATION, to_user=recruiter, to_email=recruiter.email,
                         subject="New lead for you", body_text="Recruiter-only body", status=OutboundStatus.SENT,
                         sent_at=timezone.now())
    NoteFactory(lead=lead, author=recruiter, body=f"Note {words}")
    Consent.objects.create(employer=lead.employer, lead=lead, purpose=ConsentPurpose.INQUIRY, granted=True,
                           wording=f"I agree {words}", channel="web_form", remote_addr="203.0.113.7")
    ProfileChange.objects.create(lead=lead, field="current_city", old_value=f"Old city {words}",
                                 new_value="Portland", status=ProfileChange.Status.APPLIED)
    ProfileChange.objects.create(lead=lead, field="opening", old_value=None, new_value=1,
                                 status=ProfileChange.Status.APPLIED)
    Activity.objects.create(lead=lead, kind=ActivityKind.CALL, actor=recruiter, summary=f"Call {words}",
                            details=f"Call details {words}")
    StageEventFactory(lead=lead, from_stage="", to_stage=Stage.NEW)
    StageEventFactory(lead=lead, from_stage=Stage.NEW, to_stage=Stage.CONTACTED)
    lead.skills.add(SkillFactory(employer=lead.employer, name=f"skill {words}".lower()[:60]))
    CitizenshipFactory(lead=lead, country="US")


@pytest.fixture
def zoe(cast, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead = person(cast.employer, name="Zoë Park", email="zoe@example.org", cv=CV_BYTES, **ZOE)
    history(lead, words="from Zoë", recruiter=cast.teammate)
    return lead


@pytest.fixture
def strangers(cast, zoe):
    """One at the same employer, one at another, both full of distinctive values."""
    made = []
    for employer, email in ((cast.employer, "quentin@stranger.example"),
                            (cast.other_employer, "quentin@stranger.example")):
        lead = person(employer, name="Quentin Strangeway", email=email, cv=b"STRANGE-CV-BYTES-7Q",
                      phone="+447700900123", current_city="Reykjavik-Strange", motivation="Strange motivation 7Q")
        InquiryFactory(lead=lead, subject="Strange subject 7Q", body="Strange inquiry body 7Q")
        OutboundEmailFactory(lead=lead, subject="Strange subject 7Q", body_text="Strange email body 7Q",
                             status=OutboundStatus.SENT, sent_at=timezone.now())
        NoteFactory(lead=lead, body="Strange note 7Q")
        Activity.objects.create(lead=lead, kind=ActivityKind.CALL, summary="Strange call 7Q", details="Strange call 7Q")
        ProfileChange.objects.create(lead=lead, field="current_city", old_value="Strange motivation 7Q",
                                     new_value="x", status=ProfileChange.Status.APPLIED)
        lead.skills.add(SkillFactory(employer=employer, name="strange-skill-7q"))
        made.append(lead)
    cast.employer.data_export_includes_notes = True  # the strangers' notes would show if anything leaked
    cast.employer.save(update_fields=["data_export_includes_notes"])
    return made


def url(lead) -> str:
    return f"/my-data/{my_data_token(lead.pk)}/"


def download(client, lead):
    return client.post(f"{url(lead)}download/")


def unzip(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.content[:500]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def data_of(files: dict[str, bytes]) -> dict:
    return json.loads(files["data.json"])


def test_the_zip_holds_every_personal_field_the_declaration_marks(client, zoe):
    response = download(client, zoe)
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="my-data-kiwi-ledger.zip"'
    assert "no-store" in response["Cache-Control"]
    data = data_of(unzip(response))
    assert set(data["profile"]) == set(profile.PERSONAL_FIELDS)
    for name in profile.PERSONAL_FIELDS:
        entry = data["profile"][name]
        assert entry["value"] not in (None, "", False), f"{name}: give ZOE a value for it"
        assert entry["question"] == profile.BY_NAME[name].applicant_label
    assert data["profile"]["phone"]["value"] == "+14155552671"
    assert data["profile"]["earliest_move_date"]["value"] == "2027-03-01"
    assert data["profile"]["visa_pathway"]["text"] == "Skilled migrant / residence"
    assert data["name"] == "Zoë Park" and data["email"] == "zoe@example.org"
    assert data["citizenships"] == ["US"] and data["skills"] == ["skill from zoë"]
    assert [(c["purpose"], c["granted"], c["wording"]) for c in data["consents"]] == [
        ("Handling the inquiry", True, "I agree from Zoë")]
    [inquiry] = data["inquiries"]
    assert (inquiry["channel"], inquiry["subject"], inquiry["body"]) == (
        "Web form", "Subject from Zoë", "Inquiry body from Zoë")
    assert inquiry["received_at"]
    # Sent to the person only: not the scheduled one, not the recruiter's notification.
    assert [(e["kind"], e["subject"], e["body_text"]) for e in data["emails"]] == [
        ("Acknowledgement", "Thanks from Zoë", "Email body from Zoë")]
    assert [e["to_stage"] for e in data["stage_history"]] == ["New", "Contacted"]
    # Earlier answers of personal fields (not of the opening, which is the employer's)
    assert [(c["field"], c["old_value"], c["new_value"]) for c in data["profile_changes"]] == [
        ("City", "Old city from Zoë", "Portland")]
    assert all(e["at"] for e in data["stage_history"])


def test_the_cv_is_in_the_zip_byte_for_byte(client, zoe):
    files = unzip(download(client, zoe))
    [cv_path] = data_of(files)["files"]
    assert cv_path.startswith("files/") and cv_path.endswith(".pdf")
    assert data_of(files)["profile"]["cv"]["value"] == cv_path
    assert files[cv_path] == CV_BYTES
    assert set(files) == {"data.json", cv_path}


def test_nothing_of_another_lead_or_employer_is_in_any_file(client, zoe, strangers):
    files = unzip(download(client, zoe))
    assert data_of(files)["notes"] == [{"at": data_of(files)["notes"][0]["at"], "body": "Note from Zoë"}]
    for name, content in files.items():
        text = content.decode("utf-8", errors="replace")
        for value in STRANGER_VALUES:
            assert value.encode() not in content and value not in text, (name, value)
        assert "Maple Games" not in text


def test_notes_are_left_out_unless_the_employer_includes_them(client, cast, zoe):
    html = client.get(url(zoe)).content.decode()
    assert "It does not include the notes" in html
    data = data_of(unzip(download(client, zoe)))
    assert "notes" not in data and "timeline" not in data and data["notes_included"] is False
    assert "Note from Zo" not in json.dumps(data, ensure_ascii=False) and "Call details" not in json.dumps(data)

    cast.employer.data_export_includes_notes = True
    cast.employer.save(update_fields=["data_export_includes_notes"])
    assert "It includes the notes" in client.get(url(zoe)).content.decode()
    data = data_of(unzip(download(client, zoe)))
    assert data["notes_included"] is True
    assert [n["body"] for n in data["notes"]] == ["Note from Zoë"]
    assert [(a["kind"], a["summary"], a["details"]) for a in data["timeline"]] == [
        ("Call", "Call from Zoë", "Call details from Zoë")]


def test_the_page_offers_the_download(client, zoe):
    html = client.get(url(zoe)).content.decode()
    assert f'action="{url(zoe)}download/"' in html and "Download my data (ZIP)" in html


def test_an_expired_link_is_refused(client, zoe, settings):
    settings.RELOCATE_MY_DATA_LINK_DAYS = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        link = url(zoe)
    with time_machine.travel(start + dt.timedelta(days=31), tick=False):
        response = client.post(f"{link}download/")
    assert response.status_code == 410
    assert response["Content-Type"].startswith("text/html") and b"This link has expired" in response.content
    assert not AuditEvent.objects.filter(action="exported").exists()


@pytest.mark.parametrize("token", ["1:forged", "abc"])
def test_a_tampered_link_is_404(client, zoe, token):
    response = client.post(f"/my-data/{token}/download/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_an_erased_person_downloads_nothing(client, zoe):
    lead_erase(lead=zoe, how="test")
    response = download(client, zoe)
    assert response.status_code == 200 and b"Your data is erased" in response.content
    assert response["Content-Type"].startswith("text/html")


def test_the_download_is_a_post(client, zoe):
    assert client.get(f"{url(zoe)}download/").status_code == 405


def test_the_download_is_audited(client, zoe):
    unzip(download(client, zoe))
    event = AuditEvent.objects.get(action="exported")
    assert (event.employer_id, event.lead_id, event.user, event.detail) == (
        zoe.employer_id, zoe.pk, None, "data download (person)")


def test_too_large_says_so_instead_of_downloading(client, zoe, settings, monkeypatch):
    monkeypatch.setattr(lead_data_export, "__kwdefaults__", {"max_bytes": 1000})
    response = download(client, zoe)
    assert response.status_code == 413 and b"too large to download here" in response.content


def test_the_export_reads_a_bounded_number_of_queries(zoe, django_assert_num_queries):
    # lead, text sums (2), citizenships, skills, consents, inquiries, emails, stage events, profile changes
    with django_assert_num_queries(10):
        lead_data_export(lead=zoe)


# --- the admin action ------------------------------------------------------------------------


def admin_download(client, *leads):
    return client.post("/admin/leads/lead/", {"action": "download_personal_data",
                                              "_selected_action": [lead.pk for lead in leads]})


def test_an_employer_admin_downloads_the_persons_data(client, cast, zoe):
    client.force_login(cast.owner)
    response = admin_download(client, zoe)
    assert response["Content-Disposition"] == 'attachment; filename="my-data-kiwi-ledger.zip"'
    files = unzip(response)
    assert data_of(files)["name"] == "Zoë Park" and CV_BYTES in files.values()
    event = AuditEvent.objects.get(action="exported")
    assert (event.lead_id, event.user, event.detail) == (zoe.pk, cast.owner, "data download (admin)")


def test_another_employers_admin_cannot_download(client, cast, zoe):
    client.force_login(cast.outsider)
    response = admin_download(client, zoe)
    assert response.status_code == 302 and response["Content-Type"].startswith("text/html")
    assert not AuditEvent.objects.filter(action="exported").exists()


def test_a_recruiter_cannot_download_in_admin(client, cast, zoe):
    cast.teammate.is_staff = True
    cast.teammate.save(update_fields=["is_staff"])
    client.force_login(cast.teammate)
    response = admin_download(client, zoe)
    assert response.get("Content-Type", "").startswith("text/html")
    assert not AuditEvent.objects.filter(action="exported").exists()


def test_the_admin_download_is_one_person_at_a_time(client, cast, zoe):
    other = LeadFactory(employer=cast.employer)
    client.force_login(cast.owner)
    response = admin_download(client, zoe, other)
    assert response.status_code == 302
    assert "Select one lead" in client.get(response["Location"]).content.decode()


# --- in a real browser -------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_my_data_page_passes_axe_and_downloads(page, live_server, cast, settings, tmp_path):  # noqa: F811
    from tests.browser.test_team import serious_violations

    settings.MEDIA_ROOT = str(tmp_path)
    lead = person(cast.employer, name="Zoë Park", email="zoe@example.org", cv=CV_BYTES, **ZOE)
    history(lead, words="from Zoë", recruiter=cast.teammate)
    page.goto(f"{live_server.url}{url(lead)}")
    assert serious_violations(page) == []
    with page.expect_download() as info:
        page.get_by_role("button", name="Download my data (ZIP)").click()
    download = info.value
    assert download.suggested_filename == "my-data-kiwi-ledger.zip"
    with zipfile.ZipFile(download.path()) as archive:
        assert json.loads(archive.read("data.json"))["email"] == "zoe@example.org"
