"""The email sweep checks its time budget before every email: a slow mail server never keeps
claimed rows in `sending`, and a soft time limit mid-batch releases what was not started."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from leads.models import OutboundEmail, OutboundStatus
from leads.services import outbox
from leads.services.outbox import email_queue, outbox_claim_due, outbox_deliver
from leads.tasks import dispatch_due_emails
from tests.helpers_smtp import SMTPServer, smtp_server


@pytest.fixture
def slow_smtp(settings) -> Iterator[SMTPServer]:
    with smtp_server() as server:
        for name, value in server.django_settings().items():
            setattr(settings, name, value)
        server.recorder.data_delay = 0.3  # a mail relay that takes its time over every message
        yield server


def queue(cast, count: int) -> None:
    for n in range(count):
        email_queue(employer=cast.employer, kind="notification", unique_key=f"deadline:{n}",
                    to_email=f"person{n}@example.org", subject=f"Note {n}", body_text="Hello")


def test_a_slow_relay_stops_the_batch_at_the_deadline_and_releases_the_rest(cast, slow_smtp):
    queue(cast, 6)
    ids = outbox_claim_due(limit=10)
    assert len(ids) == 6
    outcome = outbox_deliver(ids, deadline=time.monotonic() + 0.5)
    assert 1 <= outcome["sent"] <= 3
    assert outcome["sent"] + outcome["released"] == 6
    released = OutboundEmail.objects.filter(status=OutboundStatus.SCHEDULED)
    assert released.count() == outcome["released"]
    # As if never claimed: no attempt counted, free for the next sweep at once.
    assert set(released.values_list("attempts", "claimed_at")) == {(0, None)}
    assert slow_smtp.recorder.count() == outcome["sent"]
    # The next sweep sends them, once each.
    dispatch_due_emails()
    assert OutboundEmail.objects.filter(status=OutboundStatus.SENT).count() == 6
    assert sorted(slow_smtp.recorder.message_id_counts().values()) == [1] * 6


def test_the_sweep_task_keeps_inside_its_budget(cast, slow_smtp, monkeypatch):
    from leads import tasks

    queue(cast, 8)
    monkeypatch.setattr(tasks, "_SWEEP_BUDGET_SECONDS", 0.7)
    started = time.monotonic()
    totals = dispatch_due_emails()
    # One email may be in flight at the deadline; never the whole batch.
    assert time.monotonic() - started < 0.7 + 0.3 + 0.5
    assert totals["sent"] < 8 and totals["released"] == 8 - totals["sent"]
    assert not OutboundEmail.objects.filter(status=OutboundStatus.SENDING).exists()


def test_a_soft_time_limit_mid_batch_releases_what_was_not_started(cast, slow_smtp, monkeypatch):
    queue(cast, 4)
    ids = outbox_claim_due(limit=10)
    real = outbox._deliver_one
    calls = []

    def deliver(row, *args):
        calls.append(row.pk)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded()
        return real(row, *args)

    monkeypatch.setattr(outbox, "_deliver_one", deliver)
    with pytest.raises(SoftTimeLimitExceeded):
        outbox_deliver(ids)
    rows = dict(OutboundEmail.objects.values_list("pk", "status"))
    assert rows[calls[0]] == OutboundStatus.SENT
    # The one in flight has an unknown outcome: left to the stuck-row recovery (at least once).
    assert rows[calls[1]] == OutboundStatus.SENDING
    assert sorted(status for pk, status in rows.items() if pk not in calls) == [OutboundStatus.SCHEDULED] * 2
