"""Reports for admins under /admin/reports/: thin views over ``leads.reports``.

Every view runs inside ``admin.site.admin_view`` (see leads/reports_urls.py): active staff
only, others go to the admin login. The scope (which employers) comes from
``leads.reports.filters.report_scope``; an employer or opening outside it answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from leads.models import AuditAction, Opening, Source
from leads.ratelimit import client_ip_or_none
from leads.reports.cohorts import cohort_report
from leads.reports.csv import csv_response
from leads.reports.filters import BREAKDOWNS, PERIODS, ReportFilterForm, ReportFilters, Scope, report_scope
from leads.reports.followups import followup_report
from leads.reports.funnel import funnel_report
from leads.reports.response import response_report
from leads.reports.surge import surge_report
from leads.services.audit import audit_read


@dataclass(frozen=True)
class ReportSpec:
    title: str
    build: Callable[[Any], Any]
    default_days: int
    blurb: str


REPORTS: dict[str, ReportSpec] = {
    "funnel": ReportSpec(_("Funnel"), funnel_report, 365,
                         _("How many leads reached each milestone, how fast, and by source, country, opening, ...")),
    "cohorts": ReportSpec(_("Cohorts"), cohort_report, 182,
                          _("Each week's (or month's) leads: how far they came, time waiting on visas, why they "
                            "closed.")),
    "surge": ReportSpec(_("Surge"), surge_report, 90,
                        _("Inquiries per day against the same days a year before and the trailing 28-day average.")),
    "response": ReportSpec(_("Response"), response_report, 90,
                           _("Time to first contact: median, 90th percentile, share within the target.")),
    "followups": ReportSpec(_("Follow-ups"), followup_report, 90,
                            _("Per sequence step: emails sent, and who replied, advanced or unsubscribed within a "
                              "week.")),
}


def _context(request: HttpRequest, scope: Scope, current: str, form: ReportFilterForm | None) -> dict[str, Any]:
    openings = Opening.objects.order_by("employer__name", "title").select_related("employer")
    if not scope.is_superuser:
        openings = openings.filter(employer_id__in=[e.id for e in scope.employers])
    return {
        **admin.site.each_context(request),
        "title": REPORTS[current].title if current in REPORTS else _("Reports"),
        "reports": REPORTS, "current": current, "scope": scope, "form": form,
        "openings": openings if form is not None else [], "sources": Source.choices,
        "breakdowns": BREAKDOWNS, "periods": PERIODS, "query": request.GET,
    }


def _audit_export(request: HttpRequest, filters: ReportFilters, what: str) -> None:
    """One row in the log of each employer reported on (a superuser's "every employer": one row
    of no employer), with the period and filters: aggregates, but of that employer's leads."""
    chosen = "&".join(f"{key}={value[:40]}" for key, value in filters.params if key != "export" and value)
    detail = f"{what}; {filters.start_date:%Y-%m-%d} to {filters.end_date:%Y-%m-%d}; {chosen}"[:500]
    employer_ids = [None] if filters.all_employers else [e.id for e in filters.employers]
    for employer_id in employer_ids:
        audit_read(action=AuditAction.REPORT_EXPORTED, employer_id=employer_id, user=request.user, detail=detail,
                   remote_addr=client_ip_or_none(request))


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    scope = report_scope(request.user)
    return render(request, "admin/reports/index.html", _context(request, scope, "index", None))


@require_GET
def report(request: HttpRequest, name: str) -> HttpResponse:
    spec = REPORTS.get(name)
    if spec is None:
        raise Http404("No such report.")
    scope = report_scope(request.user)
    form = ReportFilterForm(request.GET, scope=scope, default_days=spec.default_days)
    context = _context(request, scope, name, form)
    if not form.is_valid():
        return render(request, f"admin/reports/{name}.html", context, status=400)
    filters = form.filters()
    result = spec.build(filters)
    export = request.GET.get("export")
    if export:
        table = result.tables.get(export)
        if table is None:
            raise Http404("No such table in this report.")
        response = csv_response(table, name=name)
        with translation.override(settings.LANGUAGE_CODE):  # the audit log reads the same for everyone
            what = f"{spec.title} report, table {export[:40]}"
        _audit_export(request, filters, what)
        return response
    return render(request, f"admin/reports/{name}.html", {**context, "report": result})
