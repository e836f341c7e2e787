"""Other systems in the demo: API keys of a careers site and a data warehouse, notes and a move
made through the API, and a webhook endpoint with its delivery history (delivered, retried,
failed), paused because its example address answers nobody. So the API key, webhook endpoint
and webhook delivery pages in admin, and a lead's timeline, show what they do. Idempotent: an
employer that has API keys already gets nothing more."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.db import transaction
from django.utils import timezone

from leads.models import (
    CLOSED_STAGES,
    ApiKey,
    Lead,
    Note,
    StageEvent,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from leads.services.api_keys import api_key_create
from leads.services.webhooks import iso, stage_changed_data, webhook_secret_new

_NOTES = (
    "Synced to the HRIS as candidate record HR-{n}.",
    "Imported into the relocation provider's case list (case {n}).",
)


def demo_integrations(employer_ids: list[int]) -> int:
    """Returns the webhook deliveries written."""
    written = 0
    now = timezone.now()
    for employer_id in employer_ids:
        if ApiKey.objects.filter(employer_id=employer_id).exists():
            continue
        with transaction.atomic():
            written += _employer(employer_id, now)
    return written


def _employer(employer_id: int, now: dt.datetime) -> int:
    from leads.models import Employer

    employer = Employer.objects.get(pk=employer_id)
    # The keys' secrets are not kept anywhere: an admin who wants to try the API makes their own.
    api_key_create(employer=employer, name="Careers site", scopes=["intake"])
    hris, _ = api_key_create(employer=employer, name="HRIS sync", scopes=["read", "write"])
    api_key_create(employer=employer, name="Data warehouse", scopes=["read"])
    leads = list(Lead.objects.filter(employer_id=employer_id, erased_at__isnull=True)
                 .exclude(stage__in=sorted(CLOSED_STAGES)).order_by("-stage_changed_at")[:2])
    for n, lead in enumerate(leads):
        Note.objects.create(lead=lead, author=None, api_key=hris, body=_NOTES[n].format(n=1040 + lead.pk),
                            created_at=now - dt.timedelta(hours=3 + n))
    # The last dozen moves at least two days old, each sent a second after it happened; the last
    # two failed for a day, which disabled the endpoint.
    events = list(StageEvent.objects.filter(employer_id=employer_id, lead__erased_at__isnull=True,
                                            at__lte=now - dt.timedelta(days=2))
                  .exclude(from_stage="").select_related("closed_reason").order_by("-at", "-id")[:12])
    events.reverse()
    if not events:
        return 0
    failing_from = events[-2].at if len(events) > 1 else events[-1].at
    endpoint = WebhookEndpoint.objects.create(
        employer=employer, url="https://hris.example.com/hooks/relocate", description="HRIS sync (demo)",
        events=list(WebhookEvent.values), secret=webhook_secret_new(), is_active=False,
        created_at=min(events[0].at, now - dt.timedelta(days=30)),
        last_success_at=events[-3].at if len(events) > 2 else None,
        disabled_at=failing_from + dt.timedelta(days=1),
        disabled_reason="Demo endpoint: hris.example.com answers nobody. Put your own receiver's URL here "
                        "and tick Active to try webhooks.",
    )
    rows = []
    for index, event in enumerate(events):
        created = event.at + dt.timedelta(seconds=1)
        body = json.dumps({"id": str(uuid.uuid4()), "type": WebhookEvent.LEAD_STAGE_CHANGED,
                           "created_at": iso(created),
                           "data": stage_changed_data(event)}, separators=(",", ":"))
        failed = index >= len(events) - 2
        retried = index == 3
        rows.append(WebhookDelivery(
            employer_id=employer_id, endpoint=endpoint, event_type=WebhookEvent.LEAD_STAGE_CHANGED, body=body,
            status=WebhookDeliveryStatus.FAILED if failed else WebhookDeliveryStatus.DELIVERED,
            status_reason="Not delivered within a day; the endpoint was disabled." if failed else "",
            attempts=6 if failed else 2 if retried else 1, scheduled_at=created, created_at=created,
            delivered_at=None if failed else created + dt.timedelta(minutes=1 if retried else 0, seconds=1),
            last_status_code=503 if failed else 200,
            last_response="Service Unavailable" if failed else '{"received": true}',
            last_error="The receiver answered 503." if failed else "",
        ))
    WebhookDelivery.objects.bulk_create(rows)
    return len(rows)
