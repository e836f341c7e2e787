"""Recruiter digests and stale interest: time-zone aware, queued once, closed only after silence."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from leads.models import OutboundEmail, OutboundKind, OutboundStatus, Stage
from leads.services.intake import inquiry_receive
from leads.services.pipeline import lead_move_stage
from leads.services.reminders import digests_queue, stale_checks_queue, stale_leads_close
from leads.tasks import check_stale_interest, dispatch_due_emails, queue_digests
from leads.tokens import Purpose, token_make

# 19:00 UTC on Sunday 1 Nov 2026 = 08:00 on Monday 2 Nov in Auckland (NZDT, UTC+13).
AUCKLAND_8AM = dt.datetime(2026, 11, 1, 19, 0, tzinfo=dt.UTC)


def receive(cast, email: str, at: dt.datetime, country: str = "US"):
    with time_machine.travel(at, tick=False):
        return inquiry_receive(employer=cast.employer, channel="web_form", email=email, name="Lee Park",
                               fields={"current_country": country}, privacy_accepted=True).lead


def test_digest_lists_overdue_leads_at_8_local_and_only_once(cast):
    overdue = receive(cast, "late@example.org", AUCKLAND_8AM - dt.timedelta(hours=30))
    fresh = receive(cast, "fresh@example.org", AUCKLAND_8AM - dt.timedelta(hours=2))
    contacted = receive(cast, "done@example.org", AUCKLAND_8AM - dt.timedelta(hours=40))
    with time_machine.travel(AUCKLAND_8AM - dt.timedelta(hours=39), tick=False):
        lead_move_stage(lead=contacted, to_stage=Stage.CONTACTED)
    # At 7 o'clock local nothing is queued.
    with time_machine.travel(AUCKLAND_8AM - dt.timedelta(hours=1), tick=False):
        assert digests_queue() == 0
    with time_machine.travel(AUCKLAND_8AM, tick=False):
        assert queue_digests() == 1
        assert queue_digests() == 0  # the same day: nothing twice
    digest = OutboundEmail.objects.get(kind=OutboundKind.DIGEST)
    assert digest.to_user == cast.teammate
    assert digest.unique_key.endswith(":2026-11-02")
    assert "1 lead(s) waiting" in digest.subject
    assert "late@example.org" in digest.body_text
    assert f"http://127.0.0.1:8000/leads/{overdue.pk}/" in digest.body_text
    assert fresh.email not in digest.body_text and contacted.email not in digest.body_text


def test_digest_skipped_when_nothing_to_say(cast):
    receive(cast, "fresh@example.org", AUCKLAND_8AM - dt.timedelta(hours=1))
    with time_machine.travel(AUCKLAND_8AM, tick=False):
        assert digests_queue() == 0


def test_digest_of_other_employer_stays_there(cast):
    receive(cast, "late@example.org", AUCKLAND_8AM - dt.timedelta(hours=30))
    with time_machine.travel(AUCKLAND_8AM, tick=False):
        digests_queue()
    assert not OutboundEmail.objects.filter(kind=OutboundKind.DIGEST, to_user=cast.outsider).exists()


START = dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def quiet_lead(cast):
    return receive(cast, "quiet@example.org", START)


def test_stale_lead_is_asked_once_then_closed_after_two_weeks_of_silence(cast, quiet_lead):
    day_91 = START + dt.timedelta(days=91)
    with time_machine.travel(START + dt.timedelta(days=89), tick=False):
        assert stale_checks_queue() == 0
    with time_machine.travel(day_91, tick=False):
        assert check_stale_interest() == {"asked": 1, "closed": 0}
        assert check_stale_interest() == {"asked": 0, "closed": 0}
        dispatch_due_emails()
        message = next(m for m in mail.outbox if m.to == [quiet_lead.email] and "still interested" in m.subject)
        assert f"/still-interested/{token_make(Purpose.STILL_INTERESTED, quiet_lead.pk)}/" in message.body
        # One purpose per link: the unsubscribe link does not answer the question.
        assert f"/still-interested/{token_make(Purpose.UNSUBSCRIBE, quiet_lead.pk)}/" not in message.body
    check = OutboundEmail.objects.get(kind=OutboundKind.STALE_CHECK)
    assert check.status == OutboundStatus.SENT
    with time_machine.travel(day_91 + dt.timedelta(days=13), tick=False):
        assert stale_leads_close() == 0
    with time_machine.travel(day_91 + dt.timedelta(days=15), tick=False):
        assert stale_leads_close() == 1
    quiet_lead.refresh_from_db()
    assert quiet_lead.stage == Stage.UNRESPONSIVE
    assert quiet_lead.closed_reason.label == "No answer to the still-interested check"
    assert quiet_lead.furthest_stage == Stage.NEW


def test_answering_keeps_the_lead_open(client, cast, quiet_lead):
    day_91 = START + dt.timedelta(days=91)
    with time_machine.travel(day_91, tick=False):
        stale_checks_queue()
        dispatch_due_emails()
    with time_machine.travel(day_91 + dt.timedelta(days=3), tick=False):
        url = f"/still-interested/{token_make(Purpose.STILL_INTERESTED, quiet_lead.pk)}/"
        assert client.get(url).status_code == 200
        quiet_lead.refresh_from_db()
        assert quiet_lead.last_activity_at == START  # a GET (a mail scanner) changes nothing
        assert client.post(url).status_code == 200
    with time_machine.travel(day_91 + dt.timedelta(days=20), tick=False):
        assert stale_leads_close() == 0
    quiet_lead.refresh_from_db()
    assert quiet_lead.stage == Stage.NEW
    assert quiet_lead.activities.filter(summary__startswith="Confirmed still interested").exists()


@pytest.mark.parametrize("state", ["unsubscribed", "paused", "hired", "closed"])
def test_not_asked_when_unreachable_or_past_offer(cast, quiet_lead, state):
    from leads.models import Lead
    from tests.factories import ClosedReasonFactory

    if state == "unsubscribed":
        Lead.objects.filter(pk=quiet_lead.pk).update(unsubscribed_at=START)
    elif state == "paused":
        Lead.objects.filter(pk=quiet_lead.pk).update(followups_paused=True)
    else:
        with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
            if state == "hired":
                lead_move_stage(lead=quiet_lead, to_stage=Stage.HIRED)
            else:
                reason = ClosedReasonFactory(employer=cast.employer)
                lead_move_stage(lead=quiet_lead, to_stage=Stage.DECLINED, closed_reason=reason)
    with time_machine.travel(START + dt.timedelta(days=200), tick=False):
        assert stale_checks_queue() == 0
