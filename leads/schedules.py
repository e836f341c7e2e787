"""The periodic tasks celery beat runs, kept in the database (editable in admin).

Migrations call ``install`` so that a fresh database has every schedule without a manual
step; it only creates what is missing and never overwrites an admin's edits.
"""

from __future__ import annotations

# name -> (task, every N seconds), or (task, crontab fields in UTC) for a time of day or week
SCHEDULES: dict[str, tuple[str, int | dict[str, str]]] = {
    "Worker heartbeat": ("leads.tasks.heartbeat", 60),
    "Send due emails": ("leads.tasks.dispatch_due_emails", 60),
    "Send due webhooks": ("leads.tasks.dispatch_due_webhooks", 60),
    "Forget idempotency keys": ("leads.tasks.purge_idempotency_records", 3600),
    "Process submissions": ("leads.tasks.drain_submissions", 60),
    "Recruiter digests": ("leads.tasks.queue_digests", 3600),
    "Stale interest": ("leads.tasks.check_stale_interest", 3600),
    "Weekly reports": ("leads.tasks.queue_weekly_reports", {"minute": "0", "hour": "7", "day_of_week": "1"}),
    "Surge alerts": ("leads.tasks.check_surges", 3600),
    "Apply retention": ("leads.tasks.apply_retention", {"minute": "0", "hour": "3"}),
}
_CRONTAB_DEFAULTS = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}


def install(apps, schema_editor=None) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    for name, (task, when) in SCHEDULES.items():
        if isinstance(when, int):
            interval, _ = IntervalSchedule.objects.get_or_create(every=when, period="seconds")
            PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})
        else:
            crontab, _ = CrontabSchedule.objects.get_or_create(**{**_CRONTAB_DEFAULTS, **when}, timezone="UTC")
            PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": crontab})
    # Tell a running beat that the schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
