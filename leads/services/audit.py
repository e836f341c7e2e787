"""The audit log: who viewed, changed, exported or erased a lead, one INSERT per event.

Written inside the transaction of the change it records (a service passes its lead and user),
or, for a read, once the response is built. Never the values of personal fields: only which
fields, which page, which export.
"""

from __future__ import annotations

import contextlib
import logging

from django.db import DatabaseError, connection, transaction

from leads.models import AuditAction, AuditEvent

logger = logging.getLogger(__name__)


def audit_record(*, action: str, employer_id: int | None, lead_id: int | None = None, user=None,
                 detail: str = "", remote_addr: str | None = None, actor: str = "") -> None:
    """Append one row. A read that cannot be logged (the database failing) is logged to the
    application log instead and never fails the page; a change raises with its transaction.
    ``actor`` names who did it when no user did (another system, through an API key)."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    user = user if getattr(user, "is_authenticated", False) else None
    AuditEvent.objects.create(
        employer_id=employer_id, lead_id=lead_id, user=user,
        username=user.get_username() if user else actor[:150],
        action=action, detail=detail[:500], remote_addr=remote_addr or None,
    )


def audit_read(*, action: str, employer_id: int | None, lead_id: int | None = None, user=None, detail: str = "",
               remote_addr: str | None = None, actor: str = "") -> None:
    """A read (a page, an export): best effort, one INSERT in autocommit."""
    savepoint = connection.in_atomic_block and not _in_test_transaction()
    try:
        # Inside a caller's transaction, a savepoint: a failed INSERT must not leave it broken.
        with transaction.atomic() if savepoint else contextlib.nullcontext():
            audit_record(action=action, employer_id=employer_id, lead_id=lead_id, user=user, detail=detail,
                         remote_addr=remote_addr, actor=actor)
    except DatabaseError:
        logger.warning("audit row not written: %s of lead %s by %s", action, lead_id, user, exc_info=True)


def _in_test_transaction() -> bool:
    """Only the test runner's own transaction is open (Django's TestCase marks its blocks): as
    in production, where a view runs in autocommit, no savepoint is needed."""
    return all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)
