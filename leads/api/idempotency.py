"""``Idempotency-Key`` on every POST: a retry gets the first answer, not a second inquiry.

The first request with a key writes its record (committed at once, unique per API key) and
runs; its answer is stored when it is built (``idempotency_finish``, from the API middleware).
A second request with the same key and the same method, path and body waits up to a few
seconds for the first and gets its stored answer; with another body it is refused (422).
Records are forgotten after a day. A record whose request died without an answer is taken over
after a minute. Answers of 5xx, 409 and 429 are not stored: the caller may retry them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time

from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from leads.api.errors import refuse
from leads.models import ApiKey, IdempotencyRecord

logger = logging.getLogger(__name__)

KEPT_FOR = dt.timedelta(hours=24)
WAIT_SECONDS = 5.0
STALE_AFTER = dt.timedelta(seconds=60)
_NOT_KEPT = frozenset({409, 429})
MAX_KEY_LENGTH = 255


class Replayed(Exception):
    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.pk)
        self.record = record


def replay_response(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(record.response_body, status=record.status_code, content_type="application/json")
    response["Idempotent-Replayed"] = "true"
    return response


def idempotency_begin(request: HttpRequest, key: ApiKey) -> None:
    """Claim the request's key, or raise Replayed / ApiError. Nothing to do without a header."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in raw):
        raise refuse(400, "idempotency_key",
                     f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID.")
    request_line = f"{request.method}\n{request.path}\n".encode()
    body_hash = hashlib.sha256(request_line + request.body).hexdigest()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = timezone.now()
        try:
            with transaction.atomic():
                request._idempotency = IdempotencyRecord.objects.create(
                    employer_id=key.employer_id, api_key=key, key=raw, method=request.method, path=request.path[:300],
                    body_hash=body_hash, created_at=now, expires_at=now + KEPT_FOR,
                )
            return
        except IntegrityError:
            pass
        first = IdempotencyRecord.objects.filter(api_key=key, key=raw).first()
        if first is None:
            continue  # forgotten in between: claim it
        if first.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=first.pk, expires_at__lte=now).delete()
            continue
        if first.body_hash != body_hash:
            raise refuse(422, "idempotency_key", "This Idempotency-Key was used in the last 24 hours for another "
                         "request (another body, method or path); use a new key for a new request.")
        if first.status_code is not None:
            raise Replayed(first)
        if first.created_at <= now - STALE_AFTER and IdempotencyRecord.objects.filter(
            pk=first.pk, status_code__isnull=True, created_at=first.created_at
        ).update(created_at=now):
            # The first request died without an answer: this one runs instead.
            first.created_at = now
            request._idempotency = first
            return
        if time.monotonic() >= deadline:
            raise refuse(409, "idempotency_key", "A request with this Idempotency-Key is still running; "
                         "retry in a moment to get its answer.", Retry_After="1")
        time.sleep(0.05)


def idempotency_finish(request: HttpRequest, response: HttpResponse) -> None:
    """Store the answer of the request that claimed a key (or release the key)."""
    record = getattr(request, "_idempotency", None)
    if record is None:
        return
    request._idempotency = None
    try:
        if response.status_code < 500 and response.status_code not in _NOT_KEPT and not response.streaming:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code, response_body=response.content.decode("utf-8", "replace"),
            )
        else:
            IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()
    except DatabaseError:
        # The record stays "running" and is taken over after STALE_AFTER.
        logger.warning("idempotency record %s not finished", record.pk, exc_info=True)


def idempotency_purge(*, now: dt.datetime | None = None) -> int:
    """Forget the records older than a day; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
