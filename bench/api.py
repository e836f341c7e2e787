"""Server time of the JSON API's reads on a large data set. Prints; asserts nothing.

    python manage.py seed_demo --leads 1000000 --jobs 2   # once (PostgreSQL: DATABASE_URL=...)
    python bench/api.py [--runs 9] [--employer kiwi-ledger] [--deep-row 500000]

Each call is made in-process with django.test.Client (no network) with a read key of the
employer (created for the run, deleted after it); the figure is the median wall time of the
whole request (middleware, key check, queries, JSON) after one warm-up call. Deep pages are
asked for with the cursor the API would have given for the row at that depth (built from the
row, not walked to). Beside each (PostgreSQL): the median execution time that EXPLAIN ANALYZE
reports for the same keyset query written by hand (its main statement only: not the key check,
the prefetched lists or the audit row), and the ratio. The target is under 50 ms each.
The lead list and the lead read write an audit row per call, as they do in production.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relocate.settings")

TARGET_MS = 50.0
_LEADS = "SELECT * FROM leads_lead WHERE employer_id = %s {where} ORDER BY created_at DESC, id DESC LIMIT 51"
_AFTER = "AND (created_at, id) < (%s, %s)"
# Two stages by hand at their best: one ordered slice per stage off its index, merged.
_PAIR = """SELECT * FROM ((SELECT * FROM leads_lead WHERE employer_id = %s AND stage = %s {after}
                          ORDER BY created_at DESC, id DESC LIMIT 51)
                         UNION ALL (SELECT * FROM leads_lead WHERE employer_id = %s AND stage = %s {after}
                          ORDER BY created_at DESC, id DESC LIMIT 51)) AS two
           ORDER BY created_at DESC, id DESC LIMIT 51"""
_EVENTS = """SELECT * FROM leads_stageevent WHERE employer_id = %s AND id > %s
             AND recorded_at <= now() - make_interval(secs => %s) ORDER BY id LIMIT 100"""
# One statement returning what GET /leads/{id} shows: the lead, its inquiries, its history.
_LEAD = """SELECT l.*, (SELECT json_agg(i ORDER BY i.received_at, i.id) FROM leads_inquiry i WHERE i.lead_id = l.id),
                  (SELECT json_agg(e ORDER BY e.at, e.id) FROM leads_stageevent e WHERE e.lead_id = l.id)
           FROM leads_lead l WHERE l.employer_id = %s AND l.id = %s"""


@dataclass
class Call:
    label: str
    url: str
    sql: str = ""
    params: tuple = ()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--employer", default="kiwi-ledger", help="the employer's slug (default: the demo's largest)")
    parser.add_argument("--deep-row", type=int, default=500_000,
                        help="the row of each list whose keyset page is measured (default 500,000)")
    parser.add_argument("--skip", action="append", default=[], metavar="TEXT",
                        help="leave out the calls whose label contains TEXT (repeatable)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from leads.models import ApiKey, Employer, Lead, StageEvent
    from leads.services.api_keys import api_key_create

    # Every call counts against the key's rate; the bench is not what the limit is for.
    settings.RELOCATE_API_RATE = 10**9
    employer = Employer.objects.get(slug=args.employer)
    key, raw = api_key_create(employer=employer, name="bench/api.py")
    ApiKey.objects.filter(pk=key.pk).update(scope_intake=False, scope_read=True)
    try:
        calls = [call for call in _calls(employer.pk, args.deep_row, settings.RELOCATE_API_EVENTS_SETTLE_SECONDS)
                 if not any(word in call.label for word in args.skip)]
        total = Lead.objects.count()
        mine = Lead.objects.filter(employer_id=employer.pk).count()
        events = StageEvent.objects.filter(employer_id=employer.pk).count()
        print(f"data set: {total:,} leads in all, {mine:,} and {events:,} stage events at {args.employer}; "
              f"database {connection.vendor}; {args.runs} runs each, median server time; target < {TARGET_MS:.0f} ms")
        print(f"  {'call':52s} {'median':>9s} {'min':>7s} {'max':>7s} {'queries':>7s} {'by hand':>8s} {'ratio':>6s}")
        for call in calls:
            _measure(call, raw, args.runs, connection)
    finally:
        ApiKey.objects.filter(pk=key.pk).delete()


def _calls(employer_id: int, deep_row: int, settle: int) -> list[Call]:
    from leads.api.leads import _encode, _lead_cursor
    from leads.models import Lead, StageEvent

    leads = Lead.objects.filter(employer_id=employer_id).order_by("-created_at", "-pk")

    def deep(qs, wanted: int) -> tuple[int, Lead]:
        # Found once with OFFSET here, so that the page itself is asked for with its cursor. A
        # list shorter than that is measured half-way down (its last row has no page after it).
        count = qs.count()
        row = wanted if wanted < count else count // 2
        return row, qs[row]

    row, lead = deep(leads, deep_row)
    stage = "contacted"  # the most common open stage of the demo
    stage_row, stage_lead = deep(leads.filter(stage=stage), deep_row)
    pair = ("offer", "hired")  # two rare stages: one walk of the created index would skip most rows
    pair_row, pair_lead = deep(leads.filter(stage__in=pair), deep_row)
    ids = StageEvent.objects.filter(employer_id=employer_id).order_by("pk").values_list("pk", flat=True)
    event_count = ids.count()
    event_row = deep_row if deep_row < event_count else event_count // 2
    event_id = ids[event_row]

    def page(**query) -> str:
        return "/api/v1/leads?" + urlencode(query, doseq=True) if query else "/api/v1/leads"

    def after(sql_where: str, lead: Lead) -> tuple[str, tuple]:
        return _LEADS.format(where=f"{sql_where} {_AFTER}"), (lead.created_at, lead.pk)

    stage_sql, stage_after = after("AND stage = %s", stage_lead)
    pair_after = (pair_lead.created_at, pair_lead.pk)
    return [
        Call("GET /leads, page 1", page(), _LEADS.format(where=""), (employer_id,)),
        Call(f"GET /leads, cursor at row {row:,}", page(cursor=_lead_cursor(lead)),
             _LEADS.format(where=_AFTER), (employer_id, lead.created_at, lead.pk)),
        Call(f"GET /leads?stage={stage}, page 1", page(stage=stage), _LEADS.format(where="AND stage = %s"),
             (employer_id, stage)),
        Call(f"GET /leads?stage={stage}, cursor at row {stage_row:,}",
             page(stage=stage, cursor=_lead_cursor(stage_lead)), stage_sql, (employer_id, stage, *stage_after)),
        Call(f"GET /leads?stage={'+'.join(pair)}, page 1", page(stage=pair),
             _PAIR.format(after=""), (employer_id, pair[0], employer_id, pair[1])),
        Call(f"GET /leads?stage={'+'.join(pair)}, cursor at row {pair_row:,}",
             page(stage=pair, cursor=_lead_cursor(pair_lead)), _PAIR.format(after=_AFTER),
             (employer_id, pair[0], *pair_after, employer_id, pair[1], *pair_after)),
        Call(f"GET /leads/{{id}} (the lead at row {row:,})", f"/api/v1/leads/{lead.pk}", _LEAD, (employer_id, lead.pk)),
        Call("GET /stage-events, from the start", "/api/v1/stage-events", _EVENTS, (employer_id, 0, settle)),
        Call(f"GET /stage-events, cursor at event {event_row:,}",
             "/api/v1/stage-events?cursor=" + _encode(f"E{event_id}"), _EVENTS, (employer_id, event_id, settle)),
    ]


def _measure(call: Call, raw: str, runs: int, connection) -> None:
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"Authorization": f"Bearer {raw}"})
    response = client.get(call.url)  # warm-up (and a check that the call works)
    if response.status_code != 200:
        print(f"  {call.label:52s} HTTP {response.status_code}: {response.content[:200]!r}")
        return
    timings = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            client.get(call.url)
            timings.append(time.perf_counter() - started)
    median = statistics.median(timings) * 1000
    by_hand = _by_hand(call, runs, connection)
    ratio = f"{median / by_hand:6.1f}" if by_hand else "     -"
    hand = f"{by_hand:6.2f}ms" if by_hand else "       -"
    flag = "" if median < TARGET_MS else f"  over {TARGET_MS:.0f} ms"
    print(f"  {call.label:52s} {median:7.1f}ms {min(timings) * 1000:5.1f}ms {max(timings) * 1000:5.1f}ms "
          f"{len(queries):7d} {hand} {ratio}{flag}")


def _by_hand(call: Call, runs: int, connection) -> float | None:
    """The median execution time (ms) EXPLAIN ANALYZE reports for the hand-written query."""
    if connection.vendor != "postgresql" or not call.sql:
        return None
    times = []
    with connection.cursor() as cursor:
        for _ in range(runs + 1):
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + call.sql, call.params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            times.append(plan[0]["Execution Time"])
    return statistics.median(times[1:])


if __name__ == "__main__":
    main()
