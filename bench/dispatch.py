"""Benchmark: dispatching 10,000 due emails through the outbox, with Django's locmem backend.

Prints emails per second and database queries per email for several batch sizes (the median
of three runs each). Queries per email must not grow with the batch: one UPDATE per email
(marking it sent) plus a handful per batch (claim, load, replies).

Runs on the database of DATABASE_URL (SQLite by default, PostgreSQL in production):

    .venv/bin/python bench/dispatch.py [--emails 10000] [--batches 100,500,1000] [--runs 3]

It creates a throwaway employer with its leads and outbox rows and deletes them at the end. It
refuses to run where other emails are due, since the sweep would send those too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relocate.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from leads.models import EmailTemplate, Employer, Lead, OutboundEmail, OutboundKind, OutboundStatus  # noqa: E402
from leads.services.outbox import outbox_claim_due, outbox_deliver  # noqa: E402


@dataclass
class Run:
    emails: int
    seconds: float
    queries: int
    claims: int


class QueryCounter:
    """Counts every query on the connection (unlike CaptureQueriesContext, whose log keeps only
    the last 9,000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def setup(count: int) -> Employer:
    now = timezone.now()
    tag = uuid.uuid4().hex[:8]
    employer = Employer.objects.create(
        name=f"Bench dispatch {tag}", slug=f"bench-dispatch-{tag}", destination_country="NZ",
        sender_name="Bench Talent", sender_email="talent@bench.invalid",
    )
    template = EmailTemplate.objects.create(
        employer=employer, name="Ack", kind=EmailTemplate.Kind.ACKNOWLEDGEMENT,
        subject="Thanks, {{ lead.first_name }}",
        body_text="Hello {{ lead.first_name }}, thanks for asking about {{ opening }} at {{ employer.name }}.\n"
                  "Unsubscribe: {{ unsubscribe_url }}",
        body_html="<p>Hello {{ lead.first_name }}</p><p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
    )
    leads = Lead.objects.bulk_create(
        [Lead(employer=employer, name=f"Bench Lead {i}", email=f"lead{i}@bench.invalid", current_country="US",
              time_zone="America/New_York", created_at=now) for i in range(count)],
        batch_size=1000,
    )
    OutboundEmail.objects.bulk_create(
        [OutboundEmail(employer=employer, lead=lead, kind=OutboundKind.ACKNOWLEDGEMENT, template=template,
                       to_email=lead.email, unique_key=f"bench:{tag}:{lead.pk}",
                       message_id=f"<bench-{tag}-{lead.pk}@bench.invalid>", scheduled_at=now)
         for lead in leads],
        batch_size=1000,
    )
    return employer


def reset(employer: Employer) -> None:
    OutboundEmail.objects.filter(employer=employer).update(
        status=OutboundStatus.SCHEDULED, scheduled_at=timezone.now(), attempts=0, sent_at=None, claimed_at=None,
    )
    mail.outbox = []


def dispatch_all(batch: int) -> Run:
    """What the periodic sweep does (dispatch_due_emails), without its time budget, so that all
    rows are sent whatever the speed of the machine."""
    counter = QueryCounter()
    sent = claims = 0
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        while True:
            ids = outbox_claim_due(limit=batch)
            claims += 1
            sent += outbox_deliver(ids).get("sent", 0)
            if len(ids) < batch:
                break
    return Run(emails=sent, seconds=time.perf_counter() - started, queries=counter.count, claims=claims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--batches", default="100,500,1000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    others = OutboundEmail.objects.filter(status__in=[OutboundStatus.SCHEDULED, OutboundStatus.SENDING],
                                          scheduled_at__lte=timezone.now() + dt.timedelta(hours=1))
    if others.exists():
        sys.exit(f"{others.count()} other emails are due in this database; run the benchmark on a database "
                 "of its own (the sweep would send them too).")

    vendor = connection.vendor
    print(f"dispatch benchmark: {args.emails} due emails, {vendor} database, locmem email backend, "
          f"median of {args.runs} runs")
    employer = setup(args.emails)
    try:
        print(f"{'batch':>6} {'emails':>7} {'seconds':>8} {'emails/s':>9} {'queries':>8} {'q/email':>8} "
              f"{'q/batch beyond 1/email':>23}")
        for batch in batches:
            runs = []
            for _ in range(args.runs):
                reset(employer)
                run = dispatch_all(batch)
                if run.emails != args.emails or len(mail.outbox) != args.emails:
                    sys.exit(f"sent {run.emails} ({len(mail.outbox)} in the outbox), expected {args.emails}")
                runs.append(run)
            median = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
            per_batch = (median.queries - median.emails) / median.claims
            print(f"{batch:>6} {median.emails:>7} {median.seconds:>8.2f} {median.emails / median.seconds:>9.0f} "
                  f"{median.queries:>8} {median.queries / median.emails:>8.3f} {per_batch:>23.1f}")
            spread = statistics.pstdev(r.seconds for r in runs)
            print(f"{'':>6} runs: {', '.join(f'{r.seconds:.2f}' for r in runs)} s (sd {spread:.2f})")
    finally:
        mail.outbox = []
        employer.delete()
        print("cleaned up the benchmark's employer, leads and emails")


if __name__ == "__main__":
    main()
