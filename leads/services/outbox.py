"""The outbox: every email is a row first; workers claim due rows, check again, send, and mark.

Delivery guarantee (see docs/delivery.md): at least once, and at most one duplicate per worker
that dies in the instant between the SMTP server accepting a message and the row being
marked sent. Rows are claimed with ``select_for_update(skip_locked=True)`` (or a conditional
UPDATE for a single row), so two workers never send the same row at the same time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from leads import emails
from leads.i18n import stored_text
from leads.models import (
    MILESTONE_RANK,
    Activity,
    ActivityKind,
    EmailTemplate,
    Employer,
    Lead,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
)
from leads.sendwindow import holiday_name, next_send_time, parse_weekdays

logger = logging.getLogger(__name__)

# Emails to the lead that only go out inside the send window and stop with the sequence.
FOLLOWUP_KINDS = frozenset({OutboundKind.FOLLOWUP, OutboundKind.STALE_CHECK})
# News about other openings: sent only while the lead's news consent holds. There is no such
# kind yet; a new one goes here, and whatever queues it checks
# ``consent.consent_holds(lead, ConsentPurpose.NEWS)`` first.
NEWS_KINDS: frozenset[str] = frozenset()
_KICK_WITHIN = dt.timedelta(minutes=1)
_MAX_BACKOFF = dt.timedelta(hours=6)


def email_queue(
    *,
    employer: Employer,
    kind: str,
    unique_key: str,
    to_email: str,
    lead: Lead | None = None,
    to_user=None,
    template: EmailTemplate | None = None,
    step=None,
    sent_by=None,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    language: str = "",
    scheduled_at: dt.datetime | None = None,
) -> tuple[OutboundEmail, bool]:
    """Queue one email; the same ``unique_key`` never queues twice. Sent right after commit
    when due now, else by the periodic sweep when its time comes."""
    scheduled_at = scheduled_at or timezone.now()
    unique_key = unique_key[:200]
    row, created = _insert_once(
        unique_key,
        {
            "message_id": emails.message_id(unique_key),
            "employer": employer, "kind": kind, "to_email": to_email, "lead": lead, "to_user": to_user,
            "template": template, "step": step, "sent_by": sent_by, "subject": subject[:300], "body_text": body_text,
            "body_html": body_html, "language": language, "scheduled_at": scheduled_at,
        },
    )
    if created and scheduled_at <= timezone.now() + _KICK_WITHIN:
        transaction.on_commit(partial(outbox_kick, row.pk))
    return row, created


def _insert_once(unique_key: str, values: dict) -> tuple[OutboundEmail, bool]:
    """INSERT first and fall back to the existing row: a new email (the usual case) costs one
    statement in a savepoint instead of get_or_create's SELECT before it."""
    try:
        with transaction.atomic():
            return OutboundEmail.objects.create(unique_key=unique_key, **values), True
    except IntegrityError:
        existing = OutboundEmail.objects.filter(unique_key=unique_key).first()
        if existing is None:
            raise  # another constraint refused the row: a programming error, not a duplicate
        return existing, False


def outbox_kick(email_id: int) -> None:
    """Best effort: ask a worker to send now. With the broker down the row waits for the sweep;
    the request that queued it must never fail for that."""
    from leads.tasks import send_outbound_email

    try:
        send_outbound_email.apply_async(args=[email_id], retry=False)
    except Exception:
        logger.warning("broker unavailable: email %s waits for the periodic sweep", email_id, exc_info=True)


