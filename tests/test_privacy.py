"""Seeing and erasing one's data: from the link in every email, or by an employer admin."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.files.base import ContentFile

from leads.models import Activity, Inquiry, Lead, Note, OutboundEmail, OutboundStatus, PossibleDuplicate, StageEvent
from leads.services.intake import inquiry_receive
from leads.services.privacy import erased_email, lead_erase, my_data_token
from leads.tasks import dispatch_due_emails

T0 = dt.datetime(2026, 11, 2, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def lead(cast, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with time_machine.travel(T0, tick=False):
        lead = inquiry_receive(employer=cast.employer, channel="web_form", email="zoe@example.org", name="Zoë Park",
                               fields={"current_country": "US", "phone": "+14155552671",
                                       "motivation": "My partner and I want to move."},
                               citizenships=["US"], skills=["Go"], privacy_accepted=True).lead
        Note.objects.create(lead=lead, author=cast.teammate, body="Sounds keen; family of four.")
        inquiry_receive(employer=cast.employer, channel="web_form", email="zoe.work@example.org", name="Zoë Park",
                        fields={"current_country": "US"})
    lead.cv.save("cv.pdf", ContentFile(b"%PDF-1.4 test"), save=True)
    return lead


def url(lead) -> str:
    return f"/my-data/{my_data_token(lead.pk)}/"


def test_every_acknowledgement_carries_the_link(cast, lead):
    with time_machine.travel(T0, tick=False):
        dispatch_due_emails()
        ack = next(m for m in mail.outbox if m.to == ["zoe@example.org"])
        assert url(lead) in ack.body


def test_the_page_shows_the_data_and_changes_nothing(client, lead):
    response = client.get(url(lead))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Zoë Park" in content and "zoe@example.org" in content and "+14155552671" in content
    assert "My partner and I want to move." in content
    lead.refresh_from_db()
    assert lead.erased_at is None


def test_erasing_needs_the_confirmation(client, lead):
    response = client.post(url(lead), {})
    assert response.status_code == 400
    assert b"Tick the box" in response.content
    lead.refresh_from_db()
    assert lead.erased_at is None


def test_erasing_removes_what_identifies_and_keeps_the_statistics(
    client, cast, lead, django_capture_on_commit_callbacks
):
    cv_storage, cv_name = lead.cv.storage, lead.cv.name
    assert cv_storage.exists(cv_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(lead), {"confirm": "erase"})
    assert response.status_code == 200 and b"Your data is erased" in response.content
    lead.refresh_from_db()
    assert lead.erased_at is not None
    assert (lead.name, lead.email, lead.phone, lead.motivation, lead.cv.name) == (
        "Erased", erased_email(lead.pk), "", "", "")
    assert not lead.skills.exists()
    assert not Note.objects.filter(lead=lead).exists()
    assert not cv_storage.exists(cv_name)
    inquiry = Inquiry.objects.get(lead=lead)
    assert (inquiry.body, inquiry.raw_fields, inquiry.remote_addr) == ("", {}, None)
    assert all(not e.subject and not e.body_text and e.to_email == lead.email
               for e in OutboundEmail.objects.filter(lead=lead))
    assert not OutboundEmail.objects.filter(lead=lead, status=OutboundStatus.SCHEDULED).exists()
    assert not PossibleDuplicate.objects.filter(lead=lead).exists()
    assert not PossibleDuplicate.objects.filter(other=lead).exists()
    assert not Activity.objects.filter(lead=lead, summary__contains="Zoë").exists()
    # Kept, anonymous: the history the funnel and the surge count, and the country.
    assert StageEvent.objects.filter(lead=lead).exists()
    assert lead.current_country == "US" and inquiry.country == "US"
    # Nothing more is sent.
    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        mail.outbox.clear()
        dispatch_due_emails()
    assert not [m for m in mail.outbox if m.to in (["zoe@example.org"], [lead.email])]
    # The link now only says it is done; erasing twice changes nothing.
    assert b"Your data is erased" in client.get(url(lead)).content
    assert lead_erase(lead=lead, how="again") is False


def test_a_new_inquiry_after_erasure_is_a_new_lead(cast, lead):
    lead_erase(lead=lead, how="test")
    again = inquiry_receive(employer=cast.employer, channel="web_form", email="zoe@example.org", name="Zoë")
    assert again.created and again.lead.pk != lead.pk


@pytest.mark.parametrize("token", ["1:forged", "abc", "%00"])
def test_tampered_link_is_404(client, lead, token):
    response = client.get(f"/my-data/{token}/")
    assert response.status_code == 404 and "Ask for a fresh one" in response.content.decode()
    assert client.post(f"/my-data/{token}/", {"confirm": "erase"}).status_code == 404
    assert Lead.objects.get(pk=lead.pk).erased_at is None


def test_admin_action_erases_only_the_admins_own_leads(client, cast, lead):
    foreign = inquiry_receive(employer=cast.other_employer, channel="web_form", email="x@example.org",
                              name="Other Person").lead
    client.force_login(cast.outsider)
    client.post("/admin/leads/lead/", {"action": "erase_personal_data", "_selected_action": [lead.pk, foreign.pk]})
    assert Lead.objects.get(pk=lead.pk).erased_at is None
    assert Lead.objects.get(pk=foreign.pk).erased_at is not None
    client.force_login(cast.owner)
    response = client.post("/admin/leads/lead/", {"action": "erase_personal_data", "_selected_action": [lead.pk]},
                           follow=True)
    assert b"Personal data of 1 lead(s) erased" in response.content
    assert Lead.objects.get(pk=lead.pk).erased_at is not None
