"""Time to compute each admin report on a large data set, against a hand-written lower bound.
Prints; asserts nothing.

    createdb relocate_reports_bench; export DATABASE_URL=postgres://.../relocate_reports_bench
    python manage.py migrate && python manage.py seed_demo --leads 1000000 --jobs 2   # once
    python bench/reports.py [--runs 5] [--days 365] [--explain]

For each report, the median of ``--runs`` computations (after one warm-up), for one employer
(the demo's largest, Kiwi Ledger) and for every employer (the superuser's default), over the
last ``--days`` days. Beside the funnel: the fastest of a few hand-written single SQL queries
that return the same funnel numbers (the lower bound), and the ratio. ``--explain`` prints the
indexes each report's queries use (EXPLAIN on PostgreSQL).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relocate.settings")

# The lower bound: ways to get "leads reaching each milestone" for one employer and range in
# one statement. The fastest one counts.
LOWER_BOUNDS = {
    "group by furthest_stage": """
        SELECT furthest_stage, COUNT(*) FROM leads_lead
        WHERE {employer} created_at >= %s AND created_at < %s GROUP BY furthest_stage""",
    "one row of FILTER counts": """
        SELECT COUNT(*), {filters} FROM leads_lead WHERE {employer} created_at >= %s AND created_at < %s""",
}


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: caches, and the planner's first look
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from leads.models import Employer, Lead

    print(f"database: {connection.vendor}, {Lead.objects.count():,} leads; median of {args.runs} runs, "
          f"last {args.days} days")
    biggest = Employer.objects.get(slug="kiwi-ledger") if Employer.objects.filter(slug="kiwi-ledger").exists() \
        else Employer.objects.order_by("pk").first()
    for label, employer in ((biggest.name, biggest), ("every employer", None)):
        run_scope(label, employer, args)


def scope_filters(employer, days: int):
    from django.http import QueryDict

    from leads.models import Employer
    from leads.reports.filters import EmployerRef, ReportFilterForm, Scope

    refs = tuple(EmployerRef(e.pk, e.name, e.time_zone, e.surge_multiple, e.response_target_hours)
                 for e in Employer.objects.order_by("name"))
    query = QueryDict(mutable=True)
    if employer is not None:
        query["employer"] = str(employer.pk)
    form = ReportFilterForm(query, scope=Scope(refs, is_superuser=True), default_days=days)
    assert form.is_valid(), form.errors
    return form.filters()


def run_scope(label: str, employer, args) -> None:
    from leads.reports.cohorts import cohort_report
    from leads.reports.followups import followup_report
    from leads.reports.funnel import funnel_counts, funnel_counts_from_history, funnel_report
    from leads.reports.response import response_report
    from leads.reports.surge import surge_report

    filters = scope_filters(employer, args.days)
    print(f"\n== {label}: {filters.describe()}, {filters.leads().count():,} leads in the cohort")
    counts_time = timed(lambda: funnel_counts(filters.leads()), args.runs)
    bound_name, bound_time, bound_counts = lower_bound(filters, args.runs)
    assert bound_counts == funnel_counts(filters.leads()), (bound_counts, funnel_counts(filters.leads()))
    print(f"  {'funnel numbers (report query)':<40} {counts_time * 1000:9.1f} ms   "
          f"lower bound ({bound_name}) {bound_time * 1000:.1f} ms   ratio {counts_time / bound_time:.2f}")
    history = timed(lambda: funnel_counts_from_history(filters.leads()), args.runs)
    print(f"  {'funnel numbers from StageEvent history':<40} {history * 1000:9.1f} ms   "
          f"ratio {history / bound_time:.2f}  (same numbers; not used: slower)")
    reports = [("funnel (whole page)", funnel_report), ("cohorts", cohort_report), ("surge", surge_report),
               ("response", response_report), ("followups", followup_report)]
    for name, build in reports:
        seconds = timed(lambda build=build: build(filters), args.runs)
        print(f"  {name:<40} {seconds * 1000:9.1f} ms")
    if args.explain:
        explain(filters, reports)


def lower_bound(filters, runs: int) -> tuple[str, float, list[int]]:
    from django.db import connection

    from leads.models import MILESTONES
    from leads.reports.funnel import cumulative

    employer = f"employer_id = {filters.employer_ids[0]} AND" if not filters.all_employers else ""
    in_list = lambda k: ", ".join(f"'{stage}'" for stage in MILESTONES[k:])  # noqa: E731
    counts = ", ".join(f"COUNT(*) FILTER (WHERE furthest_stage IN ({in_list(k)}))" for k in range(1, len(MILESTONES)))
    best: tuple[str, float, list[int]] | None = None
    for name, sql in LOWER_BOUNDS.items():
        query = sql.format(employer=employer, filters=counts)

        def run(query=query) -> list[tuple]:
            with connection.cursor() as cursor:
                cursor.execute(query, [filters.start, filters.end])
                return cursor.fetchall()

        seconds = timed(run, runs)
        rows = run()
        # The GROUP BY answers (stage, count) rows; the FILTER query one row of counts.
        numbers = cumulative(dict(rows)) if isinstance(rows[0][0], str) else list(rows[0])
        if best is None or seconds < best[1]:
            best = (name, seconds, numbers)
    assert best is not None
    return best


def explain(filters, reports) -> None:
    """The indexes (and sequential scans) PostgreSQL's plans use for each report's queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        print("  (EXPLAIN: PostgreSQL only)")
        return
    for name, build in reports:
        with CaptureQueriesContext(connection) as queries:
            build(filters)
        used: list[str] = []
        for query in queries.captured_queries:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            used += re.findall(r"(?:Index Only Scan|Index Scan|Bitmap Index Scan) (?:Backward )?(?:using|on) (\w+)",
                               plan)
            used += [f"seq scan {table}" for table in re.findall(r"Seq Scan on (\w+)", plan)]
        print(f"  EXPLAIN {name:<30} {', '.join(sorted(set(used))) or '-'}")


if __name__ == "__main__":
    main()
