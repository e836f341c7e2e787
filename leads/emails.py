"""Rendering outbound emails: templates with placeholders, the unsubscribe link, headers.

An email to a lead is written in the lead's language (``Lead.language``, else the employer's
default): the template's translation in that language when there is one, else the template
itself, which is in the employer's default language; the timeline then says so. The built-in
texts are translated with gettext (locale/), their dates and numbers formatted for the language.
"""

from __future__ import annotations

import datetime as dt
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
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from leads.models import (
    EmailTemplate,
    EmailTemplateTranslation,
    Language,
    Lead,
    OutboundEmail,
    OutboundKind,
    UserPreference,
    display_name,
)
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
    language: str = ""  # the language it is written in; "" when not known (a recruiter's own text)
    # Why it is not in the lead's language (the template has no translation in it): kept on the
    # email's row, so the lead's timeline says so.
    fallback: str = ""


def user_language(user) -> str:
    """The language of Relocate's own emails to a recruiter or an admin: their saved choice
    (``UserPreference.language``), else the default language. A user without a row yet (a new
    invitee) gets the default too."""
    if user is None or getattr(user, "pk", None) is None:
        return settings.LANGUAGE_CODE
    language = UserPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return language if language in settings.RECRUITER_LANGUAGES else settings.LANGUAGE_CODE


def in_user_language(user):
    """``with in_user_language(user):`` renders an email's subject and body in that user's language."""
    return translation.override(user_language(user))


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
        "opening": lead.opening.title if lead.opening_id else (lead.role_of_interest or gettext("a role with us")),
        "recruiter": {"name": recruiter_name, "email": recruiter.email if recruiter else ""},
        "signature": signature(recruiter, employer_name),
        "unsubscribe_url": unsubscribe_url(lead.pk),
        "still_interested_url": still_interested_url(lead.pk),
        "my_data_url": my_data_url(lead.pk),
        "link_days": settings.RELOCATE_MY_DATA_LINK_DAYS,
        # A date, so that the built-in texts show it as the lead's language writes dates.
        "link_until": timezone.localdate() + dt.timedelta(days=settings.RELOCATE_MY_DATA_LINK_DAYS),
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


def render_template(template: EmailTemplate | EmailTemplateTranslation, context: dict[str, Any]) -> Rendered:
    """A template (or one of its translations) rendered with the context as it is."""
    name = template.template.name if isinstance(template, EmailTemplateTranslation) else template.name
    try:
        # The Context decides escaping, not the Engine: plain text (and the subject) unescaped,
        # so "Seán O'Brien & Co" stays as written; the HTML part escaped.
        subject = _TEXT_ENGINE.from_string(template.subject).render(Context(context, autoescape=False))
        text = _TEXT_ENGINE.from_string(template.body_text).render(Context(context, autoescape=False))
        html = (_HTML_ENGINE.from_string(template.body_html).render(Context(context, autoescape=True))
                if template.body_html else "")
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template “{name}” cannot be rendered: {exc}") from exc
    return Rendered(subject=" ".join(subject.split())[:300], text=text, html=html)


def lead_language(lead: Lead) -> str:
    """The language of emails to this lead: theirs, else their employer's default."""
    return lead.language or lead.employer.default_language


def template_translation(template: EmailTemplate, language: str) -> EmailTemplateTranslation | None:
    """The template's translation in this language; reads ``template.translations`` (prefetched
    by the outbox for a whole batch, else one query)."""
    return next((t for t in template.translations.all() if t.language == language), None)


def lead_email_render(*, lead: Lead, kind: str, template: EmailTemplate | None = None, sender=None,
                      language: str | None = None) -> Rendered | None:
    """The email of this kind for the lead, in ``language`` (the lead's by default): the
    template's translation, else the template itself in the employer's default language, else
    the built-in text. None for a kind with neither a template nor a built-in text.

    The context is built inside the language too: a country's name, "a role with us"."""
    wanted = language or lead_language(lead)
    default = lead.employer.default_language
    if template is not None:
        chosen = template_translation(template, wanted) if wanted != default else None
        written_in = wanted if chosen is not None else default
        with translation.override(written_in):
            rendered = render_template(chosen or template, template_context(lead, sender=sender))
        fallback = ""
        if written_in != wanted:
            fallback = (f"sent in {Language(default).label}: “{template.name}” has no "
                        f"{Language(wanted).label} translation")
        return Rendered(rendered.subject, rendered.text, rendered.html, language=written_in, fallback=fallback)
    return render_default(kind, lead=lead, language=wanted)


# The built-in texts, for an email an employer has no template for: nobody goes unanswered.
_DEFAULTS = {
    OutboundKind.ACKNOWLEDGEMENT: (gettext_noop("We received your inquiry — %(name)s"), "emails/acknowledgement.txt"),
    OutboundKind.STALE_CHECK: (gettext_noop("Are you still interested in %(name)s?"), "emails/stale_check.txt"),
    OutboundKind.DATA_LINK: (gettext_noop("Your link to the details %(name)s holds about you"),
                             "emails/data_link.txt"),
}


def render_default(kind: str, *, lead: Lead, language: str | None = None) -> Rendered | None:
    """The built-in text of this kind in the lead's language (None for a kind without one).
    A language whose catalogue lacks the text gets English, and the row says so."""
    if kind not in _DEFAULTS:
        return None
    wanted = language or lead_language(lead)
    subject, template_name = _DEFAULTS[kind]
    with translation.override(wanted):
        translated = wanted == Language.EN or gettext(subject) != subject
    written_in = wanted if translated else Language.EN.value
    with translation.override(written_in):
        context = template_context(lead)
        return Rendered(
            subject=gettext(subject) % {"name": context["employer"]["name"]},
            text=render_to_string(template_name, context), html="", language=written_in,
            fallback="" if translated else f"sent in English: this email has no {Language(wanted).label} text yet",
        )


def message_id(unique_key: str) -> str:
    """Stable for the row (its unique key): a retried send carries the same Message-ID, so
    receivers can recognise a duplicate."""
    digest = hashlib.sha256(unique_key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "relocate.invalid"
    return f"<{digest}@{domain}>"


def build_message(row: OutboundEmail, rendered: Rendered, connection=None) -> EmailMultiAlternatives:
    headers = {"Message-ID": row.message_id or message_id(row.unique_key)}
    if language := rendered.language or row.language:
        # The language it was written in (RFC 3282): mail clients offer to translate, screen
        # readers pick the voice. pt-br is written pt-BR.
        code, _, region = language.partition("-")
        headers["Content-Language"] = f"{code}-{region.upper()}" if region else code
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
