"""Webhooks through the outbox, against a real HTTP receiver on a loopback port: signatures,
retries, rollbacks, the SSRF rules, pinned connections, disabling, tenancy and admin."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from django.core.checks import run_checks
from django.db import transaction
from django.urls import reverse

from leads import webhook_http
from leads.models import (
    OutboundEmail,
    OutboundKind,
    Role,
    Stage,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from leads.services import webhooks
from leads.services.intake import inquiry_receive
from leads.services.pipeline import lead_move_stage, stage_move_step
from leads.services.privacy import lead_erase
from leads.tasks import dispatch_due_webhooks, send_webhook_delivery
from tests.factories import ClosedReasonFactory, LeadFactory, MembershipFactory, UserFactory

DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ALL_EVENTS = list(WebhookEvent.values)
Status = WebhookDeliveryStatus


# --- a real receiver --------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class Receiver:
    """An HTTP server in a thread that records every request and answers from a script
    (``answers``: (status, text, headers) in order, then 204)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.connections = 0
        self.answers: list[tuple[int, str, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Received(self.command, self.path, {k.lower(): v for k, v in
                                                                            self.headers.items()}, body))
                status, text, extra = receiver.answers.pop(0) if receiver.answers else (204, "", {})
                data = text.encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = _record

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address) -> bool:
                receiver.connections += 1
                return True

        self.server = Server((host, port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.host, self.port = host, self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook", host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def dev(settings):
    """Development mode: http:// and loopback receivers allowed."""
    settings.DEBUG = True
    settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK = True
    settings.RELOCATE_WEBHOOK_TIMEOUT = 2
    return settings


@pytest.fixture
def dns(monkeypatch):
    """A resolver for test names: ``answers[name]`` is a list of successive answers (each a list
    of IPs; the last one repeats). Other names (and IP literals) go to the real resolver."""
    answers: dict[str, list[list[str]]] = {}
    asked: list[str] = []
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        if host not in answers:
            return real(host, port, family, type, proto, flags)
        asked.append(host)
        queue = answers[host]
        ips = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)) if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in ips
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers, asked


@pytest.fixture
def connects(monkeypatch) -> list[tuple]:
    """Every address a connection is opened to."""
    opened: list[tuple] = []
    real = socket.create_connection

    def record(address, *args, **kwargs):
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", record)
    return opened


def endpoint_for(employer, url: str, events=None, **kwargs) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(employer=employer, url=url, events=ALL_EVENTS if events is None else events,
                                          secret=webhooks.webhook_secret_new(), **kwargs)


