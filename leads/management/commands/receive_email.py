"""``python manage.py receive_email [<employer-slug>] < message.eml``: one email in, one inquiry.

Meant to be piped to by the mail server, for example in /etc/aliases:
``jobs-kiwi: "|/srv/relocate/.venv/bin/python /srv/relocate/manage.py receive_email kiwi-ledger"``.
The reply address (RELOCATE_REPLY_ADDRESS, with the mail server's "+" extension delivering
``replies+<token>@`` to ``replies``) takes no slug: ``replies: "|... manage.py receive_email"``.
A reply to one of our emails lands on its lead with or without a slug (docs/delivery.md);
without a slug anything else is refused.
Exit codes follow sysexits.h, which mail servers read: 0 done (or refused on purpose, so that
automatic mail is not bounced back into a loop), 65 unreadable message (bounced to the
sender), 75 try again later (the message stays queued: an unknown employer or no database
is our problem, and the inquiry must not be lost over it).
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from leads.models import Employer
from leads.services.inbound_email import MAX_MESSAGE_BYTES, InboundEmailError, email_receive

EX_DATAERR = 65
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Record one RFC 5322 email read from standard input as an inquiry for the employer."
    # Tests pass the message as call_command(..., stdin=BytesIO(...)).
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("employer_slug", nargs="?", default="",
                            help="The employer the address belongs to; none for the reply address.")

    def handle(self, *args: Any, employer_slug: str = "", **options: Any) -> None:
        stdin = options.get("stdin") or sys.stdin.buffer
        # Read it all first: a mail server writing into a pipe nobody reads sees an error.
        raw = stdin.read(MAX_MESSAGE_BYTES + 1)
        try:
            employer = None
            if employer_slug:
                employer = Employer.objects.filter(slug=employer_slug).first()
                if employer is None:
                    raise CommandError(f"No employer with the slug {employer_slug!r}; the message stays queued.",
                                       returncode=EX_TEMPFAIL)
            elif not settings.RELOCATE_REPLY_ADDRESS:
                # A mail alias set up without a slug: our configuration, not the sender's problem.
                raise CommandError("No employer slug given and RELOCATE_REPLY_ADDRESS is not set; the message "
                                   "stays queued.", returncode=EX_TEMPFAIL)
            result = email_receive(employer=employer, raw=raw)
        except InboundEmailError as exc:
            raise CommandError(f"Malformed message, nothing recorded: {exc}", returncode=EX_DATAERR) from exc
        except DatabaseError as exc:
            raise CommandError(f"The database did not answer ({exc}); try again later.",
                               returncode=EX_TEMPFAIL) from exc
        self.stdout.write(result.detail)
