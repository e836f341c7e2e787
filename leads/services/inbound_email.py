"""Inbound email: one RFC 5322 message, piped in by the mail server, becomes an inquiry.

A message from someone who already is a lead joins that lead and counts as a reply: their
sequence stops, as it does when a recruiter logs a reply. Automatic mail (out-of-office
replies, bounces, mailing lists) is refused, so that two autoresponders never loop through
us creating leads. The same Message-ID twice (a mail server delivering again after a
timeout) is one inquiry.
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

from django.core.exceptions import ValidationError

from leads.models import Employer, Inquiry, Lead, Source
from leads.services.intake import inquiry_receive

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
    )


def email_receive(*, employer: Employer, raw: bytes) -> InboundResult:
    """Receive one message for the employer. Raises InboundEmailError for unreadable input."""
    parsed = email_parse(raw)
    if parsed.auto_reason:
        return InboundResult(Outcome.REFUSED, f"Not recorded: {parsed.auto_reason}.")
    # Checked before the intake transaction, so two deliveries of one message at the same
    # instant could both pass. Mail servers redeliver after a timeout, not in parallel, and
    # the worst case is a second inquiry joining the same lead, never a second lead.
    if parsed.message_id and Inquiry.objects.filter(
        employer=employer, channel=Source.EMAIL, raw_fields__message_id=parsed.message_id
    ).exists():
        return InboundResult(Outcome.DUPLICATE, f"Already received: {parsed.message_id}.")
    try:
        result = inquiry_receive(
            employer=employer, channel=Source.EMAIL, email=parsed.from_addr, name=parsed.from_name,
            subject=parsed.subject, body=parsed.body,
            raw_fields={"message_id": parsed.message_id, "date": parsed.date, "to": parsed.to},
            counts_as_reply=True,
        )
    except ValidationError as exc:
        raise InboundEmailError("; ".join(exc.messages)) from exc
    if not result.created:
        return InboundResult(Outcome.JOINED, f"Joined lead {result.lead.pk} (a reply).", result.lead,
                             result.inquiry)
    return InboundResult(Outcome.CREATED, f"New lead {result.lead.pk}.", result.lead, result.inquiry)


# --- reading the message ------------------------------------------------------------------


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


__all__ = ["InboundEmailError", "InboundResult", "Outcome", "ParsedEmail", "email_parse", "email_receive",
           "html_to_text"]
