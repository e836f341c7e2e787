"""The public form as a person corrects it: every problem in one round, each message once, the
privacy policy one click away, and a CV that survives a round with errors."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import Lead, Submission
from leads.selectors.public import public_page_forget
from leads.services.submissions import submissions_drain
from tests.test_public_form import form_data, url

PDF = b"%PDF-1.4 a CV"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    yield
    cache.clear()


def errors(response) -> dict:
    return response.context["form"].errors


def test_a_bad_email_does_not_hide_the_phone_and_url_errors(client, cast):
    response = client.post(url(cast.employer), form_data(email="not-an-email", phone="12", profile_url="https://[x"))
    assert response.status_code == 400
    assert {"email", "phone", "profile_url"} <= set(errors(response))


def test_the_too_quick_message_shows_once(client, cast, settings):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 3600
    response = client.post(url(cast.employer), form_data())
    assert response.content.decode().count("That was very quick") == 1


def test_the_phone_help_and_its_error_give_the_same_example(client, cast):
    page = client.post(url(cast.employer), form_data(phone="12345")).content.decode()
    assert page.count("+64 21 123 4567") >= 2  # the help text and the error


def test_the_privacy_policy_is_a_link_when_the_employer_has_one(client, cast):
    assert "privacy policy</a>" not in client.get(url(cast.employer)).content.decode()
    cast.employer.privacy_policy_url = "https://kiwi-ledger.example/privacy"
    cast.employer.save()
    public_page_forget(cast.employer.slug)
    from leads.views.public import form_page_html

    form_page_html.cache_clear()
    page = client.get(url(cast.employer)).content.decode()
    assert '<a href="https://kiwi-ledger.example/privacy" target="_blank" rel="noopener">privacy policy</a>' in page


def test_a_cv_sent_with_other_errors_is_kept_for_the_next_round(client, cast):
    first = client.post(url(cast.employer), form_data(
        email="nope", cv=SimpleUploadedFile("cv.pdf", PDF, content_type="application/pdf")))
    assert first.status_code == 400
    page = first.content.decode()
    assert "Your CV is kept" in page
    kept = first.context["form"].data["cv_kept"]
    second = client.post(url(cast.employer), form_data(cv_kept=kept))
    assert second.status_code == 302
    submissions_drain(every_pending=True)
    lead = Lead.objects.get()
    assert lead.cv.name.startswith("cvs/kept/") and lead.cv.read() == PDF
    assert "cv_kept" not in Submission.objects.get().raw_fields


def test_a_forged_kept_cv_is_ignored(client, cast):
    response = client.post(url(cast.employer), form_data(cv_kept="cvs/someone-else.pdf"))
    assert response.status_code == 302
    submissions_drain(every_pending=True)
    assert not Lead.objects.get().cv


def test_too_quick_does_not_hide_the_fields_problems(client, cast, settings):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 3600
    response = client.post(url(cast.employer), form_data(phone="12", email="bad"))
    assert {"phone", "email", "__all__"} <= set(errors(response))
