"""The Celery task of a CSV import too large for the request (leads/services/imports.py).

Registered with the worker by the import in ``leads/tasks.py`` (autodiscovery reads only
``<app>.tasks``)."""

from celery import shared_task

from leads.services.imports import import_job_process


# Under the broker's visibility timeout (an hour), so a long import is never delivered to a
# second worker while the first still runs; the soft limit marks the job failed, with the
# reason, before the hard one kills it.
@shared_task(time_limit=1860, soft_time_limit=1800, ignore_result=True)
def import_job_run(job_id: int) -> str:
    """Import the rows of one ImportJob (with the legal basis stored on it); a job done (or
    failed) already is left alone."""
    return import_job_process(job_id=job_id)