def outbox_claim_one(email_id: int, *, now: dt.datetime | None = None) -> bool:
    """Claim one due row with a conditional UPDATE: True for exactly one caller."""
    now = now or timezone.now()
    return bool(
        OutboundEmail.objects.filter(
            pk=email_id, status=OutboundStatus.SCHEDULED, scheduled_at__lte=now
        ).update(status=OutboundStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )


def outbox_claim_due(*, limit: int, now: dt.datetime | None = None) -> list[int]:
    """Claim up to ``limit`` due rows; rows another worker holds are skipped, not waited for."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(status=OutboundStatus.SCHEDULED, scheduled_at__lte=now)
            .order_by("scheduled_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            OutboundEmail.objects.filter(pk__in=ids).update(
                status=OutboundStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
            )
    return ids


def outbox_recover_stuck(*, now: dt.datetime | None = None) -> int:
    """Rows left in `sending` by a worker that died go back to the queue."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.RELOCATE_EMAIL_STUCK_AFTER_SECONDS)
    return OutboundEmail.objects.filter(status=OutboundStatus.SENDING, claimed_at__lt=cutoff).update(
        status=OutboundStatus.SCHEDULED,
        scheduled_at=now,
        status_reason="requeued: a worker stopped while sending",
    )


@dataclass(frozen=True)
class Decision:
    action: str  # "send", "cancel", "skip" or "hold"
    reason: str = ""
    until: dt.datetime | None = None


def outbox_deliver(ids: Iterable[int], *, now: dt.datetime | None = None, deadline: float | None = None) -> Counter:
    """Send claimed rows: re-check each just before sending, then mark it. A constant number
    of queries per batch plus one UPDATE per row.

    ``deadline`` (a time.monotonic() value) is checked before every email: the rows not started
    by then are released at once for the next sweep ("released"), so that a slow mail server
    never keeps a claimed row in `sending` until the stuck-row recovery. A soft time limit
    arriving mid-batch releases them too; the one email in flight then has an unknown outcome
    and is left to that recovery (at least once, docs/delivery.md)."""
    now = now or timezone.now()
    rows = list(
        OutboundEmail.objects.filter(pk__in=list(ids), status=OutboundStatus.SENDING)
        .select_related("employer", "lead__employer", "lead__owner", "lead__opening", "template",
                        "step__sequence", "sent_by")
        # The templates' translations, for the whole batch: the lead's language picks one.
        .prefetch_related("template__translations")
        .order_by("scheduled_at", "id")
    )
    lead_ids = {row.lead_id for row in rows if row.lead_id}
    replied = set(
        Activity.objects.filter(lead_id__in=lead_ids, kind=ActivityKind.REPLY).values_list("lead_id", flat=True)
    )
    outcome: Counter = Counter()
    if not rows:
        return outcome
    connection = get_connection()
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as exc:
        # The mail server is unreachable: every row of the batch retries later.
        for row in rows:
            outcome[_retry_or_fail(row, now, f"cannot connect to the mail server: {exc}")] += 1
        return outcome
    done: set[int] = set()
    in_flight: int | None = None
    try:
        for row in rows:
            if deadline is not None and time.monotonic() >= deadline:
                break
            in_flight = row.pk
            outcome[_deliver_one(row, replied, now, connection)] += 1
            done.add(row.pk)
            in_flight = None
            _reopen_if_dropped(connection)
    except SoftTimeLimitExceeded:
        _release([row.pk for row in rows if row.pk not in done and row.pk != in_flight])
        raise
    finally:
        connection.close()
    released = _release([row.pk for row in rows if row.pk not in done])
    if released:
        outcome["released"] += released
    return outcome


def _release(ids: list[int]) -> int:
    """Claimed rows that were never handed to the mail server go back to the queue, as if they
    had never been claimed."""
    if not ids:
        return 0
    return OutboundEmail.objects.filter(pk__in=ids, status=OutboundStatus.SENDING).update(
        status=OutboundStatus.SCHEDULED, claimed_at=None, attempts=F("attempts") - 1,
    )


def _reopen_if_dropped(connection) -> None:
    """After a 421 or a dropped link smtplib has closed its socket, but the backend still holds
    it: every later email of the batch would fail. Open a fresh session instead."""
    smtp = getattr(connection, "connection", None)
    if smtp is None or getattr(smtp, "sock", True) is not None:
        return
    connection.close()
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.open()


def _deliver_one(row: OutboundEmail, replied: set[int], now: dt.datetime, connection) -> str:
    decision = decide(row, replied=row.lead_id in replied, now=now)
    if decision.action != "send":
        return _mark_not_sent(row, decision)
    try:
        rendered = _render(row)
    except emails.TemplateError as exc:
        return _mark_not_sent(row, Decision("skip", str(exc)[:300]))
    try:
        emails.build_message(row, rendered, connection=connection).send()
    except smtplib.SMTPRecipientsRefused as exc:
        # Greylisting answers 4xx at RCPT: only a 5xx says the address itself is bad.
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            return _fail_permanently(row, now, _smtp_error(exc))
        return _retry_or_fail(row, now, _smtp_error(exc))
    except smtplib.SMTPSenderRefused as exc:
        # Our sender address was refused: the employer's setting is wrong, not the lead's address.
        if 500 <= exc.smtp_code < 600:
            return _fail_row(row, _smtp_error(exc), "the mail server refused the sender address")
        return _retry_or_fail(row, now, _smtp_error(exc))
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            # Refused at DATA (the content, for example): this email failed, the address may be fine.
            return _fail_row(row, _smtp_error(exc), f"the mail server refused the message ({exc.smtp_code})")
        return _retry_or_fail(row, now, _smtp_error(exc))
    except (smtplib.SMTPException, OSError) as exc:
        return _retry_or_fail(row, now, _smtp_error(exc))
    OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
        status=OutboundStatus.SENT, sent_at=timezone.now(), subject=rendered.subject[:300],
        body_text=rendered.text, body_html=rendered.html, language=rendered.language or row.language,
        status_reason=rendered.fallback[:300], last_error="",
    )
    return "sent"


