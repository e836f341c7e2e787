"""``python manage.py import_leads <employer-slug> <file.csv> --legal-basis=<basis> [--dry-run]``:
leads from a CSV file.

Every row is checked first; with any problem nothing is imported and each problem is listed.
The file is imported here, whatever its size (no Celery worker needed). The columns are
described in ``leads.services.imports``; the legal basis is recorded on every lead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.models import Employer, LegalBasis
from leads.services.imports import COLUMNS, leads_import_csv


class Command(BaseCommand):
    help = f"Import leads from a CSV file (UTF-8, header row). Columns: {', '.join(COLUMNS)}."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("employer_slug")
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--legal-basis", required=True, choices=LegalBasis.values,
            help="Why the employer may email these people: "
                 + "; ".join(f"{value} ({label})" for value, label in LegalBasis.choices)
                 + ". Without one nothing would be sent to them, so it is required.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report; import nothing.")

    def handle(self, *args: Any, employer_slug: str, file: Path, legal_basis: str, dry_run: bool,
               **options: Any) -> None:
        employer = Employer.objects.filter(slug=employer_slug).first()
        if employer is None:
            raise CommandError(f"No employer with the slug {employer_slug!r}.")
        try:
            handle = file.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot open {file}: {exc.strerror or exc}.") from exc
        with handle:
            report = leads_import_csv(employer=employer, file=handle, actor=None, legal_basis=legal_basis,
                                      dry_run=dry_run, file_name=file.name)
        for error in report.shown_errors:
            self.stderr.write(str(error))
        if report.hidden_errors:
            self.stderr.write(f"… and {report.hidden_errors} more.")
        if not report.ok:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
