"""Rendering outbound emails: templates with placeholders, the unsubscribe link, headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import render_to_string
from django.urls import reverse

from leads.models import EmailTemplate, Lead, OutboundEmail, OutboundKind, display_name
from leads.tokens import Purpose, reply_token_make, token_make, token_read

_TEXT_ENGINE = Engine(autoescape=False)
_HTML_ENGINE = Engine(autoescape=True)


class TemplateError(Exception):
    """An employer's template that cannot be rendered; the email is skipped with this reason."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def unsubscribe_token(lead_id: int) -> str:
    return token_make(Purpose.UNSUBSCRIBE, lead_id)


def lead_id_from_token(token: str) -> int | None:
    """The lead of a signed unsubscribe link; None when the link was altered."""
    return token_read(Purpose.UNSUBSCRIBE, token).lead_id


def unsubscribe_url(lead_id: int) -> str:
    return settings.SITE_URL + reverse("unsubscribe", args=[unsubscribe_token(lead_id)])


def my_data_url(lead_id: int) -> str:
    return settings.SITE_URL + reverse("my-data", args=[token_make(Purpose.MY_DATA, lead_id)])


def still_interested_url(lead_id: int) -> str:
    return settings.SITE_URL + reverse("still-interested", args=[token_make(Purpose.STILL_INTERESTED, lead_id)])


def template_context(lead: Lead, *, sender=None) -> dict[str, Any]:
    """Plain values only: a template an employer admin writes can't reach other rows.

    The recruiter is the one sending (a one-off email from the lead's page), else the lead's
    owner. There is no signature field on users: the signature is the recruiter's full name and
    the employer's name, one per line (the employer's name alone when nobody owns the lead)."""
    recruiter = sender or lead.owner
    first_name = lead.name.split()[0] if lead.name.split() else ""
    employer_name = lead.employer.name
    recruiter_name = display_name(recruiter) if recruiter else employer_name
    return {
        "lead": {"name": lead.name, "first_name": first_name, "email": lead.email,
                 "current_city": lead.current_city, "current_country": lead.current_country.name or ""},
        "employer": {"name": employer_name, "destination_country": lead.employer.destination_country.name},
        "opening": lead.opening.title if lead.opening_id else (lead.role_of_interest or "a role with us"),
        "recruiter": {"name": recruiter_name, "email": recruiter.email if recruiter else ""},
        "signature": signature(recruiter, employer_name),
        "unsubscribe_url": unsubscribe_url(lead.pk),
        "still_interested_url": still_interested_url(lead.pk),
        "my_data_url": my_data_url(lead.pk),
        "link_days": settings.RELOCATE_MY_DATA_LINK_DAYS,
    }


def signature(recruiter, employer_name: str) -> str:
    name = display_name(recruiter) if recruiter else ""
    return f"{name}\n{employer_name}" if name else employer_name


def reply_address(lead_id: int) -> str:
    """The lead's own reply address (``replies+<token>@domain``); "" when RELOCATE_REPLY_ADDRESS is off."""
    address = settings.RELOCATE_REPLY_ADDRESS
    if not address:
        return ""
    local, _, domain = address.rpartition("@")
    return f"{local}+{reply_token_make(lead_id)}@{domain}"


def sender_address(row: OutboundEmail) -> str:
    """The From header: the employer's, or for a one-off email the recruiter who wrote it."""
    if row.kind == OutboundKind.ONE_OFF and row.sent_by_id is not None:
        return recruiter_from(row.employer, row.sent_by)
    return row.employer.from_email


def recruiter_from(employer, user) -> str:
    """``"Rita Ngata (Kiwi Ledger)" <talent@kiwiledger.example>``: the recruiter's name, at the
    employer's sender address. formataddr quotes and encodes the name, so no name can forge a
    second address."""
    address = employer.sender_email or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    name = " ".join(f"{display_name(user)} ({employer.name})".split())
    return formataddr((name, address))


def render_template(template: EmailTemplate, context: dict[str, Any]) -> Rendered:
    try:
        # The Context decides escaping, not the Engine: plain text (and the subject) unescaped,
        # so "Seán O'Brien & Co" stays as written; the HTML part escaped.
        subject = _TEXT_ENGINE.from_string(template.subject).render(Context(context, autoescape=False))
        text = _TEXT_ENGINE.from_string(template.body_text).render(Context(context, autoescape=False))
        html = (_HTML_ENGINE.from_string(template.body_html).render(Context(context, autoescape=True))
                if template.body_html else "")
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template “{template.name}” cannot be rendered: {exc}") from exc
    return Rendered(subject=" ".join(subject.split())[:300], text=text, html=html)


_DEFAULTS = {
    OutboundKind.ACKNOWLEDGEMENT: ("We received your inquiry — {name}", "emails/acknowledgement.txt"),
    OutboundKind.STALE_CHECK: ("Are you still interested in {name}?", "emails/stale_check.txt"),
    OutboundKind.DATA_LINK: ("Your link to the details {name} holds about you", "emails/data_link.txt"),
}


def render_default(kind: str, context: dict[str, Any]) -> Rendered | None:
    """The built-in text for an email an employer has no template for: nobody goes unanswered."""
    if kind not in _DEFAULTS:
        return None
    subject, template_name = _DEFAULTS[kind]
    return Rendered(subject=subject.format(name=context["employer"]["name"]),
                    text=render_to_string(template_name, context), html="")


def message_id(unique_key: str) -> str:
    """Stable for the row (its unique key): a retried send carries the same Message-ID, so
    receivers can recognise a duplicate."""
    digest = hashlib.sha256(unique_key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "relocate.invalid"
    return f"<{digest}@{domain}>"


def build_message(row: OutboundEmail, rendered: Rendered, connection=None) -> EmailMultiAlternatives:
    headers = {"Message-ID": row.message_id or message_id(row.unique_key)}
    reply_to: list[str] = []
    if row.lead_id:
        link = unsubscribe_url(row.lead_id)
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # Every email to a lead: an answer lands on the lead (receive_email routes it by the token).
        reply_to = [address] if (address := reply_address(row.lead_id)) else []
    else:
        headers["Auto-Submitted"] = "auto-generated"
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender_address(row),
        to=[row.to_email],
        reply_to=reply_to,
        headers=headers,
        connection=connection,
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    return message