def decide(row: OutboundEmail, *, replied: bool, now: dt.datetime) -> Decision:
    """Whether this email may go out now: the stop conditions, then the send window."""
    lead = row.lead
    if lead is None:
        return Decision("send")
    stop = lead_send_stop(lead, kind=row.kind)
    if stop:
        return Decision("cancel", stop)
    if row.kind not in FOLLOWUP_KINDS:
        return Decision("send")
    stop = followup_stop_reason(row, lead, replied=replied)
    if stop:
        return Decision("cancel", stop)
    if row.kind == OutboundKind.FOLLOWUP and row.template_id is None:
        return Decision("skip", "template missing")
    return _window_decision(row, lead, now)


def lead_send_stop(lead: Lead, *, kind: str) -> str:
    """Why no email of this kind may go to the lead at all ("" when it may): the rules every
    email obeys, checked by the worker before each send and by the compose page before it offers
    Send. In English (the rows keep it): marked, so that the compose page shows it translated."""
    if lead.erased_at:
        return gettext_noop("the lead's data was erased")
    if lead.unsubscribed_at and kind != OutboundKind.DATA_LINK:
        # A link to their own data is what the person just asked for, unsubscribed or not.
        return gettext_noop("the lead unsubscribed")
    if lead.email_bounced_at:
        return gettext_noop("the lead's address bounced before")
    if not lead.legal_basis and kind != OutboundKind.DATA_LINK:
        return gettext_noop("no legal basis is recorded for this lead")
    if kind in NEWS_KINDS and not lead.marketing_opt_in:
        # The flag is the news consent's cached state, written with every Consent row
        # (leads/services/consent.py): no query per email, and a withdrawal stops the next one.
        return gettext_noop("the lead has not agreed to news about openings")
    return ""


def followup_stop_reason(row: OutboundEmail, lead: Lead, *, replied: bool) -> str:
    if lead.followups_paused:
        return "follow-ups paused"
    if lead.is_closed:
        with stored_text():
            return f"the lead was closed ({lead.get_stage_display().lower()})"
    if replied:
        return "the lead replied"
    if row.kind == OutboundKind.FOLLOWUP:
        limit = row.step.sequence.stop_after_stage if row.step_id else "contacted"
        if MILESTONE_RANK.get(lead.stage, 0) > MILESTONE_RANK[limit]:
            return f"the lead moved past {limit}"
    return ""


def _window_decision(row: OutboundEmail, lead: Lead, now: dt.datetime) -> Decision:
    employer = row.employer
    country = lead.current_country.code if lead.current_country else ""
    zone = lead.zone
    opens = next_send_time(
        now, zone, start=employer.send_window_start, end=employer.send_window_end,
        weekdays=parse_weekdays(employer.send_weekdays), country_code=country,
    )
    if opens <= now:
        return Decision("send")
    local_now = now.astimezone(zone)
    holiday = holiday_name(local_now.date(), country)
    why = f"{holiday} in {lead.current_country.name}" if holiday else "outside the send window"
    return Decision("hold", f"{why}: held until {opens.astimezone(zone):%a %d %b %H:%M} {zone.key}", until=opens)


