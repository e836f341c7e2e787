"""Celery tasks: thin wrappers that call services and are safe to run twice."""

import logging
import time

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from leads.import_tasks import import_job_run  # noqa: F401 - registers the CSV import task with the worker
from leads.services.heartbeat import heartbeat_record
from leads.services.outbox import outbox_claim_due, outbox_claim_one, outbox_deliver, outbox_recover_stuck
from leads.services.reminders import digests_queue, stale_checks_queue, stale_leads_close

logger = logging.getLogger(__name__)

# A sweep stops claiming new batches after this long, well inside its time limit, so the next
# beat tick takes over instead of two sweeps overlapping for long.
_SWEEP_BUDGET_SECONDS = 45


@shared_task(time_limit=30, soft_time_limit=20, ignore_result=True)
def heartbeat(name: str = "beat") -> None:
    """Run by celery beat every minute: proves that beat, the broker and a worker work."""
    heartbeat_record(name=name, hostname=heartbeat.request.hostname or "")


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def send_outbound_email(email_id: int) -> str:
    """Send one email queued a moment ago; a row already claimed (or sent) is left alone."""
    if not outbox_claim_one(email_id):
        return "not due or already taken"
    return ",".join(sorted(outbox_deliver([email_id])))


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def process_submission(submission_id: str) -> str:
    """Turn one accepted public-form submission into an inquiry (kicked on its commit)."""
    from leads.services.submissions import submission_process

    return submission_process(submission_id)


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def drain_submissions() -> dict[str, int]:
    """Every minute and at worker start: ingest the spool, process every due submission."""
    from django.db import DatabaseError

    from leads.services.submissions import submissions_drain

    try:
        return dict(submissions_drain(budget_seconds=_SWEEP_BUDGET_SECONDS))
    except DatabaseError:
        # Down again: the spool and the pending rows wait for the next sweep.
        logger.warning("intake drain: the database is unavailable", exc_info=True)
        return {"database unavailable": 1}


@worker_ready.connect
def _drain_at_start(sender=None, **kwargs) -> None:
    # Submissions spooled while the database was down are ingested as soon as a worker is up.
    try:
        drain_submissions.apply_async(retry=False)
    except Exception:
        logger.warning("could not queue the intake drain at worker start", exc_info=True)


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def dispatch_due_emails() -> dict[str, int]:
    """The periodic sweep (every minute): requeue rows of dead workers, send every due row."""
    totals: dict[str, int] = {"recovered": outbox_recover_stuck()}
    deadline = time.monotonic() + _SWEEP_BUDGET_SECONDS
    batch = settings.RELOCATE_EMAIL_BATCH_SIZE
    while time.monotonic() < deadline:
        ids = outbox_claim_due(limit=batch)
        # The deadline is checked before each email, not between batches: one slow mail server
        # cannot carry a batch past the soft time limit.
        for outcome, count in outbox_deliver(ids, deadline=deadline).items():
            totals[outcome] = totals.get(outcome, 0) + count
        if len(ids) < batch or totals.get("released"):
            break
    return totals


# --- webhooks (issue 13) ------------------------------------------------------------------


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def send_webhook_delivery(delivery_id: int) -> str:
    """Send one webhook delivery written a moment ago; a row already claimed (or sent) is left alone."""
    from leads.services.webhooks import webhook_claim_one, webhook_deliver

    if not webhook_claim_one(delivery_id):
        return "not due or already taken"
    return ",".join(sorted(webhook_deliver([delivery_id])))


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def dispatch_due_webhooks() -> dict[str, int]:
    """The periodic sweep (every minute): requeue rows of dead workers, send every due row. One
    POST takes at most RELOCATE_WEBHOOK_TIMEOUT, so budget plus one POST stays inside the soft limit."""
    from leads.services.webhooks import BATCH_SIZE, webhook_claim_due, webhook_deliver, webhook_recover_stuck

    totals: dict[str, int] = {"recovered": webhook_recover_stuck()}
    deadline = time.monotonic() + _SWEEP_BUDGET_SECONDS
    while time.monotonic() < deadline:
        ids = webhook_claim_due(limit=BATCH_SIZE)
        for outcome, count in webhook_deliver(ids, deadline=deadline).items():
            totals[outcome] = totals.get(outcome, 0) + count
        if len(ids) < BATCH_SIZE or totals.get("released"):
            break
    return totals


@shared_task(time_limit=300, soft_time_limit=240, ignore_result=True)
def queue_digests() -> int:
    """Hourly: the recruiters of employers where it is 8 o'clock get their daily digest."""
    return digests_queue()


@shared_task(time_limit=300, soft_time_limit=240, ignore_result=True)
def check_stale_interest() -> dict[str, int]:
    """Hourly: ask quiet leads if they are still interested; close those who never answered."""
    return {"asked": stale_checks_queue(), "closed": stale_leads_close()}


# --- reports (issue 5) --------------------------------------------------------------------


@shared_task(time_limit=900, soft_time_limit=840, ignore_result=True)
def queue_weekly_reports() -> int:
    """Weekly (Monday 07:00 UTC): last week's report to every employer's admins."""
    from leads.services.reporting import weekly_reports_queue

    return weekly_reports_queue()


@shared_task(time_limit=300, soft_time_limit=240, ignore_result=True)
def check_surges() -> int:
    """Hourly: alert admins once per surge, the same day it starts."""
    from leads.services.reporting import surge_alerts_queue

    return surge_alerts_queue()


# --- privacy (issue 12) -------------------------------------------------------------------


@shared_task(time_limit=3600, soft_time_limit=3300, ignore_result=True)
def apply_retention() -> dict[str, int]:
    """Daily (03:00 UTC): warn admins a week ahead, anonymise the leads whose time is up."""
    from leads.services.retention import retention_run

    # Well inside the soft limit: what is left is done tomorrow.
    return retention_run(budget_seconds=3000)


# --- the API ------------------------------------------------------------------------------


@shared_task(time_limit=300, soft_time_limit=240, ignore_result=True)
def purge_idempotency_records() -> int:
    """Hourly: forget the Idempotency-Key answers older than a day."""
    from leads.api.idempotency import idempotency_purge

    return idempotency_purge()
