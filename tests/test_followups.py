"""Follow-ups: acknowledgement, sequences, stop conditions, send windows, retries, unsubscribe."""

from __future__ import annotations

import datetime as dt
import smtplib
import zoneinfo

import pytest
import time_machine
from django.core import mail

from leads.emails import unsubscribe_token
from leads.models import ActivityKind, Lead, OutboundEmail, OutboundKind, OutboundStatus, SequenceStep, Stage
from leads.sendwindow import next_send_time
from leads.services.followups import followups_pause, followups_resume
from leads.services.intake import inquiry_receive
from leads.services.outbox import outbox_claim_due, outbox_claim_one, outbox_deliver, outbox_recover_stuck
from leads.services.pipeline import lead_move_stage
from leads.services.timeline import activity_log
from leads.tasks import dispatch_due_emails, send_outbound_email
from tests.factories import ClosedReasonFactory, EmailTemplateFactory, SequenceFactory

# Monday 2 November 2026, 20:00 UTC = Tuesday 09:00 in Auckland, 15:00 Monday in New York.
MONDAY = dt.datetime(2026, 11, 2, 20, 0, tzinfo=dt.UTC)
WEEKDAYS = frozenset(range(5))


@pytest.fixture
def sequence(cast):
    ack = EmailTemplateFactory(employer=cast.employer, name="Ack", kind="acknowledgement",
                               subject="Thanks, {{ lead.first_name }}",
                               body_text="We got it. Unsubscribe: {{ unsubscribe_url }}")
    seq = SequenceFactory(employer=cast.employer, name="Default")
    for position, days in enumerate((2, 5, 10), start=1):
        SequenceStep.objects.create(
            sequence=seq, position=position, delay_days=days,
            template=EmailTemplateFactory(employer=cast.employer, name=f"Step {position}",
                                          subject=f"Step {position} for {{{{ lead.name }}}}",
                                          body_text="Hello {{ lead.first_name }} from {{ recruiter.name }}",
                                          body_html="<p>Hello {{ lead.name }}</p>"),
        )
    cast.employer.default_sequence = seq
    cast.employer.save()
    return seq, ack


def receive(cast, email="ana@example.org", country="US", **kwargs):
    kwargs.setdefault("privacy_accepted", True)  # the web form requires it
    return inquiry_receive(employer=cast.employer, channel="web_form", email=email, name="Ana Silva",
                           fields={"current_country": country}, **kwargs)


def sweep(at: dt.datetime) -> dict:
    with time_machine.travel(at, tick=False):
        return dispatch_due_emails()


def rows(lead: Lead, kind: str = OutboundKind.FOLLOWUP) -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(lead=lead, kind=kind).order_by("scheduled_at"))


def test_intake_queues_ack_sequence_and_owner_notification(cast, sequence):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    ack = OutboundEmail.objects.get(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT)
    assert ack.status == OutboundStatus.SCHEDULED and ack.scheduled_at == MONDAY
    assert ack.template == sequence[1]
    assert [r.scheduled_at for r in rows(lead)] == [MONDAY + dt.timedelta(days=d) for d in (2, 7, 17)]
    note = OutboundEmail.objects.get(kind=OutboundKind.NOTIFICATION)
    assert note.to_user == cast.teammate and note.to_email == cast.teammate.email
    assert "Ana Silva" in note.subject


def test_repeat_inquiry_acknowledges_once_a_day_and_never_requeues_the_sequence(cast, sequence):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        receive(cast)  # the same afternoon: the first acknowledgement answers both
    assert OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT).count() == 1
    with time_machine.travel(MONDAY + dt.timedelta(hours=25), tick=False):
        receive(cast)
    assert OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT).count() == 2
    assert len(rows(lead)) == 3


def test_ack_sent_at_once_with_headers(cast, sequence):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        ack = OutboundEmail.objects.get(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT)
        assert send_outbound_email(ack.pk) == "sent"
        assert send_outbound_email(ack.pk) == "not due or already taken"  # run twice: sent once
    acks = [m for m in mail.outbox if m.subject == "Thanks, Ana"]
    assert len(acks) == 1
    message = acks[0]
    token = unsubscribe_token(lead.pk)
    assert token in message.body
    assert message.extra_headers["List-Unsubscribe"] == f"<http://127.0.0.1:8000/unsubscribe/{token}/>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    ack.refresh_from_db()
    assert message.extra_headers["Message-ID"] == ack.message_id
    assert ack.status == OutboundStatus.SENT and ack.sent_at == MONDAY and ack.attempts == 1


