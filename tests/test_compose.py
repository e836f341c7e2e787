"""Emailing a lead from its page: compose from a template or free text, preview exactly what will
be sent, send through the outbox once, with the stop rules of every email."""

from __future__ import annotations

import re
from email.utils import parseaddr

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from leads.models import Activity, ActivityKind, Lead, OutboundEmail, OutboundKind, OutboundStatus, Stage, StageEvent
from leads.services.compose import compose_digest, compose_render, lead_email_send
from leads.services.outbox import outbox_claim_one, outbox_deliver
from tests.factories import EmailTemplateFactory, LeadFactory, OpeningFactory

COMPOSE_ID = "0123456789abcdef0123456789abcdef"
# The compose page (GET): the session, the user, the user's employers (recruiter_view); the lead
# with its employer; the employer's templates for the choice.
COMPOSE_PAGE_QUERIES = 5


@pytest.fixture
def lead(cast):
    cast.employer.sender_name, cast.employer.sender_email = "Kiwi Ledger Talent", "talent@kiwiledger.example"
    cast.employer.save()
    cast.teammate.first_name, cast.teammate.last_name = "Rita", "Ngata"
    cast.teammate.save()
    return LeadFactory(employer=cast.employer, name="Ana Silva", email="ana@example.org", owner=cast.teammate,
                       opening=OpeningFactory(employer=cast.employer, title="Backend Engineer"))


@pytest.fixture
def template(cast):
    return EmailTemplateFactory(
        employer=cast.employer, name="Intro call", kind="one_off",
        subject="{{ opening }} at {{ employer.name }}, {{ lead.first_name }}",
        body_text="Hi {{ lead.first_name }},\nI'm {{ recruiter.name }}. A call this week?\n\n{{ signature }}",
        body_html="<p>Hi {{ lead.first_name }}</p><script>alert(1)</script>",
    )


def url(lead) -> str:
    return reverse("leads:lead_email", args=[lead.pk])


def post(client, lead, action: str, **data):
    return client.post(url(lead), {"action": action, "compose_id": COMPOSE_ID, **data})


def test_compose_page_offers_the_templates_and_a_free_text_with_the_signature(client, cast, lead, template):
    client.force_login(cast.teammate)
    response = client.get(url(lead))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Intro call" in html and "Free text" in html
    assert "Hello Ana,\n\n\n\nRita Ngata\nKiwi Ledger" in html
    assert re.search(r'name="compose_id" value="[0-9a-f]{32}"', html)
    assert "&quot;Rita Ngata (Kiwi Ledger)&quot; &lt;talent@kiwiledger.example&gt;" in html


def test_compose_page_query_count(client, cast, lead, template, django_assert_num_queries):
    EmailTemplateFactory.create_batch(5, employer=cast.employer)
    client.force_login(cast.teammate)
    with django_assert_num_queries(COMPOSE_PAGE_QUERIES):
        assert client.get(url(lead)).status_code == 200


def test_preview_of_a_template_shows_exactly_what_is_sent_and_the_html_only_sandboxed(client, cast, lead, template):
    client.force_login(cast.teammate)
    response = post(client, lead, "preview", template=template.pk)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Backend Engineer at Kiwi Ledger, Ana" in html
    assert "Hi Ana,\nI&#x27;m Rita Ngata. A call this week?\n\nRita Ngata\nKiwi Ledger" in html
    # The HTML part only inside a sandboxed frame, escaped into its srcdoc: never in the page.
    assert "<script>alert(1)</script>" not in html
    assert re.search(r'<iframe sandbox="" [^>]*srcdoc="&lt;p&gt;Hi Ana&lt;/p&gt;&lt;script&gt;', html)
    assert 'name="action" value="send"' in html
    assert not OutboundEmail.objects.exists()


