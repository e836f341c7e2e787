"""The audit log's login rows: every sign-in to the admin or the recruiter UI (only staff and
recruiters have accounts; the people who ask about jobs never log in).

The row goes to the user's first employer (the oldest membership), so that employer's admins
see who signed in; a superuser who belongs to no employer gets a row of no employer, which only
superusers see. One row per login, not one per employer: a login reads nothing yet, and the
reads that follow are logged under the employer they concern.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest
from django.urls import reverse

from leads.models import AuditAction, Membership
from leads.ratelimit import client_ip_or_none
from leads.services.audit import audit_read


def audit_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    employer_id = (Membership.objects.filter(user_id=user.pk).order_by("pk")
                   .values_list("employer_id", flat=True).first())
    where = "admin" if request is not None and request.path.startswith(reverse("admin:index")) else "recruiter UI"
    audit_read(action=AuditAction.LOGIN, employer_id=employer_id, user=user, detail=f"login to the {where}",
               remote_addr=client_ip_or_none(request) if request is not None else None)


def connect() -> None:
    user_logged_in.connect(audit_login, dispatch_uid="relocate-audit-login")
