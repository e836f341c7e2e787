"""Demo submissions: the recent web-form inquiries as the public form accepted them, so that
the admin's Submissions page shows what the intake worker does."""

from __future__ import annotations

import datetime as dt
import uuid

from leads.models import Inquiry, Source, Submission

_NAMESPACE = uuid.UUID("6f1c1f5e-7c1a-4f3e-9a51-1e0b2d5c8a40")
RECENT = 40


def demo_submissions(employer_ids: list[int]) -> int:
    """One processed submission for each of the latest web-form inquiries; idempotent."""
    rows = []
    for employer_id in employer_ids:
        inquiries = (
            Inquiry.objects.filter(employer_id=employer_id, channel=Source.WEB_FORM)
            .select_related("lead").order_by("-received_at")[:RECENT]
        )
        for inquiry in inquiries:
            rows.append(Submission(
                id=uuid.uuid5(_NAMESPACE, f"inquiry-{inquiry.pk}"), employer_id=employer_id,
                received_at=inquiry.received_at, status=Submission.Status.PROCESSED,
                data={"email": inquiry.lead.email, "name": inquiry.lead.name, "subject": inquiry.subject},
                raw_fields=inquiry.raw_fields, privacy_accepted=True, attempts=1,
                next_attempt_at=inquiry.received_at,
                processed_at=inquiry.received_at + dt.timedelta(seconds=2), inquiry=inquiry,
            ))
    Submission.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def demo_profile_changes(employer_ids: list[int], *, per_employer: int = 4) -> int:
    """What repeat inquiries changed on a few leads (restorable) and one phone number proposed
    (to accept or decline), so that the lead page shows both; idempotent."""
    from leads.models import Lead, MoveTimeline, ProfileChange

    rows = []
    timelines = [value for value, _ in MoveTimeline.choices]
    for employer_id in employer_ids:
        if ProfileChange.objects.filter(lead__employer_id=employer_id).exists():
            continue
        repeat = (
            Lead.objects.filter(employer_id=employer_id, erased_at__isnull=True, inquiries__is_repeat=True)
            .exclude(move_timeline="").exclude(phone="").distinct().order_by("-last_activity_at")[:per_employer]
        )
        for position, lead in enumerate(repeat):
            earlier = timelines[(timelines.index(lead.move_timeline) + 2) % len(timelines)]
            rows.append(ProfileChange(lead=lead, field="move_timeline", old_value=earlier,
                                      new_value=lead.move_timeline, status=ProfileChange.Status.APPLIED,
                                      at=lead.last_activity_at))
            if position == 0:
                proposed = lead.phone[:-4] + ("0000" if not lead.phone.endswith("0000") else "1111")
                rows.append(ProfileChange(lead=lead, field="phone", old_value=lead.phone, new_value=proposed,
                                          status=ProfileChange.Status.PROPOSED, at=lead.last_activity_at))
    ProfileChange.objects.bulk_create(rows)
    return len(rows)