def test_free_text_is_sent_as_written_through_the_outbox(client, cast, lead, settings):
    settings.RELOCATE_REPLY_ADDRESS = "replies@relocate.example"
    client.force_login(cast.teammate)
    body = "Hi Ana,\nAre you free on {{ Tuesday }}?\n\nRita"
    preview = post(client, lead, "preview", subject="A call?", body=body)
    digest = preview.context["preview_digest"]
    assert "{{ Tuesday }}" in preview.content.decode()
    response = post(client, lead, "send", subject="A call?", body=body, preview_digest=digest)
    assert response.status_code == 302 and response["Location"] == reverse("leads:lead_detail", args=[lead.pk])
    row = OutboundEmail.objects.get(kind=OutboundKind.ONE_OFF)
    assert (row.lead, row.to_email, row.sent_by, row.subject) == (lead, "ana@example.org", cast.teammate, "A call?")
    assert row.body_text == body + "\n" and row.unique_key == f"lead:{lead.pk}:one-off:{COMPOSE_ID}"
    assert Activity.objects.filter(lead=lead, kind=ActivityKind.MESSAGE, summary="Email sent: A call?",
                                   actor=cast.teammate).count() == 1

    assert outbox_claim_one(row.pk)
    assert outbox_deliver([row.pk]) == {"sent": 1}
    [sent] = mail.outbox
    assert parseaddr(sent.from_email) == ("Rita Ngata (Kiwi Ledger)", "talent@kiwiledger.example")
    assert sent.body == body + "\n" and sent.subject == "A call?"
    assert re.fullmatch(rf"replies\+{lead.pk}-[a-z2-7]{{24}}@relocate\.example", sent.reply_to[0])
    assert sent.extra_headers["Message-ID"] == row.message_id


def test_a_template_email_is_sent_as_previewed(client, cast, lead, template):
    client.force_login(cast.teammate)
    preview = post(client, lead, "preview", template=template.pk)
    post(client, lead, "send", template=template.pk, preview_digest=preview.context["preview_digest"])
    row = OutboundEmail.objects.get(kind=OutboundKind.ONE_OFF)
    assert row.template == template and row.subject == "Backend Engineer at Kiwi Ledger, Ana"
    assert "I'm Rita Ngata" in row.body_text and row.body_html.startswith("<p>Hi Ana</p>")
    # The template edited after the row was queued: the row still goes out as previewed.
    template.subject = "Something else"
    template.save()
    assert outbox_claim_one(row.pk)
    outbox_deliver([row.pk])
    assert mail.outbox[0].subject == "Backend Engineer at Kiwi Ledger, Ana"


def test_a_template_changed_between_preview_and_send_shows_the_preview_again(client, cast, lead, template):
    client.force_login(cast.teammate)
    digest = post(client, lead, "preview", template=template.pk).context["preview_digest"]
    template.subject = "Changed {{ lead.name }}"
    template.save()
    response = post(client, lead, "send", template=template.pk, preview_digest=digest)
    assert response.status_code == 200
    assert "Changed Ana Silva" in response.content.decode() and "changed since your preview" in (
        response.content.decode())
    assert not OutboundEmail.objects.exists()


def test_double_submit_sends_once(client, cast, lead):
    client.force_login(cast.teammate)
    for _ in range(3):
        response = post(client, lead, "send", subject="Hello", body="Hi Ana")
        assert response.status_code == 302
    assert OutboundEmail.objects.filter(kind=OutboundKind.ONE_OFF).count() == 1
    assert Activity.objects.filter(lead=lead, kind=ActivityKind.MESSAGE).count() == 1
    # Another compose (a new id) is another email.
    client.post(url(lead), {"action": "send", "compose_id": "f" * 32, "subject": "Again", "body": "Hi"})
    assert OutboundEmail.objects.filter(kind=OutboundKind.ONE_OFF).count() == 2


def test_first_email_is_the_first_contact(client, cast, lead):
    client.force_login(cast.teammate)
    post(client, lead, "send", subject="Hello", body="Hi Ana")
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED and lead.first_contacted_at is not None
    event = StageEvent.objects.get(lead=lead, to_stage=Stage.CONTACTED)
    assert event.by == cast.teammate and event.at == lead.first_contacted_at
    first = lead.first_contacted_at
    client.post(url(lead), {"action": "send", "compose_id": "e" * 32, "subject": "Again", "body": "Hi"})
    lead.refresh_from_db()
    assert lead.first_contacted_at == first
    assert StageEvent.objects.filter(lead=lead).count() == 1


def test_first_email_to_a_lead_moved_on_without_contact_stamps_the_first_contact(cast, lead):
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.APPLIED)
    lead.refresh_from_db()
    row, created = lead_email_send(lead=lead, by=cast.teammate, compose_id=COMPOSE_ID, subject="Hi", body="Hello")
    lead.refresh_from_db()
    assert created and lead.stage == Stage.APPLIED and lead.first_contacted_at == row.scheduled_at


