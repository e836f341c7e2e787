"""What /healthz reports: each component checked with a short timeout."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from leads.models import WorkerHeartbeat
from leads.services.spool import spool_counts
from leads.services.submissions import intake_backlog
from relocate.celery import app as celery_app


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    return "ok"


def health_report() -> dict[str, Any]:
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer, not a crash
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    report: dict[str, Any] = {
        "status": "ok" if all(v == "ok" for v in checks.values()) else "error",
        "checks": checks,
    }
    intake: dict[str, Any] = {"spooled": spool_counts()}
    report["intake"] = intake
    if checks["database"] == "ok":
        # Informational: submissions accepted and not yet inquiries (a growing backlog or an
        # old oldest one means no worker is processing them).
        intake.update(intake_backlog())
        # Informational: when celery beat last had a worker run its heartbeat task.
        beat = WorkerHeartbeat.objects.filter(name="beat").first()
        report["worker_heartbeat"] = (
            {"at": beat.beat_at.isoformat(), "age_seconds": int((timezone.now() - beat.beat_at).total_seconds())}
            if beat else None
        )
    return report
