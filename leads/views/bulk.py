"""Bulk actions on the ticked leads of the list, and the CSV export of a selection or a filter."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leads import profile
from leads.forms import BulkActionForm, LeadFilterForm, member_choices
from leads.models import Lead
from leads.reports.csv import neutralise
from leads.selectors.leads import leads_filtered
from leads.services.bulk import leads_bulk_assign, leads_bulk_move, leads_bulk_pause
from leads.views.common import recruiter_view, safe_next

# The identity, the exported profile fields as leads/profile.py declares them, then the pipeline.
EXPORT_COLUMNS = (
    "id", "name", "email", *profile.EXPORT_FIELDS,
    "stage", "source", "owner", "created_at", "first_contacted_at", "last_activity_at",
)
EXPORT_MAX_ROWS = 100_000


@require_POST
@recruiter_view
def bulk_action(request: HttpRequest) -> HttpResponse:
    back = safe_next(request, reverse("leads:lead_list"))
    form = BulkActionForm(request.POST, employer_ids=request.employer_ids,
                          owners=member_choices(request.employer_ids))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    # The selection, limited to the user's employers: another employer's id selects nothing.
    leads = Lead.objects.filter(employer_id__in=request.employer_ids, erased_at__isnull=True, pk__in=data["ids"])
    if data["action"] == "export":
        return _csv_response(leads.order_by("-created_at", "-pk"), "leads-selection")
    try:
        result = _run(request, data, leads)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(request, f"{result.done} lead(s) changed.")
    for lead, why in result.refused[:20]:
        messages.warning(request, f"{lead.name}: {why}")
    return redirect(back)


def _run(request: HttpRequest, data: dict, leads):
    if data["action"] == "assign":
        owner = get_user_model().objects.filter(pk=data["owner"]).first() if data["owner"] else None
        return leads_bulk_assign(leads=leads, owner=owner, by=request.user)
    if data["action"] == "move":
        return leads_bulk_move(leads=leads, to_stage=data["to_stage"], by=request.user, reason=data["reason"],
                               closed_reason=data["closed_reason"])
    return leads_bulk_pause(leads=leads, by=request.user)


@require_GET
@recruiter_view
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every lead matching the list's filters, streamed (never held in memory)."""
    form = LeadFilterForm(request.GET or None, employer_ids=request.employer_ids,
                          owners=member_choices(request.employer_ids))
    leads = leads_filtered(request.employer_ids, form.filters()).order_by("-created_at", "-pk")
    return _csv_response(leads[:EXPORT_MAX_ROWS], "leads")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    """A cell a spreadsheet shows as text (the same neutraliser as the report exports)."""
    return neutralise("" if value is None else str(value))


def _rows(leads: Iterable[Lead]) -> Iterator[list[str]]:
    yield list(EXPORT_COLUMNS)
    for lead in leads:
        yield [
            _cell(v) for v in (
                lead.pk, lead.name, lead.email,
                *(profile.as_text(name, getattr(lead, name)) for name in profile.EXPORT_FIELDS),
                lead.stage, lead.source, lead.owner.get_username() if lead.owner else "",
                lead.created_at.isoformat(), lead.first_contacted_at.isoformat() if lead.first_contacted_at else "",
                lead.last_activity_at.isoformat(),
            )
        ]


def _csv_response(leads, name: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = leads.select_related("opening", "owner").iterator(chunk_size=2000)
    lines = itertools.chain(["\ufeff"], (writer.writerow(row) for row in _rows(rows)))  # BOM: Excel reads UTF-8
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
