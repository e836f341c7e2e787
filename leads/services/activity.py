"""Notes and logged activity on a lead's timeline."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from leads.models import Activity, ActivityKind, Lead, Note, Stage


def activity_record(
    *,
    lead: Lead,
    kind: str,
    summary: str,
    actor=None,
    details: str = "",
    at: dt.datetime | None = None,
    touch: bool = True,
) -> Activity:
    """Append one activity row; with ``touch`` the lead's last activity moves forward too."""
    at = at or timezone.now()
    activity = Activity.objects.create(
        lead=lead, kind=kind, actor=actor, at=at, summary=summary[:300], details=details
    )
    if touch and at > lead.last_activity_at:
        Lead.objects.filter(pk=lead.pk, last_activity_at__lt=at).update(last_activity_at=at)
        lead.last_activity_at = at
    return activity


def activity_log(
    *, lead: Lead, kind: str, actor, summary: str, details: str = "", at: dt.datetime | None = None
) -> Activity:
    """A recruiter logs a call, a message, a meeting or a reply received.

    Contact with a lead still in `new` moves it to `contacted` (which stamps
    ``first_contacted_at``): a recruiter who phoned someone has contacted them.
    """
    from leads.services.pipeline import lead_move_stage

    if kind not in ActivityKind.values or kind == ActivityKind.SYSTEM:
        raise ValidationError({"kind": "Choose a call, message, meeting or reply."})
    if not (summary or "").strip():
        raise ValidationError({"summary": "Say briefly what happened."})
    at = at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"at": "An activity cannot be logged in the future."})
    with transaction.atomic():
        activity = activity_record(lead=lead, kind=kind, actor=actor, summary=summary.strip(), details=details, at=at)
        if kind == ActivityKind.REPLY:
            from leads.services.followups import followups_cancel

            followups_cancel(lead=lead, reason="the lead replied")
        if kind in Activity.CONTACT_KINDS and lead.stage == Stage.NEW:
            lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, by=actor, at=at,
                            reason=f"{ActivityKind(kind).label} logged")
    return activity


def note_add(*, lead: Lead, author, body: str) -> Note:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A note cannot be empty."})
    if len(body) > Note._meta.get_field("body").max_length:
        raise ValidationError({"body": "A note can be at most 20,000 characters."})
    with transaction.atomic():
        note = Note.objects.create(lead=lead, author=author, body=body)
        Lead.objects.filter(pk=lead.pk, last_activity_at__lt=note.created_at).update(
            last_activity_at=note.created_at
        )
    return note
