"""Bulk actions on the ticked leads of the list, and the CSV export of a selection or a filter."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from leads import profile
from leads.forms import BulkActionForm, LeadFilterForm, member_choices
from leads.models import AuditAction, Lead, display_name
from leads.ratelimit import client_ip_or_none
from leads.reports.csv import neutralise
from leads.selectors.leads import leads_filtered
from leads.services.audit import audit_read
from leads.services.bulk import leads_bulk_assign, leads_bulk_move, leads_bulk_pause
from leads.views.common import recruiter_view, safe_next

# The identity, the exported profile fields as leads/profile.py declares them (choices and
# countries as people read them), then the pipeline; codes in the last columns, for machines.
EXPORT_COLUMNS = (
    "id", "name", "email", *profile.EXPORT_FIELDS,
    "stage", "source", "owner", "created_at", "first_contacted_at", "last_activity_at",
    "current_country_code", "stage_code", "source_code",
)
_TIMES = ("created_at", "first_contacted_at", "last_activity_at")
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
        return redirect(_keeping_choices(back, request))
    data = form.cleaned_data
    # The selection, limited to the user's employers: another employer's id selects nothing.
    leads = Lead.objects.filter(employer_id__in=request.employer_ids, erased_at__isnull=True, pk__in=data["ids"])
    if data["action"] == "export":
        return _csv_response(leads.order_by("-created_at", "-pk"), "leads-selection", request=request,
                             what="selected leads")
    try:
        result = _run(request, data, leads)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_keeping_choices(back, request))
    if result.done:
        messages.success(request, ngettext("%(count)s lead changed.", "%(count)s leads changed.", result.done)
                         % {"count": result.done})
    elif result.refused:
        messages.warning(request, gettext("No lead changed: see why below."))
    else:
        messages.warning(request, gettext("No lead changed (they were already as asked)."))
    for lead, why in result.refused[:20]:
        messages.warning(request, gettext("%(name)s: %(reason)s") % {"name": lead.name, "reason": why})
    return redirect(back if result.done else _keeping_choices(back, request))


def _keeping_choices(back: str, request: HttpRequest) -> str:
    """The list again with the ticks and the chosen action kept, so an error costs no retyping."""
    params = {"ticked": ",".join(str(i) for i in request.POST.getlist("ids")[:500] if str(i).isdigit()),
              "bulk_action": request.POST.get("action", "")[:20], "bulk_owner": request.POST.get("owner", "")[:20],
              "bulk_stage": request.POST.get("to_stage", "")[:20]}
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{back}{'&' if '?' in back else '?'}{query}" if query else back


def _run(request: HttpRequest, data: dict, leads):
    if data["action"] == "assign":
        owner = None if data["owner"] == "none" else get_user_model().objects.filter(pk=data["owner"]).first()
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
    return _csv_response(leads[:EXPORT_MAX_ROWS], "leads", request=request, what=_filter_described(request, form))


def _filter_described(request: HttpRequest, form: LeadFilterForm) -> str:
    """The filter for the audit row: the form's own parameters only, and not the search text
    (it may be a person's name or email, which an erasure must not leave behind here)."""
    used = [(name, request.GET.get(name, "")[:60]) for name in form.fields
            if name not in ("sort", "size") and request.GET.get(name)]
    if not used:
        return "the lead list, no filter"
    return "the lead list filtered by " + "&".join(
        f"{name}=(search text)" if name == "q" else f"{name}={value}" for name, value in used)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    """A cell a spreadsheet shows as text (the same neutraliser as the report exports)."""
    return neutralise("" if value is None else str(value))


def _rows(leads: Iterable[Lead], zone) -> Iterator[list[str]]:
    """The rows, times in the viewer's zone (named in the header: the stream runs after the
    view has returned, so the zone is passed in rather than read from the request's)."""
    yield [f"{column} ({zone.key})" if column in _TIMES else column for column in EXPORT_COLUMNS]

    def local(moment) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    for lead in leads:
        yield [
            _cell(v) for v in (
                lead.pk, lead.name, lead.email,
                *(profile.as_label(name, getattr(lead, name)) for name in profile.EXPORT_FIELDS),
                lead.get_stage_display(), lead.get_source_display(), display_name(lead.owner) if lead.owner else "",
                local(lead.created_at), local(lead.first_contacted_at), local(lead.last_activity_at),
                lead.current_country.code if lead.current_country else "", lead.stage, lead.source,
            )
        ]


def _csv_response(leads, name: str, *, request: HttpRequest, what: str) -> StreamingHttpResponse:
    rows = leads.select_related("opening", "owner").iterator(chunk_size=2000)
    lines = _audited_lines(rows, timezone.get_current_timezone(), request=request, what=what,
                           list_ids=name == "leads-selection")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


def _audited_lines(leads: Iterator[Lead], zone, *, request: HttpRequest, what: str,
                   list_ids: bool) -> Iterator[str]:
    """The file's lines; once the last is sent (or the download stops), one audit row per
    employer whose leads went out, with how many. Written at the end, not when the response is
    built, because only the stream knows how many rows it sent: a download cut short is
    logged with the rows that did go out."""
    writer = csv.writer(_Echo())
    per_employer: Counter[int] = Counter()
    ids: list[int] = []
    finished = False

    def counted() -> Iterator[Lead]:
        for lead in leads:
            per_employer[lead.employer_id] += 1
            if list_ids:
                ids.append(lead.pk)
            yield lead

    try:
        yield "\ufeff"  # a byte-order mark: Excel then reads UTF-8
        yield from (writer.writerow(row) for row in _rows(counted(), zone))
        finished = True
    finally:
        _audit_export(request, what, per_employer, ids, finished)


def _audit_export(request: HttpRequest, what: str, per_employer: Counter[int], ids: list[int],
                  finished: bool) -> None:
    # Nothing matched: still one row (the export was asked for) under the user's first employer.
    employers = per_employer or Counter({request.employer_ids[0] if request.employer_ids else None: 0})
    listed = _id_list(ids) if ids else ""
    for employer_id, count in employers.items():
        detail = f"CSV export of {what}: {count} row(s){'' if finished else ' (stopped early)'}{listed}"
        audit_read(action=AuditAction.EXPORTED, employer_id=employer_id, user=request.user, detail=detail,
                   remote_addr=client_ip_or_none(request))


def _id_list(ids: list[int], room: int = 300) -> str:
    """The exported leads' ids as far as the row's detail has room, then how many more."""
    shown: list[str] = []
    for i, pk in enumerate(ids):
        if sum(len(s) + 1 for s in shown) + len(str(pk)) > room:
            return f"; ids {','.join(shown)} and {len(ids) - i} more"
        shown.append(str(pk))
    return f"; ids {','.join(shown)}"
