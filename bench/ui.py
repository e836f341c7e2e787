"""Server time of the recruiter UI's heavy pages on a large data set. Prints; asserts nothing.

    python manage.py seed_demo --leads 1000000          # once (PostgreSQL: DATABASE_URL=...)
    python bench/ui.py [--runs 9] [--user ava]

Each page is requested in-process with django.test.Client (no network, no browser), logged
in as the demo recruiter; the figure is the median wall time of the whole request (URL
routing, queries, template) after one warm-up request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relocate.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--user", default="ava")
    parser.add_argument("--deep-row", type=int, default=500_000,
                        help="the row of the list whose keyset page is measured (default 500,000)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from leads.models import Lead, Membership
    from leads.selectors.leads import encode_cursor

    user = get_user_model().objects.get(username=args.user)
    employer_id = Membership.objects.filter(user=user).values_list("employer_id", flat=True).first()
    total = Lead.objects.count()
    mine = Lead.objects.filter(employer_id=employer_id).count()
    deep_row = min(args.deep_row, max(mine - 1, 0))
    # Found once with OFFSET here, so that the page itself is asked for with a key.
    deep_lead = Lead.objects.filter(employer_id=employer_id).order_by("-created_at", "-pk")[deep_row]
    cursor = encode_cursor(deep_lead, "newest")

    client = Client()
    client.force_login(user)
    pages = [
        ("lead list, page 1", "/leads/"),
        ("lead list, filtered", "/leads/?stage=contacted&current_country=US&needs_sponsorship=yes"),
        ("lead list, search: one letter", "/leads/?q=a"),
        ("lead list, search: a name with no match", "/leads/?q=zzqx"),
        ("lead list, search: a full email", f"/leads/?q={deep_lead.email}"),
        ("lead list, citizenship + duplicates", "/leads/?citizenship=US&duplicate=on"),
        (f"lead list, keyset page at row {deep_row:,}", f"/leads/?after={cursor}"),
        ("board", "/leads/board/"),
        ("board, the New column's next page", "/leads/board/column/new/?after=" + _board_cursor(employer_id)),
        ("tasks", "/tasks/"),
        ("dashboard", "/"),
        ("lead page", f"/leads/{deep_lead.pk}/"),
    ]
    print(f"data set: {total:,} leads in all, {mine:,} at {args.user}'s employer; "
          f"database {connection.vendor}; {args.runs} runs each, median server time")
    for label, url in pages:
        response = client.get(url)  # warm-up (and a check that the page works)
        if response.status_code != 200:
            print(f"  {label:45s} HTTP {response.status_code} for {url}")
            continue
        timings = []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                client.get(url)
                timings.append(time.perf_counter() - started)
        print(f"  {label:45s} {statistics.median(timings) * 1000:8.1f} ms  "
              f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}; {len(queries)} queries)")


def _board_cursor(employer_id: int) -> str:
    """Where the New column's second page starts: after its first page of cards."""
    from leads.models import Lead
    from leads.selectors.board import BOARD_COLUMN_CAP
    from leads.selectors.leads import encode_cursor

    card = Lead.objects.filter(employer_id=employer_id, stage="new", erased_at__isnull=True).order_by(
        "-created_at", "-pk")[BOARD_COLUMN_CAP - 1]
    return encode_cursor(card, "newest")


if __name__ == "__main__":
    main()
