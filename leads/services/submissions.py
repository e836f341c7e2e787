"""Accept first, process after: the public form's submissions.

``submission_accept`` is all the request does once the form is valid: the CV into file
storage, one INSERT, and the thank-you page. When the database refuses that INSERT the
submission goes to the spool (``leads.services.spool``) instead. A worker, kicked on commit
and swept by beat every minute, ingests the spool and turns each pending submission into an
inquiry through the one intake service; the intake transaction marks the submission
processed, so each becomes exactly one inquiry whatever crashes or runs twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections import Counter
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from leads.models import Lead, Opening, Source, Submission
from leads.services import spool
from leads.services.consent import ConsentShown
from leads.services.intake import SubmissionAlreadyProcessed, inquiry_receive, is_transient, safe_text

logger = logging.getLogger(__name__)

_MAX_BACKOFF = dt.timedelta(hours=6)
# A transient database error (deadlock, lost connection) tries again this soon.
_TRANSIENT_RETRY = dt.timedelta(seconds=30)
_ERROR_CHARS = 2000
# Spooled files a web server stores itself, at most, when it finds its own spool non-empty.
_LOCAL_BATCH = 100
# How long a worker holds a claimed submission: longer than a live worker can (the tasks' hard
# time limit, 120 s), so a live claim is never taken; one that died lets it go after this.
_CLAIM_FOR = dt.timedelta(seconds=150)


def submission_accept(
    *,
    employer_id: int,
    data: dict[str, Any],
    raw_fields: dict[str, Any],
    remote_addr: str | None,
    privacy_accepted: bool,
    cv: UploadedFile | None = None,
    cv_name: str = "",
) -> str:
    """Make one checked submission durable; returns where it went ("database", "redis",
    "directory"). Raises spool.SpoolUnavailable only when nothing at all could keep it."""
    submission_id = uuid.uuid4()
    received_at = timezone.now()
    # A CV already stored (kept from a round with errors) is passed by its name.
    cv_name = _store_cv(submission_id, cv, received_at) if cv else cv_name
    row = {
        "id": str(submission_id), "employer_id": employer_id, "received_at": received_at.isoformat(),
        "data": _json_safe(data), "raw_fields": _json_safe(raw_fields), "remote_addr": remote_addr,
        "privacy_accepted": privacy_accepted, "cv": cv_name,
    }
    try:
        # One INSERT, atomic by itself: no BEGIN and COMMIT round trips around it.
        Submission.objects.create(**_model_values(row, via=Submission.Via.DATABASE))
    except DatabaseError:
        # Down, failing over, out of connections: the person is answered all the same.
        logger.warning("database refused submission %s; spooling it", submission_id, exc_info=True)
        return spool.spool_write(row)
    transaction.on_commit(partial(submission_kick, submission_id))
    if spool.local_spool_waiting():
        # The database answers again and this machine's disk holds spooled submissions that
        # a worker elsewhere cannot see: store a batch of them now.
        _ingest_local_batch()
    return Submission.Via.DATABASE


def _ingest_local_batch() -> None:
    try:
        if spool_ingest(limit=_LOCAL_BATCH, redis=False, once=True):
            transaction.on_commit(partial(submission_kick, None))
    except DatabaseError:
        logger.warning("could not ingest this machine's intake spool yet", exc_info=True)


def _store_cv(submission_id: uuid.UUID, cv: UploadedFile, at: dt.datetime) -> str:
    extension = (cv.name or "").rsplit(".", 1)[-1].lower()
    return default_storage.save(f"cvs/{at:%Y/%m}/{submission_id.hex}.{extension}", cv)


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """JSON that PostgreSQL stores: dates as ISO strings, and no NUL, which jsonb refuses (the
    form refuses NUL in what it keeps; raw fields may hold anything a client sent)."""
    return _without_nul(json.loads(json.dumps(value, cls=DjangoJSONEncoder)))


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _model_values(row: dict[str, Any], *, via: str) -> dict[str, Any]:
    received_at = row["received_at"]
    if isinstance(received_at, str):
        received_at = parse_datetime(received_at)
    return {
        "id": uuid.UUID(str(row["id"])), "employer_id": row["employer_id"], "received_at": received_at,
        "data": row.get("data") or {}, "raw_fields": row.get("raw_fields") or {},
        "remote_addr": row.get("remote_addr") or None, "privacy_accepted": bool(row.get("privacy_accepted")),
        "cv": row.get("cv") or "", "via": via,
    }


def submission_kick(submission_id: uuid.UUID | None) -> None:
    """Best effort, after commit: ask a worker to process now (None: drain everything). With
    the broker down the submission waits for beat's sweep; the person never sees an error."""
    from leads.tasks import drain_submissions, process_submission

    try:
        if submission_id is None:
            drain_submissions.apply_async(retry=False)
        else:
            process_submission.apply_async(args=[str(submission_id)], retry=False)
    except Exception:
        logger.warning("broker unavailable: submission %s waits for the sweep", submission_id, exc_info=True)


