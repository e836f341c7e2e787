"""Inbound email: one RFC 5322 message, piped in by the mail server, becomes an inquiry.

A message from someone who already is a lead joins that lead and counts as a reply: their
sequence stops, as it does when a recruiter logs a reply. Automatic mail (out-of-office
replies, bounces, mailing lists) is refused, so that two autoresponders never loop through
us creating leads. The same Message-ID twice (a mail server delivering again after a
timeout) is one inquiry.

Replies land on their lead (RELOCATE_REPLY_ADDRESS, docs/delivery.md). Every email to a lead
carries ``Reply-To: replies+<token>@...``; a message addressed there (To, Cc, Delivered-To,
X-Original-To) is routed by the token, which is signed for one lead and names it whatever the
sender's address. Else by ``In-Reply-To``/``References`` naming an email we sent, when it comes
from the address we sent it to (Message-IDs are not secret, so the sender must match). Else, with
an employer's slug, as any message to that employer; without one it is refused. A routed reply
is an inquiry on that lead that stops its sequence (in the intake transaction), records which
email it answers, and tells the lead's owner.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import enum
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext
from mailparser_reply import EmailReplyParser

from leads.emails import in_user_language
from leads.models import Employer, Inquiry, Language, Lead, OutboundEmail, OutboundKind, Source, display_name
from leads.normalise import normalise_email
from leads.services.intake import inquiry_receive
from leads.services.outbox import email_queue
from leads.tokens import reply_token_read

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
_MAX_BODY = 50_000
_AUTO_PRECEDENCE = frozenset({"bulk", "auto_reply", "list", "junk"})
# Headers that autoresponders and list servers add (RFC 3834 and the common non-standard ones).
# (Not X-Auto-Response-Suppress: Outlook puts it on ordinary messages people write, too.)
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "List-Id", "List-Unsubscribe")
_SYSTEM_SENDERS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"})


class InboundEmailError(Exception):
    """The input is not a message we can read (the command exits with EX_DATAERR)."""


class Outcome(enum.StrEnum):
    CREATED = "created"
    JOINED = "joined"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    REPLY = "reply"


@dataclass(frozen=True)
class ParsedEmail:
    from_addr: str
    from_name: str
    subject: str
    body: str
    message_id: str
    date: str
    to: str
    auto_reason: str  # why this is automatic mail; empty for a person's message
    # Message-IDs of In-Reply-To, then References (newest first); the addresses the message
    # was delivered to (To, Cc, Delivered-To, X-Original-To), lower-cased.
    references: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    language: str = ""  # one of ours named by Content-Language; "" when none is


@dataclass(frozen=True)
class InboundResult:
    outcome: Outcome
    detail: str
    lead: Lead | None = None
    inquiry: Inquiry | None = None


def email_parse(raw: bytes) -> ParsedEmail:
    """Reads the parts we keep; raises InboundEmailError for input that is not an email."""
    if not raw or not raw.strip():
        raise InboundEmailError("The message is empty.")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InboundEmailError(f"The message is larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB.")
    try:
        return _parse(email.message_from_bytes(raw, policy=email.policy.default))
    except _STDLIB_PARSE_ERRORS as exc:
        raise InboundEmailError(f"The message could not be read: {type(exc).__name__}: {exc}") from exc


# The email package is lenient, and what still breaks it comes out as one of these (its
# header parser raises IndexError or AttributeError on some malformed address lists).
# A header of thousands of nested comments or groups exhausts its recursive parser: RecursionError.
_STDLIB_PARSE_ERRORS = (ValueError, TypeError, LookupError, IndexError, AttributeError, RecursionError,
                        email.errors.MessageError)


def _parse(message: EmailMessage) -> ParsedEmail:
    if not isinstance(message, EmailMessage) or not message.keys():
        raise InboundEmailError("No headers found: this is not an RFC 5322 message.")
    from_addr, from_name = _sender(message)
    return ParsedEmail(
        from_addr=from_addr, from_name=from_name,
        subject=_header_text(message, "Subject")[:300], body=_body(message),
        message_id=_header_text(message, "Message-ID")[:998], date=_date(message),
        to=_header_text(message, "To")[:998], auto_reason=_auto_reason(message, from_addr),
        references=_references(message), recipients=_recipients(message),
        language=content_language(_header_text(message, "Content-Language")),
    )


def email_receive(*, employer: Employer | None, raw: bytes) -> InboundResult:
    """Receive one message: a reply to one of our emails lands on its lead; else, for the
    employer (None: the reply address, where only replies are taken). Raises InboundEmailError
    for unreadable input."""
    parsed = email_parse(raw)
    if parsed.auto_reason:
        return InboundResult(Outcome.REFUSED, f"Not recorded: {parsed.auto_reason}.")
    route = reply_route(parsed, employer=employer)
    if route is not None:
        return _receive_reply(parsed, route)
    if employer is None:
        return InboundResult(Outcome.REFUSED, "Not recorded: not a reply to an email we sent (no valid reply "
                                              "token, no In-Reply-To or References we know from this sender).")
    if _already_received(employer, parsed):
        return InboundResult(Outcome.DUPLICATE, f"Already received: {parsed.message_id}.")
    result = _intake(parsed, employer=employer, email=parsed.from_addr, raw_fields={})
    if not result.created:
        reply_notify_owner(lead=result.lead, inquiry=result.inquiry)
        return InboundResult(Outcome.JOINED, f"Joined lead {result.lead.pk} (a reply).", result.lead,
                             result.inquiry)
    return InboundResult(Outcome.CREATED, f"New lead {result.lead.pk}.", result.lead, result.inquiry)


def _already_received(employer: Employer, parsed: ParsedEmail) -> bool:
    # Checked before the intake transaction, so two deliveries of one message at the same
    # instant could both pass. Mail servers redeliver after a timeout, not in parallel, and
    # the worst case is a second inquiry joining the same lead, never a second lead.
    return bool(parsed.message_id) and Inquiry.objects.filter(
        employer=employer, channel=Source.EMAIL, raw_fields__message_id=parsed.message_id
    ).exists()


def _intake(parsed: ParsedEmail, *, employer: Employer, email: str, raw_fields: dict):
    try:
        return inquiry_receive(
            employer=employer, channel=Source.EMAIL, email=email, name=parsed.from_name,
            subject=parsed.subject, body=parsed.body,
            fields={"language": parsed.language} if parsed.language else None,
            raw_fields={"message_id": parsed.message_id, "date": parsed.date, "to": parsed.to, **raw_fields},
            counts_as_reply=True,
        )
    except ValidationError as exc:
        raise InboundEmailError("; ".join(exc.messages)) from exc


# --- replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyRoute:
    lead: Lead
    answers: OutboundEmail | None  # the email it answers, when the message names one we know
    how: str  # "reply address" or "In-Reply-To"


def reply_route(parsed: ParsedEmail, *, employer: Employer | None = None) -> ReplyRoute | None:
    """The lead a message answers, or None. The token decides alone: it names one lead, of
    whichever employer, and a token for another lead never moves a reply. A forged or garbled
    token is ignored and the headers are tried; those only count when the sender is the address
    we wrote to (and, with an employer's slug, when the email was that employer's)."""
    for lead_id in _reply_tokens(parsed.recipients):
        lead = Lead.objects.select_related("employer", "owner").filter(pk=lead_id, erased_at__isnull=True).first()
        if lead is not None:
            answers = (OutboundEmail.objects.filter(lead=lead, message_id__in=parsed.references)
                       .order_by("-scheduled_at", "-pk").first()) if parsed.references else None
            return ReplyRoute(lead=lead, answers=answers, how="reply address")
    if not parsed.references or not parsed.from_addr:
        return None
    try:
        sender = normalise_email(parsed.from_addr)
    except ValidationError:
        return None
    sent = OutboundEmail.objects.filter(message_id__in=parsed.references, lead__isnull=False,
                                        lead__erased_at__isnull=True, lead__email=sender)
    if employer is not None:
        sent = sent.filter(employer=employer)
    # The most specific header first: In-Reply-To, then References from the newest.
    candidates = {row.message_id: row for row in sent.select_related("lead__employer", "lead__owner")[:20]}
    for reference in parsed.references:
        if reference in candidates:
            row = candidates[reference]
            return ReplyRoute(lead=row.lead, answers=row, how="In-Reply-To")
    return None


def _reply_tokens(recipients: tuple[str, ...]) -> list[int]:
    """Lead ids of the valid tokens among the addresses, in order: ``local+token@domain`` of
    RELOCATE_REPLY_ADDRESS (compared case-insensitively)."""
    address = settings.RELOCATE_REPLY_ADDRESS
    if not address:
        return []
    local, _, domain = address.rpartition("@")
    found: list[int] = []
    for recipient in recipients:
        name, _, host = recipient.rpartition("@")
        base, plus, token = name.partition("+")
        if host != domain or base != local or not plus:
            continue
        lead_id = reply_token_read(token)
        if lead_id is not None and lead_id not in found:
            found.append(lead_id)
    return found


def _receive_reply(parsed: ParsedEmail, route: ReplyRoute) -> InboundResult:
    """The reply as an inquiry on the route's lead (joined by the lead's own address: a reply
    sent from another address still lands there, and the sender is kept in raw_fields)."""
    lead = route.lead
    if _already_received(lead.employer, parsed):
        return InboundResult(Outcome.DUPLICATE, f"Already received: {parsed.message_id}.")
    raw = {"from": parsed.from_addr, "routed_by": route.how}
    if route.answers is not None:
        raw["in_reply_to"] = route.answers.message_id
    result = _intake(parsed, employer=lead.employer, email=lead.email, raw_fields=raw)
    with transaction.atomic(durable=True):
        if route.answers is not None:
            Inquiry.objects.filter(pk=result.inquiry.pk).update(in_reply_to=route.answers)
            result.inquiry.in_reply_to = route.answers
        reply_notify_owner(lead=result.lead, inquiry=result.inquiry)
    return InboundResult(Outcome.REPLY, f"Reply on lead {result.lead.pk} (matched by {route.how}).",
                         result.lead, result.inquiry)


def reply_notify_owner(*, lead: Lead, inquiry: Inquiry) -> None:
    """Tell the lead's owner that the lead wrote back: one email per inquiry."""
    from leads.services.followups import lead_url

    owner = lead.owner
    if owner is None or not owner.email:
        return
    visible, _ = reply_split(inquiry.body)
    quoted = "\n".join(f"  {line}" for line in visible[:2000].splitlines())
    values = {"owner": display_name(owner), "name": lead.name, "email": lead.email, "quoted": quoted,
              "url": lead_url(lead), "subject": inquiry.subject}
    with in_user_language(owner):
        if inquiry.in_reply_to_id:
            values["original"] = inquiry.in_reply_to.subject
            replied = gettext("%(name)s <%(email)s> replied to “%(original)s”:") % values
        else:
            replied = gettext("%(name)s <%(email)s> replied:") % values
        body = "\n\n".join([
            gettext("Hello %(name)s,") % {"name": values["owner"]}, replied, quoted,
            gettext("Their follow-ups are stopped. Open the lead: %(url)s") % values,
        ]) + "\n"
        subject = gettext("%(name)s replied: %(subject)s") % values
        language = translation.get_language()
    email_queue(
        employer=lead.employer, kind=OutboundKind.NOTIFICATION, unique_key=f"inquiry:{inquiry.pk}:reply-notify",
        to_user=owner, to_email=owner.email, subject=subject[:300], body_text=body, language=language,
    )