def test_default_acknowledgement_when_employer_has_no_template(cast):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        sweep(MONDAY)
    ack = [m for m in mail.outbox if m.to == [lead.email]]
    assert len(ack) == 1 and "We received your inquiry" in ack[0].subject
    assert "Ana" in ack[0].body


def test_steps_go_out_in_the_leads_window(cast, sequence):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead  # New York
    sweep(MONDAY)
    first = rows(lead)[0]
    # Due Wednesday 20:00 UTC = 15:00 in New York: inside the window, sent.
    sweep(MONDAY + dt.timedelta(days=2))
    first.refresh_from_db()
    assert first.status == OutboundStatus.SENT
    sent = [m for m in mail.outbox if m.subject == "Step 1 for Ana Silva"]
    assert len(sent) == 1
    assert sent[0].alternatives[0][1] == "text/html"
    assert "Hello Ana from" in sent[0].body


def test_step_outside_window_is_held_until_it_opens(cast, sequence):
    # 23:00 UTC on Wednesday = 18:00 in New York: after hours.
    late = dt.datetime(2026, 11, 4, 23, 0, tzinfo=dt.UTC)
    with time_machine.travel(late - dt.timedelta(days=2), tick=False):
        lead = receive(cast).lead
    sweep(late)
    first = rows(lead)[0]
    assert first.status == OutboundStatus.SCHEDULED
    assert first.scheduled_at == dt.datetime(2026, 11, 5, 14, 0, tzinfo=dt.UTC)  # Thu 09:00 EST
    assert "outside the send window: held until Thu 05 Nov 09:00 America/New_York" in first.status_reason
    assert first.attempts == 0
    assert not [m for m in mail.outbox if m.subject.startswith("Step")]
    sweep(first.scheduled_at)
    first.refresh_from_db()
    assert first.status == OutboundStatus.SENT


def test_holiday_in_the_leads_country_holds_the_step(cast, sequence):
    # Thursday 26 November 2026 is Thanksgiving in the US.
    with time_machine.travel(dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC), tick=False):
        lead = receive(cast).lead
    sweep(dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC))
    first = rows(lead)[0]
    assert first.status == OutboundStatus.SCHEDULED
    assert first.status_reason.startswith("Thanksgiving")
    assert first.scheduled_at == dt.datetime(2026, 11, 27, 14, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # Saturday in Auckland -> Monday 09:00 NZDT.
        (dt.datetime(2026, 11, 6, 22, 0, tzinfo=dt.UTC), "Pacific/Auckland", dt.datetime(2026, 11, 8, 20, 0)),
        # US DST ends Sunday 1 Nov 2026: Monday 09:00 is EST (UTC-5), not EDT.
        (dt.datetime(2026, 10, 31, 12, 0, tzinfo=dt.UTC), "America/New_York", dt.datetime(2026, 11, 2, 14, 0)),
        # Friday before the change: 09:00 EDT (UTC-4).
        (dt.datetime(2026, 10, 30, 5, 0, tzinfo=dt.UTC), "America/New_York", dt.datetime(2026, 10, 30, 13, 0)),
        # Inside the window: now.
        (dt.datetime(2026, 11, 3, 15, 0, tzinfo=dt.UTC), "America/New_York", dt.datetime(2026, 11, 3, 15, 0)),
    ],
)
def test_next_send_time_across_zones_and_dst(now, zone, expected):
    got = next_send_time(now, zoneinfo.ZoneInfo(zone), start=dt.time(9), end=dt.time(17), weekdays=WEEKDAYS)
    assert got == expected.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("stop", ["reply", "contacted_then_applied", "closed", "paused", "unsubscribed"])
