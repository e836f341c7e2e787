"""Webhooks through an outbox: an event writes one delivery row per subscribed endpoint in its
own transaction; workers claim due rows, POST the stored body, signed, and mark them.

The same guarantee as the email outbox (docs/delivery.md, docs/webhooks.md): at least once, a
rolled-back event sends nothing, and two workers never send the same row at the same time
(``select_for_update(skip_locked=True)`` for a batch, a conditional UPDATE for one row). A
receiver tells a repeat by ``Relocate-Delivery``, the event's id.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from leads import webhook_http
from leads.emails import in_user_language
from leads.models import (
    Membership,
    OutboundKind,
    Role,
    StageEvent,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

Status = WebhookDeliveryStatus
# A claim older than this belongs to a worker that died: longer than the tasks' hard time limit
# (120 s), so a live worker's rows are never taken from it.
STUCK_AFTER = dt.timedelta(minutes=5)
# An endpoint failing without a single success for this long is disabled.
DISABLE_AFTER = dt.timedelta(days=1)
BATCH_SIZE = 100
_MAX_BACKOFF = dt.timedelta(hours=1)


def webhook_secret_new() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def iso(moment: dt.datetime) -> str:
    """A moment as the payloads carry it: ISO 8601 in UTC, with a Z."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- writing the events (inside the event's transaction) -------------------------------------


def webhook_emit(*, employer_id: int, event: str, data: dict, at: dt.datetime | None = None) -> int:
    """Queue ``event`` for every active endpoint of the employer subscribed to it: call it inside
    the transaction of the event, so that a rollback sends nothing. Returns the rows written."""
    return webhook_emit_many(employer_id=employer_id, events=[(event, data)], at=at)


def webhook_emit_many(
    *, employer_id: int, events: Sequence[tuple[str, dict]], at: dt.datetime | None = None
) -> int:
    """Several events of one moment (an inquiry that creates a lead): one query for the
    endpoints, one INSERT for all the rows, one kick after commit."""
    for event, _ in events:
        if event not in WebhookEvent.values:
            raise ValueError(f"unknown webhook event {event!r}")
    # Subscriptions are filtered here, not in SQL: JSON lookups differ between SQLite and PostgreSQL.
    endpoints = list(
        WebhookEndpoint.objects.filter(employer_id=employer_id, is_active=True).only("pk", "events")
    )
    if not endpoints:
        return 0
    now = timezone.now()
    created_at = iso(at or now)
    rows = []
    for event, data in events:
        subscribed = [e for e in endpoints if isinstance(e.events, list) and event in e.events]
        if not subscribed:
            continue
        event_id = uuid.uuid4()
        body = json.dumps(
            {"id": str(event_id), "type": event, "created_at": created_at, "data": data}, separators=(",", ":")
        )
        rows += [
            WebhookDelivery(employer_id=employer_id, endpoint_id=endpoint.pk, event_id=event_id, event_type=event,
                            body=body, scheduled_at=now, created_at=now)
            for endpoint in subscribed
        ]
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows)
    transaction.on_commit(partial(webhooks_kick, [row.pk for row in rows]))
    return len(rows)


def webhooks_kick(delivery_ids: Iterable[int]) -> None:
    """Best effort: ask a worker to send now. With the broker down the rows wait for the sweep;
    the request that wrote them must never fail for that."""
    from leads.tasks import send_webhook_delivery

    for delivery_id in delivery_ids:
        try:
            send_webhook_delivery.apply_async(args=[delivery_id], retry=False)
        except Exception:
            logger.warning("broker unavailable: webhook delivery %s waits for the periodic sweep", delivery_id,
                           exc_info=True)
            return


