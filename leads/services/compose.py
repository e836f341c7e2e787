"""A recruiter emails a lead from its page: from one of the employer's templates or free text,
previewed, then sent through the outbox like every other email.

The email is rendered when it is previewed and stored rendered on its outbox row, so what the
worker sends is what the recruiter saw (``outbox._render`` sends a one-off row as stored). The
send carries a digest of the preview: if the template or the lead changed in between, the send
is refused and the preview shown again. A compose id (a random value in the form) is the row's
unique key, so a double click, a resubmitted form or a retried request sends one email.
"""

from __future__ import annotations

import hashlib
import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext

from leads import emails
from leads.models import ActivityKind, EmailTemplate, Lead, OutboundEmail, OutboundKind, Stage
from leads.services.activity import activity_record
from leads.services.outbox import email_queue, lead_send_stop
from leads.services.pipeline import stage_move_step

COMPOSE_ID = re.compile(r"^[0-9a-f]{32}$")
SUBJECT_MAX = 300
BODY_MAX = 20_000


class PreviewOutdated(ValidationError):
    """What would be sent now differs from the preview (the template or the lead changed)."""


def compose_blocker(lead: Lead) -> str:
    """Why nothing may be sent to this lead ("" when an email may go): the rules of every email."""
    if not lead.email:
        return gettext("the lead has no email address")
    # The outbox keeps its reasons in English on its rows; the page shows them in the reader's language.
    stop = lead_send_stop(lead, kind=OutboundKind.ONE_OFF)
    return gettext(stop) if stop else ""


def compose_templates(employer_id: int) -> QuerySet[EmailTemplate]:
    """The employer's templates a recruiter may start from, one-off templates first."""
    return (
        EmailTemplate.objects.filter(employer_id=employer_id)
        .annotate(one_off_first=Case(When(kind=EmailTemplate.Kind.ONE_OFF, then=Value(0)), default=Value(1),
                                     output_field=IntegerField()))
        .order_by("one_off_first", "name")
    )


def compose_initial_body(*, lead: Lead, sender) -> str:
    """The free text a recruiter starts from: a greeting and their signature (no query beyond
    the lead's employer, loaded with the lead)."""
    first_name = lead.name.split()[0] if lead.name.split() else ""
    # The greeting is the start of an email to the lead: in the lead's language.
    with translation.override(emails.lead_language(lead)):
        greeting = gettext("Hello %(name)s,") % {"name": first_name}
    return f"{greeting}\n\n\n\n{emails.signature(sender, lead.employer.name)}\n"


def compose_render(*, lead: Lead, sender, template: EmailTemplate | None = None, subject: str = "",
                   body: str = "") -> emails.Rendered:
    """Exactly what would be sent: the template rendered for this lead and sender, or the free
    text as written (no placeholders: a brace a recruiter types stays a brace). Raises
    ValidationError for an empty email or a template that cannot be rendered."""
    if template is not None:
        if template.employer_id != lead.employer_id:
            raise ValidationError({"template": gettext("Choose a template of this lead's employer.")})
        try:
            rendered = emails.lead_email_render(lead=lead, kind=OutboundKind.ONE_OFF, template=template,
                                                sender=sender)
        except emails.TemplateError as exc:
            raise ValidationError({"template": str(exc)}) from exc
        if not rendered.subject.strip() or not rendered.text.strip():
            raise ValidationError({"template": gettext("This template renders an empty subject or body.")})
        return rendered
    subject = " ".join((subject or "").split())
    body = (body or "").replace("\r\n", "\n").strip("\n")
    errors = {}
    if not subject:
        errors["subject"] = gettext("Write a subject, or choose a template.")
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = gettext("A subject has at most %(count)s characters.") % {"count": SUBJECT_MAX}
    if not body.strip():
        errors["body"] = gettext("Write the email, or choose a template.")
    elif len(body) > BODY_MAX:
        errors["body"] = gettext("An email written here has at most %(count)s characters.") % {
            "count": number_format(BODY_MAX, force_grouping=True)}
    if errors:
        raise ValidationError(errors)
    return emails.Rendered(subject=subject, text=body + "\n", html="")


def compose_digest(rendered: emails.Rendered) -> str:
    """A fingerprint of a preview, carried by the send form."""
    data = "\x00".join((rendered.subject, rendered.text, rendered.html)).encode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest()


def lead_email_send(
    *,
    lead: Lead,
    by,
    compose_id: str,
    template: EmailTemplate | None = None,
    subject: str = "",
    body: str = "",
    preview_digest: str = "",
) -> tuple[OutboundEmail, bool]:
    """Queue the email the recruiter previewed; (row, False) when this compose was sent already.

    In one transaction with the lead's row locked: the stop rules checked again, the outbox row,
    the timeline entry ("Email sent: ..."), and the first contact (a lead in `new` moves to
    `contacted`, which stamps ``first_contacted_at``). The email goes out right after the commit.
    Raises ValidationError when the email may not be sent, PreviewOutdated when it changed."""
    if not COMPOSE_ID.match(compose_id or ""):
        raise ValidationError(gettext("This form has expired: open the email page again."))
    unique_key = f"lead:{lead.pk}:one-off:{compose_id}"
    with transaction.atomic(durable=True):
        locked = (Lead.objects.select_for_update(of=("self",)).select_related("employer", "owner", "opening")
                  .get(pk=lead.pk))
        existing = OutboundEmail.objects.filter(unique_key=unique_key).first()
        if existing is not None:
            return existing, False
        blocker = compose_blocker(locked)
        if blocker:
            raise ValidationError(gettext("Not sent: %(reason)s.") % {"reason": blocker})
        rendered = compose_render(lead=locked, sender=by, template=template, subject=subject, body=body)
        if preview_digest and preview_digest != compose_digest(rendered):
            raise PreviewOutdated(gettext("The email changed since your preview (the template or the lead was "
                                          "edited). Check it again before you send it."))
        row, created = email_queue(
            employer=locked.employer, kind=OutboundKind.ONE_OFF, unique_key=unique_key, lead=locked,
            to_email=locked.email, template=template, sent_by=by, subject=rendered.subject,
            body_text=rendered.text, body_html=rendered.html, language=rendered.language,
        )
        if created:
            _record_contact(locked, by=by, subject=rendered.subject, at=row.scheduled_at)
    for field in ("stage", "first_contacted_at", "last_activity_at", "furthest_stage", "stage_changed_at"):
        setattr(lead, field, getattr(locked, field))
    return row, created


def _record_contact(lead: Lead, *, by, subject: str, at) -> None:
    activity_record(lead=lead, kind=ActivityKind.MESSAGE, actor=by, summary=f"Email sent: {subject}", at=at)
    if lead.stage == Stage.NEW:
        stage_move_step(lead=lead, to_stage=Stage.CONTACTED, by=by, at=at, reason="Email sent from the lead's page")
    elif lead.first_contacted_at is None:
        # A lead moved on (or closed) without a logged contact: this email is still the first.
        Lead.objects.filter(pk=lead.pk, first_contacted_at__isnull=True).update(first_contacted_at=at)
        lead.first_contacted_at = at


__all__ = [
    "COMPOSE_ID", "PreviewOutdated", "compose_blocker", "compose_digest", "compose_initial_body", "compose_render",
    "compose_templates", "lead_email_send",
]