def test_stop_conditions_cancel_with_reason(cast, sequence, stop):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        if stop == "reply":
            activity_log(lead=lead, kind=ActivityKind.REPLY, actor=cast.teammate, summary="Wrote back")
        elif stop == "contacted_then_applied":
            lead_move_stage(lead=lead, to_stage=Stage.CONTACTED)
            assert all(r.status == OutboundStatus.SCHEDULED for r in rows(lead))
            lead_move_stage(lead=lead, to_stage=Stage.APPLIED)
        elif stop == "closed":
            reason = ClosedReasonFactory(employer=cast.employer, label="Not a fit")
            lead_move_stage(lead=lead, to_stage=Stage.DECLINED, closed_reason=reason)
        elif stop == "paused":
            followups_pause(lead=lead, by=cast.teammate)
        else:
            from leads.services.followups import lead_unsubscribe

            lead_unsubscribe(lead=lead)
    statuses = {(r.status, r.status_reason) for r in rows(lead)}
    assert len(statuses) == 1
    status, reason = statuses.pop()
    assert status == OutboundStatus.CANCELLED
    assert reason


def test_worker_rechecks_just_before_sending(cast, sequence):
    """A stop that lands after the row was claimed (or that bypassed the services) still holds."""
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    due = MONDAY + dt.timedelta(days=2)
    with time_machine.travel(due, tick=False):
        ids = outbox_claim_due(limit=10)
        Lead.objects.filter(pk=lead.pk).update(unsubscribed_at=due)
        outbox_deliver(ids)
    assert len(ids) == 3  # acknowledgement and first step to the lead, the owner's notification
    assert {r.status for r in OutboundEmail.objects.filter(pk__in=ids, lead=lead)} == {OutboundStatus.CANCELLED}
    assert [m.to for m in mail.outbox] == [[cast.teammate.email]]


def test_pause_then_resume_schedules_only_what_is_left(cast, sequence):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    sweep(MONDAY + dt.timedelta(days=2))  # step 1 sent
    with time_machine.travel(MONDAY + dt.timedelta(days=3), tick=False):
        followups_pause(lead=lead, by=cast.teammate)
    assert [r.status for r in rows(lead)] == ["sent", "cancelled", "cancelled"]
    resume_at = MONDAY + dt.timedelta(days=20)
    with time_machine.travel(resume_at, tick=False):
        assert followups_resume(lead=lead, by=cast.teammate) == 2
    after = rows(lead)
    assert [r.status for r in after] == ["sent", "scheduled", "scheduled"]
    assert all(r.scheduled_at == resume_at for r in after[1:])
    sweep(resume_at)
    assert len([m for m in mail.outbox if m.subject.startswith("Step 1")]) == 1


def test_missing_template_is_skipped_with_reason(cast, sequence):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.FOLLOWUP).update(template=None)
    sweep(MONDAY + dt.timedelta(days=2))
    assert rows(lead)[0].status == OutboundStatus.SKIPPED
    assert rows(lead)[0].status_reason == "template missing"


def test_broken_template_is_skipped_not_crashed(cast, sequence):
    step_template = SequenceStep.objects.get(sequence=sequence[0], position=1).template
    step_template.body_text = "{% if %}"
    step_template.save()
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    sweep(MONDAY + dt.timedelta(days=2))
    first = rows(lead)[0]
    assert first.status == OutboundStatus.SKIPPED and "cannot be rendered" in first.status_reason


class FlakyBackend:
    """An email backend whose server answers with the given SMTP error."""

    error: Exception | None = None

    def __init__(self, *args, **kwargs) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send_messages(self, messages) -> int:
        if FlakyBackend.error:
            raise FlakyBackend.error
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.test_followups.FlakyBackend"
    settings.RELOCATE_EMAIL_MAX_ATTEMPTS = 3
    yield FlakyBackend
    FlakyBackend.error = None


def test_transient_failure_retries_with_backoff_then_gives_up(cast, flaky):
    flaky.error = smtplib.SMTPResponseException(451, b"try later")
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    ack = OutboundEmail.objects.get(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT)
    sweep(MONDAY)
    ack.refresh_from_db()
    assert (ack.status, ack.attempts, ack.scheduled_at) == ("scheduled", 1, MONDAY + dt.timedelta(minutes=1))
    assert "451" in ack.last_error
    sweep(MONDAY + dt.timedelta(minutes=1))
    ack.refresh_from_db()
    assert (ack.attempts, ack.scheduled_at) == (2, MONDAY + dt.timedelta(minutes=3))
    sweep(MONDAY + dt.timedelta(minutes=3))
    ack.refresh_from_db()
    assert ack.status == OutboundStatus.FAILED and ack.attempts == 3
    assert "gave up" in ack.status_reason


