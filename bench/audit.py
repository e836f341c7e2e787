"""Benchmark: one lead's audit log at 10,000,000 rows.

Fills the audit table with ROWS events (10 million by default) spread over ~2,000 leads of one
employer and a year, with one INSERT ... SELECT from generate_series (the database makes the
rows; nothing crosses the wire), ANALYZEs, then times the query the lead's log page in admin
runs: the employer's rows of one lead, newest first, the first page of 50. Prints the median of
several runs in ms and the index the plan uses (target: under 100 ms, through audit_emp_lead).

PostgreSQL only:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relocate_bench_audit .venv/bin/python bench/audit.py

(create the database first with ``createdb -h 127.0.0.1 -U postgres relocate_bench_audit``). It
migrates the database, and reuses the rows of an earlier run when the table already has ROWS
of the bench employer (``--refill`` starts again).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relocate.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from leads.models import AuditAction, AuditEvent, Employer  # noqa: E402

SLUG = "bench-audit"
PAGE = 50
ACTIONS = [AuditAction.VIEWED, AuditAction.VIEWED, AuditAction.VIEWED, AuditAction.CHANGED, AuditAction.EXPORTED]


def fill(employer: Employer, rows: int, leads: int) -> float:
    """The rows in one statement; the time it took. Each row's lead is ``1 + i % leads`` (so
    every lead has rows across the whole year) and its time is spread evenly over a year."""
    assert AuditEvent._meta.db_table == "leads_auditevent"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM leads_auditevent WHERE employer_id = %s", [employer.pk])
        cursor.execute(
            """
            INSERT INTO leads_auditevent (employer_id, lead_id, user_id, username, action, detail, at, remote_addr)
            SELECT %s, 1 + i %% %s, NULL, 'bench', (%s::varchar[])[1 + i %% %s], 'lead page',
                   now() - (i * (interval '365 days' / %s)), NULL
            FROM generate_series(1, %s) AS i
            """,
            [employer.pk, leads, [str(a) for a in ACTIONS], len(ACTIONS), rows, rows],
        )
        cursor.execute("ANALYZE leads_auditevent")
    return time.perf_counter() - started


def page_query(employer_id: int, lead_id: int):
    # What the changelist runs for ?lead_id=<id>: scoped to the employer, the model's ordering.
    return AuditEvent.objects.filter(employer_id=employer_id, lead_id=lead_id).select_related("employer")[:PAGE]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--leads", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--refill", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/audit.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0, interactive=False)
    employer, _ = Employer.objects.get_or_create(slug=SLUG,
                                                 defaults={"name": "Bench audit", "destination_country": "NZ"})
    present = AuditEvent.objects.filter(employer=employer).count()
    if args.refill or present != args.rows:
        seconds = fill(employer, args.rows, args.leads)
        print(f"inserted {args.rows:,} audit rows over {args.leads:,} leads and a year in {seconds:.1f} s")
    else:
        print(f"reusing {present:,} audit rows")

    timings = []
    for run in range(args.runs):
        lead_id = 1 + (run * 277) % args.leads  # a different lead each run: no one page stays cached
        started = time.perf_counter()
        page = list(page_query(employer.pk, lead_id))
        timings.append((time.perf_counter() - started) * 1000)
        assert len(page) == PAGE, len(page)
    plan = page_query(employer.pk, 1).explain()
    indexes = sorted(set(re.findall(r"Index (?:Only )?Scan(?: Backward)? using (\w+)", plan)))
    median = statistics.median(timings)
    print(f"lead's log page (employer + lead_id, newest first, {PAGE} rows): median {median:.1f} ms "
          f"of {args.runs} runs (min {min(timings):.1f}, max {max(timings):.1f}); target < 100 ms")
    print(f"index used: {', '.join(indexes) or 'none (sequential scan)'}")
    print(plan)
    if median >= 100:
        sys.exit(1)


if __name__ == "__main__":
    main()
