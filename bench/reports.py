"""Time to compute each admin report on a large data set, against a hand-written lower bound.
Prints; asserts nothing.

    createdb relocate_reports_bench; export DATABASE_URL=postgres://.../relocate_reports_bench
    python manage.py migrate && python manage.py seed_demo --leads 1000000 --jobs 2   # once
    python bench/reports.py [--runs 5] [--days 365] [--explain]

For each report, the median of ``--runs`` computations (after one warm-up), for one employer
(the demo's largest, Kiwi Ledger) and for every employer (the superuser's default), over the
last ``--days`` days. Beside the funnel numbers: the fastest of a few hand-written single SQL
queries that return the same funnel numbers (the lower bound), and the ratio. Beside each report
(PostgreSQL): the median time of one hand-written statement returning that report's figures
(REPORT_BOUNDS: the fastest shape found with EXPLAIN ANALYZE), and the ratio; the issue wants
each ratio within 2. Followups (a few ms) has no bound. ``--explain`` prints the
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


# Per report: one hand-written statement returning that report's figures (scalar subqueries
# where a report has several tables), the fastest shape found with EXPLAIN (ANALYZE, BUFFERS).
# {emp_l}/{emp_i} is the employer condition on a table alias; every value is a named parameter.
# ruff: noqa: S608 (the SQL is built from these constants only)
_COHORT = "{emp_l} l.created_at >= %(start)s AND l.created_at < %(end)s"
_MEDIANS = """
    SELECT ARRAY[{pcts}] FROM (
      SELECT MIN(l.created_at) t0, {exact}
      FROM leads_stageevent e JOIN leads_lead l ON e.lead_id = l.id WHERE """ + _COHORT + """
      GROUP BY e.lead_id) per"""
REPORT_BOUNDS = {
    "funnel (whole page)": """
        SELECT (SELECT json_agg(x) FROM (SELECT furthest_stage, COUNT(*) FILTER (WHERE created_at >= %(start)s) now,
                 COUNT(*) FILTER (WHERE created_at < %(start)s) before FROM leads_lead l
                 WHERE {emp_l} created_at >= %(prev)s AND created_at < %(end)s GROUP BY 1) x),
               (SELECT json_agg(x) FROM (SELECT source, furthest_stage, COUNT(*) FROM leads_lead l
                 WHERE """ + _COHORT + """ GROUP BY 1, 2) x),
               (""" + _MEDIANS + """)""",
    "cohorts": """
        SELECT (SELECT json_agg(x) FROM (SELECT date_trunc('week', created_at AT TIME ZONE %(zone)s), furthest_stage,
                 COUNT(*) FROM leads_lead l WHERE """ + _COHORT + """ GROUP BY 1, 2) x),
               (SELECT json_agg(x) FROM (SELECT date_trunc('week', created_at AT TIME ZONE %(zone)s), r.label, COUNT(*)
                 FROM leads_lead l LEFT JOIN leads_closedreason r ON r.id = l.closed_reason_id
                 WHERE """ + _COHORT + """ AND l.stage IN ('declined', 'withdrawn', 'unresponsive') GROUP BY 1, 2) x),
               (SELECT json_agg(x) FROM (SELECT week, COUNT(*), COUNT(s),
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM (
                   SELECT MIN(date_trunc('week', l.created_at AT TIME ZONE %(zone)s)) week,
                     EXTRACT(EPOCH FROM MIN(e.at) FILTER (WHERE e.from_stage = 'visa')
                                       - MIN(e.at) FILTER (WHERE e.to_stage = 'visa')) s
                   FROM leads_stageevent e JOIN leads_lead l ON l.id = e.lead_id
                   WHERE """ + _COHORT + """ AND (e.to_stage = 'visa' OR e.from_stage = 'visa') GROUP BY e.lead_id) v
                 GROUP BY 1) x)""",
    "surge": """
        SELECT (SELECT json_agg(x) FROM (SELECT (received_at AT TIME ZONE %(zone)s)::date, COUNT(*) FROM leads_inquiry i
                 WHERE {emp_i} ((received_at >= %(trail)s AND received_at < %(end)s)
                        OR (received_at >= %(ystart)s AND received_at < %(yend)s)) GROUP BY 1) x),
               (SELECT json_agg(x) FROM (SELECT country, COUNT(*) FILTER (WHERE received_at >= %(start)s),
                 COUNT(*) FILTER (WHERE received_at < %(yend)s) FROM leads_inquiry i
                 WHERE {emp_i} ((received_at >= %(start)s AND received_at < %(end)s)
                        OR (received_at >= %(ystart)s AND received_at < %(yend)s)) GROUP BY 1) x)""",
    "response": """
        SELECT GROUPING(owner_id, week), owner_id, week, COUNT(*), COUNT(s),
          percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.9) WITHIN GROUP (ORDER BY s),
          COUNT(*) FILTER (WHERE first_contacted_at <= created_at + %(target)s),
          COUNT(*) FILTER (WHERE first_contacted_at > created_at + %(target)s
                           OR (first_contacted_at IS NULL AND created_at < %(now)s - %(target)s))
        FROM (SELECT owner_id, created_at, first_contacted_at,
                date_trunc('week', created_at AT TIME ZONE %(zone)s) week,
                EXTRACT(EPOCH FROM first_contacted_at - created_at) s FROM leads_lead l WHERE """ + _COHORT + """) c
        GROUP BY GROUPING SETS ((), (owner_id), (week))""",
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
    from django.db import connection

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
        line = f"  {name:<40} {seconds * 1000:9.1f} ms"
        if name in REPORT_BOUNDS and connection.vendor == "postgresql":
            bound = timed(lambda name=name: report_bound(filters, name), args.runs)
            line += f"   lower bound (hand-written SQL) {bound * 1000:9.1f} ms   ratio {seconds / bound:.2f}"
        print(line)
    if args.explain:
        explain(filters, reports)


def report_bound(filters, name: str) -> list[tuple]:
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from leads.models import MILESTONES
    from leads.reports.surge import TRAILING_DAYS, YEAR

    emp = "" if filters.all_employers else f"{{t}}.employer_id = {filters.employer_ids[0]} AND"
    last = len(MILESTONES) - 1
    exact = ", ".join(f"MIN(e.at) FILTER (WHERE e.to_stage = '{MILESTONES[k]}') m{k}" for k in range(1, last + 1))
    reach = ["t0"] + [f"LEAST({', '.join(f'm{j}' for j in range(k, last + 1))})" for k in range(1, last + 1)]
    pcts = ", ".join(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM {reach[k]} - {reach[k - 1]}))"
                     for k in range(1, last + 1))
    sql = REPORT_BOUNDS[name].replace("{pcts}", pcts).replace("{exact}", exact)
    sql = sql.replace("{emp_l}", emp.format(t="l")).replace("{emp_i}", emp.format(t="i"))
    year = filters.shifted(-YEAR)
    params = {"start": filters.start, "end": filters.end, "prev": filters.previous().start, "zone": filters.zone.key,
              "trail": filters.start - dt.timedelta(days=TRAILING_DAYS), "ystart": year.start, "yend": year.end,
              "target": dt.timedelta(hours=filters.response_hours), "now": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


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