def test_transient_failure_then_success(cast, flaky):
    flaky.error = smtplib.SMTPServerDisconnected("gone")
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    sweep(MONDAY)
    flaky.error = None
    sweep(MONDAY + dt.timedelta(minutes=1))
    ack = OutboundEmail.objects.get(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT)
    assert ack.status == OutboundStatus.SENT and ack.attempts == 2
    assert len([m for m in mail.outbox if m.to == [lead.email]]) == 1


def test_permanent_failure_marks_row_and_flags_lead(cast, sequence, flaky):
    flaky.error = smtplib.SMTPRecipientsRefused({"ana@example.org": (550, b"no such user")})
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
    sweep(MONDAY)
    ack = OutboundEmail.objects.get(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT)
    assert ack.status == OutboundStatus.FAILED and "550" in ack.last_error
    lead.refresh_from_db()
    assert lead.email_bounced_at == MONDAY
    assert lead.activities.filter(summary__contains="failed permanently").exists()
    flaky.error = None
    sweep(MONDAY + dt.timedelta(days=2))
    assert rows(lead)[0].status == OutboundStatus.CANCELLED


def test_stuck_sending_row_is_recovered(cast):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        ack = OutboundEmail.objects.get(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT)
        assert outbox_claim_one(ack.pk)
        # The worker dies here. Too early to recover:
        assert outbox_recover_stuck() == 0
    sweep(MONDAY + dt.timedelta(minutes=11))
    ack.refresh_from_db()
    assert ack.status == OutboundStatus.SENT and ack.attempts == 2
    assert len([m for m in mail.outbox if m.to == [lead.email]]) == 1


def test_dispatch_twice_sends_each_email_once(cast, sequence):
    with time_machine.travel(MONDAY, tick=False):
        for i in range(5):
            receive(cast, email=f"p{i}@example.org")
    sweep(MONDAY)
    sweep(MONDAY)
    acks = [m for m in mail.outbox if m.subject == "Thanks, Ana"]
    assert len(acks) == 5
    assert OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT, status="sent").count() == 5


def test_dispatch_query_count_does_not_grow_with_batch(cast, sequence, django_assert_num_queries):
    def queue_and_count(n: int, start: int) -> int:
        with time_machine.travel(MONDAY, tick=False):
            for i in range(n):
                receive(cast, email=f"q{start + i}@example.org")
        OutboundEmail.objects.exclude(kind=OutboundKind.ACKNOWLEDGEMENT).delete()
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx, time_machine.travel(MONDAY, tick=False):
            ids = outbox_claim_due(limit=1000)
            outbox_deliver(ids)
        return len(ctx.captured_queries) - n  # one UPDATE per email is the floor

    assert queue_and_count(3, 0) == queue_and_count(12, 100)


def test_old_imported_inquiry_starts_its_sequence_now(cast, sequence):
    a_year_ago = MONDAY - dt.timedelta(days=365)
    with time_machine.travel(MONDAY, tick=False):
        lead = inquiry_receive(employer=cast.employer, channel="import", email="old@example.org", name="Old Lead",
                               received_at=a_year_ago, legal_basis="legitimate_interest").lead
    assert [r.scheduled_at for r in rows(lead)] == [MONDAY + dt.timedelta(days=d) for d in (2, 7, 17)]


def test_malformed_profile_url_is_a_validation_error(cast):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        inquiry_receive(employer=cast.employer, channel="api", email="u@example.org", name="U",
                        fields={"profile_url": "https://[x"})
    assert "profile_url" in exc.value.message_dict


def test_rate_limit_fails_open_when_the_cache_server_is_down(settings):
    from django.core.cache import cache

    from leads.ratelimit import rate_limit_hit

    # A real Redis cache at an address where nothing listens.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    with pytest.raises(Exception, match=r"(?i)connect"):
        cache.add("probe", 1)
    assert rate_limit_hit("test", "127.0.0.1", limit=1, window=60)
    assert rate_limit_hit("test", "127.0.0.1", limit=1, window=60)  # not counted: allowed again