def stage_changed_data(event: StageEvent) -> dict[str, Any]:
    """The lead.stage_changed payload: ids and facts, nothing that identifies the person."""
    if event.api_key_id:
        by = "api"
    elif event.by_id:
        by = "recruiter"
    else:
        by = "system"
    reason = event.closed_reason
    return {
        "lead": event.lead_id, "from": event.from_stage, "to": event.to_stage, "at": iso(event.at),
        "closed_reason": {"id": reason.pk, "label": reason.label} if reason else None, "by": by,
    }


# --- claiming -----------------------------------------------------------------------------


def webhook_claim_one(delivery_id: int, *, now: dt.datetime | None = None) -> bool:
    """Claim one due row with a conditional UPDATE: True for exactly one caller."""
    now = now or timezone.now()
    return bool(
        WebhookDelivery.objects.filter(pk=delivery_id, status=Status.SCHEDULED, scheduled_at__lte=now)
        .update(status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )


def webhook_claim_due(*, limit: int = BATCH_SIZE, now: dt.datetime | None = None) -> list[int]:
    """Claim up to ``limit`` due rows; rows another worker holds are skipped, not waited for."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SCHEDULED, scheduled_at__lte=now)
            .order_by("scheduled_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(
                status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
            )
    return ids


def webhook_recover_stuck(*, now: dt.datetime | None = None) -> int:
    """Rows left in `sending` by a worker that died go back to the queue."""
    now = now or timezone.now()
    return WebhookDelivery.objects.filter(status=Status.SENDING, claimed_at__lt=now - STUCK_AFTER).update(
        status=Status.SCHEDULED, scheduled_at=now, status_reason="requeued: a worker stopped while sending"
    )


# --- sending ------------------------------------------------------------------------------


def webhook_deliver(ids: Iterable[int], *, deadline: float | None = None) -> Counter:
    """Send claimed rows, one POST each, and mark each right after its answer.

    ``deadline`` (a time.monotonic() value) is checked before every POST; rows not started by
    then are released for the next sweep, and so are they when the soft time limit strikes (the
    one in flight is left to the stuck-row recovery). Once an endpoint fails in a batch, its
    other rows of the batch wait for its next retry instead of each waiting for a timeout."""
    rows = list(
        WebhookDelivery.objects.filter(pk__in=list(ids), status=Status.SENDING)
        .select_related("endpoint").order_by("scheduled_at", "id")
    )
    outcome: Counter = Counter()
    endpoints: dict[int, WebhookEndpoint] = {}
    retry_at: dict[int, dt.datetime] = {}  # endpoints that failed in this batch: when to try again
    succeeded: set[int] = set()
    done: set[int] = set()
    in_flight: int | None = None
    try:
        for row in rows:
            if deadline is not None and time.monotonic() >= deadline:
                break
            # One instance per endpoint, so that what one row learns (failing, disabled) the next sees.
            row.endpoint = endpoint = endpoints.setdefault(row.endpoint_id, row.endpoint)
            in_flight = row.pk
            if not endpoint.is_active:
                outcome[_finish(row, Status.CANCELLED, "the endpoint is not active")] += 1
            elif endpoint.pk in retry_at:
                outcome[_defer(row, retry_at[endpoint.pk])] += 1
            else:
                result, when = _deliver_one(row, endpoint, succeeded)
                outcome[result] += 1
                if when is not None:
                    retry_at[endpoint.pk] = when
            done.add(row.pk)
            in_flight = None
    except SoftTimeLimitExceeded:
        _release([row.pk for row in rows if row.pk not in done and row.pk != in_flight])
        raise
    released = _release([row.pk for row in rows if row.pk not in done])
    if released:
        outcome["released"] += released
    return outcome


def _deliver_one(
    row: WebhookDelivery, endpoint: WebhookEndpoint, succeeded: set[int]
) -> tuple[str, dt.datetime | None]:
    """POST one row; the outcome, and when the endpoint may be tried again if it failed."""
    try:
        target = webhook_http.resolve(endpoint.url)
    except webhook_http.TargetRefused as exc:
        return _failed_attempt(row, endpoint, error=f"refused, no connection made: {exc}",
                               reason=f"refused: {exc}")
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": webhook_http.USER_AGENT,
        "Relocate-Event": row.event_type,
        "Relocate-Delivery": str(row.event_id),
        "Relocate-Signature": webhook_http.signature(endpoint.secret, row.body, timestamp),
    }
    try:
        answer = webhook_http.post(target, row.body, headers, timeout=settings.RELOCATE_WEBHOOK_TIMEOUT)
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        return _failed_attempt(row, endpoint, error=error, reason=f"no answer ({type(exc).__name__})")
    if 200 <= answer.status < 300:
        _delivered(row, endpoint, answer, succeeded)
        return "delivered", None
    what = "redirect, not followed" if 300 <= answer.status < 400 else "refused"
    return _failed_attempt(row, endpoint, error="", reason=f"HTTP {answer.status} ({what})", answer=answer)


def _delivered(row: WebhookDelivery, endpoint: WebhookEndpoint, answer: webhook_http.Answer,
               succeeded: set[int]) -> None:
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.DELIVERED, delivered_at=now, last_status_code=answer.status, last_response=answer.text,
        last_error="", status_reason="",
    )
    # The endpoint's health is written once per batch while it stays healthy, not once per row.
    if endpoint.failing_since is not None or endpoint.pk not in succeeded:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, last_success_at=now)
        endpoint.failing_since, endpoint.last_success_at = None, now
        succeeded.add(endpoint.pk)


def _failed_attempt(row: WebhookDelivery, endpoint: WebhookEndpoint, *, error: str, reason: str,
                    answer: webhook_http.Answer | None = None) -> tuple[str, dt.datetime]:
    """Retry with backoff (1, 2, 4 ... minutes, at most an hour) until the retry window closes,
    then fail; then the endpoint's health."""
    now = timezone.now()
    gives_up_at = row.created_at + dt.timedelta(hours=settings.RELOCATE_WEBHOOK_RETRY_HOURS)
    delay = min(dt.timedelta(minutes=2 ** max(row.attempts - 1, 0)), _MAX_BACKOFF)
    recorded = {
        "last_status_code": answer.status if answer else None, "last_response": answer.text if answer else "",
        "last_error": error,
    }
    if now >= gives_up_at:
        status, when = Status.FAILED, now + delay
        values = {"status_reason": f"{reason}; gave up after {row.attempts} attempt(s)"[:300]}
    else:
        status, when = Status.SCHEDULED, min(now + delay, gives_up_at)
        values = {"scheduled_at": when, "status_reason": f"{reason}; retry at {when:%H:%M} UTC"[:300]}
    WebhookDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(status=status, **recorded, **values)
    _endpoint_failed(endpoint, now, reason)
    return ("failed" if status == Status.FAILED else "retry"), when


def _endpoint_failed(endpoint: WebhookEndpoint, now: dt.datetime, reason: str) -> None:
    if endpoint.failing_since is None:
        # The first failure since the last success (or since the endpoint was made or enabled).
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        endpoint.failing_since = now
        return
    if now - endpoint.failing_since >= DISABLE_AFTER and webhook_endpoint_disable_failing(
        endpoint=endpoint, now=now, last_reason=reason
    ):
        endpoint.is_active = False


def webhook_endpoint_disable_failing(*, endpoint: WebhookEndpoint, now: dt.datetime, last_reason: str) -> bool:
    """Disable an endpoint that has failed for a day, cancel what waits for it and tell the
    employer's admins: once (the conditional UPDATE is true for one caller, and a success in
    between clears ``failing_since``, so a healthy endpoint is never disabled)."""
    reason = f"failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC; last: {last_reason}"[:300]
    with transaction.atomic():
        disabled = WebhookEndpoint.objects.filter(
            pk=endpoint.pk, is_active=True, failing_since__lte=now - DISABLE_AFTER
        ).update(is_active=False, disabled_at=now, disabled_reason=reason)
        if not disabled:
            return False
        cancelled = WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, status=Status.SCHEDULED).update(
            status=Status.CANCELLED, status_reason="the endpoint was disabled after failing for a day"
        )
        endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
        _admins_notify_disabled(endpoint, cancelled)
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
    return True


