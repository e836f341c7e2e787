"""A person's right to see and erase what an employer holds about them.

Erasing removes everything that identifies the person (name, contact details, messages,
files, notes) and keeps what cannot: the stage history and the country fields, so that the
funnel and the surge still count the inquiry as an anonymous one.
"""

from __future__ import annotations

from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leads import profile
from leads.models import (
    Activity,
    ActivityKind,
    AuditAction,
    Consent,
    Inquiry,
    Lead,
    Note,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    PossibleDuplicate,
    ProfileChange,
    StageEvent,
    Submission,
    WebhookEvent,
)
from leads.services.audit import audit_record
from leads.services.next_steps import tasks_erase
from leads.services.webhooks import iso, webhook_emit
from leads.tokens import Purpose, token_make, token_read

ERASED_NAME = "Erased"


def my_data_token(lead_id: int) -> str:
    return token_make(Purpose.MY_DATA, lead_id)


def lead_id_from_my_data_token(token: str) -> int | None:
    """The lead of a my-data link that has not expired; None otherwise."""
    reading = token_read(Purpose.MY_DATA, token)
    return reading.lead_id if reading.valid else None


def my_data_links_send(*, email: str) -> int:
    """A fresh my-data link to every lead of this address, one email per employer, at most one
    an hour per lead. Returns how many were queued; the caller tells the person nothing of it,
    so that the page reveals nobody's address."""
    from leads.normalise import normalise_email
    from leads.services.outbox import email_queue

    try:
        address = normalise_email(email)
    except ValidationError:
        return 0
    hour = timezone.now().strftime("%Y%m%d%H")
    queued = 0
    for lead in Lead.objects.filter(email=address, erased_at__isnull=True, email_bounced_at__isnull=True
                                    ).select_related("employer")[:20]:
        with transaction.atomic(durable=True):
            _, created = email_queue(
                employer=lead.employer, kind=OutboundKind.DATA_LINK, unique_key=f"lead:{lead.pk}:data-link:{hour}",
                lead=lead, to_email=lead.email,
            )
        queued += created
    return queued


def erased_email(lead_id: int) -> str:
    # Unique per lead, lower-case (the table's constraints), and undeliverable by design.
    return f"erased-{lead_id}@erased.invalid"


def lead_erase(*, lead: Lead, by=None, how: str, only_if: Q | None = None) -> bool:
    """Erase the person's data; False when it was erased already (or no longer matches
    ``only_if``, checked under the row lock). Nothing is sent afterwards.

    Kept, because they identify nobody: the stage history (without its free-text reasons), the
    countries, the consent records (what was agreed, when, through which channel: the proof,
    without the address it came from) and the audit log, which gains an "erased" row here.
    """
    with transaction.atomic(durable=True):
        locked = Lead.objects.select_for_update().filter(only_if or Q()).filter(pk=lead.pk).first()
        if locked is None or locked.erased_at is not None:
            return False
        now = timezone.now()
        files = {locked.cv.name} if locked.cv else set()
        files |= set(Submission.objects.filter(inquiry__lead=locked).exclude(cv="").values_list("cv", flat=True))
        _erase_lead_row(locked, now)
        Inquiry.objects.filter(lead=locked).update(subject="", body="", raw_fields={}, remote_addr=None)
        # The form's copy of each inquiry, kept after processing.
        Submission.objects.filter(inquiry__lead=locked).update(data={}, raw_fields={}, remote_addr=None, cv="",
                                                               last_error="")
        Note.objects.filter(lead=locked).delete()
        Activity.objects.filter(lead=locked).update(summary="(erased)", details="")
        ProfileChange.objects.filter(lead=locked).update(old_value=None, new_value=None)
        StageEvent.objects.filter(lead=locked).exclude(reason="").update(reason="")
        Consent.objects.filter(lead=locked).update(remote_addr=None)
        tasks_erase(lead=locked, at=now)
        OutboundEmail.objects.filter(lead=locked, status__in=[OutboundStatus.SCHEDULED, OutboundStatus.SENDING]).update(
            status=OutboundStatus.CANCELLED, status_reason="the lead's data was erased"
        )
        OutboundEmail.objects.filter(lead=locked).update(
            to_email=locked.email, subject="", body_text="", body_html="", last_error=""
        )
        PossibleDuplicate.objects.filter(lead=locked).delete()
        PossibleDuplicate.objects.filter(other=locked).delete()
        locked.skills.clear()
        Activity.objects.create(lead=locked, kind=ActivityKind.SYSTEM, actor=by, at=now,
                                summary=f"Personal data erased ({how})")
        audit_record(action=AuditAction.ERASED, employer_id=locked.employer_id, lead_id=locked.pk, user=by,
                     detail=how)
        webhook_emit(employer_id=locked.employer_id, event=WebhookEvent.LEAD_ERASED,
                     data={"lead": locked.pk, "at": iso(now)}, at=now)
        if files:
            # The files go only once the erasure is committed.
            transaction.on_commit(partial(_files_delete, locked.cv.storage, sorted(files)))
    lead.refresh_from_db()
    return True


def _files_delete(storage, names: list[str]) -> None:
    for name in names:
        storage.delete(name)


def _erase_lead_row(lead: Lead, now) -> None:
    lead.name = ERASED_NAME
    lead.email = erased_email(lead.pk)
    for name in profile.ERASED_FIELDS:
        setattr(lead, name, profile.BY_NAME[name].empty)
    lead.marketing_opt_in = False
    lead.followups_paused = True
    lead.erased_at = now
    lead.save()