# --- the worker's side ---------------------------------------------------------------------


def spool_ingest(*, limit: int = 500, redis: bool = True, once: bool = False) -> int:
    """Move spooled submissions into the database; returns how many were read. Each is
    inserted (an id already stored is ignored) before it leaves the spool."""
    total = 0
    while True:
        items = spool.spool_read(limit=limit, redis=redis)
        if not items:
            return total
        by_where: dict[str, list[dict[str, Any]]] = {}
        for where, _key, payload in items:
            by_where.setdefault(where, []).append(payload)
        for where, payloads in by_where.items():
            _ingest(where, payloads)
        total += len(items)
        if once or len(items) < limit:
            return total


def _ingest(where: str, payloads: list[dict[str, Any]]) -> None:
    try:
        rows = [Submission(**_model_values(p, via=where)) for p in payloads]
        Submission.objects.bulk_create(rows, ignore_conflicts=True)
    except (DataError, IntegrityError, ValueError, TypeError, KeyError):
        # One bad payload must not hold up the others: one at a time, the bad one set aside.
        for payload in payloads:
            try:
                Submission.objects.bulk_create([Submission(**_model_values(payload, via=where))],
                                               ignore_conflicts=True)
            except (DataError, IntegrityError, ValueError, TypeError, KeyError):
                logger.exception("spooled submission %s cannot be stored; set aside", payload.get("id"))
                spool.spool_set_aside(where, payload)
            spool.spool_remove(where, [str(payload.get("id"))])
        return
    spool.spool_remove(where, [str(p["id"]) for p in payloads])


def submission_process(submission_id: uuid.UUID | str, *, claimed: bool = False) -> str:
    """Turn one pending submission into an inquiry; returns what happened. Never raises for
    a submission's own trouble: its error is kept on the row and it is tried again later.
    ``claimed``: the caller holds the claim already (a drain's batch)."""
    try:
        submission = Submission.objects.select_related("employer").filter(pk=submission_id).first()
    except DatabaseError:
        logger.warning("submission %s waits: the database is unavailable", submission_id, exc_info=True)
        return "database unavailable"
    if submission is None:
        return "missing"
    if submission.status != Submission.Status.PENDING:
        return "already processed"
    if not claimed and not _claim(submission.pk):
        return "taken by another worker"
    try:
        inquiry_receive(submission_id=submission.pk, **_intake_arguments(submission))
    except SubmissionAlreadyProcessed:
        return "already processed"
    except DatabaseError as exc:
        if not is_transient(exc):
            logger.warning("submission %s: database error", submission.pk, exc_info=True)
        _keep_for_later(submission, exc, transient=True)
        return "deferred"
    except ValidationError as exc:
        _keep_for_later(submission, exc, transient=False)
        return "failed"
    except Exception as exc:
        logger.exception("submission %s could not be processed", submission.pk)
        _keep_for_later(submission, exc, transient=False)
        return "failed"
    return "processed"


def _claim(submission_id) -> bool:
    now = timezone.now()
    return bool(
        Submission.objects.filter(pk=submission_id, status=Submission.Status.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + _CLAIM_FOR)
    )


