from django.utils import timezone

from leads.models import WorkerHeartbeat


def heartbeat_record(*, name: str, hostname: str = "") -> WorkerHeartbeat:
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "hostname": hostname[:200]}
    )
    return beat
