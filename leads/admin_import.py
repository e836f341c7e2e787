"""The "Import leads from CSV" pages of the lead admin: upload, check, import, and a large
file's progress.

Mixed into the lead admin (``leads/admin``). The employers offered are the ones where the user
may add leads in the admin (employer admins; every employer for a superuser); any other
employer is not a valid choice, so nothing is imported there. A job's page is found the same
way: another employer's job is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads.fields import CheckedForm
from leads.models import Employer, ImportJob, LegalBasis
from leads.services.imports import COLUMNS, IMPORT_INLINE_MAX_ROWS, MAX_BYTES, MAX_ROWS, leads_import_csv

_RECENT_JOBS = 10
# A queued job nobody has started for this long: the page says the worker or queue may be down.
_WAITING_TOO_LONG = dt.timedelta(minutes=1)


class LeadImportForm(CheckedForm):
    employer = forms.ModelChoiceField(label=_("Employer"), queryset=Employer.objects.none(), empty_label=None)
    file = forms.FileField(label=_("CSV file"))  # its help text, with the limits, is set in __init__
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"), choices=[("", _("Choose…")), *LegalBasis.choices],
        help_text=_("Why you may hold these people's data and email them. Without a legal basis the leads "
                    "would be stored and nothing sent to them, not even the acknowledgement; so it is required."),
    )
    dry_run = forms.BooleanField(required=False, label=_("Check only: show what would happen and import nothing"))

    def __init__(self, *args: Any, employers: QuerySet[Employer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["employer"].queryset = employers
        self.fields["file"].help_text = gettext(
            "UTF-8 with a header row; at most %(megabytes)s MB and %(rows)s rows. A file of more than "
            "%(inline_rows)s rows is imported in the background."
        ) % {"megabytes": MAX_BYTES // (1024 * 1024), "rows": f"{MAX_ROWS:,}", "inline_rows": IMPORT_INLINE_MAX_ROWS}


class LeadImportMixin:
    """Adds ``import/`` and ``import/<job_id>/`` to a lead ModelAdmin, and a link on the changelist."""

    change_list_template = "admin/leads/import_lead_change_list.html"

    opts: Any
    admin_site: Any

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=prefix),
            path("import/<int:job_id>/", self.admin_site.admin_view(self.import_job_view), name=f"{prefix}_job"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def import_employers(self, request: HttpRequest) -> QuerySet[Employer]:
        if request.user.is_superuser:
            return Employer.objects.order_by("name")
        return Employer.objects.filter(pk__in=self.employers_allowed(request, "add")).order_by("name")  # type: ignore[attr-defined]

    def import_job_for(self, request: HttpRequest, job_id: int) -> ImportJob:
        """The job, when the user may import into its employer; else 404."""
        jobs = ImportJob.objects.select_related("employer")
        if not request.user.is_superuser:
            jobs = jobs.filter(employer__in=self.employers_allowed(request, "add"))  # type: ignore[attr-defined]
        return get_object_or_404(jobs, pk=job_id)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        employers = self.import_employers(request)
        if not employers.exists():
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = LeadImportForm(request.POST, request.FILES, employers=employers)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                # A repeated POST (reload, double click) is harmless: rows of a file already
                # imported are skipped by the service.
                report = leads_import_csv(
                    employer=form.cleaned_data["employer"], file=upload, actor=request.user,
                    legal_basis=form.cleaned_data["legal_basis"], dry_run=form.cleaned_data["dry_run"],
                    file_name=upload.name, inline_max_rows=IMPORT_INLINE_MAX_ROWS,
                )
                if report.job is not None:
                    return HttpResponseRedirect(self._job_url(report.job))
        else:
            form = LeadImportForm(employers=employers)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Import leads from CSV"),
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "inline_max_rows": IMPORT_INLINE_MAX_ROWS,
            "jobs": ImportJob.objects.filter(employer__in=employers).select_related("employer")[:_RECENT_JOBS],
        }
        return TemplateResponse(request, "admin/leads/import_leads.html", context)

    def import_job_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = self.import_job_for(request, job_id)
        active = job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Import of %(file)s") % {"file": job.file_name},
            "job": job,
            "active": active,
            "waiting_too_long": job.status == ImportJob.Status.QUEUED
            and timezone.now() - job.created_at > _WAITING_TOO_LONG,
        }
        return TemplateResponse(request, "admin/leads/import_job.html", context)

    def _job_url(self, job: ImportJob) -> str:
        return reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_import_job",
                       args=[job.pk])

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # has_add_permission reads what the changelist has already read: no extra query.
        extra_context = {**(extra_context or {}), "can_import_leads": self.has_add_permission(request)}  # type: ignore[attr-defined]
        return super().changelist_view(request, extra_context)  # type: ignore[misc]
