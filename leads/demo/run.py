"""Running the lead batches: how many to create, and planning and writing them fast.

Each batch is its own transaction, so an interrupted seed keeps whole batches and a re-run
continues from the count of demo leads it finds.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from django.db import connections, transaction

from leads.demo import data
from leads.demo.generate import LeadGenerator, LeadPlan
from leads.demo.writer import LeadWriter
from leads.models import Lead


def demo_lead_count(employer_id: int) -> int:
    return Lead.objects.filter(employer_id=employer_id, email__endswith="@" + data.DEMO_EMAIL_DOMAIN).count()


def lead_targets(total: int) -> list[int]:
    """Each employer's share of ``total``; the last takes the rounding so they add up."""
    targets = [round(total * spec.share) for spec in data.EMPLOYERS[:-1]]
    return [*targets, total - sum(targets)]


def index_batches(existing: int, target: int, batch_size: int) -> list[range]:
    return [range(start, min(start + batch_size, target)) for start in range(existing, target, batch_size)]


def write_batches(
    generator: LeadGenerator, batches: list[range], writer: LeadWriter, *, jobs: int = 1
) -> Iterator[tuple[range, int]]:
    """Write each batch; yields it with the number of leads written, in order."""
    with _fewer_collections():
        if jobs > 1:
            yield from _write_in_parallel(generator, batches, writer, jobs)
            return
        for batch, plans in _planned_ahead(generator, batches):
            with transaction.atomic():
                yield batch, writer.write(generator.employer.id, plans)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Planning allocates millions of small dicts that live a batch and hold no cycles: with the
    default thresholds the cyclic collector ran so often that it took a third of the planning
    time. Collections still happen, a hundred times less often."""
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _planned_ahead(generator: LeadGenerator, batches: list[range]) -> Iterator[tuple[range, list[LeadPlan]]]:
    """Each batch with its plans, the next one planned while the caller writes this one.

    Planning is pure Python and touches no database; while the writer waits for PostgreSQL
    (COPY, then the foreign-key checks at commit) the GIL is free, so the two overlap. Only
    the caller's thread uses the database, so this also works inside a test's transaction.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-demo-plan") as pool:
        pending = pool.submit(_plan, generator, batches[0]) if batches else None
        for position, batch in enumerate(batches):
            assert pending is not None
            plans = pending.result()
            if position + 1 < len(batches):
                pending = pool.submit(_plan, generator, batches[position + 1])
            yield batch, plans


def _write_in_parallel(
    generator: LeadGenerator, batches: list[range], writer: LeadWriter, jobs: int
) -> Iterator[tuple[range, int]]:
    """Several threads, each planning and writing whole batches on its own connection, so
    that a database server with spare cores indexes several batches at once."""

    def plan_and_write(batch: range) -> tuple[range, int]:
        try:
            plans = _plan(generator, batch)
            with transaction.atomic():
                return batch, writer.write(generator.employer.id, plans)
        finally:
            # Django opened this connection for this worker thread; nobody else will close it.
            connections.close_all()

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="seed-demo-write") as pool:
        yield from pool.map(plan_and_write, batches)


def _plan(generator: LeadGenerator, indexes: range) -> list[LeadPlan]:
    return [generator.plan(index) for index in indexes]