def verify_snippet():
    """The ``verify`` function exactly as docs/webhooks.md prints it."""
    text = DOCS.read_text()
    code = re.search(r"<!-- verify-snippet[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert code, "docs/webhooks.md lost its verification snippet"
    namespace: dict = {}
    exec(compile(code[1], str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


def sweep() -> dict[str, int]:
    return dispatch_due_webhooks()


# --- events, payloads, signature ------------------------------------------------------------


def test_an_inquiry_is_delivered_signed_and_the_docs_snippet_verifies_it(cast, dev, receiver):
    endpoint = endpoint_for(cast.employer, receiver.url())
    result = inquiry_receive(employer=cast.employer, channel="web_form", email="ana@example.org", name="Ana Secret")
    assert sweep()["delivered"] == 2
    created, received = receiver.requests
    assert [r.headers["relocate-event"] for r in receiver.requests] == ["lead.created", "inquiry.received"]
    for request in receiver.requests:
        assert request.method == "POST" and request.path == "/hook"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "Relocate-Webhooks/1"
        assert b"Ana" not in request.body and b"ana@example.org" not in request.body
    body = json.loads(received.body)
    assert body["id"] == received.headers["relocate-delivery"]
    assert body["type"] == "inquiry.received" and body["created_at"].endswith("Z")
    assert body["data"] == {"inquiry": result.inquiry.pk, "lead": result.lead.pk, "source": "web_form",
                            "received_at": webhooks.iso(result.inquiry.received_at)}
    assert json.loads(created.body)["data"] == {"lead": result.lead.pk, "source": "web_form", "opening": None,
                                                "created_at": webhooks.iso(result.lead.created_at)}
    # The body on the wire is the stored one, compact.
    row = WebhookDelivery.objects.get(event_type="inquiry.received")
    assert received.body == row.body.encode() and ", " not in row.body and row.status == Status.DELIVERED

    verify = verify_snippet()
    header = received.headers["relocate-signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert verify(endpoint.secret, received.body, header)
    assert not verify("whsec_another", received.body, header)
    assert not verify(endpoint.secret, received.body.replace(b"web_form", b"web_forn"), header)
    assert not verify(endpoint.secret, received.body, header, now=timestamp + 301)
    assert verify(endpoint.secret, received.body, header, now=timestamp + 299)
    assert not verify(endpoint.secret, received.body, "v1=deadbeef")


def test_a_repeat_inquiry_sends_only_inquiry_received(cast, dev, receiver):
    inquiry_receive(employer=cast.employer, channel="web_form", email="ana@example.org")
    endpoint_for(cast.employer, receiver.url())
    inquiry_receive(employer=cast.employer, channel="email", email="ana@example.org")
    sweep()
    assert [r.headers["relocate-event"] for r in receiver.requests] == ["inquiry.received"]
    assert json.loads(receiver.requests[0].body)["data"]["source"] == "email"


def test_stage_changes_say_who_moved_the_lead_and_why_it_closed(cast, dev, receiver):
    endpoint_for(cast.employer, receiver.url(), events=["lead.stage_changed"])
    lead = LeadFactory(employer=cast.employer)
    reason = ClosedReasonFactory(employer=cast.employer, label="No visa route")
    lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, by=cast.teammate)
    lead_move_stage(lead=lead, to_stage=Stage.DECLINED, closed_reason=reason)
    sweep()
    first, second = (json.loads(r.body)["data"] for r in receiver.requests)
    assert first == {"lead": lead.pk, "from": "new", "to": "contacted", "at": first["at"], "closed_reason": None,
                     "by": "recruiter"}
    assert (second["from"], second["to"], second["by"]) == ("contacted", "declined", "system")
    assert second["closed_reason"] == {"id": reason.pk, "label": "No visa route"}


def test_erasing_a_lead_sends_lead_erased_with_its_id_only(cast, dev, receiver):
    lead = inquiry_receive(employer=cast.employer, channel="web_form", email="ana@example.org", name="Ana").lead
    endpoint_for(cast.employer, receiver.url(), events=["lead.erased"])
    assert lead_erase(lead=lead, by=cast.owner, how="their request")
    sweep()
    (request,) = receiver.requests
    data = json.loads(request.body)["data"]
    assert data == {"lead": lead.pk, "at": webhooks.iso(lead.erased_at)}


def test_only_subscribed_active_endpoints_of_the_employer_receive(cast, dev, receiver):
    endpoint_for(cast.employer, receiver.url("/mine"), events=["lead.stage_changed"])
    endpoint_for(cast.employer, receiver.url("/erased-only"), events=["lead.erased"])
    endpoint_for(cast.employer, receiver.url("/off"), is_active=False)
    endpoint_for(cast.other_employer, receiver.url("/theirs"))
    lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
    sweep()
    assert [r.path for r in receiver.requests] == ["/mine"]
    assert not WebhookDelivery.objects.filter(employer=cast.other_employer).exists()


def test_a_rolled_back_stage_move_writes_and_sends_nothing(cast, dev, receiver, django_capture_on_commit_callbacks):
    endpoint_for(cast.employer, receiver.url())
    lead = LeadFactory(employer=cast.employer)
    doomed = LeadFactory(employer=cast.employer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError), \
            transaction.atomic():
        stage_move_step(lead=doomed, to_stage=Stage.CONTACTED)
        assert WebhookDelivery.objects.count() == 1  # written in the move's transaction...
        raise RuntimeError("the request failed after the move")
    assert callbacks == []
    assert not WebhookDelivery.objects.exists()  # ...and gone with it
    assert sweep().get("delivered", 0) == 0
    assert receiver.connections == 0
    # The same move committed is sent: the test above can fail.
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        stage_move_step(lead=lead, to_stage=Stage.CONTACTED)
    assert len(callbacks) == 1
    sweep()
    assert len(receiver.requests) == 1


def test_emit_costs_one_query_without_endpoints_and_two_with(cast, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert webhooks.webhook_emit(employer_id=cast.employer.pk, event="lead.erased", data={"lead": 1}) == 0
    endpoint_for(cast.employer, "https://hooks.example.com/a")
    endpoint_for(cast.employer, "https://hooks.example.com/b")
    with django_assert_num_queries(2):  # the endpoints, one INSERT
        assert webhooks.webhook_emit(employer_id=cast.employer.pk, event="lead.erased", data={"lead": 1}) == 2
    event_ids = set(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert len(event_ids) == 1
    with pytest.raises(ValueError, match="unknown webhook event"):
        webhooks.webhook_emit(employer_id=cast.employer.pk, event="lead.exploded", data={})


# --- the worker ---------------------------------------------------------------------------


def test_a_500_is_retried_with_backoff_and_then_delivered(cast, dev, receiver):
    endpoint = endpoint_for(cast.employer, receiver.url())
    receiver.answers = [(500, "database down " + "x" * 3000, {}), (500, "still down", {})]
    with time_machine.travel(START, tick=False):
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
        assert sweep()["retry"] == 1
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.last_status_code) == (Status.SCHEDULED, 1, 500)
    assert row.last_response.startswith("database down") and len(row.last_response) == 2000
    assert row.scheduled_at == START + dt.timedelta(minutes=1) and "HTTP 500" in row.status_reason
    endpoint.refresh_from_db()
    assert endpoint.failing_since == START and endpoint.is_active
    with time_machine.travel(START + dt.timedelta(seconds=59), tick=False):
        assert sweep().get("retry", 0) == 0  # not due yet
    with time_machine.travel(START + dt.timedelta(minutes=1), tick=False):
        assert sweep()["retry"] == 1
    row.refresh_from_db()
    assert row.scheduled_at == START + dt.timedelta(minutes=3)  # 1, then 2 minutes
    with time_machine.travel(START + dt.timedelta(minutes=3), tick=False):
        assert sweep()["delivered"] == 1
    row.refresh_from_db()
    endpoint.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == (Status.DELIVERED, 3, 204)
    assert row.delivered_at == START + dt.timedelta(minutes=3)
    assert endpoint.failing_since is None and endpoint.last_success_at == START + dt.timedelta(minutes=3)
    # Three attempts of one event: the same id and body every time.
    assert len({r.headers["relocate-delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1 and len(receiver.requests) == 3


def test_a_redirect_is_not_followed_and_counts_as_a_failure(cast, dev, receiver):
    endpoint_for(cast.employer, receiver.url())
    receiver.answers = [(302, "", {"Location": receiver.url("/elsewhere")})]
    lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
    assert sweep()["retry"] == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    row = WebhookDelivery.objects.get()
    assert row.last_status_code == 302 and "redirect, not followed" in row.status_reason


def test_a_receiver_that_does_not_answer_times_out_and_is_retried(cast, dev):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    try:
        dev.RELOCATE_WEBHOOK_TIMEOUT = 0.3
        endpoint_for(cast.employer, f"http://127.0.0.1:{silent.getsockname()[1]}/hook")
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
        assert sweep()["retry"] == 1
    finally:
        silent.close()
    row = WebhookDelivery.objects.get()
    assert row.status == Status.SCHEDULED and "timed out" in row.last_error.lower()
    assert row.last_status_code is None


def test_the_retry_window_closes_with_failed(cast, dev, receiver, settings):
    settings.RELOCATE_WEBHOOK_RETRY_HOURS = 2
    receiver.answers = [(503, "", {})] * 20
    endpoint_for(cast.employer, receiver.url())
    with time_machine.travel(START, tick=False):
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
    moment = START
    for _ in range(20):
        with time_machine.travel(moment, tick=False):
            sweep()
        row = WebhookDelivery.objects.get()
        if row.status != Status.SCHEDULED:
            break
        assert row.scheduled_at - moment <= dt.timedelta(hours=1)  # the backoff is capped at an hour
        moment = row.scheduled_at
    assert row.status == Status.FAILED and "gave up after" in row.status_reason
    assert moment == START + dt.timedelta(hours=2)  # the last attempt is at the window's end
    # 1, 2, 4, 8, 16, 32, 60 minutes fit in 2 hours only up to 63 minutes; then the end of the window.
    assert row.attempts == len(receiver.requests) == 8


def test_the_per_delivery_task_is_kicked_on_commit_and_safe_to_run_twice(
    cast, dev, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    kicked = []
    monkeypatch.setattr(send_webhook_delivery, "apply_async", lambda args, **kw: kicked.append(args[0]))
    endpoint_for(cast.employer, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
    row = WebhookDelivery.objects.get()
    assert kicked == [row.pk]
    assert send_webhook_delivery(row.pk) == "delivered"
    assert send_webhook_delivery(row.pk) == "not due or already taken"
    assert len(receiver.requests) == 1


def test_a_broker_error_in_the_kick_is_logged_and_the_sweep_sends_later(
    cast, dev, receiver, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(send_webhook_delivery, "apply_async", broker_down)
    endpoint_for(cast.employer, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
    assert "waits for the periodic sweep" in caplog.text
    assert sweep()["delivered"] == 1


def test_a_row_left_sending_by_a_dead_worker_is_requeued_and_sent_once(cast, dev, receiver):
    endpoint_for(cast.employer, receiver.url())
    with time_machine.travel(START, tick=False):
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
        row = WebhookDelivery.objects.get()
        assert webhooks.webhook_claim_one(row.pk)  # ...and the worker died
    with time_machine.travel(START + dt.timedelta(minutes=4), tick=False):
        assert sweep() == {"recovered": 0}
    with time_machine.travel(START + dt.timedelta(minutes=6), tick=False):
        assert sweep() == {"recovered": 1, "delivered": 1}
        assert sweep() == {"recovered": 0}
    assert len(receiver.requests) == 1


def test_the_sweep_costs_one_query_per_delivery_plus_a_few_per_batch(cast, dev, receiver, django_assert_num_queries):
    endpoint_for(cast.employer, receiver.url())
    for _ in range(10):
        webhooks.webhook_emit(employer_id=cast.employer.pk, event="lead.erased", data={"lead": 1})
    ids = webhooks.webhook_claim_due(limit=100)
    # Load the rows; one UPDATE per delivery; the endpoint's health once.
    with django_assert_num_queries(1 + 10 + 1):
        assert webhooks.webhook_deliver(ids)["delivered"] == 10


def test_a_failing_endpoint_makes_its_other_rows_of_the_batch_wait_instead_of_each_timing_out(cast, dev):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: connection refused
    endpoint_for(cast.employer, f"http://127.0.0.1:{port}/hook")
    for _ in range(3):
        webhooks.webhook_emit(employer_id=cast.employer.pk, event="lead.erased", data={"lead": 1})
    assert sweep() == {"recovered": 0, "retry": 1, "deferred": 2}
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {0, 1}
    assert WebhookDelivery.objects.filter(status=Status.SCHEDULED).count() == 3


# --- endpoint health ------------------------------------------------------------------------


def _move_forward(lead) -> None:
    lead.refresh_from_db()
    order = [Stage.NEW, Stage.CONTACTED, Stage.APPLIED, Stage.INTERVIEWING, Stage.OFFER]
    lead_move_stage(lead=lead, to_stage=order[order.index(lead.stage) + 1])


def test_an_endpoint_failing_for_a_day_is_disabled_its_rows_cancelled_and_admins_emailed_once(cast, dev, receiver):
    MembershipFactory(user=UserFactory(username="second-admin"), employer=cast.employer, role=Role.ADMIN)
    endpoint = endpoint_for(cast.employer, receiver.url(), description="HRIS sync")
    receiver.answers = [(500, "", {})] * 10
    with time_machine.travel(START, tick=False):
        lead = LeadFactory(employer=cast.employer)
        _move_forward(lead)
        sweep()
    first = WebhookDelivery.objects.get()
    later = START + dt.timedelta(days=1, minutes=5)
    with time_machine.travel(later, tick=False):
        _move_forward(lead)
        _move_forward(lead)
        assert send_webhook_delivery(first.pk) == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at == later
    assert "failing since" in endpoint.disabled_reason and "HTTP 500" in endpoint.disabled_reason
    waiting = WebhookDelivery.objects.exclude(pk=first.pk)
    assert waiting.count() == 2
    assert set(waiting.values_list("status", "status_reason")) == {
        (Status.CANCELLED, "the endpoint was disabled after failing for a day")
    }
    assert len(receiver.requests) == 2  # the two attempts of the first; the others were never sent
    emails = OutboundEmail.objects.filter(kind=OutboundKind.NOTIFICATION, unique_key__startswith="webhook-disabled:")
    assert sorted(emails.values_list("to_email", flat=True)) == ["owner@example.com", "second-admin@example.com"]
    email = emails.first()
    assert "HRIS sync" in email.body_text and f"/admin/leads/webhookendpoint/{endpoint.pk}/change/" in email.body_text
    # A disabled endpoint gets no new rows, and nothing disables it (or emails) twice.
    with time_machine.travel(later + dt.timedelta(minutes=1), tick=False):
        _move_forward(lead)
        assert not webhooks.webhook_endpoint_disable_failing(endpoint=endpoint, now=later, last_reason="x")
        sweep()
    assert WebhookDelivery.objects.count() == 3 and emails.count() == 2


def test_a_success_in_between_keeps_a_flaky_endpoint_enabled(cast, dev, receiver):
    endpoint = endpoint_for(cast.employer, receiver.url())
    with time_machine.travel(START, tick=False):
        lead = LeadFactory(employer=cast.employer)
    # A failure, the retry succeeds two hours later, a new event fails a day after the first failure.
    for hours, move, answer in ((0, True, 500), (2, False, 204), (25, True, 500)):
        receiver.answers = [(answer, "", {})]
        with time_machine.travel(START + dt.timedelta(hours=hours), tick=False):
            if move:
                _move_forward(lead)
            sweep()
        assert receiver.answers == []
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since == START + dt.timedelta(hours=25)
    assert endpoint.last_success_at == START + dt.timedelta(hours=2)


# --- which URLs may be called ---------------------------------------------------------------


@pytest.mark.parametrize(("debug", "allow_loopback"), [(False, True), (True, False), (False, False)])
@pytest.mark.parametrize("how", ["ip", "name"])
def test_loopback_is_refused_unless_debug_and_the_setting_are_both_on(
    cast, settings, receiver, dns, connects, debug, allow_loopback, how
):
    settings.DEBUG, settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK = debug, allow_loopback
    answers, _ = dns
    answers["hooks.example.test"] = [["127.0.0.1"]]
    url = receiver.url() if how == "ip" else receiver.url(host="hooks.example.test", scheme="https")
    endpoint_for(cast.employer, url)
    lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
    assert sweep()["retry"] == 1
    row = WebhookDelivery.objects.get()
    assert row.status_reason.startswith("refused: ") and "no connection made" in row.last_error
    assert ("only https://" in row.status_reason) if how == "ip" else ("loopback" in row.status_reason)
    assert receiver.connections == 0 and connects == []
    # The same endpoint in development mode is called: the refusal above is the rule, not a broken receiver.
    settings.DEBUG, settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK = True, True
    WebhookEndpoint.objects.update(url=receiver.url(host="127.0.0.1" if how == "ip" else "hooks.example.test"))
    WebhookDelivery.objects.update(scheduled_at=row.created_at)
    assert sweep()["delivered"] == 1 and receiver.connections == 1


INSIDE = [
    (["10.0.0.1"], "10.0.0.1 is a private address"),
    (["169.254.169.254"], "169.254.169.254 is a link-local address"),
    (["::ffff:127.0.0.1"], "::ffff:7f00:1 embeds 127.0.0.1 is a loopback address"),
    (["::ffff:10.1.2.3"], "embeds 10.1.2.3 is a private address"),
    (["2002:a00:1::1"], "embeds 10.0.0.1 is a private address"),
    (["64:ff9b::a9fe:a9fe"], "embeds 169.254.169.254 is a link-local address"),
    (["fd00::1"], "fd00::1 is a private address"),
    (["fe80::1"], "fe80::1 is a link-local address"),
    (["100.64.0.1"], "100.64.0.1 is not a public address"),
    (["224.0.1.1"], "224.0.1.1 is a multicast address"),
    (["0.0.0.0"], "0.0.0.0 is an unspecified address"),  # noqa: S104 - an answer to refuse
    (["240.0.0.1"], "240.0.0.1 is a private address"),
    (["93.184.215.14", "10.0.0.1"], "10.0.0.1 is a private address"),  # one bad answer is enough
]


# Loopback is allowed in development, so the mapped loopback address is tried in production only.
@pytest.mark.parametrize(("answer", "why", "mode"), [
    (answer, why, mode) for mode in ("production", "development") for answer, why in INSIDE
    if not (mode == "development" and answer == ["::ffff:127.0.0.1"])
])
def test_names_resolving_inside_are_refused_without_connecting(cast, settings, dns, connects, answer, why, mode):
    settings.DEBUG = settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK = mode == "development"
    answers, asked = dns
    answers["hooks.example.test"] = [answer]
    endpoint_for(cast.employer, "https://hooks.example.test/hook")
    lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
    assert sweep()["retry"] == 1
    row = WebhookDelivery.objects.get()
    assert asked == ["hooks.example.test"] and connects == []
    assert why in row.status_reason and row.status == Status.SCHEDULED
    assert row.last_error.startswith("refused, no connection made: hooks.example.test resolves to")


def test_a_public_answer_passes_the_check(settings, dns):
    settings.DEBUG = False
    answers, _ = dns
    answers["hooks.example.test"] = [["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]]
    target = webhook_http.resolve("https://hooks.example.test/in?x=1")
    assert (target.address, target.host, target.port, target.path) == ("93.184.215.14", "hooks.example.test", 443,
                                                                       "/in?x=1")


def test_the_connection_goes_to_the_checked_address_when_dns_answers_differently_the_second_time(
    cast, dev, dns, receiver
):
    inside = Receiver(host="127.0.0.2", port=receiver.port)  # where a rebinding would lead
    try:
        answers, asked = dns
        answers["hooks.example.test"] = [["127.0.0.1"], ["127.0.0.2"]]
        endpoint_for(cast.employer, receiver.url(host="hooks.example.test"))
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
        assert sweep()["delivered"] == 1
        assert asked == ["hooks.example.test"]  # looked up once, for the check
        assert len(receiver.requests) == 1 and inside.connections == 0
        assert receiver.requests[0].headers["host"] == f"hooks.example.test:{receiver.port}"
        # A client that looked the name up again would have reached the other server: the
        # resolver really does answer differently now.
        assert socket.getaddrinfo("hooks.example.test", 80)[0][4][0] == "127.0.0.2"
    finally:
        inside.stop()


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),  # noqa: S607
         "-days", "2", "-subj", "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize(("name", "delivered"), [("hooks.example.test", True), ("other.example.test", False)])
def test_https_to_the_pinned_address_verifies_the_certificate_for_the_host_name(
    cast, dev, dns, monkeypatch, certificate, name, delivered
):
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    tls_receiver = Receiver(tls=server_tls)
    client_tls = ssl.create_default_context(cafile=str(cert))  # trusts the test certificate, checks names
    monkeypatch.setattr(webhook_http, "tls_context", lambda: client_tls)
    try:
        answers, _ = dns
        answers[name] = [["127.0.0.1"]]
        endpoint_for(cast.employer, tls_receiver.url(host=name, scheme="https"))
        lead_move_stage(lead=LeadFactory(employer=cast.employer), to_stage=Stage.CONTACTED)
        sweep()
        row = WebhookDelivery.objects.get()
        if delivered:
            assert row.status == Status.DELIVERED
            assert tls_receiver.requests[0].headers["host"] == f"{name}:{tls_receiver.port}"
        else:
            assert row.status == Status.SCHEDULED and "certificate" in row.last_error.lower()
            assert tls_receiver.requests == []
    finally:
        tls_receiver.stop()


@pytest.mark.parametrize(("url", "problem"), [
    ("http://hooks.example.com/x", "only https:// URLs are allowed"),
    ("ftp://hooks.example.com/x", "only https:// URLs are allowed"),
    ("https://user:pw@hooks.example.com/x", "no user name or password"),
    ("https://10.0.0.1/x", "10.0.0.1 is a private address"),
    ("https://[::1]/x", "::1 is a loopback address"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://hooks.example.com:99999/x", "cannot be read"),
    ("https://hooks.example.com/x", ""),
])
def test_url_problem_explains_what_the_form_refuses(settings, url, problem):
    settings.DEBUG = False
    found = webhook_http.url_problem(url)
    assert (problem in found and found) if problem else found == ""


def test_the_loopback_setting_without_debug_is_a_warning(settings):
    settings.DEBUG, settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK = False, True
    assert "relocate.W004" in [w.id for w in run_checks()]
    settings.DEBUG = True
    assert "relocate.W004" not in [w.id for w in run_checks()]
    settings.DEBUG, settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK = False, False
    assert "relocate.W004" not in [w.id for w in run_checks()]


# --- admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, cast):
    client.force_login(cast.owner)
    return client


def test_an_employer_admin_adds_an_endpoint_with_a_generated_secret(admin_client, cast, settings):
    settings.DEBUG = False
    page = admin_client.get(reverse("admin:leads_webhookendpoint_add"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="checkbox" name="events" value="lead.stage_changed"' in html
    assert "Maple Games" not in html  # the employer choice is theirs only
    refused = admin_client.post(reverse("admin:leads_webhookendpoint_add"), {
        "employer": cast.employer.pk, "url": "https://10.0.0.1/hook", "events": ["lead.created"], "is_active": "on",
    })
    assert refused.status_code == 200 and "10.0.0.1 is a private address" in refused.content.decode()
    response = admin_client.post(reverse("admin:leads_webhookendpoint_add"), {
        "employer": cast.employer.pk, "url": "https://hooks.example.com/relocate", "description": "HRIS sync",
        "events": ["lead.stage_changed", "lead.created"], "is_active": "on",
    })
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["lead.created", "lead.stage_changed"] and endpoint.employer == cast.employer
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", endpoint.secret)
    change = admin_client.get(reverse("admin:leads_webhookendpoint_change", args=[endpoint.pk]))
    assert change.status_code == 200 and endpoint.secret in change.content.decode()


def test_rotating_the_secret_and_re_enabling_clear_what_they_should(admin_client, cast):
    endpoint = endpoint_for(cast.employer, "https://hooks.example.com/x", events=["lead.created"], is_active=False,
                            disabled_at=START, disabled_reason="failing since ...", failing_since=START)
    old = endpoint.secret
    url = reverse("admin:leads_webhookendpoint_change", args=[endpoint.pk])
    page = admin_client.get(url).content.decode()
    assert "failing since ..." in page
    response = admin_client.post(url, {"url": endpoint.url, "description": "", "events": ["lead.created"],
                                       "is_active": "on", "rotate_secret": "on"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_at is None and endpoint.failing_since is None
    assert endpoint.disabled_reason == "" and endpoint.secret != old and endpoint.secret.startswith("whsec_")
    admin_client.post(reverse("admin:leads_webhookendpoint_changelist"),
                      {"action": "rotate_secrets", "_selected_action": [endpoint.pk]})
    rotated = endpoint.secret
    endpoint.refresh_from_db()
    assert endpoint.secret != rotated


def test_admins_see_only_their_employers_endpoints_and_deliveries(admin_client, cast):
    mine = endpoint_for(cast.employer, "https://hooks.example.com/mine")
    theirs = endpoint_for(cast.other_employer, "https://hooks.example.com/theirs")
    webhooks.webhook_emit(employer_id=cast.employer.pk, event="lead.erased", data={"lead": 11})
    webhooks.webhook_emit(employer_id=cast.other_employer.pk, event="lead.erased", data={"lead": 22})
    own_row = WebhookDelivery.objects.get(endpoint=mine)
    WebhookDelivery.objects.filter(pk=own_row.pk).update(last_response="<b>upstream</b> error", last_status_code=502)
    their_row = WebhookDelivery.objects.get(endpoint=theirs)

    listing = admin_client.get(reverse("admin:leads_webhookendpoint_changelist")).content.decode()
    assert "/mine" in listing and "/theirs" not in listing
    assert admin_client.get(reverse("admin:leads_webhookendpoint_change", args=[theirs.pk])).status_code == 404

    deliveries = admin_client.get(reverse("admin:leads_webhookdelivery_changelist"))
    assert deliveries.status_code == 200
    html = deliveries.content.decode()
    assert f"/webhookdelivery/{own_row.pk}/change/" in html and f"/webhookdelivery/{their_row.pk}/" not in html
    detail = admin_client.get(reverse("admin:leads_webhookdelivery_change", args=[own_row.pk]))
    text = detail.content.decode()
    assert detail.status_code == 200 and "&quot;lead&quot;: 11" in text
    assert "&lt;b&gt;upstream&lt;/b&gt; error" in text  # the receiver's answer, escaped
    assert admin_client.get(reverse("admin:leads_webhookdelivery_change", args=[their_row.pk])).status_code == 404
    assert admin_client.get(reverse("admin:leads_webhookdelivery_changelist"), {"q": "not-a-uuid"}).status_code == 200


def test_retry_now_requeues_failed_and_cancelled_rows_of_the_admins_employer_only(admin_client, cast):
    mine = endpoint_for(cast.employer, "https://hooks.example.com/mine")
    theirs = endpoint_for(cast.other_employer, "https://hooks.example.com/theirs")
    for employer in (cast.employer, cast.other_employer):
        webhooks.webhook_emit(employer_id=employer.pk, event="lead.erased", data={"lead": 1})
    WebhookDelivery.objects.update(status=Status.FAILED, attempts=7)
    response = admin_client.post(reverse("admin:leads_webhookdelivery_changelist"), {
        "action": "retry_now", "_selected_action": list(WebhookDelivery.objects.values_list("pk", flat=True)),
    })
    assert response.status_code == 302
    own, other = WebhookDelivery.objects.get(endpoint=mine), WebhookDelivery.objects.get(endpoint=theirs)
    assert (own.status, own.attempts, own.status_reason) == (Status.SCHEDULED, 0, "retried by owner")
    assert other.status == Status.FAILED


def test_a_staff_recruiter_sees_the_endpoint_but_not_its_secret(client, cast):
    cast.teammate.is_staff = True
    cast.teammate.save(update_fields=["is_staff"])
    endpoint = endpoint_for(cast.employer, "https://hooks.example.com/x")
    client.force_login(cast.teammate)
    page = client.get(reverse("admin:leads_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and "hooks.example.com" in page.content.decode()
    assert endpoint.secret not in page.content.decode()
    assert client.get(reverse("admin:leads_webhookendpoint_add")).status_code == 403
