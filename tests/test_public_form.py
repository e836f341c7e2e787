"""The public inquiry form at /apply/<slug>/: branded, validated, abuse-resistant, never a 500."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.forms import started_token
from leads.models import Inquiry, Lead, Opening, Submission
from leads.services.submissions import submissions_drain
from tests.factories import LeadFactory, OpeningFactory


@pytest.fixture(autouse=True)
def _public_form_settings(settings, tmp_path):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    yield
    cache.clear()


def send(client, path: str, data: dict, **extra):
    """POST the form, then let the intake worker process what was accepted, as it does
    within seconds in production."""
    response = client.post(path, data, **extra)
    submissions_drain(every_pending=True)
    return response


def url(employer) -> str:
    return reverse("leads:public_apply", args=[employer.slug])


def form_data(**overrides) -> dict:
    data = {
        "name": "Ana Silva", "email": "Ana.Silva@example.org", "phone": "+1 415 555 2671",
        "current_country": "US", "citizenships": ["US", "IE"], "skills": "Python, Django",
        "move_timeline": "3m", "needs_sponsorship": "yes", "motivation": "I want to move.",
        "privacy_accepted": "on", "started": started_token(), "website": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def test_form_is_branded_and_lists_open_openings(client, cast):
    cast.employer.brand_colour = "#123456"
    cast.employer.save()
    OpeningFactory(employer=cast.employer, title="Backend Engineer")
    OpeningFactory(employer=cast.employer, title="Closed Role", status=Opening.Status.CLOSED)
    OpeningFactory(employer=cast.other_employer, title="Other Employer Role")
    response = client.get(url(cast.employer))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Kiwi Ledger" in html and "#123456" in html and "New Zealand" in html
    assert "Backend Engineer" in html
    assert "Closed Role" not in html and "Other Employer Role" not in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "cdn" not in html.lower()


def test_unknown_or_closed_employer_is_404(client, cast):
    assert client.get("/apply/nobody-here/").status_code == 404
    cast.employer.public_intake_enabled = False
    cast.employer.save()
    assert client.get(url(cast.employer)).status_code == 404
    assert send(client, url(cast.employer), form_data()).status_code == 404
    assert client.get(reverse("leads:public_thanks", args=[cast.employer.slug])).status_code == 404


def test_submission_creates_lead_through_intake_and_shows_thanks(client, cast):
    opening = OpeningFactory(employer=cast.employer)
    response = send(client, url(cast.employer), form_data(opening=opening.pk, utm_campaign="election"))
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:public_thanks", args=[cast.employer.slug])
    lead = Lead.objects.get(employer=cast.employer)
    assert lead.email == "ana.silva@example.org"
    assert lead.phone == "+14155552671"
    assert lead.source == "web_form" and lead.opening == opening and lead.needs_sponsorship is True
    assert lead.privacy_accepted_at is not None and lead.utm_campaign == "election"
    assert sorted(lead.citizenships.values_list("country", flat=True)) == ["IE", "US"]
    inquiry = Inquiry.objects.get(lead=lead)
    assert inquiry.remote_addr == "127.0.0.1"
    assert "csrfmiddlewaretoken" not in inquiry.raw_fields and "website" not in inquiry.raw_fields
    assert inquiry.raw_fields["name"] == "Ana Silva"
    thanks = client.get(response["Location"])
    assert "What happens next" in thanks.content.decode()


def test_repeat_email_joins_the_existing_lead(client, cast):
    send(client, url(cast.employer), form_data())
    send(client, url(cast.employer), form_data(email="ANA.silva@example.org ", motivation="Still keen"))
    assert Lead.objects.filter(employer=cast.employer).count() == 1
    assert Inquiry.objects.filter(employer=cast.employer).count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"privacy_accepted": None}, "privacy_accepted"),
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"name": "x" * 5000}, "name"),
        ({"years_experience": "many"}, "years_experience"),
        ({"dependants": "-3"}, "dependants"),
        ({"current_country": "XX"}, "current_country"),
        ({"citizenships": ["ZZ"]}, "citizenships"),
        ({"phone": "12"}, "phone"),
        ({"move_timeline": "<script>"}, "move_timeline"),
        ({"earliest_move_date": "tomorrow-ish"}, "earliest_move_date"),
        ({"opening": "999999"}, "opening"),
        ({"motivation": "x" * 10_001}, "motivation"),
    ],
)
def test_bad_input_is_a_field_error_and_changes_nothing(client, cast, overrides, field):
    response = send(client, url(cast.employer), form_data(**overrides))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Lead.objects.exists()


@pytest.mark.parametrize("overrides", [{"name": "Ana\x00"}, {"motivation": "a\x00b"}, {"x\x00y": "1"}])
def test_a_nul_anywhere_in_the_form_is_400_and_stores_nothing(client, cast, overrides):
    response = send(client, url(cast.employer), {**form_data(), **overrides})
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert not Lead.objects.exists() and not Submission.objects.exists()


def test_a_field_sent_twice_is_a_clear_error(client, cast):
    data = form_data()
    data["email"] = ["ana@example.org", "someone.else@example.org"]
    response = send(client, url(cast.employer), data)
    assert "sent more than once" in response.content.decode()
    assert not Lead.objects.exists() and not Submission.objects.exists()


def test_a_form_in_latin_1_is_400_and_stores_nothing(client, cast):
    response = client.post(url(cast.employer), data="name=Jos%E9&email=jose%40example.org",
                           content_type="application/x-www-form-urlencoded; charset=latin-1")
    assert response.status_code == 400
    assert "UTF-8" in response.content.decode()
    assert not Submission.objects.exists()


def test_opening_of_another_employer_is_refused(client, cast):
    other_opening = OpeningFactory(employer=cast.other_employer)
    response = send(client, url(cast.employer), form_data(opening=other_opening.pk))
    assert "opening" in response.context["form"].errors
    assert not Lead.objects.exists()


def test_non_latin_text_and_script_tags_are_stored_and_escaped(client, cast, django_user_model):
    name = "<script>alert(1)</script> 王小明 Ωμέγα"
    response = send(client, url(cast.employer), form_data(name=name, motivation="<b>hi</b> مرحبا"))
    assert response.status_code == 302
    lead = Lead.objects.get()
    assert lead.name == name
    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 王小明" in page


def test_service_validation_errors_land_on_the_form(client, cast):
    # A time zone name longer than the model allows passes the form's choices only if known;
    # the intake service's own checks (the phone for the country) are mapped onto fields.
    response = send(client, url(cast.employer), form_data(phone="+999 1", current_country="NZ"))
    assert response.status_code == 400
    assert "phone" in response.context["form"].errors
    assert not Lead.objects.exists()


def test_honeypot_is_refused_with_400(client, cast):
    response = send(client, url(cast.employer), form_data(website="http://spam.example"))
    assert response.status_code == 400
    assert "could not be accepted" in response.content.decode()
    assert not Lead.objects.exists()


def test_too_fast_submission_is_asked_to_send_again(client, cast, settings):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 3
    response = send(client, url(cast.employer), form_data())
    assert response.status_code == 400
    assert "very quick" in response.content.decode()
    assert not Lead.objects.exists()


def test_tampered_or_missing_start_token_is_refused(client, cast):
    response = send(client, url(cast.employer), form_data(started="12345:forged"))
    assert response.status_code == 400
    assert not Lead.objects.exists()
    response = send(client, url(cast.employer), form_data(started=None))
    assert response.status_code == 400 and "started" in response.context["form"].errors


def test_rate_limit_per_address_answers_429(client, cast, settings):
    settings.RELOCATE_PUBLIC_FORM_RATE = 2
    for n in range(2):
        assert send(client, url(cast.employer), form_data(email=f"p{n}@example.org")).status_code == 302
    response = send(client, url(cast.employer), form_data(email="p3@example.org"))
    assert response.status_code == 429
    assert "Too many inquiries" in response.content.decode()
    assert Lead.objects.count() == 2
    # Another address is not affected.
    other = send(client, url(cast.employer), form_data(email="p4@example.org"), REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302


@pytest.mark.parametrize(
    ("filename", "content", "ok"),
    [
        ("cv.pdf", b"%PDF-1.7\n...", True),
        ("cv.doc", bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 100, True),
        ("cv.docx", None, True),
        ("cv.pdf", b"MZ\x90\x00 not a pdf", False),
        ("cv.docx", b"PK\x03\x04 broken zip", False),
        ("cv.exe", b"%PDF-1.7", False),
        ("cv.pdf", b"", False),
        ("cv.doc", b"%PDF-1.7", False),
    ],
)
def test_cv_upload_is_checked_by_content(client, cast, filename, content, ok):
    content = docx_bytes() if content is None else content
    upload = SimpleUploadedFile(filename, content, content_type="application/pdf")
    response = send(client, url(cast.employer), {**form_data(), "cv": upload})
    if ok:
        assert response.status_code == 302
        lead = Lead.objects.get()
        assert lead.cv.name.endswith(filename.rsplit(".", 1)[1]) and "cv." not in lead.cv.name
    else:
        assert response.status_code == 400
        assert "cv" in response.context["form"].errors
        assert not Lead.objects.exists()


def test_oversized_cv_is_refused(client, cast, settings):
    settings.RELOCATE_PUBLIC_FORM_MAX_BYTES = 50 * 1024 * 1024
    upload = SimpleUploadedFile("cv.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024 + 1))
    response = send(client, url(cast.employer), {**form_data(), "cv": upload})
    assert response.status_code == 400
    assert "larger than 5 MB" in str(response.context["form"].errors["cv"])
    assert not Lead.objects.exists()


def test_oversized_request_is_refused_before_reading(client, cast):
    upload = SimpleUploadedFile("cv.pdf", b"%PDF-" + b"0" * (7 * 1024 * 1024))
    response = send(client, url(cast.employer), {**form_data(), "cv": upload})
    assert response.status_code == 413
    assert not Lead.objects.exists()


def test_wrong_method_is_405(client, cast):
    assert client.put(url(cast.employer)).status_code == 405


def test_existing_lead_elsewhere_is_not_touched(client, cast):
    other = LeadFactory(employer=cast.other_employer, email="ana.silva@example.org")
    send(client, url(cast.employer), form_data())
    assert Lead.objects.filter(employer=cast.employer).count() == 1
    other.refresh_from_db()
    assert other.inquiries.count() == 0


def test_a_served_form_is_sent_once(client, cast):
    data = form_data()
    assert send(client, url(cast.employer), data).status_code == 302
    replay = send(client, url(cast.employer), {**data, "email": "someone.else@example.org"})
    assert replay.status_code == 400
    assert "sent already" in replay.content.decode()
    assert Lead.objects.count() == 1
    # The page offers a fresh form: sending it works.
    fresh = replay.context["form"].data["started"]
    assert send(client, url(cast.employer), {**data, "email": "someone.else@example.org", "started": fresh}
                ).status_code == 302
