"""The retention dry run: what the daily task would anonymise today, per employer.

Mounted at /admin/retention/ by relocate/urls.py (``include("leads.admin.retention")``, before
the admin's own URLs), like the reports: plain views inside ``admin.site.admin_view`` rather than
a model admin, because there is no model to hang them on and a proxy model would add one.
Employer admins see their employers, superusers every one, anyone else gets 404. The page shows
counts and, per lead, only its id, stage and dates: nothing that identifies the person.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from leads.admin.tenancy import member_employer_ids
from leads.models import Employer, Role
from leads.services.retention import RULES, WARNING_DAYS, retention_preview

app_name = "retention"


def _admin_employers(request: HttpRequest) -> QuerySet[Employer]:
    if request.user.is_superuser:
        return Employer.objects.all()
    return Employer.objects.filter(pk__in=member_employer_ids(request, Role.ADMIN))


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    employers = list(_admin_employers(request).only("pk", "name", *(rule.setting for rule in RULES)))
    if len(employers) == 1:
        return redirect("retention:employer", employer_id=employers[0].pk)
    return render(request, "admin/leads/retention_index.html", {
        **admin.site.each_context(request), "title": gettext("What would be anonymised today"), "employers": employers,
        "rules": RULES,
    })


@require_GET
def employer_preview(request: HttpRequest, employer_id: int) -> HttpResponse:
    employer = get_object_or_404(_admin_employers(request), pk=employer_id)
    title = gettext("What would be anonymised today: %(employer)s") % {"employer": employer.name}
    return render(request, "admin/leads/retention.html", {
        **admin.site.each_context(request), "title": title,
        "preview": retention_preview(employer=employer), "warning_days": WARNING_DAYS,
    })


urlpatterns = [
    path("", admin.site.admin_view(index), name="index"),
    path("<int:employer_id>/", admin.site.admin_view(employer_preview), name="employer"),
]
