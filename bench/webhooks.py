"""Benchmark: sending 2,000 due webhook deliveries to a receiver on loopback.

Prints deliveries per second and database queries per delivery for several batch sizes (the
median of three runs each). Queries per delivery must not grow with the batch: one UPDATE per
delivery (marking it delivered) plus a handful per batch (the claim and its transaction, the
load, and the health of each endpoint once).
The receiver is an ``http.server`` in this process answering 204, so the figures are the
sender's cost (DNS check, connect, sign, POST, mark), not a real network's.

Runs on the database of DATABASE_URL (SQLite by default, PostgreSQL in production):

    .venv/bin/python bench/webhooks.py [--deliveries 2000] [--endpoints 4] [--batches 50,100,500] [--runs 3]

It creates a throwaway employer with its endpoints and deliveries and deletes them at the end. It
refuses to run where other deliveries are due, since the sweep would send those too. Loopback
receivers are allowed for the run only (DEBUG and RELOCATE_WEBHOOK_ALLOW_LOOPBACK, in memory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relocate.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from leads.models import Employer, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint  # noqa: E402
from leads.services.webhooks import webhook_claim_due, webhook_deliver, webhook_secret_new  # noqa: E402

Status = WebhookDeliveryStatus


@dataclass
class Run:
    deliveries: int
    seconds: float
    queries: int
    claims: int


class _Receiver(BaseHTTPRequestHandler):
    received = 0
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def start_receiver() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def setup(count: int, endpoints: int, port: int) -> Employer:
    tag = uuid.uuid4().hex[:8]
    employer = Employer.objects.create(name=f"Bench webhooks {tag}", slug=f"bench-webhooks-{tag}",
                                       destination_country="NZ")
    targets = [
        WebhookEndpoint.objects.create(employer=employer, url=f"http://127.0.0.1:{port}/hook/{n}",
                                       events=["lead.stage_changed"], secret=webhook_secret_new())
        for n in range(endpoints)
    ]
    now = timezone.now()
    rows = []
    for i in range(count):
        event_id = uuid.uuid4()
        body = json.dumps({"id": str(event_id), "type": "lead.stage_changed", "created_at": now.isoformat(),
                           "data": {"lead": i, "from": "new", "to": "contacted", "at": now.isoformat(),
                                    "closed_reason": None, "by": "recruiter"}}, separators=(",", ":"))
        rows.append(WebhookDelivery(employer=employer, endpoint=targets[i % endpoints], event_id=event_id,
                                    event_type="lead.stage_changed", body=body, scheduled_at=now, created_at=now))
    WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    return employer


def reset(employer: Employer) -> None:
    WebhookDelivery.objects.filter(employer=employer).update(
        status=Status.SCHEDULED, scheduled_at=timezone.now(), attempts=0, delivered_at=None, claimed_at=None,
    )
    _Receiver.received = 0


def dispatch_all(batch: int) -> Run:
    """What the periodic sweep does (dispatch_due_webhooks), without its time budget."""
    delivered = claims = 0
    reset_queries()  # DEBUG logs every query in a deque of 9,000: start each run with it empty
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        while True:
            ids = webhook_claim_due(limit=batch)
            claims += 1
            delivered += webhook_deliver(ids).get("delivered", 0)
            if len(ids) < batch:
                break
    return Run(deliveries=delivered, seconds=time.perf_counter() - started, queries=len(queries), claims=claims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2_000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--batches", default="50,100,500")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    # CaptureQueriesContext keeps the last 9,000 queries: enough for one delivery each and more.
    if args.deliveries > 8_000:
        sys.exit("--deliveries is at most 8000 (CaptureQueriesContext keeps 9,000 queries)")

    settings.DEBUG = True  # in memory, for this process: lets the sender call the loopback receiver
    settings.RELOCATE_WEBHOOK_ALLOW_LOOPBACK = True
    others = WebhookDelivery.objects.filter(status__in=[Status.SCHEDULED, Status.SENDING],
                                            scheduled_at__lte=timezone.now() + dt.timedelta(hours=1))
    if others.exists():
        sys.exit(f"{others.count()} other webhook deliveries are due in this database; run the benchmark on a "
                 "database of its own (the sweep would send them too).")

    server = start_receiver()
    print(f"webhook benchmark: {args.deliveries} due deliveries to {args.endpoints} endpoints, "
          f"{connection.vendor} database, receiver on 127.0.0.1 (204), median of {args.runs} runs")
    employer = setup(args.deliveries, args.endpoints, server.server_address[1])
    try:
        print(f"{'batch':>6} {'sent':>6} {'seconds':>8} {'deliv/s':>8} {'queries':>8} {'q/deliv':>8} "
              f"{'q/batch beyond 1/deliv':>23}")
        for batch in batches:
            runs = []
            for _ in range(args.runs):
                reset(employer)
                run = dispatch_all(batch)
                if run.deliveries != args.deliveries or _Receiver.received != args.deliveries:
                    sys.exit(f"delivered {run.deliveries} ({_Receiver.received} received), expected "
                             f"{args.deliveries}")
                runs.append(run)
            median = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
            per_batch = (median.queries - median.deliveries) / median.claims
            print(f"{batch:>6} {median.deliveries:>6} {median.seconds:>8.2f} "
                  f"{median.deliveries / median.seconds:>8.0f} {median.queries:>8} "
                  f"{median.queries / median.deliveries:>8.3f} {per_batch:>23.1f}")
            spread = statistics.pstdev(r.seconds for r in runs)
            print(f"{'':>6} runs: {', '.join(f'{r.seconds:.2f}' for r in runs)} s (sd {spread:.2f})")
    finally:
        server.shutdown()
        employer.delete()
        print("cleaned up the benchmark's employer, endpoints and deliveries")


if __name__ == "__main__":
    main()
