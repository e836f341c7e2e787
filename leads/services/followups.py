"""Follow-ups: the acknowledgement on every inquiry, the employer's sequence, and stopping it.

Every email is an outbox row (``leads.services.outbox``); this module decides which rows
exist and cancels the ones that must not go out, with the reason on the lead's timeline.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from leads.emails import in_user_language
from leads.i18n import stored_text
from leads.models import (
    MILESTONE_RANK,
    ActivityKind,
    ConsentPurpose,
    EmailTemplate,
    Inquiry,
    Lead,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    SequenceStep,
)
from leads.services.activity import activity_record
from leads.services.consent import UNSUBSCRIBE_CHANNEL, consent_withdraw
from leads.services.outbox import FOLLOWUP_KINDS, email_queue

PAUSED_REASON = "follow-ups paused"
NO_BASIS_REASON = "no legal basis is recorded for this lead"
# One acknowledgement per lead in this time: a person who writes twice in an afternoon (or a
# recruiter who adds the same person twice) gets one.
ACKNOWLEDGEMENT_WINDOW = dt.timedelta(hours=24)


def followups_on_inquiry(*, lead: Lead, inquiry: Inquiry, created: bool) -> None:
    """Inside the intake transaction (the lead's row is locked): the acknowledgement at once and
    the sequence for a new lead; nothing to a lead without a legal basis."""
    employer = lead.employer
    if not lead.legal_basis:
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, at=inquiry.received_at, touch=False,
                        summary="Nothing sent: no legal basis is recorded for this lead")
        return
    if not created and OutboundEmail.objects.filter(
        lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT,
        scheduled_at__gte=inquiry.received_at - ACKNOWLEDGEMENT_WINDOW,
    ).exclude(status=OutboundStatus.CANCELLED).exists():
        return
    email_queue(
        employer=employer, kind=OutboundKind.ACKNOWLEDGEMENT, unique_key=f"inquiry:{inquiry.pk}:ack",
        lead=lead, to_email=lead.email, template=_acknowledgement_template(employer.pk),
        scheduled_at=inquiry.received_at,
    )
    if created:
        # An imported inquiry may be months old: its follow-ups start now, not all at once.
        followups_schedule(lead=lead, since=max(inquiry.received_at, timezone.now()))


def owner_notify_assigned(*, lead: Lead) -> None:
    owner = lead.owner
    if owner is None or not owner.email:
        return
    context = {"lead": lead, "owner": owner, "lead_url": lead_url(lead)}
    with in_user_language(owner):
        subject = gettext("New lead for you: %(name)s") % {"name": lead.name}
        body = render_to_string("emails/assigned.txt", context)
        language = translation.get_language()
    email_queue(
        employer=lead.employer, kind=OutboundKind.NOTIFICATION,
        unique_key=f"lead:{lead.pk}:assigned:{owner.pk}", to_user=owner, to_email=owner.email,
        subject=subject[:300], body_text=body, language=language,
    )


def lead_url(lead: Lead) -> str:
    from django.conf import settings

    return f"{settings.SITE_URL}/leads/{lead.pk}/"


def followups_schedule(*, lead: Lead, since: dt.datetime) -> int:
    """Queue the steps of the employer's default sequence; steps already queued stay as they are."""
    sequence = lead.employer.default_sequence
    if sequence is None or not sequence.active:
        return 0
    steps = list(SequenceStep.objects.filter(sequence=sequence).select_related("template").order_by("position"))
    due = since
    queued = 0
    for step in steps:
        base = since if step.delay_from == SequenceStep.DelayFrom.INQUIRY else due
        due = base + dt.timedelta(days=step.delay_days)
        _, created = email_queue(
            employer=lead.employer, kind=OutboundKind.FOLLOWUP, unique_key=f"lead:{lead.pk}:step:{step.pk}",
            lead=lead, to_email=lead.email, template=step.template, step=step, scheduled_at=due,
        )
        queued += created
    return queued


def followups_cancel(*, lead: Lead, reason: str, kinds: frozenset[str] = FOLLOWUP_KINDS) -> int:
    """Cancel the lead's scheduled emails of these kinds, keeping the reason on each row."""
    return OutboundEmail.objects.filter(
        lead=lead, kind__in=kinds, status=OutboundStatus.SCHEDULED
    ).update(status=OutboundStatus.CANCELLED, status_reason=reason[:300])


# The reasons a move gives the follow-ups it cancels: a move back (or a reopening) restores them.
MOVED_PREFIX = "the lead moved to "
CLOSED_PREFIX = "the lead was closed"
PASSED_PREFIX = "the lead moved past "  # the worker's own check, just before sending


def followups_after_move(*, lead: Lead) -> None:
    """Called by the pipeline after a move: a closed lead or one past the sequence's stage stops;
    a lead moved back (or reopened) gets back the steps a move had cancelled that are still in
    its stage, unless its follow-ups are paused or it unsubscribed."""
    if lead.is_closed:
        with stored_text():
            reason = f"{CLOSED_PREFIX} ({lead.get_stage_display().lower()})"
        followups_cancel(lead=lead, reason=reason)
        return
    rank = MILESTONE_RANK[lead.stage]
    scheduled = OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.FOLLOWUP).select_related("step__sequence")
    past = [
        row.pk for row in scheduled.filter(status=OutboundStatus.SCHEDULED)
        if rank > MILESTONE_RANK[_stop_after(row)]
    ]
    if past:
        OutboundEmail.objects.filter(pk__in=past, status=OutboundStatus.SCHEDULED).update(
            status=OutboundStatus.CANCELLED, status_reason=f"{MOVED_PREFIX}{lead.stage}"
        )
    if lead.followups_paused or lead.unsubscribed_at or lead.erased_at:
        return
    now = timezone.now()
    for row in scheduled.filter(status=OutboundStatus.CANCELLED).filter(
        Q(status_reason__startswith=MOVED_PREFIX) | Q(status_reason__startswith=CLOSED_PREFIX)
        | Q(status_reason__startswith=PASSED_PREFIX)
    ):
        if rank <= MILESTONE_RANK[_stop_after(row)]:
            OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.CANCELLED).update(
                status=OutboundStatus.SCHEDULED, scheduled_at=max(row.scheduled_at, now), status_reason=""
            )