@pytest.mark.parametrize(("change", "reason"), [
    ({"unsubscribed_at": timezone.now()}, "the lead unsubscribed"),
    ({"email_bounced_at": timezone.now()}, "the lead's address bounced before"),
    ({"legal_basis": ""}, "no legal basis is recorded for this lead"),
    ({"erased_at": timezone.now()}, "the lead's data was erased"),
])
def test_stop_rules_say_why_instead_of_offering_send(client, cast, lead, change, reason):
    Lead.objects.filter(pk=lead.pk).update(**change)
    client.force_login(cast.teammate)
    page = client.get(url(lead))
    html = page.content.decode()
    assert page.status_code == 200
    assert reason.replace("'", "&#x27;") in html and 'id="compose-blocked"' in html
    assert 'value="send"' not in html and 'value="preview"' not in html
    response = post(client, lead, "send", subject="Hello", body="Hi")
    assert response.status_code == 409
    assert not OutboundEmail.objects.exists()
    lead.refresh_from_db()
    with pytest.raises(Exception, match="Not sent"):
        lead_email_send(lead=lead, by=cast.teammate, compose_id=COMPOSE_ID, subject="Hi", body="Hello")
    if "erased_at" not in change:
        detail = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
        assert 'id="email-unavailable"' in detail and 'id="email-lead"' not in detail


def test_lead_page_has_the_email_button(client, cast, lead):
    client.force_login(cast.teammate)
    html = client.get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert f'href="{url(lead)}" id="email-lead"' in html


def test_outsider_gets_404(client, cast, lead, template):
    client.force_login(cast.outsider)
    assert client.get(url(lead)).status_code == 404
    assert post(client, lead, "send", subject="Hello", body="Hi").status_code == 404
    assert post(client, lead, "preview", template=template.pk).status_code == 404
    assert not OutboundEmail.objects.exists()


def test_another_employers_template_cannot_be_used(client, cast, lead):
    foreign = EmailTemplateFactory(employer=cast.other_employer, subject="Maple {{ lead.email }}")
    client.force_login(cast.teammate)
    response = post(client, lead, "send", template=foreign.pk)
    assert response.status_code == 400
    assert not OutboundEmail.objects.exists()
    with pytest.raises(Exception, match="this lead's employer"):
        compose_render(lead=lead, sender=cast.teammate, template=foreign)


def test_bad_input_is_a_clear_error(client, cast, lead):
    client.force_login(cast.teammate)
    assert post(client, lead, "preview", subject="", body="").status_code == 400
    response = client.post(url(lead), {"action": "send", "compose_id": "../../x", "subject": "a", "body": "b"})
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert post(client, lead, "preview", subject="x" * 301, body="b").status_code == 400
    broken = EmailTemplateFactory(employer=cast.employer, body_text="{% if %}")
    response = post(client, lead, "preview", template=broken.pk)
    assert response.status_code == 400 and "cannot be rendered" in response.content.decode()
    assert not OutboundEmail.objects.exists()


def test_edit_goes_back_to_the_form_with_the_text(client, cast, lead):
    client.force_login(cast.teammate)
    response = post(client, lead, "edit", subject="Draft", body="Dear Ana")
    html = response.content.decode()
    assert response.status_code == 200 and 'value="Draft"' in html and "Dear Ana</textarea>" in html


def test_the_digest_is_of_what_is_rendered(cast, lead, template):
    one = compose_render(lead=lead, sender=cast.teammate, template=template)
    two = compose_render(lead=lead, sender=cast.owner, template=template)
    assert compose_digest(one) != compose_digest(two)  # another sender, another signature


def test_a_one_off_to_a_lead_who_unsubscribed_after_it_was_queued_is_cancelled(cast, lead):
    row, _ = lead_email_send(lead=lead, by=cast.teammate, compose_id=COMPOSE_ID, subject="Hi", body="Hello")
    Lead.objects.filter(pk=lead.pk).update(unsubscribed_at=timezone.now())
    assert outbox_claim_one(row.pk)
    outbox_deliver([row.pk])
    row.refresh_from_db()
    assert (row.status, row.status_reason) == (OutboundStatus.CANCELLED, "the lead unsubscribed")
    assert mail.outbox == []


def test_the_preview_escapes_what_a_lead_wrote(client, cast, lead, template):
    # A rendered template is a SafeString: the page must escape it all the same.
    Lead.objects.filter(pk=lead.pk).update(name='Ana"><img src=x onerror=alert(1)> Silva')
    client.force_login(cast.teammate)
    html = post(client, lead, "preview", template=template.pk).content.decode()
    assert "<img src=x" not in html
    assert "Hi Ana&quot;&gt;&lt;img,\nI&#x27;m Rita Ngata" in html
    assert 'srcdoc="&lt;p&gt;Hi Ana&amp;quot;&amp;gt;&amp;lt;img' in html