def _admins_notify_disabled(endpoint: WebhookEndpoint, cancelled: int) -> int:
    from leads.services.outbox import email_queue

    employer = endpoint.employer
    context = {
        "employer": employer, "endpoint": endpoint, "cancelled": cancelled,
        "change_url": f"{settings.SITE_URL}{reverse('admin:leads_webhookendpoint_change', args=[endpoint.pk])}",
        "deliveries_url": f"{settings.SITE_URL}{reverse('admin:leads_webhookdelivery_changelist')}"
                          f"?endpoint__id__exact={endpoint.pk}",
    }
    queued = 0
    for membership in (Membership.objects.filter(employer=employer, role=Role.ADMIN, user__is_active=True)
                       .exclude(user__email="").select_related("user").order_by("user_id")):
        with in_user_language(membership.user):
            subject = gettext("%(employer)s: webhook endpoint disabled after failing for a day") % {
                "employer": employer.name}
            body = render_to_string("emails/webhook_disabled.txt", context)
            language = translation.get_language()
        _, created = email_queue(
            employer=employer, kind=OutboundKind.NOTIFICATION,
            unique_key=f"webhook-disabled:{endpoint.pk}:{int(endpoint.disabled_at.timestamp())}:{membership.user_id}",
            to_user=membership.user, to_email=membership.user.email, subject=subject, body_text=body,
            language=language,
        )
        queued += created
    return queued


