"""Login throttling, security headers, and admin and email input held to the app's rules."""

from __future__ import annotations

import csv
import io
from email import message_from_bytes
from email.utils import getaddresses

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads import emails
from leads.models import EmailTemplate, Lead, OutboundEmail
from tests.factories import LeadFactory, UserFactory


@pytest.fixture
def throttle(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.RELOCATE_TRUSTED_PROXIES = "127.0.0.1"


def login(client, username: str, password: str, path: str = "/accounts/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


# --- login throttling ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_wrong_passwords_lock_the_pair_out_even_for_the_right_one(client, cast, throttle, path):
    for _ in range(2):
        assert login(client, "teammate", "wrong", path).status_code == 200
    assert login(client, "teammate", "wrong", path).status_code == 429  # the third locks it
    locked = login(client, "teammate", "relocate-test", path)
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_client_address_behind_the_proxy(client, cast, throttle):
    guesser = {"HTTP_X_FORWARDED_FOR": "198.51.100.66"}
    for _ in range(3):
        login(client, "teammate", "wrong", **guesser)
    assert login(client, "teammate", "relocate-test", **guesser).status_code == 429
    # The real person, on their own address behind the same proxy, logs in.
    response = login(client, "teammate", "relocate-test", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert response.status_code == 302


def test_an_admin_unlocks_a_locked_out_person(client, cast, throttle, admin_client):
    from axes.models import AccessAttempt

    for _ in range(3):
        login(client, "teammate", "wrong")
    assert login(client, "teammate", "relocate-test").status_code == 429
    attempt = AccessAttempt.objects.get(username="teammate")
    response = admin_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert login(client, "teammate", "relocate-test").status_code == 302


def test_a_password_may_not_hold_the_persons_name(db):
    user = UserFactory(first_name="Ava", last_name="Patel")
    for password in ("AvaPatel2026!", "x-patel-horse-battery", "ava.patel.staple"):
        with pytest.raises(ValidationError, match="name"):
            validate_password(password, user)
    validate_password("correct horse battery staple", user)


# --- headers -----------------------------------------------------------------------------------


def test_every_page_carries_the_policy_headers(client, cast):
    lead = LeadFactory(employer=cast.employer)
    client.force_login(cast.teammate)
    for path in ("/", "/leads/", f"/leads/{lead.pk}/", "/leads/export.csv", f"/apply/{cast.employer.slug}/",
                 "/accounts/login/", "/healthz"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path
        assert "script-src 'self'" in response["Content-Security-Policy"], path
        assert "camera=()" in response["Permissions-Policy"], path


def test_pages_with_personal_data_are_not_kept_by_the_browser(client, cast):
    lead = LeadFactory(employer=cast.employer)
    client.force_login(cast.teammate)
    for path in ("/", "/leads/", f"/leads/{lead.pk}/", "/leads/board/", "/leads/export.csv", "/admin/"):
        assert "no-store" in client.get(path)["Cache-Control"], path
    assert "no-store" not in client.get(f"/apply/{cast.employer.slug}/").get("Cache-Control", "")


# --- admin and email input ---------------------------------------------------------------------


def test_a_line_break_in_a_name_is_refused_by_admin_as_by_every_form(admin_client, cast):
    lead = LeadFactory(employer=cast.employer, name="Ana Silva")
    response = admin_client.post(reverse("admin:leads_employer_change", args=[cast.employer.pk]), {
        "name": cast.employer.name, "slug": cast.employer.slug, "destination_country": "NZ",
        "sender_name": "Kiwi\r\nBcc: everyone@example.org", "brand_colour": "#0d6efd",
    })
    assert response.status_code == 200 and "sender_name" in response.context["adminform"].form.errors
    with pytest.raises(ValidationError):
        lead.name = "Ana\r\nSilva"
        lead.full_clean()


def test_a_quote_in_the_sender_name_cannot_forge_a_second_address(cast):
    cast.employer.sender_name = 'Kiwi", evil@example.org, "x'
    cast.employer.sender_email = "jobs@kiwi.example"
    addresses = getaddresses([cast.employer.from_email])
    assert [address for _, address in addresses] == ["jobs@kiwi.example"]


def test_plain_text_from_employer_templates_is_not_html_escaped(cast):
    cast.employer.name = "Seán O'Brien & Co"
    cast.employer.save()
    lead = LeadFactory(employer=cast.employer, name="Zoë O'Neil")
    template = EmailTemplate(employer=cast.employer, name="t", subject="Hi {{ lead.name }} from {{ employer.name }}",
                             body_text="Dear {{ lead.name }},\n{{ employer.name }}",
                             body_html="<p>{{ lead.name }} &lt;{{ employer.name }}&gt;</p>")
    rendered = emails.render_template(template, emails.template_context(lead))
    assert rendered.subject == "Hi Zoë O'Neil from Seán O'Brien & Co"
    assert rendered.text == "Dear Zoë O'Neil,\nSeán O'Brien & Co"
    assert "O&#x27;Neil" in rendered.html and "&amp; Co" in rendered.html


def test_an_email_with_the_new_sender_headers_goes_out(cast, mailoutbox):
    from leads.services.outbox import email_queue
    from leads.tasks import dispatch_due_emails

    cast.employer.sender_name = "Seán O'Brien, Recruiting"
    cast.employer.sender_email = "jobs@kiwi.example"
    cast.employer.save()
    email_queue(employer=cast.employer, kind="notification", unique_key="t:1", to_email="a@example.org",
                subject="s", body_text="b")
    dispatch_due_emails()
    assert OutboundEmail.objects.get().status == "sent"
    raw = mailoutbox[0].message().as_bytes()
    sender = message_from_bytes(raw)["From"]
    assert "jobs@kiwi.example" in sender and sender.count("@") == 1


def test_admin_cannot_upload_a_cv_the_public_forms_content_check_never_saw(admin_client, cast, settings, tmp_path):
    """The CV comes only from the person (the public form checks its content): in admin it is a
    read-only link, and a file posted there anyway is ignored."""
    settings.MEDIA_ROOT = str(tmp_path)
    lead = LeadFactory(employer=cast.employer)
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    page = admin_client.get(url)
    assert "cv" not in page.context["adminform"].form.fields
    data = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    data.update({"stage": lead.stage,
                 "cv": SimpleUploadedFile("evil.html", b"<script>alert(1)</script>", content_type="text/html")})
    admin_client.post(url, data)
    assert not Lead.objects.get(pk=lead.pk).cv
    assert not list(tmp_path.rglob("*.html"))


def test_the_lead_export_is_utf8_with_a_bom_and_neutralises_line_feed_formulas(client, cast):
    LeadFactory(employer=cast.employer, name="Zoë", current_city="\n=1+1")
    client.force_login(cast.teammate)
    response = client.get("/leads/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[1][1] == "Zoë" and rows[1][5] == "'\n=1+1"


def test_the_email_preview_frame_is_the_employers_own(client, cast):
    from tests.factories import EmailTemplateFactory

    LeadFactory(employer=cast.employer, name="Ana Silva")
    template = EmailTemplateFactory(employer=cast.employer,
                                    body_html="<p style='color:teal'>Kia ora {{ lead.name }}</p>")
    url = reverse("admin:leads_emailtemplate_preview_html", args=[template.pk])
    client.force_login(cast.owner)
    response = client.get(url)
    assert response.status_code == 200 and "Kia ora Ana Silva" in response.content.decode()
    assert "script-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404


def test_a_very_long_username_is_a_failed_login_not_an_error(client, cast, throttle):
    response = login(client, "x" * 5000, "wrong")
    assert response.status_code == 200
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.get().username == "x" * 150