def _intake_arguments(submission: Submission) -> dict[str, Any]:
    data = submission.data
    fields = {}
    for key, value in (data.get("fields") or {}).items():
        # The JSON values back to what the model holds (dates, booleans, numbers).
        fields[key] = Lead._meta.get_field(key).to_python(value) if value not in (None, "") else value
    opening_id = fields.get("opening")
    if opening_id and not Opening.objects.filter(pk=opening_id, employer_id=submission.employer_id).exists():
        # Deleted since the form was sent: the inquiry matters more than the opening it named
        # (the raw fields keep which one it was).
        fields.pop("opening")
    if submission.cv:
        fields["cv"] = submission.cv
    return {
        "employer": submission.employer, "channel": Source.WEB_FORM, "email": data.get("email", ""),
        "name": data.get("name", ""), "fields": fields, "citizenships": data.get("citizenships") or [],
        "skills": data.get("skills") or [], "privacy_accepted": submission.privacy_accepted,
        "subject": data.get("subject", ""), "body": data.get("body", ""), "raw_fields": submission.raw_fields,
        "received_at": submission.received_at, "remote_addr": submission.remote_addr,
        # The policy version and wording the person was shown when they sent it, not today's.
        "consent_shown": ConsentShown.from_json(data.get("consent")),
    }


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return f"{type(exc).__name__}: {exc}"


def _keep_for_later(submission: Submission, exc: Exception, *, transient: bool) -> None:
    now = timezone.now()
    attempts = submission.attempts + 1
    delay = _TRANSIENT_RETRY if transient else min(dt.timedelta(minutes=2 ** (attempts - 1)), _MAX_BACKOFF)
    try:
        Submission.objects.filter(pk=submission.pk, status=Submission.Status.PENDING).update(
            attempts=F("attempts") + 1, last_error=_describe(exc)[:_ERROR_CHARS], next_attempt_at=now + delay,
            claimed_until=None,
        )
    except DatabaseError:
        # The database went away again: the row is still pending and the sweep finds it.
        logger.warning("submission %s: could not record its error", submission.pk, exc_info=True)


def submissions_drain(*, budget_seconds: float | None = None, now: dt.datetime | None = None,
                      batch: int = 50, every_pending: bool = False) -> Counter:
    """Ingest the spool, then process the due pending submissions, oldest first.

    Each round claims a batch in one statement (rows another drain is claiming are skipped), so
    drains running at once share the work instead of walking the same rows. ``every_pending``
    ignores the retry times (intake_drain: "process everything now").
    """
    started = time.monotonic()
    outcomes: Counter = Counter()
    outcomes["spool ingested"] = spool_ingest()
    while budget_seconds is None or time.monotonic() - started < budget_seconds:
        ids = _claim_batch(batch, every_pending=every_pending, now=now)
        if not ids:
            break
        for submission_id in ids:
            outcomes[submission_process(submission_id, claimed=True)] += 1
    held = _claimed_elsewhere(now)
    if held:
        outcomes["claimed by another worker"] = held
    return outcomes


def _claim_batch(limit: int, *, every_pending: bool, now: dt.datetime | None) -> list:
    moment = now or timezone.now()
    with transaction.atomic():
        pending = (
            Submission.objects.select_for_update(skip_locked=True)
            .filter(status=Submission.Status.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment))
        )
        if not every_pending:
            pending = pending.filter(next_attempt_at__lte=moment)
        ids = list(pending.order_by("received_at").values_list("pk", flat=True)[:limit])
        if ids:
            Submission.objects.filter(pk__in=ids).update(claimed_until=moment + _CLAIM_FOR)
    return ids


def _claimed_elsewhere(now: dt.datetime | None) -> int:
    """Pending submissions another worker holds now (or one that stopped: its claim runs out
    after _CLAIM_FOR), said out loud rather than skipped in silence."""
    return Submission.objects.filter(status=Submission.Status.PENDING, claimed_until__gte=now or timezone.now()
                                     ).count()


def submissions_retry_now(*, ids) -> int:
    """An operator's "process now": the retry time of these pending submissions is now."""
    return Submission.objects.filter(pk__in=list(ids), status=Submission.Status.PENDING).update(
        next_attempt_at=timezone.now()
    )


def intake_backlog() -> dict[str, Any]:
    """For /healthz: pending submissions, the age of the oldest, those with an error."""
    summary = Submission.objects.filter(status=Submission.Status.PENDING).aggregate(
        pending=Count("pk"), oldest=Min("received_at"), with_errors=Count("pk", filter=~Q(last_error="")),
    )
    oldest = summary["oldest"]
    return {
        "pending": summary["pending"],
        "oldest_pending_seconds": int((timezone.now() - oldest).total_seconds()) if oldest else None,
        "with_errors": summary["with_errors"],
    }


__all__ = [
    "intake_backlog", "spool_ingest", "submission_accept", "submission_kick", "submission_process",
    "submissions_drain", "submissions_retry_now",
]
