"""``python manage.py api_key_create --employer <slug> --name "<who>" [--scopes intake,read,write]``:
a new API key, printed once on standard output and nowhere else (only its hash is stored), so
that a deploy script or CI can capture it: ``key=$(manage.py api_key_create ...)``. What the key
is and may do goes to standard error. Employer admins create keys in admin; this is for
operators and scripts."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.models import ApiScope, Employer
from leads.services.api_keys import api_key_create


def parse_scopes(text: str) -> list[str]:
    """``"intake, read"`` as the scopes' names, or CommandError naming the unknown ones."""
    wanted = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in wanted if name not in ApiScope.values]
    if unknown:
        raise CommandError(f"Unknown scope {', '.join(map(repr, unknown))}; choose from {', '.join(ApiScope.values)}.")
    if not wanted:
        raise CommandError(f"Give at least one scope: {', '.join(ApiScope.values)}.")
    return list(dict.fromkeys(wanted))


class Command(BaseCommand):
    help = "Create an API key for an employer and print it once (the key only, on one line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--employer", required=True, help="The employer's slug.")
        parser.add_argument("--name", required=True, help="Who will use the key, for example “careers site”.")
        parser.add_argument("--scopes", default=ApiScope.INTAKE.value,
                            help=f"Comma-separated, from {', '.join(ApiScope.values)} (default: intake).")

    def handle(self, *args: Any, employer: str, name: str, scopes: str, **options: Any) -> None:
        chosen = parse_scopes(scopes)
        found = Employer.objects.filter(slug=employer).first()
        if found is None:
            raise CommandError(f"No employer with the slug {employer!r}.")
        try:
            key, raw = api_key_create(employer=found, name=name, scopes=chosen)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(raw)
        self.stderr.write(f"API key {key} for {found.slug}, scopes: {', '.join(key.scopes)}. "
                          "It is shown this once; only its hash is stored.")
