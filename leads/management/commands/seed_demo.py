"""``python manage.py seed_demo [--leads N]``: two fictional employers with two years of leads,
their follow-up emails (sent, answered, cancelled, still to come) and two marked surges.

Idempotent: users and configuration are created only when missing, and lead ``i`` of an
employer is always the same generated person, so a re-run creates only the indexes missing
(none, the second time; the difference, with a larger ``--leads``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models
from django.utils import timezone

from leads.demo import data
from leads.demo.generate import LeadGenerator
from leads.demo.intake import demo_profile_changes, demo_submissions
from leads.demo.integrations import demo_integrations
from leads.demo.run import demo_lead_count, index_batches, lead_targets, write_batches
from leads.demo.setup import DemoEmployer, demo_setup
from leads.demo.workspace import demo_workspace
from leads.demo.writer import LeadSkill, LeadWriter
from leads.models import (
    Activity,
    Citizenship,
    ClosedReason,
    Consent,
    EmailTemplate,
    Employer,
    Inquiry,
    Lead,
    MarkedEvent,
    Membership,
    Opening,
    OutboundEmail,
    Sequence,
    SequenceStep,
    Skill,
    StageEvent,
    Submission,
)
from leads.selectors.public import public_page_forget

_SUMMARY_MODELS: tuple[tuple[str, type[models.Model]], ...] = (
    ("users", get_user_model()),
    ("employers", Employer),
    ("memberships", Membership),
    ("openings", Opening),
    ("closed reasons", ClosedReason),
    ("skills", Skill),
    ("email templates", EmailTemplate),
    ("sequences", Sequence),
    ("sequence steps", SequenceStep),
    ("marked events", MarkedEvent),
    ("leads", Lead),
    ("citizenships", Citizenship),
    ("lead skills", LeadSkill),
    ("inquiries", Inquiry),
    ("submissions", Submission),
    ("stage events", StageEvent),
    ("outbound emails", OutboundEmail),
    ("activities", Activity),
    ("consents", Consent),
)


class Command(BaseCommand):
    help = "Create demo employers, users and about two years of leads (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=2000, help="Total demo leads wanted (default 2000).")
        parser.add_argument("--batch-size", type=int, default=5000, help="Leads per transaction (default 5000).")
        parser.add_argument(
            "--jobs", type=int, default=1,
            help="PostgreSQL only: batches written at once, each on its own connection (default 1).",
        )

    def handle(self, *args: Any, leads: int, batch_size: int, jobs: int, **options: Any) -> None:
        if leads < 0 or batch_size < 1 or jobs < 1:
            raise CommandError("--leads must be 0 or more, --batch-size and --jobs at least 1.")
        if jobs > 1 and connection.vendor != "postgresql":
            raise CommandError(f"--jobs needs PostgreSQL; {connection.vendor} takes one writer at a time.")
        now = timezone.now()
        employers = demo_setup(now=now)
        writer = LeadWriter(now=now)
        started, written = time.monotonic(), 0
        for employer, target in zip(employers, lead_targets(leads), strict=True):
            written += self._seed_leads(employer, target, writer, batch_size, jobs)
        demo_submissions([employer.id for employer in employers])
        demo_profile_changes([employer.id for employer in employers])
        demo_workspace([employer.id for employer in employers])
        demo_integrations([employer.id for employer in employers])
        # The public form pages are cached snapshots: show the demo's employers as they are now.
        public_page_forget(*(employer.spec.slug for employer in employers))
        if written:
            writer.analyze()
            elapsed = time.monotonic() - started
            self.stdout.write(f"Wrote {written:,} leads in {elapsed:.1f} s ({written / elapsed:,.0f} leads/s).")
        self._summary()

    def _seed_leads(self, employer: DemoEmployer, target: int, writer: LeadWriter, batch_size: int, jobs: int) -> int:
        slug = employer.spec.slug
        existing = demo_lead_count(employer.id)
        if existing >= target:
            self.stdout.write(f"{slug}: {existing:,} demo leads already there (wanted {target:,}).")
            return 0
        batches = index_batches(existing, target, batch_size)
        started, written = time.monotonic(), 0
        for batch, count in write_batches(LeadGenerator(employer), batches, writer, jobs=jobs):
            written += count
            rate = written / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"{slug}: {batch[-1] + 1:,}/{target:,} leads ({rate:,.0f} leads/s)")
        return written

    def _summary(self) -> None:
        self.stdout.write(self.style.SUCCESS("\nDemo data ready. In the database now:"))
        for label, model in _SUMMARY_MODELS:
            self.stdout.write(f"  {label:<16} {model._default_manager.count():>12,}")
        # The address it was given (make run passes its HOST and PORT): the links in emails use it too.
        site = settings.SITE_URL
        self.stdout.write(
            f"\nRecruiter UI: {site}/\n"
            f"Django admin and reports: {site}/admin/\n"
            f"Logins, all with the password {data.DEMO_PASSWORD}:"
        )
        for user in data.USERS:
            where = f"{user.role} at {user.employer_slug}" if user.employer_slug else "superuser, every employer"
            staff = ", Django admin" if user.is_staff and user.employer_slug else ""
            self.stdout.write(f"  {user.username:<6} {where}{staff}")
