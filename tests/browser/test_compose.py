"""A recruiter emails a lead from its page in a real browser; a real SMTP server (aiosmtpd)
receives it with the lead's own Reply-To; the lead's reply, piped into `receive_email`, shows
threaded under that email, stops the sequence and notifies the owner."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from django.core.management import call_command

from leads.emails import reply_address
from leads.models import Inquiry, OutboundEmail, OutboundKind, OutboundStatus
from leads.tasks import dispatch_due_emails
from tests.factories import EmailTemplateFactory, LeadFactory, OutboundEmailFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLY_TEXT = "Thanks Rita, Tuesday at 10 works for me."


def the_reply(*, to: str, in_reply_to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana Silva <ana@example.org>"
    msg["To"] = to
    msg["Subject"] = "Re: Backend Engineer at Kiwi Ledger, Ana"
    msg["Message-ID"] = "<reply-1@mail.example.org>"
    msg["In-Reply-To"] = in_reply_to
    msg["References"] = in_reply_to
    msg.set_content(
        f"{REPLY_TEXT}\n\nBest regards,\nAna Silva\n+1 555 0100\n\n"
        "On Mon, 2 Nov 2026 at 10:00, Rita Ngata (Kiwi Ledger) <talent@kiwiledger.example> wrote:\n"
        "> Hi Ana,\n> Could we have a call this week?\n>\n> Rita Ngata\n> Kiwi Ledger\n"
    )
    return msg.as_bytes()


def test_email_a_lead_then_its_reply_lands_threaded(page, live_server, cast, smtp, settings):
    from playwright.sync_api import expect

    settings.RELOCATE_REPLY_ADDRESS = "replies@relocate.example"
    employer = cast.employer
    employer.sender_name, employer.sender_email = "Kiwi Ledger Talent", "talent@kiwiledger.example"
    employer.save()
    recruiter = cast.teammate
    recruiter.first_name, recruiter.last_name = "Rita", "Ngata"
    recruiter.save()
    lead = LeadFactory(employer=employer, name="Ana Silva", email="ana@example.org", owner=recruiter,
                       role_of_interest="Backend Engineer")
    followup = OutboundEmailFactory(lead=lead, kind=OutboundKind.FOLLOWUP, unique_key=f"lead:{lead.pk}:step:1",
                                    scheduled_at="2030-01-01T09:00:00Z")
    EmailTemplateFactory(employer=employer, name="Intro call", kind="one_off",
                         subject="{{ opening }} at {{ employer.name }}, {{ lead.first_name }}",
                         body_text="Hi {{ lead.first_name }},\nCould we have a call this week?\n\n{{ signature }}")

    # The recruiter logs in, opens the lead and composes from the template.
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(recruiter.username)
    page.get_by_label("Password").fill("relocate-test")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.get_by_role("link", name="Email", exact=True).click()
    page.get_by_label("Start from").select_option(label="Intro call (one-off email)")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#compose-preview")
    expect(preview).to_contain_text("Backend Engineer at Kiwi Ledger, Ana")
    expect(page.locator("#preview-text")).to_have_text(
        "Hi Ana,\nCould we have a call this week?\n\nRita Ngata\nKiwi Ledger")
    expect(preview).to_contain_text(reply_address(lead.pk))
    # A double click on Send sends one email.
    page.get_by_role("button", name="Send").dblclick()
    expect(page.locator("#messages")).to_contain_text("queued to ana@example.org")
    expect(page.locator("#lead-stage")).to_have_text("Contacted")
    assert OutboundEmail.objects.filter(kind=OutboundKind.ONE_OFF).count() == 1

    # The worker sends it to the real SMTP server: the recruiter's name, the lead's Reply-To.
    dispatch_due_emails()
    [received] = smtp.recorder.messages(to="ana@example.org")
    wire = received.message
    sender = wire["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Rita Ngata (Kiwi Ledger)", "talent@kiwiledger.example")
    assert wire["Reply-To"].addresses[0].addr_spec == reply_address(lead.pk)
    row = OutboundEmail.objects.get(kind=OutboundKind.ONE_OFF)
    assert row.status == OutboundStatus.SENT and wire["Message-ID"] == row.message_id

    # Ana answers; the mail server pipes it to the reply address's command (no employer slug).
    out = io.StringIO()
    call_command("receive_email", stdin=io.BytesIO(the_reply(to=wire["Reply-To"].addresses[0].addr_spec,
                                                             in_reply_to=wire["Message-ID"])), stdout=out)
    assert f"Reply on lead {lead.pk}" in out.getvalue()
    assert Inquiry.objects.get().in_reply_to == row

    page.reload()
    thread = page.locator(".email-thread")
    expect(thread).to_contain_text(REPLY_TEXT)
    quoted = thread.locator("details")
    expect(quoted.locator("summary")).to_have_text("Show quoted text")
    expect(quoted.get_by_text("Could we have a call this week?")).to_be_hidden()
    quoted.locator("summary").click()
    expect(quoted).to_contain_text("Could we have a call this week?")
    expect(quoted).to_contain_text("Best regards")
    # The sequence stopped, and says why on the timeline.
    followup.refresh_from_db()
    assert (followup.status, followup.status_reason) == (OutboundStatus.CANCELLED, "the lead replied")
    expect(page.locator("#timeline")).to_contain_text("the lead replied")

    # The owner is told, by email.
    dispatch_due_emails()
    [note] = smtp.recorder.messages(to=recruiter.email)
    assert note.message["Subject"] == "Ana Silva replied: Re: Backend Engineer at Kiwi Ledger, Ana"
    assert REPLY_TEXT in note.message.get_content()