def _render(row: OutboundEmail) -> emails.Rendered:
    if row.lead_id is None or row.kind == OutboundKind.ONE_OFF:
        # A one-off email was rendered when the recruiter previewed it: it goes out as they saw it.
        return emails.Rendered(subject=row.subject, text=row.body_text, html=row.body_html)
    # In the lead's language as it is now: a recruiter's correction since the email was queued counts.
    return emails.lead_email_render(lead=row.lead, kind=row.kind, template=row.template) or emails.Rendered(
        subject=row.subject, text=row.body_text, html=row.body_html
    )


def _mark_not_sent(row: OutboundEmail, decision: Decision) -> str:
    if decision.action == "hold":
        OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
            status=OutboundStatus.SCHEDULED, scheduled_at=decision.until, status_reason=decision.reason,
            # Waiting for the window is not a failed attempt.
            attempts=F("attempts") - 1,
        )
        return "held"
    status = OutboundStatus.CANCELLED if decision.action == "cancel" else OutboundStatus.SKIPPED
    OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
        status=status, status_reason=decision.reason[:300]
    )
    return str(status)


def _retry_or_fail(row: OutboundEmail, now: dt.datetime, error: str) -> str:
    if row.attempts >= settings.RELOCATE_EMAIL_MAX_ATTEMPTS:
        OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
            status=OutboundStatus.FAILED, last_error=error, status_reason=f"gave up after {row.attempts} attempts"
        )
        return "failed"
    delay = min(dt.timedelta(minutes=2 ** (row.attempts - 1)), _MAX_BACKOFF)
    OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
        status=OutboundStatus.SCHEDULED, scheduled_at=now + delay, last_error=error,
        status_reason=f"temporary failure, retry {row.attempts + 1} at {now + delay:%H:%M} UTC",
    )
    return "retry"


def _fail_row(row: OutboundEmail, error: str, reason: str) -> str:
    OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
        status=OutboundStatus.FAILED, last_error=error, status_reason=reason[:300]
    )
    return "failed"


def _fail_permanently(row: OutboundEmail, now: dt.datetime, error: str) -> str:
    with transaction.atomic():
        OutboundEmail.objects.filter(pk=row.pk, status=OutboundStatus.SENDING).update(
            status=OutboundStatus.FAILED, last_error=error, status_reason="the address was refused"
        )
        if row.lead_id:
            Lead.objects.filter(pk=row.lead_id, email_bounced_at__isnull=True).update(email_bounced_at=now)
            Activity.objects.create(
                lead_id=row.lead_id, kind=ActivityKind.SYSTEM, at=now,
                summary=f"Email to {row.to_email} failed permanently", details=error,
            )
    return "failed"


def _smtp_error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def outbox_retry(*, ids: Iterable[int], by) -> int:
    """An operator sends failed, cancelled or skipped emails again, now."""
    now = timezone.now()
    return OutboundEmail.objects.filter(
        pk__in=list(ids), status__in=[OutboundStatus.FAILED, OutboundStatus.CANCELLED, OutboundStatus.SKIPPED]
    ).update(
        status=OutboundStatus.SCHEDULED, scheduled_at=now, attempts=0,
        status_reason=f"retried by {by.get_username()}"[:300],
    )


def outbox_cancel(*, ids: Iterable[int], by) -> int:
    return OutboundEmail.objects.filter(pk__in=list(ids), status=OutboundStatus.SCHEDULED).update(
        status=OutboundStatus.CANCELLED, status_reason=f"cancelled by {by.get_username()}"[:300]
    )


def outbox_daily_counts(queryset, *, days: int = 7) -> list[dict]:
    """Scheduled, sent and failed emails per day over the last ``days`` days: one query."""
    from django.db.models import Count, Q
    from django.db.models.functions import TruncDate

    since = timezone.now() - dt.timedelta(days=days)
    return list(
        queryset.filter(scheduled_at__gte=since)
        .annotate(day=TruncDate("scheduled_at"))
        .values("day")
        .annotate(
            scheduled=Count("id", filter=Q(status=OutboundStatus.SCHEDULED)),
            sent=Count("id", filter=Q(status=OutboundStatus.SENT)),
            failed=Count("id", filter=Q(status=OutboundStatus.FAILED)),
            stopped=Count("id", filter=Q(status__in=[OutboundStatus.CANCELLED, OutboundStatus.SKIPPED])),
        )
        .order_by("-day")
    )