def reply_split(text: str) -> tuple[str, str]:
    """(what the person wrote, the rest): the quoted email, the "On ... wrote:" line and the
    signature go to the rest, for the timeline to fold. Text with nothing to fold is all reply."""
    text = (text or "").strip()
    if not text:
        return "", ""
    try:
        message = EmailReplyParser(languages=["en"]).read(text[:_SPLIT_MAX])
    except (RecursionError, ValueError):
        return text, ""
    replies = message.replies
    visible = replies[0].body if replies else ""
    if not visible:
        return text, ""
    rest = [replies[0].signatures, *replies[0].disclaimers, *(r.content for r in replies[1:])]
    folded = "\n\n".join(part for part in rest if part)
    if len(text) > _SPLIT_MAX:
        folded = f"{folded}\n\n{text[_SPLIT_MAX:]}".strip()
    visible, quoted_tail = _trailing_quote(visible)
    return visible, "\n\n".join(p for p in (quoted_tail, folded) if p)


# The parser's expressions backtrack on very long text; the part a person wrote is at the top.
_SPLIT_MAX = 20_000


def _trailing_quote(text: str) -> tuple[str, str]:
    """A block of "> " lines at the end with no "On ... wrote:" line before it is quoted too."""
    lines = text.splitlines()
    cut = len(lines)
    while cut and (lines[cut - 1].startswith(">") or not lines[cut - 1].strip()):
        cut -= 1
    if cut == len(lines) or not any(line.startswith(">") for line in lines[cut:]) or cut == 0:
        return text, ""
    return "\n".join(lines[:cut]).rstrip(), "\n".join(lines[cut:]).strip()


