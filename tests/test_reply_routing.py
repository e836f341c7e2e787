"""Replies land on the lead: every email to a lead carries a per-lead Reply-To token, and
`receive_email` routes what comes back by that token, else by In-Reply-To/References, never to
another lead or employer."""

from __future__ import annotations

import io
import re
from email.message import EmailMessage

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.emails import reply_address
from leads.models import (
    ActivityKind,
    Inquiry,
    Lead,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
)
from leads.selectors.leads import lead_timeline
from leads.services.compose import lead_email_send
from leads.services.inbound_email import reply_split
from leads.services.outbox import outbox_claim_one, outbox_deliver
from leads.tokens import reply_token_make, reply_token_read
from tests.factories import LeadFactory, OutboundEmailFactory

REPLY = "replies@relocate.example"
QUOTED_REPLY = """Thanks Rita, Tuesday at 10 works for me.

Best regards,
Ana Silva
+1 555 0100

On Mon, 2 Nov 2026 at 10:00, Rita Ngata (Kiwi Ledger) <talent@kiwiledger.example> wrote:
> Hello Ana,
> Could we have a call this week?
>
> Rita Ngata
> Kiwi Ledger
"""


@pytest.fixture(autouse=True)
def _reply_address(settings):
    settings.RELOCATE_REPLY_ADDRESS = REPLY


@pytest.fixture
def lead(cast):
    cast.teammate.first_name, cast.teammate.last_name = "Rita", "Ngata"
    cast.teammate.save()
    return LeadFactory(employer=cast.employer, name="Ana Silva", email="ana@example.org", owner=cast.teammate)


def send_one_off(lead, by, compose_id: str = "a" * 32) -> tuple[OutboundEmail, object]:
    row, _ = lead_email_send(lead=lead, by=by, compose_id=compose_id, subject="A call?", body="Hello Ana")
    assert outbox_claim_one(row.pk)
    outbox_deliver([row.pk])
    row.refresh_from_db()
    return row, mail.outbox[-1]


