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
