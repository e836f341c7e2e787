"""What a recruiter writes on a lead's timeline: a logged call, message, meeting or reply, and notes."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.i18n import stored_text
from leads.models import Activity, ActivityKind, Lead, Note, Stage
from leads.services.activity import activity_record
from leads.services.followups import followups_cancel
from leads.services.pipeline import stage_move_step


def activity_log(
    *, lead: Lead, kind: str, actor, summary: str, details: str = "", at: dt.datetime | None = None
) -> Activity:
    """A recruiter logs a call, a message, a meeting or a reply received.

    Contact with a lead still in `new` moves it to `contacted` (which stamps
    ``first_contacted_at``): a recruiter who phoned someone has contacted them.
    """
    if kind not in ActivityKind.values or kind == ActivityKind.SYSTEM:
        raise ValidationError({"kind": _("Choose a call, message, meeting or reply.")})
    if not (summary or "").strip():
        raise ValidationError({"summary": _("Say briefly what happened.")})
    at = at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"at": _("An activity cannot be logged in the future.")})
    with transaction.atomic(durable=True):
        activity = activity_record(lead=lead, kind=kind, actor=actor, summary=summary.strip(), details=details, at=at)
        if kind == ActivityKind.REPLY:
            followups_cancel(lead=lead, reason="the lead replied")
        if kind in Activity.CONTACT_KINDS and lead.stage == Stage.NEW:
            with stored_text():
                reason = f"{ActivityKind(kind).label} logged"
            stage_move_step(lead=lead, to_stage=Stage.CONTACTED, by=actor, at=at, reason=reason)
    return activity


def note_add(*, lead: Lead, author, body: str, api_key=None) -> Note:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("A note cannot be empty.")})
    if len(body) > Note._meta.get_field("body").max_length:
        raise ValidationError({"body": _("A note can be at most 20,000 characters.")})
    with transaction.atomic(durable=True):
        note = Note.objects.create(lead=lead, author=author, body=body, api_key=api_key)
        Lead.objects.filter(pk=lead.pk, last_activity_at__lt=note.created_at).update(
            last_activity_at=note.created_at
        )
    return note
