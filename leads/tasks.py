"""Celery tasks: thin wrappers that call services and are safe to run twice."""

from celery import shared_task

from leads.services.heartbeat import heartbeat_record


@shared_task(time_limit=30, soft_time_limit=20, ignore_result=True)
def heartbeat(name: str = "beat") -> None:
    """Run by celery beat every minute: proves that beat, the broker and a worker work."""
    heartbeat_record(name=name, hostname=heartbeat.request.hostname or "")