def _stop_after(row: OutboundEmail) -> str:
    return row.step.sequence.stop_after_stage if row.step_id else "contacted"


def followups_pause(*, lead: Lead, by) -> None:
    with transaction.atomic(durable=True):
        if not Lead.objects.filter(pk=lead.pk, followups_paused=False).update(followups_paused=True):
            return
        lead.followups_paused = True
        followups_cancel(lead=lead, reason=PAUSED_REASON)
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by, summary="Follow-ups paused")


def followups_resume(*, lead: Lead, by) -> int:
    """Schedule again what the pause cancelled; what was sent stays sent. Returns rows resumed."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        if not Lead.objects.filter(pk=lead.pk, followups_paused=True).update(followups_paused=False):
            return 0
        lead.followups_paused = False
        resumed = 0
        for row in OutboundEmail.objects.filter(
            lead=lead, kind__in=FOLLOWUP_KINDS, status=OutboundStatus.CANCELLED, status_reason=PAUSED_REASON
        ):
            resumed += OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.CANCELLED).update(
                status=OutboundStatus.SCHEDULED, scheduled_at=max(row.scheduled_at, now), status_reason=""
            )
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, actor=by,
                        summary=f"Follow-ups resumed ({resumed} scheduled again)")
    return resumed


def lead_unsubscribe(*, lead: Lead, how: str = "unsubscribe link") -> bool:
    """The person asked to stop: nothing more goes to them, and their news consent is withdrawn
    (a Consent row, in the same transaction). False when already unsubscribed."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        if not Lead.objects.filter(pk=lead.pk, unsubscribed_at__isnull=True).update(unsubscribed_at=now):
            # Agreed to news again since (a later inquiry)? This word withdraws that too.
            if Lead.objects.filter(pk=lead.pk, marketing_opt_in=True).exists():
                consent_withdraw(lead=lead, purpose=ConsentPurpose.NEWS, channel=UNSUBSCRIBE_CHANNEL,
                                 wording=f"unsubscribed ({how})"[:500], at=now)
            return False
        lead.unsubscribed_at = now
        # The row is the record; it sets marketing_opt_in False with it.
        consent_withdraw(lead=lead, purpose=ConsentPurpose.NEWS, channel=UNSUBSCRIBE_CHANNEL,
                         wording=f"unsubscribed ({how})"[:500], at=now)
        OutboundEmail.objects.filter(lead=lead, status=OutboundStatus.SCHEDULED).update(
            status=OutboundStatus.CANCELLED, status_reason="the lead unsubscribed"
        )
        activity_record(lead=lead, kind=ActivityKind.SYSTEM, summary=f"Unsubscribed ({how})", touch=False)
    return True


def _acknowledgement_template(employer_id: int) -> EmailTemplate | None:
    return (
        EmailTemplate.objects.filter(employer_id=employer_id, kind=EmailTemplate.Kind.ACKNOWLEDGEMENT)
        .order_by("name")
        .first()
    )


def lead_confirm_interest(*, lead: Lead) -> None:
    """The person answered the still-interested email: that is a reply, and keeps the lead open.
    One transaction: the reply and the cancelled follow-ups are recorded together or not at all."""
    with transaction.atomic(durable=True):
        activity_record(lead=lead, kind=ActivityKind.REPLY, summary="Confirmed still interested (email link)")
        followups_cancel(lead=lead, reason="the lead replied")
