"""Rendering outbound emails: templates with placeholders, the unsubscribe link, headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import render_to_string
from django.urls import reverse

from leads.models import EmailTemplate, Lead, OutboundEmail, OutboundKind, display_name
from leads.tokens import Purpose, token_make, token_read

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


def template_context(lead: Lead) -> dict[str, Any]:
    """Plain values only: a template an employer admin writes can't reach other rows."""
    owner = lead.owner
    first_name = lead.name.split()[0] if lead.name.split() else ""
    return {
        "lead": {"name": lead.name, "first_name": first_name, "email": lead.email,
                 "current_city": lead.current_city, "current_country": lead.current_country.name or ""},
        "employer": {"name": lead.employer.name, "destination_country": lead.employer.destination_country.name},
        "opening": lead.opening.title if lead.opening_id else (lead.role_of_interest or "a role with us"),
        "recruiter": {"name": display_name(owner) if owner else lead.employer.name,
                      "email": owner.email if owner else ""},
        "unsubscribe_url": unsubscribe_url(lead.pk),
        "still_interested_url": still_interested_url(lead.pk),
        "my_data_url": my_data_url(lead.pk),
        "link_days": settings.RELOCATE_MY_DATA_LINK_DAYS,
    }


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
    if row.lead_id:
        link = unsubscribe_url(row.lead_id)
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        headers["Auto-Submitted"] = "auto-generated"
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=row.employer.from_email,
        to=[row.to_email],
        headers=headers,
        connection=connection,
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    return message
