"""The board at /leads/board/: a column per stage, cards moved by drag and drop or by each card's
"Move to" control (static/js/board.js), through the pipeline service.

- ``board``: the page; the list's filters apply, each column shows its count for the whole
  filter and its first page of cards.
- ``board_column``: the next page of one column (an HTML fragment, keyset-paged).
- ``board_move``: one move, answered in JSON: the lead's new stage and its card's "Move to"
  choices, or the pipeline's refusal with its code (``reason_required``,
  ``closed_reason_required``, ...), which the page answers by asking for the reason in place.

Without JavaScript the cards' forms post to ``leads:lead_move``, which asks on a page of its own.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from leads.forms import LeadFilterForm, member_choices
from leads.models import ClosedReason, Lead, Stage
from leads.selectors.board import BOARD_COUNT_CAP, BOARD_STAGES, board_column_page, board_columns
from leads.selectors.leads import leads_filtered
from leads.services.pipeline import StageMoveError, lead_move_stage
from leads.templatetags.relocate_ui import stage_options
from leads.views.common import lead_or_404, recruiter_view

# Refusals that say the request itself was malformed; any other refusal is about the lead's
# state (a reason it needs, a stage it is already at) and answers 409.
_BAD_INPUT = {"unknown_stage", "closed_reason_invalid", "reason_not_closing", "invalid"}
_REASON_MAX = 2000  # StageEvent.reason


def _filtered(request: HttpRequest) -> tuple[LeadFilterForm, QuerySet[Lead]]:
    owners = member_choices(request.employer_ids)
    form = LeadFilterForm(request.GET or None, employer_ids=request.employer_ids, owners=owners)
    filters = form.filters()
    filters.pop("stage", None)  # the columns are the stages
    return form, leads_filtered(request.employer_ids, filters)


def _card_context(filter_query: str) -> dict:
    """What the cards' markup needs; lead URLs are built from these once, not reversed per card."""
    board_url = reverse("leads:board")
    return {"leads_url": reverse("leads:lead_list"), "board_url": board_url, "filter_query": filter_query,
            "board_path": f"{board_url}?{filter_query}" if filter_query else board_url}


@require_GET
@recruiter_view
def board(request: HttpRequest) -> HttpResponse:
    form, qs = _filtered(request)
    context = {"form": form, "columns": board_columns(qs), "cap_count": BOARD_COUNT_CAP,
               **_card_context(request.GET.urlencode())}
    return render(request, "leads/board.html", context)


@require_GET
@recruiter_view
def board_column(request: HttpRequest, stage: str) -> HttpResponse:
    """The next page of one column after ``?after=<cursor>``, with the same filters as the board."""
    if stage not in BOARD_STAGES:
        raise Http404("No such column.")
    _form, qs = _filtered(request)
    params = request.GET.copy()
    cursor = params.pop("after", [""])[-1]
    page = board_column_page(qs, stage, cursor=cursor)
    context = {"leads": page.leads, "stage": stage, "label": Stage(stage).label, "next_cursor": page.next_cursor,
               **_card_context(params.urlencode())}
    return render(request, "leads/_board_page.html", context)


@require_POST
@recruiter_view
def board_move(request: HttpRequest, pk: int) -> JsonResponse:
    """Move one lead: ``to_stage``, and ``reason`` / ``closed_reason`` (an id) when the move needs them."""
    lead = lead_or_404(request, pk)
    from_stage = lead.stage
    try:
        to_stage, reason, closed_reason = _move_input(request, lead)
        lead_move_stage(lead=lead, to_stage=to_stage, by=request.user, reason=reason, closed_reason=closed_reason)
    except StageMoveError as exc:
        return _refusal(lead, request.POST.get("to_stage", ""), exc)
    # The card stays where the page put it; only its "Move to" choices change.
    return JsonResponse({
        "lead": lead.pk, "from_stage": from_stage, "stage": lead.stage, "stage_label": lead.get_stage_display(),
        "message": gettext("%(name)s moved to %(stage)s.") % {"name": lead.name, "stage": lead.get_stage_display()},
        "options": stage_options(lead.stage),
    })


def _move_input(request: HttpRequest, lead: Lead) -> tuple[str, str, ClosedReason | None]:
    """The posted move, read as the service takes it; the service judges the rules."""
    to_stage = request.POST.get("to_stage", "")
    reason = request.POST.get("reason", "")
    raw_reason = request.POST.get("closed_reason", "").strip()
    if "\x00" in to_stage + reason + raw_reason:
        raise StageMoveError(gettext("The form contained a NUL character."), code="invalid")
    if len(reason) > _REASON_MAX:
        raise StageMoveError(gettext("Keep the reason under %(count)s characters.") % {"count": _REASON_MAX},
                             code="invalid")
    closed_reason = None
    if raw_reason:
        # Only this lead's employer's reasons are found; another's is as good as none.
        closed_reason = (ClosedReason.objects.filter(employer_id=lead.employer_id, pk=int(raw_reason)).first()
                         if raw_reason.isdigit() and len(raw_reason) < 10 else None)
        if closed_reason is None:
            raise StageMoveError(gettext("Choose one of the reasons listed."), code="closed_reason_invalid")
    return to_stage, reason, closed_reason


def _refusal(lead: Lead, to_stage: str, exc: StageMoveError) -> JsonResponse:
    code = exc.code or "invalid"
    known = to_stage in BOARD_STAGES
    body: dict = {"error": " ".join(exc.messages), "code": code, "lead": lead.pk, "stage": lead.stage,
                  "to_stage": to_stage if known else "", "to_stage_label": Stage(to_stage).label if known else ""}
    if code in ("closed_reason_required", "closed_reason_invalid") and known:
        # What the modal offers: this employer's reasons that fit the stage.
        reasons = ClosedReason.objects.filter(employer_id=lead.employer_id, active=True).order_by("position", "label")
        body["closed_reasons"] = [{"id": r.pk, "label": r.label} for r in reasons if r.fits(to_stage)]
    return JsonResponse(body, status=400 if code in _BAD_INPUT else 409)
