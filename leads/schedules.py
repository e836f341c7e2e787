"""The periodic tasks celery beat runs, kept in the database (editable in admin).

Migrations call ``install`` so that a fresh database has every schedule without a manual
step; it only creates what is missing and never overwrites an admin's edits.
"""

from __future__ import annotations

# name -> (task, every N seconds)
SCHEDULES: dict[str, tuple[str, int]] = {
    "Worker heartbeat": ("leads.tasks.heartbeat", 60),
    "Send due emails": ("leads.tasks.dispatch_due_emails", 60),
    "Recruiter digests": ("leads.tasks.queue_digests", 3600),
    "Stale interest": ("leads.tasks.check_stale_interest", 3600),
}


def install(apps, schema_editor=None) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, (task, seconds) in SCHEDULES.items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})
    # Tell a running beat that the schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
