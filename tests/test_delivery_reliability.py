"""Delivery reliability with real components: a real SMTP server (aiosmtpd), PostgreSQL, a Redis
server this module starts and stops itself, and real Celery workers (in-process and as separate
processes killed with SIGKILL).

The guarantee these tests hold the code to is written down in docs/delivery.md: every due email
is delivered at least once; a copy is sent twice only when the outcome of a send is unknown (the
sending process died between the server's acceptance and the row being marked sent, or the
server's reply was lost), at most one duplicate per process killed or reply lost.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlsplit

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from leads.emails import message_id, unsubscribe_url
from leads.models import (
    Inquiry,
    Lead,
    OutboundEmail,
    OutboundKind,
    OutboundStatus,
    SequenceStep,
    WorkerHeartbeat,
)
from leads.services.intake import inquiry_receive
from leads.tasks import dispatch_due_emails, heartbeat
from relocate.celery import app
from tests.factories import EmailTemplateFactory, SequenceFactory
from tests.helpers_smtp import free_port
from tests.waiting import wait_until

# Monday 2 November 2026, 20:00 UTC = 15:00 in New York (the leads below live in the US).
MONDAY = dt.datetime(2026, 11, 2, 20, 0, tzinfo=dt.UTC)
BASE_DIR = Path(__file__).resolve().parent.parent
SENDER = ("Kiwi Ledger Talent", "talent@kiwiledger.example")


# Fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def sequence(cast):
    """An acknowledgement template with an HTML part, and a three-step sequence."""
    employer = cast.employer
    employer.sender_name, employer.sender_email = SENDER
    ack = EmailTemplateFactory(
        employer=employer, name="Ack", kind="acknowledgement", subject="Thanks, {{ lead.first_name }}",
        body_text="We got your inquiry.\nUnsubscribe: {{ unsubscribe_url }}",
        body_html='<p>We got your inquiry, {{ lead.first_name }}.</p><a href="{{ unsubscribe_url }}">Stop</a>',
    )
    seq = SequenceFactory(employer=employer, name="Default")
    for position, days in enumerate((2, 5, 10), start=1):
        SequenceStep.objects.create(
            sequence=seq, position=position, delay_days=days,
            template=EmailTemplateFactory(
                employer=employer, name=f"Step {position}", subject=f"Step {position}",
                body_text="Hello {{ lead.first_name }}", body_html="<p>Hello {{ lead.first_name }}</p>",
            ),
        )
    employer.default_sequence = seq
    employer.save()
    return seq, ack


def receive(cast, email: str = "ana@example.org", channel: str = "web_form"):
    # The web form's consent: without a legal basis nothing would be sent.
    return inquiry_receive(employer=cast.employer, channel=channel, email=email, name="Ana Silva",
                           fields={"current_country": "US"}, privacy_accepted=True)


def acks(lead: Lead) -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT))


def queue_due_acknowledgements(employer, count: int) -> list[OutboundEmail]:
    """``count`` leads, each with an acknowledgement due now: what a burst of inquiries leaves."""
    now = timezone.now()
    leads = Lead.objects.bulk_create(
        [Lead(employer=employer, name=f"Lead {i}", email=f"lead{i}@example.org", current_country="US",
              time_zone="America/New_York", created_at=now, legal_basis="consent") for i in range(count)]
    )
    return OutboundEmail.objects.bulk_create(
        [OutboundEmail(employer=employer, lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT, to_email=lead.email,
                       unique_key=f"bulk:{lead.pk}:ack", message_id=message_id(f"bulk:{lead.pk}:ack"),
                       scheduled_at=now) for lead in leads]
    )


def ci_or_skip(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


# 1. Through a real SMTP server ------------------------------------------------------------
def test_inquiry_acknowledged_once_on_the_wire_and_one_click_unsubscribe_stops_the_rest(
    cast, sequence, smtp, client
):
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        dispatch_due_emails()
        dispatch_due_emails()  # the sweep run twice sends nothing more

    [ack] = acks(lead)
    received = smtp.recorder.messages(to=lead.email)
    assert len(received) == 1, "exactly one acknowledgement reached the SMTP server"
    wire = received[0].message
    link = unsubscribe_url(lead.pk)
    assert ack.status == OutboundStatus.SENT
    assert wire["Message-ID"] == ack.message_id
    # A long header is folded on the wire ("List-Unsubscribe:" CRLF SP "<...>"); unfolded, the
    # value keeps that space, which RFC 2369 allows around the bracketed link.
    assert wire["List-Unsubscribe"].strip() == f"<{link}>"
    assert wire["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    sender = wire["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == SENDER
    assert received[0].envelope_from == SENDER[1]
    assert wire["Subject"] == "Thanks, Ana"
    assert wire.get_content_type() == "multipart/alternative"
    assert link in wire.get_body(preferencelist=("plain",)).get_content()
    assert f'href="{link}"' in wire.get_body(preferencelist=("html",)).get_content()
    # The recruiter's note about the new lead went out in the same session, without the
    # unsubscribe headers (it is not a marketing email to the lead).
    [note] = smtp.recorder.messages(to=cast.teammate.email)
    assert note.message["List-Unsubscribe"] is None and note.message["Auto-Submitted"] == "auto-generated"

    # Step 1 is due on Wednesday, 15:00 in New York: it goes out.
    with time_machine.travel(MONDAY + dt.timedelta(days=2), tick=False):
        dispatch_due_emails()
    assert [r.message["Subject"] for r in smtp.recorder.messages(to=lead.email)] == ["Thanks, Ana", "Step 1"]

    # The mail client's one-click unsubscribe (RFC 8058): a POST to the header's link.
    with time_machine.travel(MONDAY + dt.timedelta(days=3), tick=False):
        response = client.post(urlsplit(link).path, data="List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.unsubscribed_at == MONDAY + dt.timedelta(days=3)
    assert lead.activities.filter(summary="Unsubscribed (one-click from the mail client)").count() == 1
    steps = OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.FOLLOWUP).order_by("scheduled_at")
    assert [(r.status, r.status_reason) for r in steps] == [
        (OutboundStatus.SENT, ""),
        (OutboundStatus.CANCELLED, "the lead unsubscribed"),
        (OutboundStatus.CANCELLED, "the lead unsubscribed"),
    ]
    # The days steps 2 and 3 were due, and well after: nothing more reaches the server.
    for days in (7, 17, 30):
        with time_machine.travel(MONDAY + dt.timedelta(days=days), tick=False):
            dispatch_due_emails()
    assert len(smtp.recorder.messages(to=lead.email)) == 2


def test_recipient_refused_with_550_fails_the_row_and_flags_the_lead(cast, sequence, smtp):
    smtp.recorder.rcpt_reply = lambda address: (
        "550 5.1.1 <ana@example.org>: Recipient address rejected: User unknown"
        if address == "ana@example.org" else None
    )
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        totals = dispatch_due_emails()
    [ack] = acks(lead)
    assert ack.status == OutboundStatus.FAILED
    assert "550" in ack.last_error and "User unknown" in ack.last_error
    lead.refresh_from_db()
    assert lead.email_bounced_at == MONDAY
    assert lead.activities.filter(summary="Email to ana@example.org failed permanently").exists()
    assert smtp.recorder.messages(to=lead.email) == []
    # The refusal did not spoil the SMTP session: the next email of the batch was delivered.
    assert len(smtp.recorder.messages(to=cast.teammate.email)) == 1
    assert totals == {"recovered": 0, "failed": 1, "sent": 1}
    # The rest of the sequence stops: the address bounced.
    with time_machine.travel(MONDAY + dt.timedelta(days=2), tick=False):
        dispatch_due_emails()
    first_step = OutboundEmail.objects.filter(lead=lead, kind=OutboundKind.FOLLOWUP).earliest("scheduled_at")
    assert first_step.status == OutboundStatus.CANCELLED
    assert smtp.recorder.messages(to=lead.email) == []


def test_sender_address_refused_does_not_flag_the_lead(cast, sequence, smtp):
    """A 553 to MAIL FROM says our sender address is wrong (an employer's misconfigured sender),
    not the lead's: the lead must not be marked bounced and lose the rest of its sequence."""
    smtp.recorder.mail_reply = lambda address: "553 5.7.1 Sender address rejected: not owned by user"
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        dispatch_due_emails()
    [ack] = acks(lead)
    assert ack.status == OutboundStatus.FAILED and "553" in ack.last_error
    lead.refresh_from_db()
    assert lead.email_bounced_at is None
    assert not lead.activities.filter(summary__contains="failed permanently").exists()
    smtp.recorder.mail_reply = None  # the employer fixes its sender: the sequence carries on
    with time_machine.travel(MONDAY + dt.timedelta(days=2), tick=False):
        dispatch_due_emails()
    assert [r.message["Subject"] for r in smtp.recorder.messages(to=lead.email)] == ["Step 1"]


@pytest.mark.parametrize("stage", ["DATA", "RCPT"])
def test_server_answering_451_is_retried_later_and_sent_once_when_it_recovers(cast, sequence, smtp, stage):
    """451 at RCPT TO is how greylisting answers a first delivery attempt; at DATA it is a busy
    server. Either way the address is fine and the email must go out later, once."""
    state = {"busy": True}

    def busy(address: str) -> str | None:
        return "451 4.7.1 Please try again later" if state["busy"] and address == "ana@example.org" else None

    if stage == "RCPT":
        smtp.recorder.rcpt_reply = busy
    else:
        smtp.recorder.data_reply = busy
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        dispatch_due_emails()
    [ack] = acks(lead)
    assert (ack.status, ack.attempts) == (OutboundStatus.SCHEDULED, 1), ack.status_reason
    assert ack.scheduled_at == MONDAY + dt.timedelta(minutes=1)
    assert "451" in ack.last_error
    lead.refresh_from_db()
    assert lead.email_bounced_at is None, "a temporary refusal must not mark the address bounced"

    with time_machine.travel(MONDAY + dt.timedelta(seconds=30), tick=False):
        dispatch_due_emails()  # not due yet: the server is not asked again
    assert len(smtp.recorder.refused) == 1
    state["busy"] = False
    with time_machine.travel(MONDAY + dt.timedelta(minutes=1), tick=False):
        dispatch_due_emails()
        dispatch_due_emails()
    ack.refresh_from_db()
    assert (ack.status, ack.attempts, ack.sent_at) == (OutboundStatus.SENT, 2, MONDAY + dt.timedelta(minutes=1))
    [delivered] = smtp.recorder.messages(to=lead.email)
    assert delivered.message["Message-ID"] == ack.message_id


def test_server_closing_the_session_with_421_delays_only_the_email_it_refused(cast, smtp):
    """421 means "closing the channel" (a busy server, a per-session message limit): smtplib
    hangs up. The email refused waits for its retry; the rest of the batch must not fail with it."""
    state = {"refused": False}

    def busy_once(address: str) -> str | None:
        if address == "p1@example.org" and not state["refused"]:
            state["refused"] = True
            return "421 4.7.0 Too many messages in this session, closing"
        return None

    smtp.recorder.data_reply = busy_once
    with time_machine.travel(MONDAY, tick=False):
        for i in range(4):
            receive(cast, email=f"p{i}@example.org")
        totals = dispatch_due_emails()
    statuses = dict(OutboundEmail.objects.filter(kind=OutboundKind.ACKNOWLEDGEMENT).values_list("to_email", "status"))
    assert statuses == {"p0@example.org": "sent", "p1@example.org": "scheduled",
                        "p2@example.org": "sent", "p3@example.org": "sent"}, totals
    assert totals == {"recovered": 0, "sent": 7, "retry": 1}


def test_reply_lost_after_the_server_accepted_is_the_one_case_that_duplicates(cast, smtp):
    """The server queued the message but the connection broke before its 250 arrived: the sender
    cannot tell this from a failure, so it sends again, with the same Message-ID (docs/delivery.md)."""
    smtp.recorder.hang_up_after_data = lambda address: (
        address == "ana@example.org" and len(smtp.recorder.messages(to=address)) == 1
    )
    with time_machine.travel(MONDAY, tick=False):
        lead = receive(cast).lead
        dispatch_due_emails()
    [ack] = acks(lead)
    assert (ack.status, ack.attempts) == (OutboundStatus.SCHEDULED, 1)
    with time_machine.travel(MONDAY + dt.timedelta(minutes=1), tick=False):
        dispatch_due_emails()
    ack.refresh_from_db()
    assert (ack.status, ack.attempts) == (OutboundStatus.SENT, 2)
    copies = smtp.recorder.messages(to=lead.email)
    assert [c.message_id for c in copies] == [ack.message_id, ack.message_id]
    assert len(smtp.recorder.messages(to=cast.teammate.email)) == 1


# 2. Two dispatchers at once on PostgreSQL ---------------------------------------------------
def _dispatch_in_thread(barrier: threading.Barrier, results: list, errors: list) -> None:
    try:
        barrier.wait(timeout=10)
        results.append(dispatch_due_emails())
    except Exception as exc:  # noqa: BLE001 - reported by the test in the main thread
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_send_each_email_exactly_once(postgres, cast, smtp, settings):
    settings.RELOCATE_EMAIL_BATCH_SIZE = 20  # many small batches: the two sweeps interleave
    smtp.recorder.data_delay = 0.003
    rows = queue_due_acknowledgements(cast.employer, 300)
    barrier = threading.Barrier(2)
    results: list[dict] = []
    errors: list[Exception] = []
    threads = [threading.Thread(target=_dispatch_in_thread, args=(barrier, results, errors)) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    print(f"\ntwo dispatchers: 300 emails in {time.monotonic() - started:.2f} s, split {results}")
    assert not errors, errors
    assert sorted(r.get("sent", 0) for r in results)[0] > 0, "both sweeps must have sent a share"
    assert sum(r.get("sent", 0) for r in results) == 300
    counts = smtp.recorder.message_id_counts()
    assert counts == {row.message_id: 1 for row in rows}, "every email exactly once on the wire"
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {OutboundStatus.SENT}
    assert set(OutboundEmail.objects.values_list("attempts", flat=True)) == {1}
    # And once more, after both: nothing is left to send.
    assert dispatch_due_emails() == {"recovered": 0}
    assert smtp.recorder.count() == 300


# A Redis server of our own ----------------------------------------------------------------
@dataclass
class RedisServer:
    """redis-server on a free port, without persistence: stopping it loses what it held, as a
    crashed broker does."""

    port: int
    workdir: str
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not wait_until(self._answers, timeout=10):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:  # noqa: BLE001 - not listening yet
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=2, socket_connect_timeout=2)

    def messages(self, queue: str) -> list[dict]:
        """The Celery messages waiting in a queue, oldest first."""
        return [json.loads(raw) for raw in reversed(self.client().lrange(queue, 0, -1))]


def _forget_broker_connections() -> None:
    """Drop the app's pooled broker connections so that the next publish connects to the
    broker_url now configured (what Celery itself does after a fork)."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@pytest.fixture
def redis_broker() -> Iterator[RedisServer]:
    """Our own Redis, and the Celery app publishing to it for the length of the test."""
    if not shutil.which("redis-server"):
        ci_or_skip("needs the redis-server binary (apt-get install redis-server)")
    server = RedisServer(port=free_port(), workdir=tempfile.mkdtemp(prefix="relocate-redis-"))
    server.start()
    broker_conf = {**_production_broker_settings(server.url), "broker_url": server.url}
    saved = {key: app.conf.get(key) for key in broker_conf}
    app.conf.update(broker_conf)
    _forget_broker_connections()
    try:
        yield server
    finally:
        _forget_broker_connections()
        app.conf.update(saved)
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def _production_broker_settings(redis_url: str) -> dict[str, object]:
    """The broker_* configuration relocate/settings.py gives Celery when REDIS_URL is set, read
    from the settings file itself, so that this test runs the production Redis setup even in a
    test run whose own broker is the filesystem one."""
    with mock.patch.dict(os.environ, {"REDIS_URL": redis_url}):
        namespace = runpy.run_path(str(BASE_DIR / "relocate" / "settings.py"))
    return {key.removeprefix("CELERY_").lower(): value for key, value in namespace.items()
            if key.startswith("CELERY_BROKER_")}


@contextmanager
def in_process_worker(queue: str) -> Iterator[None]:
    from celery.contrib.testing.worker import start_worker

    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10):
        yield


def sweep_done(queue: str) -> bool:
    """Wait until the in-process worker on ``queue`` has run everything sent before this call:
    it runs one task at a time in order (solo pool, prefetch 1, late acks), so once a heartbeat
    sent after them has run, they have."""
    marker = f"after-{uuid.uuid4().hex}"
    heartbeat.apply_async(args=[marker], queue=queue)
    return wait_until(WorkerHeartbeat.objects.filter(name=marker).exists, timeout=30, interval=0.1)


# 3. The broker down while inquiries arrive ---------------------------------------------------
@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_broker_down_inquiries_stored_and_every_acknowledgement_sent_once_when_it_is_back(
    cast, smtp, redis_broker, caplog
):
    caplog.set_level(logging.WARNING, logger="leads.services.outbox")
    kick_queue = app.conf.task_default_queue
    # Broker up: the on-commit kicks reach Redis (the acknowledgement and the recruiter's note).
    first = receive(cast, email="before@example.org").lead
    due_ids = set(OutboundEmail.objects.filter(scheduled_at__lte=timezone.now()).values_list("id", flat=True))
    assert len(due_ids) == 2
    assert redis_broker.client().llen(kick_queue) == 2

    redis_broker.stop()
    timings = []
    emails = [f"during{i}@example.org" for i in range(3)]
    for email, channel in zip(emails, ["web_form", "api", "email"], strict=True):
        started = time.monotonic()
        receive(cast, email=email, channel=channel)  # must not raise
        timings.append(time.monotonic() - started)
    print(f"\ninquiry_receive with the broker down: {', '.join(f'{t:.2f} s' for t in timings)}")
    leads = list(Lead.objects.filter(email__in=emails))
    assert len(leads) == 3 and Inquiry.objects.filter(lead__in=leads).count() == 3
    assert all(len(acks(lead)) == 1 and acks(lead)[0].status == OutboundStatus.SCHEDULED for lead in leads)
    warnings = [r for r in caplog.records if r.getMessage().startswith("broker unavailable")]
    assert len(warnings) == 6  # two kicks per new lead, each logged, none raised

    # Redis comes back, empty: the kicks it held before it died are gone. The sweep, run by a
    # real worker through the broker, sends everything once.
    redis_broker.start()
    # The web process needs no restart: the next inquiry's kicks reach the broker again.
    after = receive(cast, email="after@example.org").lead
    assert redis_broker.client().llen(kick_queue) == 2
    worker_queue = f"test-{uuid.uuid4().hex}"
    with in_process_worker(worker_queue):
        dispatch_due_emails.apply_async(queue=worker_queue)
        assert wait_until(lambda: smtp.recorder.count() >= 10, timeout=30), smtp.recorder.count()
        assert wait_until(
            lambda: not OutboundEmail.objects.filter(scheduled_at__lte=timezone.now())
            .exclude(status=OutboundStatus.SENT).exists(), timeout=10,
        )
        dispatch_due_emails.apply_async(queue=worker_queue)  # a second sweep finds nothing
        assert sweep_done(worker_queue)
    for lead in [first, *leads, after]:
        [ack] = acks(lead)
        assert [r.message_id for r in smtp.recorder.messages(to=lead.email)] == [ack.message_id]
    assert set(smtp.recorder.message_id_counts().values()) == {1}
    assert smtp.recorder.count() == 10  # five acknowledgements, five notes to the recruiter
    # Checked last so that the delivery above is proven either way: the kick is best effort and
    # must not hold the person's request while kombu retries a dead broker.
    assert max(timings) < 1.5, f"an inquiry took {max(timings):.1f} s with the broker down"


# 4. A worker killed with SIGKILL in the middle of a batch -----------------------------------
def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker_process(name: str, queue: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    celery = Path(sys.executable).with_name("celery")
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - a fixed command line
            [str(celery), "-A", "relocate", "worker", "--pool=solo", "-Q", queue, "-n", f"{name}@%h",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )


# Seconds after which the separate workers take a claimed row for stuck (their environment).
STUCK_AFTER = 2


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.mark.postgres
@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_then_restarted_sends_every_email_with_at_most_one_duplicate(
    postgres, cast, smtp, redis_broker, tmp_path
):
    total = 300
    smtp.recorder.data_delay = 0.02  # a slow server (the scenario): the batch takes several seconds
    rows = queue_due_acknowledgements(cast.employer, total)
    queue = f"test-{uuid.uuid4().hex}"
    env = {
        **os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": redis_broker.url, "EMAIL_URL": smtp.url,
        "RELOCATE_EMAIL_STUCK_AFTER_SECONDS": str(STUCK_AFTER), "RELOCATE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "relocate.settings", "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "workers.log"
    first = second = None
    try:
        dispatch_due_emails.apply_async(queue=queue)
        first = _start_worker_process("doomed", queue, env, log)
        assert smtp.recorder.wait_for(total // 4, timeout=40), log.read_text()[-3000:]
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = smtp.recorder.count()
        stuck = OutboundEmail.objects.filter(status=OutboundStatus.SENDING).count()
        print(f"\nkilled the worker after {at_kill} of {total} emails; {stuck} rows left in `sending`")
        assert 0 < at_kill < total and stuck > 0, "the worker must die in the middle of a batch"

        # The second worker recovers rows claimed longer than RELOCATE_EMAIL_STUCK_AFTER_SECONDS
        # ago (its own clock, which time_machine cannot move): wait until all of them are.
        assert wait_until(lambda: not OutboundEmail.objects.filter(
            status=OutboundStatus.SENDING, claimed_at__gte=timezone.now() - dt.timedelta(seconds=STUCK_AFTER),
        ).exists(), timeout=10)
        second = _start_worker_process("fresh", queue, env, log)
        dispatch_due_emails.apply_async(queue=queue)
        done = wait_until(lambda: not OutboundEmail.objects.exclude(status=OutboundStatus.SENT).exists(), 40)
        assert done, log.read_text()[-3000:]
    finally:
        _stop(first)
        _stop(second)
        connections.close_all()

    counts = smtp.recorder.message_id_counts()
    duplicates = {mid: n for mid, n in counts.items() if n > 1}
    print(f"{sum(counts.values())} messages on the wire for {total} emails; duplicates: {len(duplicates)}")
    assert set(counts) == {row.message_id for row in rows}, "every email reached the server"
    assert sum(n - 1 for n in duplicates.values()) <= 1, "at most one duplicate per worker killed"
    for mid in duplicates:
        # The duplicate is the email that was in flight when the worker died: sent twice, with the
        # same Message-ID, so the receiving side can tell.
        assert OutboundEmail.objects.get(message_id=mid).attempts == 2


# 5. The on-commit kick ----------------------------------------------------------------------
@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_on_commit_kick_publishes_one_task_per_due_row_and_a_worker_sends_them(cast, smtp, redis_broker):
    kick_queue = app.conf.task_default_queue
    lead = receive(cast).lead
    receive(cast)  # a repeat inquiry the same day: no second acknowledgement, no second note to the recruiter
    due = OutboundEmail.objects.filter(scheduled_at__lte=timezone.now() + dt.timedelta(minutes=1))
    later = OutboundEmail.objects.filter(scheduled_at__gt=timezone.now() + dt.timedelta(minutes=1))
    assert due.count() == 2 and later.count() == 0  # the acknowledgement and the note; no sequence here
    messages = redis_broker.messages(kick_queue)
    assert [m["headers"]["task"] for m in messages] == ["leads.tasks.send_outbound_email"] * 2
    kicked = [json.loads(base64.b64decode(m["body"]))[0][0] for m in messages]
    assert sorted(kicked) == sorted(due.values_list("id", flat=True)), "one message per due row"

    # A worker on that queue sends them without any sweep.
    with in_process_worker(kick_queue):
        assert smtp.recorder.wait_for(2, timeout=30)
        assert wait_until(lambda: not due.exclude(status=OutboundStatus.SENT).exists(), timeout=10)
    assert len(smtp.recorder.messages(to=lead.email)) == 1
    assert set(smtp.recorder.message_id_counts().values()) == {1}