def _finish(row: WebhookDelivery, status: str, reason: str) -> str:
    WebhookDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=status, status_reason=reason[:300], attempts=F("attempts") - 1,
    )
    return str(status)


def _defer(row: WebhookDelivery, when: dt.datetime) -> str:
    """Not tried: its endpoint failed a moment ago in this batch. Not counted as an attempt."""
    WebhookDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.SCHEDULED, scheduled_at=when, claimed_at=None, attempts=F("attempts") - 1,
        status_reason=f"waiting: the endpoint failed a moment ago; next try at {when:%H:%M} UTC",
    )
    return "deferred"


def _release(ids: list[int]) -> int:
    """Claimed rows never sent go back to the queue, as if they had never been claimed."""
    if not ids:
        return 0
    return WebhookDelivery.objects.filter(pk__in=ids, status=Status.SENDING).update(
        status=Status.SCHEDULED, claimed_at=None, attempts=F("attempts") - 1,
    )


# --- what admins do -------------------------------------------------------------------------


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret, used from the next attempt on (rows waiting for a retry included)."""
    endpoint.secret = webhook_secret_new()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def webhook_endpoint_reenabled(endpoint: WebhookEndpoint) -> None:
    """An endpoint switched on again starts healthy: its next failure starts a new day's count."""
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.failing_since = None


def webhook_deliveries_retry(*, ids: Iterable[int], by) -> int:
    """Failed or cancelled deliveries to active endpoints are tried again now. Past its retry
    window a delivery gets this one attempt; inside it, the usual retries follow."""
    now = timezone.now()
    rows = WebhookDelivery.objects.filter(
        pk__in=list(ids), status__in=[Status.FAILED, Status.CANCELLED], endpoint__is_active=True
    )
    retried = list(rows.values_list("pk", flat=True))
    count = WebhookDelivery.objects.filter(pk__in=retried, status__in=[Status.FAILED, Status.CANCELLED]).update(
        status=Status.SCHEDULED, scheduled_at=now, attempts=0, claimed_at=None,
        status_reason=f"retried by {by.get_username()}"[:300],
    )
    if count:
        transaction.on_commit(partial(webhooks_kick, retried))
    return count
