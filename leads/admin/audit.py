"""The audit log in admin: who viewed, changed, exported, merged or erased a lead, and who logged in.

Only an employer's admins see its rows (recruiters do not: the log is about them too), and
nobody, superusers included, adds, changes or deletes one here: the rows are written by the
services and views (``leads/services/audit.py``) and the model refuses updates and deletes. The
filtered log downloads as CSV, either as the action on the ticked (or all matching) rows or
from ``export/`` with the list's own query string.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads import models as m
from leads.admin.tenancy import HistoryAdmin, member_employer_ids
from leads.reports.csv import neutralise

# Translated when a download starts, in the language of the person downloading.
CSV_COLUMNS = (_("at (UTC)"), _("employer"), _("username"), _("action"), _("lead_id"), _("detail"), _("remote_addr"))


class CappedPaginator(Paginator):
    """Counts up to COUNT_CAP rows: an exact COUNT(*) of an employer's whole log (millions of
    rows) takes seconds, and nobody pages that far; narrow by date, user, lead or action."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.COUNT_CAP].count()


def _admin_employer_ids(request: HttpRequest) -> frozenset[int]:
    return member_employer_ids(request, m.Role.ADMIN)


class EmployerFilter(admin.SimpleListFilter):
    """The viewer's employers (not a DISTINCT over the log, which would read every row)."""

    title = _("employer")
    parameter_name = "employer"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        employers = m.Employer.objects.order_by("name")
        if not request.user.is_superuser:
            employers = employers.filter(pk__in=_admin_employer_ids(request))
        return [(str(pk), name) for pk, name in employers.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(employer_id=int(value)) if value and value.isdigit() else queryset


class UserFilter(admin.SimpleListFilter):
    """The members of the viewer's employers (the rows keep the username as it was, too)."""

    title = _("user")
    parameter_name = "user"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        users = get_user_model().objects.order_by("username")
        if not request.user.is_superuser:
            members = m.Membership.objects.filter(employer_id__in=_admin_employer_ids(request))
            users = users.filter(pk__in=members.values("user_id"))
        return [(str(pk), username) for pk, username in users.values_list("pk", "username")[:500]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(user_id=int(value)) if value and value.isdigit() else queryset


@admin.register(m.AuditEvent)
class AuditEventAdmin(HistoryAdmin, admin.ModelAdmin):
    list_display = ("at", "username", "action", "lead", "detail", "remote_addr", "employer")
    list_filter = ("action", UserFilter, ("at", admin.DateFieldListFilter), EmployerFilter)
    # "=lead_id": one lead's log (the index audit_emp_lead); a username as it was written.
    search_fields = ("=lead_id", "=username")
    search_help_text = _("A lead's id, or a username.")
    list_select_related = ("employer",)
    readonly_fields = ("at", "employer", "lead_id", "user", "username", "action", "detail", "remote_addr")
    fields = readonly_fields
    show_full_result_count = False
    paginator = CappedPaginator
    list_per_page = 50
    actions = ("export_csv",)

    # --- who sees what: an employer's admins, that employer's rows ---------------------------

    def employers_allowed(self, request: HttpRequest, action: str) -> frozenset[int]:
        return _admin_employer_ids(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(employer_id__in=_admin_employer_ids(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(_admin_employer_ids(request))

    @admin.display(description=_("lead"), ordering="lead_id")
    def lead(self, event: m.AuditEvent) -> str:
        # The lead's own log, not its page (which would itself be logged as a view).
        if event.lead_id is None:
            return ""
        return format_html('<a href="?lead_id={}">{}</a>', event.lead_id, event.lead_id)

    # --- the CSV export -----------------------------------------------------------------------

    @admin.action(description=_("Export the selected rows as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
        return audit_csv_response(queryset)

    def get_urls(self):
        export = path("export/", self.admin_site.admin_view(self.export_view), name="leads_auditevent_export")
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The log as the list shows it (the same filters and search in the query string)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(gettext("Those filters are not valid."))
        return audit_csv_response(changelist.get_queryset(request))


def _lines(queryset: QuerySet, header: list[str]) -> Iterator[str]:
    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    yield "\ufeff"  # a byte-order mark: Excel then reads UTF-8
    yield writer.writerow(header)
    rows = queryset.order_by("-at", "-id").values_list(
        "at", "employer__name", "username", "action", "lead_id", "detail", "remote_addr"
    )
    for at, *rest in rows.iterator(chunk_size=2000):
        cells = [at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"), *rest]
        yield writer.writerow([neutralise("" if cell is None else str(cell)) for cell in cells])


def audit_csv_response(queryset: QuerySet) -> StreamingHttpResponse:
    header = [str(column) for column in CSV_COLUMNS]  # now: the rows stream after the view has returned
    response = StreamingHttpResponse(_lines(queryset, header), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response