# --- reading the message ------------------------------------------------------------------


def content_language(header: str) -> str:
    """The first of our languages a Content-Language header names ("fr-CA, en" is fr; any
    Portuguese is our Brazilian one); "" when it names none of them or is absent."""
    for tag in header.lower().replace(";", ",").split(","):
        tag = tag.strip()
        primary = tag.split("-")[0]
        if tag in Language.values:
            return tag
        if primary == "pt":
            return Language.PT_BR.value
        if primary in Language.values:
            return primary
    return ""


def _header_text(message: EmailMessage, name: str) -> str:
    try:
        values = [str(v) for v in message.get_all(name) or []]
    except _STDLIB_PARSE_ERRORS:
        # A header the parser chokes on is kept as written: no message is lost over its Date.
        values = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
    return _no_nul(" ".join(" ".join(v.split()) for v in values))


def _no_nul(text: str) -> str:
    """Text the database can hold. Headers written in raw UTF-8 (``From: José``, against RFC
    5322 but common) come out of the email package as surrogate escapes: they are decoded as
    the UTF-8 they are, and bytes that are not UTF-8 become U+FFFD. PostgreSQL refuses NUL."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = text.encode("utf-8", "replace").decode("utf-8")  # any other lone surrogate
    return text.replace("\x00", "")


def _has_header(message: EmailMessage, name: str) -> bool:
    return any(k.lower() == name.lower() for k, _ in message.raw_items())


def _sender(message: EmailMessage) -> tuple[str, str]:
    """The From address and name; ("", "") when there is no From at all."""
    header = message.get("From")
    if header is None or not str(header).strip():
        return "", ""
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if not addresses or not addresses[0].domain:
        raise InboundEmailError(f"The From header is not an email address: {str(header)[:200]!r}.")
    first = addresses[0]
    return _no_nul(first.addr_spec), _no_nul(" ".join(first.display_name.split()))


_MESSAGE_ID = re.compile(r"<[^<>\s]{1,500}>")
_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")


def _references(message: EmailMessage) -> tuple[str, ...]:
    """In-Reply-To first, then References newest first (the last one is the parent), at most 50."""
    found: list[str] = []
    for name in ("In-Reply-To", "References"):
        ids = _MESSAGE_ID.findall(_header_text(message, name))
        for value in (ids if name == "In-Reply-To" else reversed(ids)):
            if value not in found:
                found.append(value[:200])
    return tuple(found[:50])


def _recipients(message: EmailMessage) -> tuple[str, ...]:
    addresses: list[str] = []
    for name in _RECIPIENT_HEADERS:
        try:
            headers = message.get_all(name) or []
            for header in headers:
                for address in getattr(header, "addresses", ()):
                    if address.addr_spec:
                        addresses.append(address.addr_spec)
                if not getattr(header, "addresses", ()):
                    addresses.append(str(header).strip().strip("<>"))
        except _STDLIB_PARSE_ERRORS:
            addresses += [str(v).strip().strip("<>") for k, v in message.raw_items() if k.lower() == name.lower()]
    return tuple(dict.fromkeys(_no_nul(a).lower() for a in addresses if a and len(a) <= 320))[:50]


def _date(message: EmailMessage) -> str:
    try:
        moment = getattr(message.get("Date"), "datetime", None)
    except _STDLIB_PARSE_ERRORS:
        moment = None
    # A Date that does not parse is kept as written: it is the sender's claim, not ours.
    return moment.isoformat() if moment is not None else _header_text(message, "Date")


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        # An unknown or lying charset: the bytes, read as UTF-8 as far as they go.
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    content = _no_nul(content).replace("\r\n", "\n").strip()
    if len(content) > _MAX_BODY:
        content = content[: _MAX_BODY - 40].rstrip() + "\n\n[… message shortened on receipt]"
    return content


def _auto_reason(message: EmailMessage, from_addr: str) -> str:
    if not from_addr:
        return "the message has no sender (From)"
    auto_submitted = _header_text(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"automatic mail (Auto-Submitted: {auto_submitted})"
    precedence = _header_text(message, "Precedence").lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"automatic mail (Precedence: {precedence})"
    for name in _AUTO_HEADERS:
        if _has_header(message, name):
            return f"automatic or list mail ({name})"
    if _header_text(message, "Return-Path") == "<>":
        return "a bounce (empty Return-Path)"
    if from_addr.split("@")[0].lower() in _SYSTEM_SENDERS:
        return f"a system sender ({from_addr})"
    return ""


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})
    _SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._SKIPPED:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML email: tags, scripts and styles gone, paragraphs kept."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


__all__ = ["InboundEmailError", "InboundResult", "Outcome", "ParsedEmail", "ReplyRoute", "email_parse",
           "email_receive", "html_to_text", "reply_notify_owner", "reply_route", "reply_split"]
