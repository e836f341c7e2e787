"""Inbound email: a message piped in by the mail server becomes an inquiry, or is refused with the reason."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from django.core.management import CommandError, call_command

from leads.models import (
    Activity,
    ActivityKind,
    Inquiry,
    Lead,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    Source,
)
from leads.services.inbound_email import email_parse, html_to_text
from tests.factories import LeadFactory, OutboundEmailFactory


def message(*, sender: str | None = "Ana Silva <ana@example.org>", subject: str = "A job in Wellington?",
            text: str | None = "Hello,\nis there a role for a backend engineer?\n", html: str | None = None,
            message_id: str | None = "<m1@mail.example.org>", **headers: str) -> bytes:
    msg = EmailMessage()
    if sender is not None:
        msg["From"] = sender
    msg["To"] = "jobs@kiwi-ledger.example"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 09 Nov 2026 03:00:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def receive(raw: bytes, slug: str = "kiwi-ledger") -> str:
    out = io.StringIO()
    call_command("receive_email", slug, stdin=io.BytesIO(raw), stdout=out)
    return out.getvalue()


def nothing_written() -> bool:
    return not (Lead.objects.exists() or Inquiry.objects.exists() or OutboundEmail.objects.exists())


def test_a_message_creates_a_lead_with_email_as_source(cast):
    out = receive(message())
    assert "New lead" in out
    lead = Lead.objects.get()
    inquiry = Inquiry.objects.get()
    assert (lead.employer, lead.email, lead.name, lead.source) == (cast.employer, "ana@example.org", "Ana Silva",
                                                                   Source.EMAIL)
    assert (inquiry.channel, inquiry.subject) == (Source.EMAIL, "A job in Wellington?")
    assert inquiry.body == "Hello,\nis there a role for a backend engineer?"
    assert inquiry.raw_fields == {"message_id": "<m1@mail.example.org>", "date": "2026-11-09T03:00:00+00:00",
                                  "to": "jobs@kiwi-ledger.example"}
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT,
                                        unique_key=f"inquiry:{inquiry.pk}:ack").count() == 1


def test_a_message_from_a_lead_joins_it_and_counts_as_a_reply(cast):
    lead = LeadFactory(employer=cast.employer, email="ana@example.org", name="Ana Silva")
    followup = OutboundEmailFactory(lead=lead, kind=OutboundKind.FOLLOWUP, unique_key="lead:x:step:1")
    out = receive(message(sender="ANA@example.org", subject="Re: your application"))
    assert "a reply" in out
    assert Lead.objects.count() == 1
    inquiry = Inquiry.objects.get()
    assert (inquiry.lead, inquiry.is_repeat) == (lead, True)
    followup.refresh_from_db()
    assert (followup.status, followup.status_reason) == (OutboundStatus.CANCELLED, "the lead replied")
    assert Activity.objects.filter(lead=lead, kind=ActivityKind.REPLY, summary="Replied by email").count() == 1
    # A reply is a conversation: no automatic "we received your inquiry" answers it.
    assert not OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).exists()


def test_the_reply_and_the_stopped_sequence_are_one_transaction(cast, monkeypatch):
    # A crash between storing the reply and stopping the sequence would let a follow-up go
    # out after the person replied: both happen in the intake transaction, or neither.
    from leads.services import intake

    lead = LeadFactory(employer=cast.employer, email="ana@example.org", name="Ana Silva")
    followup = OutboundEmailFactory(lead=lead, kind=OutboundKind.FOLLOWUP, unique_key="lead:x:step:1")

    def crash(**kwargs):
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(intake, "followups_cancel", crash)
    with pytest.raises(RuntimeError):
        receive(message(sender="ana@example.org", subject="Re: your application"))
    assert not Inquiry.objects.exists()
    followup.refresh_from_db()
    assert followup.status == OutboundStatus.SCHEDULED


def test_the_same_message_id_twice_is_one_inquiry(cast):
    receive(message())
    out = receive(message(subject="delivered again"))
    assert "Already received" in out
    assert Inquiry.objects.count() == 1
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).count() == 1
    # Another message from the same person is a new inquiry.
    receive(message(message_id="<m2@mail.example.org>"))
    assert Inquiry.objects.count() == 2


def test_message_ids_are_per_employer(cast):
    receive(message(), slug="kiwi-ledger")
    receive(message(), slug="maple-games")
    assert sorted(Lead.objects.values_list("employer__slug", flat=True)) == ["kiwi-ledger", "maple-games"]


def test_a_message_without_message_id_is_still_received(cast):
    receive(message(message_id=None))
    assert Inquiry.objects.get().raw_fields["message_id"] == ""


def test_html_only_mail_is_read_as_text(cast):
    html = ("<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
            "<p>Hi&nbsp;there,</p><p>I&#39;d like to <b>move</b> to NZ.</p></body></html>")
    receive(message(text=None, html=html))
    body = Inquiry.objects.get().body
    assert body == "Hi there,\n\nI'd like to move to NZ."
    assert "alert" not in body and "color" not in body


def test_plain_text_is_preferred_to_html(cast):
    receive(message(text="Plain words", html="<p>Rich words</p>"))
    assert Inquiry.objects.get().body == "Plain words"


def test_encoded_headers_are_decoded_and_a_leading_mbox_line_is_ignored(cast):
    raw = (b"From ana@example.org Wed Nov  9 03:00:00 2026\n"
           b"From: =?utf-8?q?Zo=C3=AB_M=C3=BCller?= <zoe@example.org>\n"
           b"Subject: =?utf-8?b?Q2Fmw6kgam9icz8=?=\n"
           b"Content-Type: text/plain; charset=klingon\n\nHallo \xff\n")
    receive(raw)
    lead = Lead.objects.get()
    assert (lead.name, lead.email) == ("Zoë Müller", "zoe@example.org")
    inquiry = Inquiry.objects.get()
    assert inquiry.subject == "Café jobs?"
    assert inquiry.body.startswith("Hallo")


@pytest.mark.parametrize(("headers", "sender", "reason"), [
    ({"Auto_Submitted": "auto-replied"}, "Ana <ana@example.org>", "Auto-Submitted"),
    ({"Auto_Submitted": "auto-generated"}, "Ana <ana@example.org>", "Auto-Submitted"),
    ({"Precedence": "bulk"}, "Ana <ana@example.org>", "Precedence"),
    ({"Precedence": "auto_reply"}, "Ana <ana@example.org>", "Precedence"),
    ({"Precedence": "list"}, "Ana <ana@example.org>", "Precedence"),
    ({"X_Autoreply": "yes"}, "Ana <ana@example.org>", "X-Autoreply"),
    ({"List_Id": "<news.example.org>"}, "News <news@example.org>", "List-Id"),
    ({"Return_Path": "<>"}, "Ana <ana@example.org>", "bounce"),
    ({}, "Mail Delivery System <MAILER-DAEMON@mx.example.org>", "system sender"),
    ({}, None, "no sender"),
    ({}, "", "no sender"),
])
def test_automatic_mail_is_refused_without_an_error(cast, headers, sender, reason):
    out = receive(message(sender=sender, **headers))  # exit code 0: no bounce back into a loop
    assert "Not recorded" in out and reason in out
    assert nothing_written()


def test_auto_submitted_no_is_a_person(cast):
    receive(message(Auto_Submitted="no"))
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("raw", [
    b"",
    b"   \n",
    b"just some text with no headers at all\n",
    b"\x00\x01\x02\x03binary",
    message(sender="not an address"),
    message(sender='"Ana" <ana@@example>'),
])
def test_malformed_input_exits_65_and_writes_nothing(cast, raw):
    with pytest.raises(CommandError) as caught:
        receive(raw)
    assert caught.value.returncode == 65
    assert "Malformed message" in str(caught.value)
    assert nothing_written()


def test_an_unknown_employer_keeps_the_message_queued(cast):
    with pytest.raises(CommandError) as caught:
        receive(message(), slug="nobody")
    assert caught.value.returncode == 75  # EX_TEMPFAIL: the mail server tries again later
    assert nothing_written()


def test_broken_optional_headers_are_kept_as_written_not_refused(cast):
    raw = (b"From: Ana <ana@example.org>\nMessage-ID: <\nDate: the other day\nSubject: nul\x00 here\n\n"
           b"Hello\x00 there\n")
    receive(raw)
    inquiry = Inquiry.objects.get()
    assert (inquiry.subject, inquiry.body) == ("nul here", "Hello there")
    assert inquiry.raw_fields["message_id"] == "<" and inquiry.raw_fields["date"] == "the other day"


def test_a_long_body_is_kept_shortened_not_refused(cast):
    receive(message(text="word " * 20_000))
    body = Inquiry.objects.get().body
    assert len(body) <= 50_000 and body.endswith("[… message shortened on receipt]")


def test_parse_reads_the_parts_we_keep():
    parsed = email_parse(message())
    assert (parsed.from_addr, parsed.from_name, parsed.message_id, parsed.auto_reason) == (
        "ana@example.org", "Ana Silva", "<m1@mail.example.org>", "")


def test_html_to_text_keeps_paragraphs():
    assert html_to_text("<div>One</div><div>Two<br>Three</div>") == "One\n\nTwo\nThree"
