"""``python manage.py intake_drain``: store every spooled submission and process every pending
one now, then exit (what the worker does every minute; for operators and tests)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from leads.services.submissions import submissions_drain


class Command(BaseCommand):
    help = "Ingest the intake spool and turn every pending public-form submission into an inquiry now."

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = submissions_drain(every_pending=True)
        summary = ", ".join(f"{name}: {count}" for name, count in sorted(outcomes.items()))
        self.stdout.write(f"intake_drain: {summary}")
        if outcomes.get("claimed by another worker"):
            self.stderr.write(
                f"{outcomes['claimed by another worker']} submission(s) are being processed by another worker "
                "(or one that stopped: they are free again within 150 s); run intake_drain again then."
            )
        if outcomes.get("failed"):
            self.stderr.write(
                f"{outcomes['failed']} submission(s) could not be processed; they are kept with their "
                "error (admin: Submissions) and tried again."
            )
