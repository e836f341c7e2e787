"""Emails in the lead's language: the template's translation, else the employer's default with
a note on the timeline; the lead's language from every channel and the recruiter's edit; the
translations inline in admin, tenant-scoped, with a preview per language."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from leads.emails import template_context
from leads.forms import LeadEditForm
from leads.models import (
    EmailTemplateTranslation,
    Language,
    Lead,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    ProfileChange,
    SequenceStep,
)
from leads.services.api_keys import api_key_create
from leads.services.imports import leads_import_csv
from leads.services.inbound_email import content_language, email_receive
from leads.services.intake import inquiry_receive
from leads.tasks import dispatch_due_emails
from tests.factories import EmailTemplateFactory, LeadFactory, SequenceFactory
from tests.test_admin import post_data

# Monday 2 November 2026, 20:00 UTC: 15:00 in Toronto, inside the send window.
MONDAY = dt.datetime(2026, 11, 2, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def templates(cast):
    """An acknowledgement and a one-step sequence, in English (the employer's default), both
    translated to French and the acknowledgement to Arabic; nothing in Portuguese."""
    ack = EmailTemplateFactory(employer=cast.employer, name="Ack", kind="acknowledgement",
                               subject="Thanks, {{ lead.first_name }}",
                               body_text="We got your inquiry.\nUnsubscribe: {{ unsubscribe_url }}")
    step = EmailTemplateFactory(employer=cast.employer, name="Step 1", subject="Next steps, {{ lead.first_name }}",
                                body_text="Send us your CV, {{ lead.first_name }}.")
    EmailTemplateTranslation.objects.create(template=ack, language="fr", subject="Merci, {{ lead.first_name }}",
                                            body_text="Nous avons bien reçu votre demande.\n{{ unsubscribe_url }}")
    EmailTemplateTranslation.objects.create(template=step, language="fr",
                                            subject="Vos prochaines étapes, {{ lead.first_name }}",
                                            body_text="Envoyez-nous votre CV, {{ lead.first_name }}.")
    EmailTemplateTranslation.objects.create(
        template=ack, language="ar", subject="شكرًا لتواصلك معنا، {{ lead.first_name }}",
        body_text="مرحبًا {{ lead.first_name }}، وصلتنا رسالتك وسنرد عليك قريبًا.\n{{ unsubscribe_url }}",
        body_html="<p dir=\"rtl\">مرحبًا {{ lead.first_name }}</p>")
    sequence = SequenceFactory(employer=cast.employer, name="Default")
    SequenceStep.objects.create(sequence=sequence, position=1, delay_days=2, template=step)
    cast.employer.default_sequence = sequence
    cast.employer.save()
    return ack, step


def receive(cast, language: str, email: str = "ana@example.org", **fields):
    fields = {"current_country": "CA", "language": language, **fields}
    return inquiry_receive(employer=cast.employer, channel="web_form", email=email, name="Ana Silva",
                           fields={k: v for k, v in fields.items() if v}, privacy_accepted=True).lead


def sweep(at: dt.datetime) -> None:
    with time_machine.travel(at, tick=False):
        dispatch_due_emails()


def sent(lead: Lead, kind: str) -> OutboundEmail:
    return OutboundEmail.objects.get(lead=lead, kind=kind, status=OutboundStatus.SENT)


# --- at a real SMTP server ------------------------------------------------------------------------


def test_a_french_lead_gets_the_french_acknowledgement_and_follow_up(cast, templates, smtp):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast, "fr")
    sweep(MONDAY)
    sweep(MONDAY + dt.timedelta(days=2))
    assert smtp.recorder.wait_for(2)
    subjects = [str(r.message["Subject"]) for r in smtp.recorder.messages(to=lead.email)]
    assert subjects == ["Merci, Ana", "Vos prochaines étapes, Ana"]
    body = smtp.recorder.messages(to=lead.email)[0].message.get_body(("plain",)).get_content()
    assert "Nous avons bien reçu votre demande." in body
    for kind in (OutboundKind.ACKNOWLEDGEMENT, OutboundKind.FOLLOWUP):
        row = sent(lead, kind)
        assert (row.language, row.status_reason) == ("fr", "")


def test_pt_br_without_a_portuguese_template_gets_the_default_and_the_timeline_says_so(client, cast, templates,
                                                                                        smtp):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast, "pt-br")
    sweep(MONDAY)
    assert smtp.recorder.wait_for(1)
    assert [str(r.message["Subject"]) for r in smtp.recorder.messages(to=lead.email)] == ["Thanks, Ana"]
    row = sent(lead, OutboundKind.ACKNOWLEDGEMENT)
    assert row.language == cast.employer.default_language == "en"
    assert row.status_reason == "sent in English: “Ack” has no Português (Brasil) translation"
    client.force_login(cast.teammate)
    page = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "no Português (Brasil) translation" in page
    assert "Português (Brasil)" in page  # the lead's language, on the profile


def test_a_lead_without_a_language_gets_the_default_with_no_note(cast, templates, smtp):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast, "")
    sweep(MONDAY)
    assert smtp.recorder.wait_for(1)
    row = sent(lead, OutboundKind.ACKNOWLEDGEMENT)
    assert (row.subject, row.language, row.status_reason) == ("Thanks, Ana", "en", "")


def test_an_arabic_body_arrives_intact(cast, templates, smtp):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast, "ar")
    sweep(MONDAY)
    assert smtp.recorder.wait_for(1)
    message = smtp.recorder.messages(to=lead.email)[0].message
    assert str(message["Subject"]) == "شكرًا لتواصلك معنا، Ana"
    assert "مرحبًا Ana، وصلتنا رسالتك وسنرد عليك قريبًا." in message.get_body(("plain",)).get_content()
    assert "مرحبًا Ana" in message.get_body(("html",)).get_content()
    assert sent(lead, OutboundKind.ACKNOWLEDGEMENT).language == "ar"


def test_a_correction_before_sending_counts(cast, templates, smtp):
    """The language is read when the email is written, just before it goes out."""
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast, "")
    Lead.objects.filter(pk=lead.pk).update(language="fr")
    sweep(MONDAY)
    assert smtp.recorder.wait_for(1)
    assert sent(lead, OutboundKind.ACKNOWLEDGEMENT).subject == "Merci, Ana"


def test_the_built_in_texts_format_dates_for_the_language(cast):
    lead = LeadFactory(employer=cast.employer, name="Ana Silva")
    with time_machine.travel(MONDAY, tick=False):
        context = template_context(lead)
        with translation.override("fr"):
            french = render_to_string("emails/data_link.txt", template_context(lead))
        with translation.override("de"):
            german = render_to_string("emails/data_link.txt", template_context(lead))
    until = context["link_until"]
    assert until == dt.date(2026, 11, 2) + dt.timedelta(days=context["link_days"])
    assert "2 décembre 2026" in french
    assert "2. Dezember 2026" in german


# --- the lead's language from each channel, and the recruiter's edit -----------------------------


def test_the_api_body_sets_the_language(client, cast):
    _, raw = api_key_create(employer=cast.employer, name="careers site")
    body = {"email": "ana@example.org", "name": "Ana Silva", "language": "pt-br", "privacy_accepted": True}
    response = client.post("/api/v1/inquiries", data=json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201, response.content
    assert Lead.objects.get().language == "pt-br"
    body = {**body, "email": "bea@example.org", "language": "pt-PT"}
    response = client.post("/api/v1/inquiries", data=json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 400 and "language" in response.content.decode()
    schema = client.get("/api/v1/openapi.json").json()
    assert "pt-br" in json.dumps(schema)


def test_the_csv_import_sets_the_language(cast):
    text = "email,name,language\nana@example.org,Ana Silva,fr\nbea@example.org,Bea Costa,Português (Brasil)\n" \
           "cai@example.org,Cai Wen,\n"
    file = io.BytesIO(text.encode())
    file.name = "leads.csv"
    report = leads_import_csv(employer=cast.employer, file=file, actor=cast.owner, legal_basis="consent")
    assert report.ok, report.errors
    assert dict(Lead.objects.values_list("email", "language")) == {
        "ana@example.org": "fr", "bea@example.org": "pt-br", "cai@example.org": ""}


def test_an_unknown_language_in_the_import_is_refused(cast):
    file = io.BytesIO(b"email,name,language\nana@example.org,Ana Silva,klingon\n")
    file.name = "leads.csv"
    report = leads_import_csv(employer=cast.employer, file=file, actor=cast.owner, legal_basis="consent")
    assert not report.ok and not Lead.objects.exists()


def test_the_public_form_language_is_accepted_and_a_repeat_inquiry_replaces_it(cast):
    lead = receive(cast, "fr")
    assert lead.language == "fr"
    receive(cast, "de")
    lead.refresh_from_db()
    assert lead.language == "de"
    change = ProfileChange.objects.get(lead=lead, field="language")
    assert (change.old_value, change.new_value, change.status) == ("fr", "de", ProfileChange.Status.APPLIED)
    receive(cast, "")  # an inquiry naming no language changes nothing
    lead.refresh_from_db()
    assert lead.language == "de"


@pytest.mark.parametrize(("header", "language"), [
    ("fr-CA, en", "fr"), ("pt-PT", "pt-br"), ("PT-BR", "pt-br"), ("de-AT", "de"), ("ja, ar-EG", "ar"),
    ("ja", ""), ("", ""),
])
def test_content_language_names_one_of_ours(header, language):
    assert content_language(header) == language


def test_an_inbound_email_takes_its_content_language(cast):
    def raw(sender: str, header: str) -> bytes:
        extra = f"Content-Language: {header}\n" if header else ""
        return (f"From: Ana Silva <{sender}>\nTo: jobs@kiwiledger.example.com\nSubject: Poste\n"
                f"Message-ID: <{sender}.1@example.org>\n{extra}Content-Type: text/plain; charset=utf-8\n\n"
                "Bonjour, je voudrais postuler.\n").encode()

    email_receive(employer=cast.employer, raw=raw("ana@example.org", "fr-FR"))
    email_receive(employer=cast.employer, raw=raw("bea@example.org", ""))
    assert dict(Lead.objects.values_list("email", "language")) == {"ana@example.org": "fr", "bea@example.org": ""}


def test_recruiters_edit_the_language_on_the_lead_edit_page(client, cast):
    lead = LeadFactory(employer=cast.employer, name="Ana Silva", language="fr")
    client.force_login(cast.teammate)
    url = reverse("leads:lead_edit", args=[lead.pk])
    page = client.get(url).content.decode()
    assert 'name="language"' in page and "Deutsch" in page
    data = {k: v for k, v in LeadEditForm.initial_from(lead).items() if v not in (None, "")}
    data["language"] = "de"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    lead.refresh_from_db()
    assert lead.language == "de"
    assert "Deutsch" in client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    data["language"] = ""  # back to the employer's default
    client.post(url, data)
    lead.refresh_from_db()
    assert lead.language == ""


def test_the_outsider_cannot_edit_the_language(client, cast):
    lead = LeadFactory(employer=cast.employer, language="fr")
    client.force_login(cast.outsider)
    assert client.post(reverse("leads:lead_edit", args=[lead.pk]), {"language": "de"}).status_code == 404
    lead.refresh_from_db()
    assert lead.language == "fr"


# --- the translations inline ---------------------------------------------------------------------


def change_url(template) -> str:
    return reverse("admin:leads_emailtemplate_change", args=[template.pk])


def test_the_inline_saves_a_translation_and_refuses_a_duplicate_language(client, cast):
    template = EmailTemplateFactory(employer=cast.employer, name="Ack", kind="acknowledgement")
    client.force_login(cast.owner)
    data = post_data(client.get(change_url(template)))
    data.update({"translations-TOTAL_FORMS": 1, "translations-0-language": "es",
                 "translations-0-subject": "Gracias, {{ lead.first_name }}",
                 "translations-0-body_text": "Hemos recibido tu mensaje."})
    response = client.post(change_url(template), data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    assert list(template.translations.values_list("language", "subject")) == [("es", "Gracias, {{ lead.first_name }}")]

    # Another Spanish one, on the page with the first: refused, nothing written.
    data = post_data(client.get(change_url(template)))
    data.update({"translations-TOTAL_FORMS": 2, "translations-1-language": "es",
                 "translations-1-subject": "Hola", "translations-1-body_text": "Otra vez."})
    response = client.post(change_url(template), data)
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.non_form_errors() or any(
        response.context["inline_admin_formsets"][0].formset.errors)
    assert template.translations.count() == 1


def test_the_inline_is_tenant_scoped(client, cast):
    theirs = EmailTemplateFactory(employer=cast.employer, name="Ack")
    EmailTemplateTranslation.objects.create(template=theirs, language="fr", subject="Merci", body_text="Reçu.")
    client.force_login(cast.outsider)  # an admin of the other employer
    assert client.get(change_url(theirs)).status_code == 404
    response = client.post(change_url(theirs), {
        "name": "Ack", "kind": "acknowledgement", "subject": "x", "body_text": "x",
        "translations-TOTAL_FORMS": 1, "translations-INITIAL_FORMS": 0, "translations-0-language": "de",
        "translations-0-subject": "Danke", "translations-0-body_text": "Erhalten."})
    assert response.status_code == 404
    assert list(theirs.translations.values_list("language", flat=True)) == ["fr"]
    html = reverse("admin:leads_emailtemplate_preview_html", args=[theirs.pk]) + "?language=fr"
    assert client.get(html).status_code == 404
    # Their own template's page lists none of the other employer's translations.
    own = EmailTemplateFactory(employer=cast.other_employer, name="Own")
    response = client.get(change_url(own))
    assert response.status_code == 200
    assert not list(response.context["inline_admin_formsets"][0].formset.queryset)


def test_a_recruiter_of_the_employer_sees_but_cannot_add_translations(client, cast):
    template = EmailTemplateFactory(employer=cast.employer, name="Ack")
    cast.teammate.is_staff = True
    cast.teammate.save()
    client.force_login(cast.teammate)
    response = client.get(change_url(template))
    assert response.status_code == 200
    inline = response.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission


def test_the_preview_renders_each_language_for_a_sample_lead(client, cast):
    LeadFactory(employer=cast.employer, name="Ana Silva", current_country="DE")
    template = EmailTemplateFactory(employer=cast.employer, name="Ack", subject="Thanks, {{ lead.first_name }}",
                                    body_text="We got it, {{ lead.first_name }}.")
    EmailTemplateTranslation.objects.create(
        template=template, language="de", subject="Danke, {{ lead.first_name }}",
        body_text="Sie wohnen in {{ lead.current_country }}.", body_html="<p>Hallo {{ lead.first_name }}</p>")
    EmailTemplateTranslation.objects.create(template=template, language="ar", subject="شكرًا، {{ lead.first_name }}",
                                            body_text="وصلتنا رسالتك.")
    client.force_login(cast.owner)
    page = client.get(change_url(template)).content.decode()
    assert "Thanks, Ana" in page and "Danke, Ana" in page and "شكرًا، Ana" in page
    assert "Sie wohnen in Deutschland." in page  # the country's name in the translation's language
    html = reverse("admin:leads_emailtemplate_preview_html", args=[template.pk])
    assert client.get(f"{html}?language=de").content.decode() == "<p>Hallo Ana</p>"
    assert "No translation" in client.get(f"{html}?language=fr").content.decode()


def test_the_preview_shows_a_broken_translation_as_a_reason(client, cast):
    LeadFactory(employer=cast.employer)
    template = EmailTemplateFactory(employer=cast.employer, name="Ack")
    EmailTemplateTranslation.objects.create(template=template, language="fr", subject="Merci {% if %}",
                                            body_text="Reçu.")
    client.force_login(cast.owner)
    response = client.get(change_url(template))
    assert response.status_code == 200
    assert "cannot be rendered" in response.content.decode()


def test_every_language_has_a_label():
    assert set(Language.values) == {"en", "fr", "de", "es", "pt-br", "ar"}


def test_the_compose_preview_warns_when_the_template_is_not_in_the_leads_language(client, cast, templates):
    """A recruiter previewing a template the lead would get in another language is told before sending."""
    one_off = EmailTemplateFactory(employer=cast.employer, name="Intro", kind="one_off",
                                   subject="Hello {{ lead.first_name }}", body_text="A call this week?")
    EmailTemplateTranslation.objects.create(template=one_off, language="fr", subject="Bonjour {{ lead.first_name }}",
                                            body_text="Un appel cette semaine ?")
    client.force_login(cast.teammate)
    previews = {}
    for language in ("pt-br", "fr"):
        lead = LeadFactory(employer=cast.employer, language=language, email=f"{language}@example.org")
        response = client.post(reverse("leads:lead_email", args=[lead.pk]),
                               {"action": "preview", "compose_id": "0123456789abcdef0123456789abcdef",
                                "template": one_off.pk})
        assert response.status_code == 200
        previews[language] = response.content.decode()
    assert 'id="preview-fallback"' in previews["pt-br"]
    assert "This lead reads Brazilian Portuguese" in previews["pt-br"]
    assert "it will be sent in English" in previews["pt-br"]
    assert 'id="preview-fallback"' not in previews["fr"]
    assert "Bonjour" in previews["fr"]