def reply(*, to: str, sender: str = "Ana Silva <ana@example.org>", in_reply_to: str = "", references: str = "",
          message_id: str = "<r1@mail.example.org>", body: str = QUOTED_REPLY, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "Re: A call?"
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def receive(raw: bytes, *slug: str) -> str:
    out = io.StringIO()
    call_command("receive_email", *slug, stdin=io.BytesIO(raw), stdout=out)
    return out.getvalue()


def scheduled_followup(lead) -> OutboundEmail:
    return OutboundEmailFactory(lead=lead, kind=OutboundKind.FOLLOWUP, unique_key=f"lead:{lead.pk}:step:1")


# The token ---------------------------------------------------------------------------------
def test_the_token_is_compact_lowercase_and_bound_to_its_lead(lead):
    token = reply_token_make(lead.pk)
    assert re.fullmatch(rf"{lead.pk}-[a-z2-7]{{24}}", token)
    assert reply_token_read(token) == lead.pk
    assert reply_token_read(token.upper()) == lead.pk  # a relay that uppercases addresses
    assert len(reply_address(10**18).split("@")[0]) <= 64
    other = reply_token_make(lead.pk + 1)
    # The signature of one lead does not work with another id, nor garbled.
    assert reply_token_read(f"{lead.pk + 1}-{token.split('-')[1]}") is None
    assert reply_token_read(other.split("-")[0] + "-" + token.split("-")[1]) is None
    for garbled in ("", "-", "abc", f"{lead.pk}-", f"{lead.pk}-{'a' * 24}", token[:-1], token + "a", "x" * 500):
        assert reply_token_read(garbled) is None


def test_every_email_to_a_lead_carries_its_reply_address_and_none_without_the_setting(cast, lead, settings):
    _, sent = send_one_off(lead, cast.teammate)
    assert sent.reply_to == [f"replies+{reply_token_make(lead.pk)}@relocate.example"]
    ack = OutboundEmailFactory(lead=lead, unique_key="ack:1")
    assert outbox_claim_one(ack.pk)
    outbox_deliver([ack.pk])
    assert mail.outbox[-1].reply_to == sent.reply_to
    settings.RELOCATE_REPLY_ADDRESS = ""
    _, plain = send_one_off(lead, cast.teammate, compose_id="b" * 32)
    assert plain.reply_to == [] and "Reply-To" not in plain.message()


# Routing -------------------------------------------------------------------------------------
def test_a_reply_to_the_token_lands_on_the_lead_stops_the_sequence_and_notifies_the_owner(cast, lead):
    row, sent = send_one_off(lead, cast.teammate)
    followup = scheduled_followup(lead)
    out = receive(reply(to=sent.reply_to[0], in_reply_to=row.message_id))
    assert f"Reply on lead {lead.pk}" in out and "reply address" in out
    inquiry = Inquiry.objects.get()
    assert (inquiry.lead, inquiry.channel, inquiry.in_reply_to) == (lead, "email", row)
    followup.refresh_from_db()
    assert (followup.status, followup.status_reason) == (OutboundStatus.CANCELLED, "the lead replied")
    assert lead.activities.filter(kind=ActivityKind.REPLY).count() == 1
    note = OutboundEmail.objects.get(kind=OutboundKind.NOTIFICATION, unique_key=f"inquiry:{inquiry.pk}:reply-notify")
    assert (note.to_user, note.to_email) == (cast.teammate, cast.teammate.email)
    assert "Ana Silva <ana@example.org> replied to “A call?”" in note.body_text
    assert "Tuesday at 10 works" in note.body_text and "Could we have a call" not in note.body_text
    # Delivered again by the mail server: one inquiry, one notification.
    assert "Already received" in receive(reply(to=sent.reply_to[0], in_reply_to=row.message_id))
    assert Inquiry.objects.count() == 1
    assert OutboundEmail.objects.filter(kind=OutboundKind.NOTIFICATION, to_user=cast.teammate,
                                        unique_key__endswith="reply-notify").count() == 1


def test_the_token_routes_whatever_the_sender_and_the_delivery_header(cast, lead):
    # Sent from another address, the token found only in Delivered-To (as Postfix adds it).
    raw = reply(to="Ana <replies@relocate.example>", sender="Ana at work <ana.silva@work.example>",
                Delivered_To=reply_address(lead.pk).upper())
    receive(raw)
    inquiry = Inquiry.objects.get()
    assert inquiry.lead == lead and inquiry.raw_fields["from"] == "ana.silva@work.example"
    assert inquiry.in_reply_to is None
    assert not Lead.objects.filter(email="ana.silva@work.example").exists()


def test_in_reply_to_routes_a_reply_without_a_token(cast, lead, settings):
    row, _ = send_one_off(lead, cast.teammate)
    followup = scheduled_followup(lead)
    out = receive(reply(to="talent@kiwiledger.example", references=f"<older@x> {row.message_id}",
                        X_Original_To=REPLY))
    assert "In-Reply-To" in out
    inquiry = Inquiry.objects.get()
    assert (inquiry.lead, inquiry.in_reply_to) == (lead, row)
    followup.refresh_from_db()
    assert followup.status == OutboundStatus.CANCELLED


def test_in_reply_to_from_another_sender_is_not_routed(cast, lead):
    # Message-IDs are not secret: a stranger naming one does not reach the lead.
    row, _ = send_one_off(lead, cast.teammate)
    out = receive(reply(to=REPLY, sender="mallory@evil.example", in_reply_to=row.message_id))
    assert "Not recorded" in out
    assert not Inquiry.objects.exists()


def test_a_forged_token_falls_back_to_in_reply_to_else_is_refused(cast, lead):
    row, _ = send_one_off(lead, cast.teammate)
    forged = f"replies+{lead.pk}-{'q' * 24}@relocate.example"
    assert "Not recorded" in receive(reply(to=forged))
    assert not Inquiry.objects.exists()
    receive(reply(to=forged, in_reply_to=row.message_id))
    assert Inquiry.objects.get().lead == lead


def test_a_token_for_lead_a_never_lands_on_lead_b(cast, lead):
    other = LeadFactory(employer=cast.employer, email="bo@example.org")
    followup_b = scheduled_followup(other)
    # Bo writes to Ana's reply address (a forwarded email): it lands on Ana, never on Bo.
    receive(reply(to=reply_address(lead.pk), sender="bo@example.org"))
    assert Inquiry.objects.get().lead == lead
    followup_b.refresh_from_db()
    assert followup_b.status == OutboundStatus.SCHEDULED


def test_a_token_of_another_employers_lead_routes_only_to_that_lead(cast, lead):
    # The same person is a lead at both employers; the token decides, never the sender or the slug.
    theirs = LeadFactory(employer=cast.other_employer, email="ana@example.org", owner=cast.outsider)
    receive(reply(to=reply_address(theirs.pk)), "kiwi-ledger")
    inquiry = Inquiry.objects.get()
    assert (inquiry.lead, inquiry.employer) == (theirs, cast.other_employer)
    assert not lead.inquiries.exists()
    note = OutboundEmail.objects.get(kind=OutboundKind.NOTIFICATION)
    assert (note.employer, note.to_user) == (cast.other_employer, cast.outsider)


def test_with_a_slug_in_reply_to_only_matches_that_employers_emails(cast, lead):
    theirs = LeadFactory(employer=cast.other_employer, email="ana@example.org")
    row = OutboundEmailFactory(lead=theirs, message_id="<theirs@relocate>", unique_key="t:1",
                               status=OutboundStatus.SENT)
    receive(reply(to="jobs@kiwi-ledger.example", in_reply_to=row.message_id), "kiwi-ledger")
    inquiry = Inquiry.objects.get()
    # Not routed to Maple's lead: taken as any message to Kiwi Ledger (Ana's lead there, a reply).
    assert inquiry.lead == lead and inquiry.in_reply_to is None
    assert not theirs.inquiries.exists()


def test_an_erased_lead_is_not_routed(cast, lead):
    Lead.objects.filter(pk=lead.pk).update(erased_at="2026-01-01T00:00:00Z")
    assert "Not recorded" in receive(reply(to=reply_address(lead.pk)))
    assert not Inquiry.objects.exists()


def test_auto_replies_and_bounces_to_the_reply_address_are_refused(cast, lead):
    token_address = reply_address(lead.pk)
    assert "Auto-Submitted" in receive(reply(to=token_address, Auto_Submitted="auto-replied"))
    assert "system sender" in receive(reply(to=token_address, sender="MAILER-DAEMON@mx.example.org",
                                            message_id="<b1@mx>"))
    assert not Inquiry.objects.exists()


def test_without_a_slug_or_the_setting_the_message_stays_queued(cast, settings):
    settings.RELOCATE_REPLY_ADDRESS = ""
    with pytest.raises(CommandError) as error:
        receive(reply(to=REPLY))
    assert error.value.returncode == 75
    assert not Inquiry.objects.exists()


def test_a_message_to_the_reply_address_that_is_not_a_reply_is_refused(cast):
    assert "Not recorded" in receive(reply(to=REPLY, sender="someone@example.org"))
    assert not (Inquiry.objects.exists() or Lead.objects.exists())


# On the lead's page ----------------------------------------------------------------------------
def test_the_reply_is_threaded_under_its_email_with_the_quoted_text_folded(client, cast, lead):
    row, sent = send_one_off(lead, cast.teammate)
    client.force_login(cast.teammate)
    with CaptureQueriesContext(connection) as before:
        client.get(reverse("leads:lead_detail", args=[lead.pk]))
    receive(reply(to=sent.reply_to[0], in_reply_to=row.message_id))
    inquiry = Inquiry.objects.get()

    timeline = lead_timeline(lead)
    [email_entry] = [e for e in timeline if e.kind == "email" and e.obj.pk == row.pk]
    assert email_entry.obj.thread_replies == [inquiry]
    assert not [e for e in timeline if e.kind == "inquiry"]  # not also standing alone

    with CaptureQueriesContext(connection) as after:
        response = client.get(reverse("leads:lead_detail", args=[lead.pk]))
    assert len(after.captured_queries) == len(before.captured_queries)  # no query for the thread
    html = response.content.decode()
    thread = html[html.index('aria-label="Replies to this email"'):]
    visible, folded = thread.split("<details", 1)
    assert "Tuesday at 10 works for me." in visible and "Could we have a call" not in visible
    assert "Show quoted text" in folded and "&gt; Could we have a call this week?" in folded
    assert "Best regards" in folded


def test_reply_split():
    visible, rest = reply_split(QUOTED_REPLY)
    assert visible == "Thanks Rita, Tuesday at 10 works for me."
    assert rest.startswith("Best regards,\nAna Silva") and "wrote:\n> Hello Ana" in rest
    assert reply_split("Just a line.") == ("Just a line.", "")
    assert reply_split("") == ("", "")
    assert reply_split("Sure.\n\n> Could we talk?\n> Rita") == ("Sure.", "> Could we talk?\n> Rita")
    long_text = "word " * 30_000
    visible, rest = reply_split(long_text)
    assert (visible + rest).count("word") == 30_000
