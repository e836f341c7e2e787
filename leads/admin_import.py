"""The "Import leads from CSV" page of the lead admin: upload, check, and import.

Mixed into the lead admin at the end of ``leads/admin.py``. The employers offered are the
ones where the user may add leads in the admin (employer admins; every employer for a
superuser); any other employer is not a valid choice, so nothing is imported there.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from leads.fields import CheckedForm
from leads.models import Employer
from leads.services.imports import COLUMNS, MAX_BYTES, MAX_ROWS, leads_import_csv


class LeadImportForm(CheckedForm):
    employer = forms.ModelChoiceField(queryset=Employer.objects.none(), empty_label=None)
    file = forms.FileField(label="CSV file", help_text=f"UTF-8 with a header row; at most "
                           f"{MAX_BYTES // (1024 * 1024)} MB and {MAX_ROWS:,} rows.")
    dry_run = forms.BooleanField(required=False, label="Check only: show what would happen and import nothing")

    def __init__(self, *args: Any, employers: QuerySet[Employer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["employer"].queryset = employers


class LeadImportMixin:
    """Adds ``import/`` to a lead ModelAdmin and a link to it on the changelist."""

    change_list_template = "admin/leads/import_lead_change_list.html"

    opts: Any
    admin_site: Any

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.import_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [path("import/", view, name=name), *super().get_urls()]  # type: ignore[misc]

    def import_employers(self, request: HttpRequest) -> QuerySet[Employer]:
        if request.user.is_superuser:
            return Employer.objects.order_by("name")
        return Employer.objects.filter(pk__in=self.employers_allowed(request, "add")).order_by("name")  # type: ignore[attr-defined]

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
                report = leads_import_csv(employer=form.cleaned_data["employer"], file=upload, actor=request.user,
                                          dry_run=form.cleaned_data["dry_run"], file_name=upload.name)
        else:
            form = LeadImportForm(employers=employers)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import leads from CSV",
            "form": form,
            "report": report,
            "columns": COLUMNS,
        }
        return TemplateResponse(request, "admin/leads/import_leads.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # has_add_permission reads what the changelist has already read: no extra query.
        extra_context = {**(extra_context or {}), "can_import_leads": self.has_add_permission(request)}  # type: ignore[attr-defined]
        return super().changelist_view(request, extra_context)  # type: ignore[misc]
