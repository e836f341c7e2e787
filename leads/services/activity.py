"""The timeline's one write: an activity row. A leaf module (it imports no other service), so
that the pipeline, the follow-ups and intake can all record on the timeline without a cycle.
A recruiter's logged calls and notes are in ``leads.services.timeline``."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from leads.models import Activity, Lead


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
